#include "engine/jinja/lexer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "engine/jinja/utf8.h"

namespace agentd::engine::jinja {
namespace {

// Python's str.splitlines() boundaries, all of which Jinja turns into "\n",
// and the single trailing one it then drops.
std::string normalize_newlines(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  size_t i = 0;
  while (i < src.size()) {
    const auto c = static_cast<unsigned char>(src[i]);
    if (c == '\r') {
      out.push_back('\n');
      i += (i + 1 < src.size() && src[i + 1] == '\n') ? 2 : 1;
    } else if (c == '\n' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E) {
      out.push_back('\n');
      ++i;
    } else if (c == 0xC2 && i + 1 < src.size() && static_cast<unsigned char>(src[i + 1]) == 0x85) {
      out.push_back('\n');
      i += 2;
    } else if (c == 0xE2 && i + 2 < src.size() && static_cast<unsigned char>(src[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(src[i + 2]) == 0xA8 || static_cast<unsigned char>(src[i + 2]) == 0xA9)) {
      out.push_back('\n');
      i += 3;
    } else {
      out.push_back(static_cast<char>(c));
      ++i;
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
std::string repr_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7F) return std::string("'") + c + "'";
  return std::string("byte ") + std::to_string(u);
}
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  Lexer(std::string src, const LexOptions& options) : src_(std::move(src)), options_(options) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  StatusOr<std::vector<Token>> run() {
    size_t pos = 0;
    bool strip_next = false;  // the previous tag ended with '-'
    bool trim_next = false;   // trim_blocks: drop one newline after the previous tag
    bool line_starting = true;
    while (pos <= src_.size()) {
      const size_t tag = find_tag(pos);
      const size_t text_end = tag == std::string::npos ? src_.size() : tag;
      size_t text_begin = pos;
      if (strip_next) {
        while (text_begin < text_end && is_space(src_[text_begin])) ++text_begin;
      } else if (trim_next && text_begin < text_end && src_[text_begin] == '\n') {
        ++text_begin;
      }
      if (text_begin > pos) line_starting = src_[text_begin - 1] == '\n';
      std::string_view text(src_.data() + text_begin, text_end - text_begin);
      if (tag == std::string::npos) {
        emit_text(text, text_begin);
        break;
      }
      const char kind = src_[tag + 1];
      const char modifier = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (modifier == '-') {
        while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
      } else if (options_.lstrip_blocks && modifier != '+' && (kind == '%' || kind == '#')) {
        const size_t nl = text.rfind('\n');
        const size_t line_pos = nl == std::string_view::npos ? 0 : nl + 1;
        if (line_pos > 0 || line_starting) {
          const std::string_view rest = text.substr(line_pos);
          if (std::all_of(rest.begin(), rest.end(), [](char c) { return c == ' ' || c == '\t'; })) {
            text = text.substr(0, line_pos);
          }
        }
      }
      emit_text(text, text_begin);
      size_t inner = tag + 2 + ((modifier == '-' || modifier == '+') ? 1 : 0);
      size_t after = 0;
      bool strip_after = false;
      if (kind == '#') {
        const size_t close = src_.find("#}", inner);
        if (close == std::string::npos) return error(tag, "unclosed comment");
        strip_after = close > inner && src_[close - 1] == '-';
        after = close + 2;
        trim_next = !strip_after && options_.trim_blocks;
      } else if (kind == '%' && is_raw_begin(inner, &after, &strip_after)) {
        AGENTD_ASSIGN_OR_RETURN(after, lex_raw(tag, after, strip_after, &strip_after, &trim_next));
      } else {
        const bool block = kind == '%';
        tokens_.push_back(make(block ? TokenKind::kBlockBegin : TokenKind::kVarBegin, block ? "{%" : "{{", tag));
        AGENTD_ASSIGN_OR_RETURN(after, lex_tag(tag, inner, block, &strip_after, &trim_next));
      }
      strip_next = strip_after;
      if (strip_after) trim_next = false;
      line_starting = after > 0 && src_[after - 1] == '\n';
      pos = after;
    }
    tokens_.push_back(make(TokenKind::kEnd, "", src_.size()));
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    size_t p = from;
    while ((p = src_.find('{', p)) != std::string::npos) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#')) return p;
      ++p;
    }
    return std::string::npos;
  }

  Token make(TokenKind kind, std::string text, size_t offset) const {
    Token t;
    t.kind = kind;
    t.text = std::move(text);
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const size_t line_index = static_cast<size_t>(it - line_starts_.begin()) - 1;
    t.line = static_cast<int>(line_index + 1);
    t.column = static_cast<int>(offset - line_starts_[line_index] + 1);
    return t;
  }

  Status error(size_t offset, const std::string& what) const {
    const Token t = make(TokenKind::kEnd, "", offset);
    return Status::invalid_argument(std::string("template syntax error at line ") + std::to_string(t.line) + ", column " +
                                    std::to_string(t.column) + ": " + what);
  }

  void emit_text(std::string_view text, size_t offset) {
    if (!text.empty()) tokens_.push_back(make(TokenKind::kText, std::string(text), offset));
  }

  size_t skip_spaces(size_t p) const {
    while (p < src_.size() && is_space(src_[p])) ++p;
    return p;
  }

  bool word_at(size_t p, std::string_view word) const {
    return src_.compare(p, word.size(), word) == 0 &&
           (p + word.size() >= src_.size() || !is_name_char(src_[p + word.size()]));
  }

  // "{% raw %}" (any whitespace, optional '-'): sets *after past the tag.
  bool is_raw_begin(size_t inner, size_t* after, bool* strip_after) const {
    size_t p = skip_spaces(inner);
    if (!word_at(p, "raw")) return false;
    p = skip_spaces(p + 3);
    *strip_after = false;
    if (src_.compare(p, 3, "-%}") == 0) {
      *strip_after = true;
      *after = p + 3;
      return true;
    }
    if (src_.compare(p, 2, "%}") == 0) {
      *after = p + 2;
      return true;
    }
    return false;
  }

  // The body of a raw block up to its {% endraw %}; returns the offset after it.
  StatusOr<size_t> lex_raw(size_t tag, size_t body, bool strip_body_start, bool* strip_after, bool* trim_next) {
    size_t p = body;
    while ((p = src_.find("{%", p)) != std::string::npos) {
      size_t q = p + 2;
      const bool strip_before = q < src_.size() && src_[q] == '-';
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) ++q;
      q = skip_spaces(q);
      if (!word_at(q, "endraw")) {
        p += 2;
        continue;
      }
      q = skip_spaces(q + 6);
      char end_modifier = '\0';
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) end_modifier = src_[q++];
      if (src_.compare(q, 2, "%}") != 0) return error(q, "expected '%}' after endraw");
      std::string_view text(src_.data() + body, p - body);
      if (strip_body_start) {
        while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
      }
      if (strip_before) {
        while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
      }
      emit_text(text, body);
      *strip_after = end_modifier == '-';
      *trim_next = end_modifier == '\0' && options_.trim_blocks;
      return q + 2;
    }
    return error(tag, "unclosed raw block (missing {% endraw %})");
  }

  StatusOr<size_t> lex_tag(size_t tag, size_t p, bool block, bool* strip_after, bool* trim_next) {
    std::vector<char> balance;
    while (true) {
      p = skip_spaces(p);
      if (p >= src_.size()) {
        return error(tag, block ? "unclosed block tag (missing '%}')" : "unclosed expression (missing '}}')");
      }
      if (balance.empty()) {
        const std::string_view close = block ? "%}" : "}}";
        for (char modifier : {'-', '+', '\0'}) {
          if (modifier == '+' && !block) continue;
          const size_t len = modifier ? 1 : 0;
          if (modifier && src_[p] != modifier) continue;
          if (src_.compare(p + len, 2, close) != 0) continue;
          tokens_.push_back(make(block ? TokenKind::kBlockEnd : TokenKind::kVarEnd, std::string(close), p));
          *strip_after = modifier == '-';
          *trim_next = block && modifier == '\0' && options_.trim_blocks;
          return p + len + 2;
        }
      }
      const char c = src_[p];
      if (is_name_start(c)) {
        size_t e = p;
        while (e < src_.size() && is_name_char(src_[e])) ++e;
        tokens_.push_back(make(TokenKind::kName, src_.substr(p, e - p), p));
        p = e;
      } else if (is_digit(c)) {
        AGENTD_ASSIGN_OR_RETURN(p, lex_number(p));
      } else if (c == '\'' || c == '"') {
        AGENTD_ASSIGN_OR_RETURN(p, lex_string(p));
      } else {
        static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op;
        for (std::string_view two : kTwo) {
          if (src_.compare(p, 2, two) == 0) op = std::string(two);
        }
        if (op.empty()) {
          static constexpr std::string_view kOne = "+-/*%~[](){}<>=.:|,;";
          if (kOne.find(c) == std::string_view::npos) {
            return error(p, std::string("unexpected character ") + repr_char(c));
          }
          op = std::string(1, c);
        }
        if (op == "(" || op == "[" || op == "{") {
          if (balance.size() >= kMaxBracketDepth) return error(p, "brackets nested too deeply");
          balance.push_back(op[0] == '(' ? ')' : op[0] == '[' ? ']' : '}');
        } else if (op == ")" || op == "]" || op == "}") {
          if (balance.empty() || balance.back() != op[0]) return error(p, std::string("unexpected '") + op + "'");
          balance.pop_back();
        }
        tokens_.push_back(make(TokenKind::kOperator, op, p));
        p += op.size();
      }
    }
  }

  StatusOr<size_t> lex_number(size_t p) {
    const size_t start = p;
    auto digits = [&](size_t q) {
      // \d+(_\d+)*
      if (q >= src_.size() || !is_digit(src_[q])) return std::string::npos;
      while (q < src_.size()) {
        if (is_digit(src_[q])) {
          ++q;
        } else if (src_[q] == '_' && q + 1 < src_.size() && is_digit(src_[q + 1])) {
          ++q;
        } else {
          break;
        }
      }
      return q;
    };
    size_t e = digits(p);
    bool is_float = false;
    // After a '.', Jinja reads "x.0.1" as two integer subscripts, not a float.
    const bool after_dot = !tokens_.empty() && tokens_.back().kind == TokenKind::kOperator && tokens_.back().text == ".";
    if (!after_dot) {
      if (e < src_.size() && src_[e] == '.') {
        const size_t f = digits(e + 1);
        if (f != std::string::npos) {
          e = f;
          is_float = true;
        }
      }
      if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
        size_t q = e + 1;
        if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
        const size_t f = digits(q);
        if (f != std::string::npos) {
          e = f;
          is_float = true;
        }
      }
    }
    std::string text;
    for (size_t i = start; i < e; ++i) {
      if (src_[i] != '_') text.push_back(src_[i]);
    }
    Token t = make(is_float ? TokenKind::kFloat : TokenKind::kInt, text, start);
    errno = 0;
    if (is_float) {
      t.float_value = std::strtod(text.c_str(), nullptr);
    } else {
      t.int_value = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) return error(start, "integer literal too large");
    }
    tokens_.push_back(std::move(t));
    return e;
  }

  // Python's unicode-escape rules, which Jinja applies to string literals.
  StatusOr<size_t> lex_string(size_t p) {
    const char quote = src_[p];
    std::string value;
    size_t q = p + 1;
    while (true) {
      if (q >= src_.size()) return error(p, "unclosed string literal");
      const char c = src_[q];
      if (c == quote) break;
      if (c != '\\') {
        value.push_back(c);
        ++q;
        continue;
      }
      if (q + 1 >= src_.size()) return error(p, "unclosed string literal");
      const char e = src_[q + 1];
      q += 2;
      switch (e) {
        case '\n': break;
        case '\\': value.push_back('\\'); break;
        case '\'': value.push_back('\''); break;
        case '"': value.push_back('"'); break;
        case 'a': value.push_back('\a'); break;
        case 'b': value.push_back('\b'); break;
        case 'f': value.push_back('\f'); break;
        case 'n': value.push_back('\n'); break;
        case 'r': value.push_back('\r'); break;
        case 't': value.push_back('\t'); break;
        case 'v': value.push_back('\v'); break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (size_t i = 0; i < n; ++i) {
            const int h = q + i < src_.size() ? hex_value(src_[q + i]) : -1;
            if (h < 0) return error(q - 2, std::string("truncated \\") + std::string(1, e) + " escape in string literal");
            cp = cp * 16 + static_cast<uint32_t>(h);
          }
          if (cp > 0x10FFFF) return error(q - 2, "escape out of Unicode range in string literal");
          q += n;
          utf8::append(value, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int i = 0; i < 2 && q < src_.size() && src_[q] >= '0' && src_[q] <= '7'; ++i) {
              cp = cp * 8 + static_cast<uint32_t>(src_[q++] - '0');
            }
            utf8::append(value, cp);
          } else {
            // Unknown escapes stay as written ("\d" is two characters).
            value.push_back('\\');
            value.push_back(e);
          }
      }
    }
    Token t = make(TokenKind::kString, std::move(value), p);
    tokens_.push_back(std::move(t));
    return q + 1;
  }

  static constexpr size_t kMaxBracketDepth = 256;

  std::string src_;
  LexOptions options_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

StatusOr<std::vector<Token>> tokenize(std::string_view source, const LexOptions& options) {
  Lexer lexer(normalize_newlines(source), options);
  return lexer.run();
}

}  // namespace agentd::engine::jinja
