#include "engine/grammar/number_range.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace agentd::engine::grammar {

namespace {

// A signed integer of any size: magnitude in decimal without leading zeros.
struct BigInt {
  bool negative = false;
  std::string mag = "0";
};

int cmp_mag(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a < b ? -1 : (a > b ? 1 : 0);
}

int cmp(const BigInt& a, const BigInt& b) {
  const bool an = a.negative && a.mag != "0", bn = b.negative && b.mag != "0";
  if (an != bn) return an ? -1 : 1;
  const int c = cmp_mag(a.mag, b.mag);
  return an ? -c : c;
}

std::string mag_inc(std::string m) {
  for (size_t i = m.size(); i-- > 0;) {
    if (m[i] != '9') {
      ++m[i];
      return m;
    }
    m[i] = '0';
  }
  return "1" + m;
}

std::string mag_dec(std::string m) {  // m > 0
  for (size_t i = m.size(); i-- > 0;) {
    if (m[i] != '0') {
      --m[i];
      break;
    }
    m[i] = '9';
  }
  const size_t nz = m.find_first_not_of('0');
  return nz == std::string::npos ? "0" : m.substr(nz);
}

BigInt add_one(BigInt x) {
  if (!x.negative || x.mag == "0") return BigInt{false, mag_inc(x.mag)};
  x.mag = mag_dec(x.mag);
  if (x.mag == "0") x.negative = false;
  return x;
}

BigInt sub_one(BigInt x) {
  if (x.negative) return BigInt{true, mag_inc(x.mag)};
  if (x.mag == "0") return BigInt{true, "1"};
  x.mag = mag_dec(x.mag);
  return x;
}

// A decimal as digits * 10^exponent, digits without leading or trailing zeros.
struct Decimal {
  bool negative = false;
  std::string digits;  // "" for zero
  long exponent = 0;
};

StatusOr<Decimal> parse_decimal(const std::string& text) {
  Decimal d;
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) d.negative = text[i++] == '-';
  std::string digits;
  long frac = 0;
  bool any = false, dot = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits += c;
      any = true;
      if (dot) ++frac;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  long exp = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) eneg = text[i++] == '-';
    if (i >= text.size()) return Status::invalid_argument("'" + text + "' is not a number");
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      exp = std::min(exp * 10 + (text[i] - '0'), 100000L);
    }
    if (eneg) exp = -exp;
  }
  if (!any || i != text.size()) return Status::invalid_argument("'" + text + "' is not a number");
  const size_t nz = digits.find_first_not_of('0');
  digits = nz == std::string::npos ? "" : digits.substr(nz);
  d.exponent = exp - frac;
  while (!digits.empty() && digits.back() == '0') {
    digits.pop_back();
    ++d.exponent;
  }
  if (digits.empty()) d.exponent = 0;
  if (d.exponent > 400 || d.exponent < -400) return Status::invalid_argument("the bound " + text + " is out of range");
  d.digits = digits;
  return d;
}

long fraction_digits(const Decimal& d) { return d.digits.empty() ? 0 : std::max(0L, -d.exponent); }

// d * 10^scale rounded toward +inf (ceil) or -inf (floor); `exact` tells
// whether no rounding happened.
BigInt scaled(const Decimal& d, long scale, bool ceil, bool& exact) {
  exact = true;
  if (d.digits.empty()) return BigInt{};
  const long e = d.exponent + scale;
  std::string mag;
  if (e >= 0) {
    mag = d.digits + std::string(static_cast<size_t>(e), '0');
  } else {
    const long keep = static_cast<long>(d.digits.size()) + e;
    mag = keep > 0 ? d.digits.substr(0, static_cast<size_t>(keep)) : "0";
    exact = false;  // digits carry no trailing zeros, so something was cut
    const size_t nz = mag.find_first_not_of('0');
    mag = nz == std::string::npos ? "0" : mag.substr(nz);
  }
  BigInt x{d.negative && mag != "0", mag};
  if (!exact) {
    if (d.negative) x.negative = true;  // -(truncated): toward zero
    // Truncation went toward zero: fix the direction asked for.
    if (ceil && !d.negative) x = add_one(x);
    if (!ceil && d.negative) x = sub_one(x);
    if (x.mag == "0") x.negative = false;
  }
  return x;
}

std::string pad(const std::string& mag, size_t n) { return std::string(n - mag.size(), '0') + mag; }

// Digit strings of length lo.size() between lo and hi (same length), with a
// '.' before absolute position `dot` (npos: none); `off` is lo[0]'s position.
Expr fixed_range(const std::string& lo, const std::string& hi, size_t off, size_t dot) {
  auto digit = [&](size_t p, char a, char b) {
    Expr d = byte_range(static_cast<uint8_t>(a), static_cast<uint8_t>(b));
    return p == dot ? seq({lit("."), d}) : d;
  };
  const size_t n = lo.size();
  std::vector<Expr> out;
  size_t i = 0;
  while (i < n && lo[i] == hi[i]) {
    out.push_back(digit(off + i, lo[i], lo[i]));
    ++i;
  }
  if (i == n) return seq(std::move(out));
  const bool lo_rest_min = lo.find_first_not_of('0', i + 1) == std::string::npos;
  const bool hi_rest_max = hi.find_first_not_of('9', i + 1) == std::string::npos;
  auto any_rest = [&](std::vector<Expr>& s) {
    for (size_t p = i + 1; p < n; ++p) s.push_back(digit(off + p, '0', '9'));
  };
  std::vector<Expr> alts;
  char first_any = static_cast<char>(lo[i] + 1), last_any = static_cast<char>(hi[i] - 1);
  if (lo_rest_min) first_any = lo[i];
  if (hi_rest_max) last_any = hi[i];
  if (!lo_rest_min) {
    alts.push_back(seq({digit(off + i, lo[i], lo[i]),
                        fixed_range(lo.substr(i + 1), std::string(n - i - 1, '9'), off + i + 1, dot)}));
  }
  if (first_any <= last_any) {
    std::vector<Expr> s = {digit(off + i, first_any, last_any)};
    any_rest(s);
    alts.push_back(seq(std::move(s)));
  }
  if (!hi_rest_max) {
    alts.push_back(seq({digit(off + i, hi[i], hi[i]),
                        fixed_range(std::string(n - i - 1, '0'), hi.substr(i + 1), off + i + 1, dot)}));
  }
  out.push_back(alt(std::move(alts)));
  return seq(std::move(out));
}

std::string power_of_ten(size_t zeros) { return "1" + std::string(zeros, '0'); }
std::string nines(size_t n) { return std::string(n, '9'); }

// Non-negative scaled integers in [a, b] (b "" = open) written with
// `fraction` fraction digits.
Expr magnitudes(const std::string& a, const std::string& b, size_t fraction) {
  const size_t shortest = fraction + 1;  // "0.5": one integer digit at least
  const size_t longest = b.empty() ? std::max(std::max(shortest, a.size()), fraction + 15) : std::max(shortest, b.size());
  std::vector<Expr> alts;
  for (size_t len = std::max(shortest, a.size()); len <= longest; ++len) {
    std::string lo = len == shortest ? a : (cmp_mag(a, power_of_ten(len - 1)) > 0 ? a : power_of_ten(len - 1));
    std::string hi = nines(len);
    if (!b.empty() && cmp_mag(b, hi) < 0) hi = b;
    if (cmp_mag(lo, hi) > 0) continue;
    alts.push_back(fixed_range(pad(lo, len), pad(hi, len), 0, fraction == 0 ? std::string::npos : len - fraction));
  }
  return alt(std::move(alts));
}

}  // namespace

StatusOr<Expr> number_in_range(const std::optional<NumberBound>& lower, const std::optional<NumberBound>& upper,
                               bool integer) {
  std::optional<Decimal> lo, hi;
  if (lower) {
    AGENTD_ASSIGN_OR_RETURN(Decimal d, parse_decimal(lower->decimal));
    lo = d;
  }
  if (upper) {
    AGENTD_ASSIGN_OR_RETURN(Decimal d, parse_decimal(upper->decimal));
    hi = d;
  }
  long fraction = 0;
  if (!integer) {
    fraction = 1;
    if (lo) fraction = std::max(fraction, fraction_digits(*lo));
    if (hi) fraction = std::max(fraction, fraction_digits(*hi));
  }
  std::optional<BigInt> lo_n, hi_n;
  if (lo) {
    bool exact = false;
    BigInt x = scaled(*lo, fraction, /*ceil=*/true, exact);
    if (exact && lower->exclusive) x = add_one(x);
    lo_n = x;
  }
  if (hi) {
    bool exact = false;
    BigInt x = scaled(*hi, fraction, /*ceil=*/false, exact);
    if (exact && upper->exclusive) x = sub_one(x);
    hi_n = x;
  }
  if (lo_n && hi_n && cmp(*lo_n, *hi_n) > 0) {
    return Status::invalid_argument(std::string("no ") + (integer ? "integer" : "number") + " lies between " +
                                    lower->decimal + " and " + upper->decimal);
  }
  const auto f = static_cast<size_t>(fraction);
  std::vector<Expr> alts;
  // Negative numbers: magnitudes from max(1, -hi) up to -lo.
  if (!lo_n || lo_n->negative) {
    std::string from = "1";
    if (hi_n && hi_n->negative && cmp_mag(hi_n->mag, from) > 0) from = hi_n->mag;
    alts.push_back(seq({lit("-"), magnitudes(from, lo_n ? lo_n->mag : "", f)}));
  }
  // Zero and above: from max(0, lo) up to hi.
  if (!hi_n || !hi_n->negative) {
    const std::string from = lo_n && !lo_n->negative ? lo_n->mag : "0";
    alts.push_back(magnitudes(from, hi_n ? hi_n->mag : "", f));
  }
  return alt(std::move(alts));
}

}  // namespace agentd::engine::grammar
