#include "engine/grammar/regex.h"

#include <string>
#include <vector>

#include "common/utf8.h"

namespace agentd::engine::grammar {

namespace {

using Ranges = std::vector<CodePointRange>;

const Ranges kDigit = {{'0', '9'}};
const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const Ranges kSpace = {{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}, {0x1680, 0x1680}, {0x2000, 0x200A},
                       {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
const Ranges kLineTerminators = {{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}};

Ranges complement(Ranges r) {
  const Expr e = not_chars(std::move(r));
  return e.kind == Expr::Kind::kChars ? e.ranges : Ranges{};
}

class Parser {
 public:
  explicit Parser(std::string_view pattern) {
    for (size_t i = 0; i < pattern.size();) cps_.push_back(utf8_decode(pattern, i));
  }

  StatusOr<Expr> parse() {
    std::vector<Expr> branches;
    while (true) {
      bool start_anchor = false, end_anchor = false;
      if (more() && peek() == '^') {
        ++pos_;
        start_anchor = true;
      }
      AGENTD_ASSIGN_OR_RETURN(Expr body, sequence(/*top=*/true, end_anchor));
      const Expr any = repeat(not_chars({}), 0, -1);
      std::vector<Expr> parts;
      if (!start_anchor) parts.push_back(any);
      parts.push_back(std::move(body));
      if (!end_anchor) parts.push_back(any);
      branches.push_back(seq(std::move(parts)));
      if (!more()) break;
      if (peek() == '|') {
        ++pos_;
        continue;
      }
      return error("unbalanced ')'");
    }
    return alt(std::move(branches));
  }

 private:
  bool more() const { return pos_ < cps_.size(); }
  uint32_t peek() const { return cps_[pos_]; }
  Status error(const std::string& what) const {
    return Status::invalid_argument("pattern: " + what + " at character " + std::to_string(pos_ + 1));
  }

  StatusOr<Expr> alternation() {
    std::vector<Expr> branches;
    bool unused = false;
    while (true) {
      AGENTD_ASSIGN_OR_RETURN(Expr b, sequence(false, unused));
      branches.push_back(std::move(b));
      if (more() && peek() == '|') {
        ++pos_;
        continue;
      }
      return alt(std::move(branches));
    }
  }

  // Atoms with quantifiers up to '|' or ')' (or the end). At the top level a
  // final '$' sets end_anchor.
  StatusOr<Expr> sequence(bool top, bool& end_anchor) {
    std::vector<Expr> items;
    while (more() && peek() != '|' && peek() != ')') {
      const uint32_t c = peek();
      if (c == '$') {
        ++pos_;
        if (top && (!more() || peek() == '|')) {
          end_anchor = true;
          break;
        }
        return error("'$' is only supported at the end of the pattern or of a top-level alternative");
      }
      if (c == '^') return error("'^' is only supported at the start of the pattern or of a top-level alternative");
      AGENTD_ASSIGN_OR_RETURN(Expr atom_expr, atom());
      AGENTD_ASSIGN_OR_RETURN(Expr quantified, quantifier(std::move(atom_expr)));
      items.push_back(std::move(quantified));
    }
    if (!top && !more()) return error("missing ')'");
    return seq(std::move(items));
  }

  StatusOr<Expr> atom() {
    const uint32_t c = cps_[pos_++];
    switch (c) {
      case '(': {
        if (++depth_ > kMaxDepth) return error("groups nested too deeply");
        struct Leave {
          int& d;
          ~Leave() { --d; }
        } leave{depth_};
        if (more() && peek() == '?') {
          ++pos_;
          if (more() && peek() == ':') {
            ++pos_;
          } else if (more() && peek() == '<' && pos_ + 1 < cps_.size() && cps_[pos_ + 1] != '=' &&
                     cps_[pos_ + 1] != '!') {
            while (more() && peek() != '>') ++pos_;
            if (!more()) return error("unterminated group name");
            ++pos_;
          } else {
            return error("lookaround assertions are not supported");
          }
        }
        AGENTD_ASSIGN_OR_RETURN(Expr inner, alternation());
        if (!more() || peek() != ')') return error("missing ')'");
        ++pos_;
        return inner;
      }
      case '[':
        return char_class();
      case '.':
        return chars(complement(kLineTerminators));
      case '\\': {
        Ranges r;
        AGENTD_RETURN_IF_ERROR(escape(/*in_class=*/false, r));
        return chars(std::move(r));
      }
      case '*':
      case '+':
      case '?':
        --pos_;
        return error("nothing to repeat");
      case '{':
        if (quantifier_ahead(pos_ - 1)) {
          --pos_;
          return error("nothing to repeat");
        }
        return chars({{c, c}});
      default:
        return chars({{c, c}});
    }
  }

  // True when a {n}, {n,} or {n,m} starts at `at`.
  bool quantifier_ahead(size_t at) const {
    size_t i = at + 1;
    size_t digits = 0;
    while (i < cps_.size() && cps_[i] >= '0' && cps_[i] <= '9') ++i, ++digits;
    if (digits == 0) return false;
    if (i < cps_.size() && cps_[i] == '}') return true;
    if (i >= cps_.size() || cps_[i] != ',') return false;
    ++i;
    while (i < cps_.size() && cps_[i] >= '0' && cps_[i] <= '9') ++i;
    return i < cps_.size() && cps_[i] == '}';
  }

  StatusOr<int32_t> number() {
    int64_t v = 0;
    while (more() && peek() >= '0' && peek() <= '9') {
      v = v * 10 + (peek() - '0');
      if (v > 100000) return error("repetition count too large (most 100000)");
      ++pos_;
    }
    return static_cast<int32_t>(v);
  }

  StatusOr<Expr> quantifier(Expr e) {
    while (more()) {
      const uint32_t c = peek();
      int32_t lo = 0, hi = -1;
      if (c == '*') {
        ++pos_;
      } else if (c == '+') {
        ++pos_;
        lo = 1;
      } else if (c == '?') {
        ++pos_;
        hi = 1;
      } else if (c == '{' && quantifier_ahead(pos_)) {
        ++pos_;
        AGENTD_ASSIGN_OR_RETURN(lo, number());
        hi = lo;
        if (peek() == ',') {
          ++pos_;
          hi = -1;
          if (peek() != '}') {
            AGENTD_ASSIGN_OR_RETURN(hi, number());
            if (hi < lo) return error("{n,m} with m < n");
          }
        }
        ++pos_;  // '}'
      } else {
        return e;
      }
      if (more() && peek() == '?') ++pos_;  // lazy: the same strings
      if (more() && (peek() == '*' || peek() == '+' || peek() == '?' || (peek() == '{' && quantifier_ahead(pos_)))) {
        return error("nothing to repeat");
      }
      e = repeat(std::move(e), lo, hi);
    }
    return e;
  }

  StatusOr<uint32_t> hex(size_t n) {
    uint32_t v = 0;
    for (size_t k = 0; k < n; ++k) {
      if (!more()) return error("incomplete escape");
      const uint32_t c = cps_[pos_++];
      uint32_t d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else return error("bad hexadecimal escape");
      v = v * 16 + d;
    }
    return v;
  }

  // After a backslash: the code points it stands for.
  Status escape(bool in_class, Ranges& out) {
    if (!more()) return error("pattern ends with '\\'");
    const uint32_t c = cps_[pos_++];
    switch (c) {
      case 'd': out = kDigit; return Status::ok();
      case 'D': out = complement(kDigit); return Status::ok();
      case 'w': out = kWord; return Status::ok();
      case 'W': out = complement(kWord); return Status::ok();
      case 's': out = kSpace; return Status::ok();
      case 'S': out = complement(kSpace); return Status::ok();
      case 'n': out = {{'\n', '\n'}}; return Status::ok();
      case 'r': out = {{'\r', '\r'}}; return Status::ok();
      case 't': out = {{'\t', '\t'}}; return Status::ok();
      case 'f': out = {{'\f', '\f'}}; return Status::ok();
      case 'v': out = {{'\v', '\v'}}; return Status::ok();
      case '0':
        if (more() && peek() >= '0' && peek() <= '9') return error("octal escapes are not supported");
        out = {{0, 0}};
        return Status::ok();
      case 'x': {
        AGENTD_ASSIGN_OR_RETURN(uint32_t v, hex(2));
        out = {{v, v}};
        return Status::ok();
      }
      case 'u': {
        uint32_t v = 0;
        if (more() && peek() == '{') {
          ++pos_;
          size_t digits = 0;
          while (more() && peek() != '}') {
            AGENTD_ASSIGN_OR_RETURN(uint32_t d, hex(1));
            v = v * 16 + d;
            if (++digits > 6 || v > 0x10FFFF) return error("\\u{...} beyond U+10FFFF");
          }
          if (!more()) return error("unterminated \\u{");
          ++pos_;
        } else {
          AGENTD_ASSIGN_OR_RETURN(v, hex(4));
          // A surrogate pair written as two escapes.
          if (v >= 0xD800 && v <= 0xDBFF && pos_ + 5 < cps_.size() &&
              cps_[pos_] == '\\' && cps_[pos_ + 1] == 'u') {
            pos_ += 2;
            AGENTD_ASSIGN_OR_RETURN(uint32_t low, hex(4));
            if (low < 0xDC00 || low > 0xDFFF) return error("unpaired surrogate escape");
            v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00);
          }
          if (v >= 0xD800 && v <= 0xDFFF) return error("unpaired surrogate escape");
        }
        out = {{v, v}};
        return Status::ok();
      }
      case 'b':
        if (in_class) {
          out = {{'\b', '\b'}};
          return Status::ok();
        }
        return error("word boundaries (\\b) are not supported");
      case 'B': return error("word boundaries (\\B) are not supported");
      case 'c': return error("control escapes (\\c) are not supported");
      case 'p':
      case 'P': return error("Unicode property escapes (\\p) are not supported");
      case 'k': return error("named backreferences (\\k) are not supported");
      default:
        if (c >= '1' && c <= '9') return error("backreferences are not supported");
        out = {{c, c}};  // an escaped punctuation character is itself
        return Status::ok();
    }
  }

  StatusOr<Expr> char_class() {
    bool negate = false;
    if (more() && peek() == '^') {
      negate = true;
      ++pos_;
    }
    Ranges ranges;
    while (true) {
      if (!more()) return error("missing ']'");
      if (peek() == ']') break;  // "[]" matches nothing, "[^]" anything
      Ranges lo;
      AGENTD_RETURN_IF_ERROR(class_atom(lo));
      if (more() && peek() == '-' && pos_ + 1 < cps_.size() && cps_[pos_ + 1] != ']') {
        ++pos_;
        Ranges hi;
        AGENTD_RETURN_IF_ERROR(class_atom(hi));
        if (lo.size() != 1 || hi.size() != 1 || lo[0].first != lo[0].second || hi[0].first != hi[0].second) {
          return error("a class range's ends must be single characters");
        }
        if (hi[0].first < lo[0].first) return error("class range out of order");
        ranges.emplace_back(lo[0].first, hi[0].first);
      } else {
        ranges.insert(ranges.end(), lo.begin(), lo.end());
      }
    }
    ++pos_;  // ']'
    return negate ? not_chars(std::move(ranges)) : chars(std::move(ranges));
  }

  Status class_atom(Ranges& out) {
    const uint32_t c = cps_[pos_++];
    if (c == '\\') return escape(/*in_class=*/true, out);
    out = {{c, c}};
    return Status::ok();
  }

  static constexpr int kMaxDepth = 200;
  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

StatusOr<Expr> compile_regex(std::string_view pattern) { return Parser(pattern).parse(); }

std::pair<int64_t, int64_t> char_length(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kEmpty:
      return {0, 0};
    case Expr::Kind::kBytes: {
      int64_t n = 0;
      for (size_t i = 0; i < e.bytes.size();) {
        utf8_decode(e.bytes, i);
        ++n;
      }
      return {n, n};
    }
    case Expr::Kind::kByteRange:
    case Expr::Kind::kChars:
      return {1, 1};
    case Expr::Kind::kSeq: {
      int64_t lo = 0, hi = 0;
      for (const Expr& x : e.items) {
        auto [a, b] = char_length(x);
        lo += a;
        hi = (hi < 0 || b < 0) ? -1 : hi + b;
      }
      return {lo, hi};
    }
    case Expr::Kind::kAlt: {
      if (e.items.empty()) return {0, 0};
      int64_t lo = INT64_MAX, hi = 0;
      for (const Expr& x : e.items) {
        auto [a, b] = char_length(x);
        lo = std::min(lo, a);
        hi = (hi < 0 || b < 0) ? -1 : std::max(hi, b);
      }
      return {lo, hi};
    }
    case Expr::Kind::kRepeat: {
      auto [a, b] = char_length(e.items[0]);
      const int64_t lo = a * e.min;
      int64_t hi = -1;
      if (e.max >= 0 && b >= 0) hi = b * e.max;
      if (b == 0) hi = 0;
      return {lo, hi};
    }
    case Expr::Kind::kRef:
      return {0, -1};
  }
  return {0, -1};
}

}  // namespace agentd::engine::grammar
