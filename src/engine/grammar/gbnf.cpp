#include "engine/grammar/gbnf.h"

#include <map>
#include <string>
#include <vector>

#include "common/utf8.h"

namespace agentd::engine::grammar {

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

class GbnfParser {
 public:
  explicit GbnfParser(std::string_view text) : s_(text) {}

  StatusOr<std::shared_ptr<const Grammar>> parse() {
    skip_space(true);
    while (pos_ < s_.size()) {
      const size_t at = pos_;
      std::string name = read_name();
      if (name.empty()) return error("expected a rule name");
      skip_space(false);
      if (s_.substr(pos_, 3) != "::=") return error("expected '::=' after '" + name + "'");
      pos_ += 3;
      skip_space(true);
      const int32_t rule = rule_id(name);
      if (b_.defined(rule)) {
        pos_ = at;
        return error("rule '" + name + "' is defined twice");
      }
      AGENTD_ASSIGN_OR_RETURN(Expr body, alternatives(/*nested=*/false));
      b_.define(rule, std::move(body));
      skip_space(true);
    }
    auto root = ids_.find("root");
    if (root == ids_.end() || !b_.defined(root->second)) {
      return Status::invalid_argument("grammar: no rule named 'root'");
    }
    for (const auto& [name, id] : ids_) {
      if (!b_.defined(id)) return Status::invalid_argument("grammar: rule '" + name + "' is used but not defined");
    }
    auto g = b_.build(root->second);
    if (!g.is_ok()) return Status::invalid_argument("grammar: " + g.status().message());
    return g;
  }

 private:
  Status error(const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return Status::invalid_argument("grammar: " + what + " (line " + std::to_string(line) + ", column " +
                                    std::to_string(col) + ")");
  }

  int32_t rule_id(const std::string& name) {
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    const int32_t id = b_.declare(name);
    ids_.emplace(name, id);
    return id;
  }

  std::string read_name() {
    const size_t start = pos_;
    while (pos_ < s_.size() && is_name_char(s_[pos_])) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  // Spaces and comments; newlines too when `newlines`.
  void skip_space(bool newlines) {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  // At a newline outside parentheses: does the rule end here (the next
  // thing is `name ::=` or the end of the text)?
  bool rule_ends_here() {
    const size_t save = pos_;
    skip_space(true);
    bool ends = pos_ >= s_.size();
    if (!ends) {
      const std::string name = read_name();
      skip_space(false);
      ends = !name.empty() && s_.substr(pos_, 3) == "::=";
    }
    pos_ = save;
    return ends;
  }

  StatusOr<Expr> alternatives(bool nested) {
    std::vector<Expr> alts;
    while (true) {
      AGENTD_ASSIGN_OR_RETURN(Expr s, sequence(nested));
      alts.push_back(std::move(s));
      if (pos_ < s_.size() && s_[pos_] == '|') {
        ++pos_;
        skip_space(true);
        continue;
      }
      return alt(std::move(alts));
    }
  }

  StatusOr<Expr> sequence(bool nested) {
    std::vector<Expr> items;
    while (true) {
      skip_space(nested);
      if (pos_ >= s_.size()) break;
      const char c = s_[pos_];
      if (c == '\n') {
        if (rule_ends_here()) break;
        skip_space(true);
        continue;
      }
      if (c == '|' || c == ')') break;
      AGENTD_ASSIGN_OR_RETURN(Expr atom_expr, atom());
      AGENTD_ASSIGN_OR_RETURN(Expr quantified, quantifier(std::move(atom_expr)));
      items.push_back(std::move(quantified));
    }
    return seq(std::move(items));
  }

  StatusOr<Expr> atom() {
    const char c = s_[pos_];
    if (c == '"') {
      ++pos_;
      std::string bytes;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        AGENTD_ASSIGN_OR_RETURN(uint32_t cp, character());
        utf8_append(bytes, cp);
      }
      if (pos_ >= s_.size()) return error("unterminated string literal");
      ++pos_;
      return lit(bytes);
    }
    if (c == '[') return char_class();
    if (c == '.') {
      ++pos_;
      return not_chars({});
    }
    if (c == '(') {
      if (++depth_ > 200) return error("groups nested too deeply");
      struct Leave {
        int& d;
        ~Leave() { --d; }
      } leave{depth_};
      ++pos_;
      skip_space(true);
      AGENTD_ASSIGN_OR_RETURN(Expr inner, alternatives(/*nested=*/true));
      skip_space(true);
      if (pos_ >= s_.size() || s_[pos_] != ')') return error("missing ')'");
      ++pos_;
      return inner;
    }
    if (c == '<') return error("token references (<...>) are not supported");
    if (is_name_char(c)) {
      const std::string name = read_name();
      skip_space(false);
      if (s_.substr(pos_, 3) == "::=") return error("missing newline before rule '" + name + "'");
      return ref(rule_id(name));
    }
    return error(std::string("unexpected '") + c + "'");
  }

  StatusOr<int32_t> count() {
    const size_t start = pos_;
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      v = v * 10 + (s_[pos_++] - '0');
      if (v > 100000) return error("repetition count above 100000");
    }
    if (pos_ == start) return error("expected a number");
    return static_cast<int32_t>(v);
  }

  StatusOr<Expr> quantifier(Expr e) {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '*') {
        ++pos_;
        e = repeat(std::move(e), 0, -1);
      } else if (c == '+') {
        ++pos_;
        e = repeat(std::move(e), 1, -1);
      } else if (c == '?') {
        ++pos_;
        e = repeat(std::move(e), 0, 1);
      } else if (c == '{') {
        ++pos_;
        skip_space(false);
        AGENTD_ASSIGN_OR_RETURN(int32_t lo, count());
        int32_t hi = lo;
        skip_space(false);
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          skip_space(false);
          hi = -1;
          if (pos_ < s_.size() && s_[pos_] != '}') {
            AGENTD_ASSIGN_OR_RETURN(hi, count());
            if (hi < lo) return error("{m,n} with n < m");
          }
          skip_space(false);
        }
        if (pos_ >= s_.size() || s_[pos_] != '}') return error("missing '}'");
        ++pos_;
        e = repeat(std::move(e), lo, hi);
      } else {
        break;
      }
    }
    return e;
  }

  StatusOr<uint32_t> hex(size_t n) {
    uint32_t v = 0;
    for (size_t k = 0; k < n; ++k) {
      if (pos_ >= s_.size()) return error("incomplete escape");
      const char c = s_[pos_++];
      uint32_t d;
      if (c >= '0' && c <= '9') d = static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') d = static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') d = static_cast<uint32_t>(c - 'A' + 10);
      else return error("bad hexadecimal escape");
      v = v * 16 + d;
    }
    if (v > 0x10FFFF) return error("escape beyond U+10FFFF");
    if (v >= 0xD800 && v <= 0xDFFF) return error("escape names a surrogate, which UTF-8 cannot hold");
    return v;
  }

  // One character of a literal or class, escapes decoded.
  StatusOr<uint32_t> character() {
    if (s_[pos_] != '\\') {
      return utf8_decode(s_, pos_);
    }
    ++pos_;
    if (pos_ >= s_.size()) return error("text ends in an escape");
    const char c = s_[pos_++];
    switch (c) {
      case 'n': return uint32_t{'\n'};
      case 'r': return uint32_t{'\r'};
      case 't': return uint32_t{'\t'};
      case 'x': return hex(2);
      case 'u': return hex(4);
      case 'U': return hex(8);
      case '\\':
      case '"':
      case '[':
      case ']':
      case '-':
      case '^':
      case '/':
        return static_cast<uint32_t>(static_cast<unsigned char>(c));
      default:
        --pos_;
        return error(std::string("unknown escape '\\") + c + "'");
    }
  }

  StatusOr<Expr> char_class() {
    ++pos_;  // '['
    bool negate = false;
    if (pos_ < s_.size() && s_[pos_] == '^') {
      negate = true;
      ++pos_;
    }
    std::vector<CodePointRange> ranges;
    while (pos_ < s_.size() && s_[pos_] != ']') {
      AGENTD_ASSIGN_OR_RETURN(uint32_t lo, character());
      uint32_t hi = lo;
      if (pos_ + 1 < s_.size() && s_[pos_] == '-' && s_[pos_ + 1] != ']') {
        ++pos_;
        AGENTD_ASSIGN_OR_RETURN(hi, character());
        if (hi < lo) return error("class range out of order");
      }
      ranges.emplace_back(lo, hi);
    }
    if (pos_ >= s_.size()) return error("missing ']'");
    ++pos_;
    return negate ? not_chars(std::move(ranges)) : chars(std::move(ranges));
  }

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;
  GrammarBuilder b_;
  std::map<std::string, int32_t> ids_;
};

}  // namespace

StatusOr<std::shared_ptr<const Grammar>> compile_gbnf(std::string_view text) { return GbnfParser(text).parse(); }

}  // namespace agentd::engine::grammar
