#include "engine/grammar/utf8_ranges.h"

#include <algorithm>

namespace agentd::engine::grammar {

namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr uint32_t kSurrogateFirst = 0xD800;
constexpr uint32_t kSurrogateLast = 0xDFFF;

size_t encoded_length(uint32_t cp) {
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  if (cp < 0x10000) return 3;
  return 4;
}

// [a, b] with one encoded length and no surrogates.
void split(uint32_t a, uint32_t b, std::vector<ByteRangeSeq>& out) {
  const size_t n = encoded_length(a);
  for (size_t i = 1; i < n; ++i) {
    const uint32_t m = (1u << (6 * i)) - 1;
    if ((a & ~m) != (b & ~m)) {
      if ((a & m) != 0) {
        split(a, a | m, out);
        split((a | m) + 1, b, out);
        return;
      }
      if ((b & m) != m) {
        split(a, (b & ~m) - 1, out);
        split(b & ~m, b, out);
        return;
      }
    }
  }
  const std::string lo = utf8_encode(a), hi = utf8_encode(b);
  ByteRangeSeq seq;
  for (size_t k = 0; k < lo.size(); ++k) {
    seq.emplace_back(static_cast<uint8_t>(lo[k]), static_cast<uint8_t>(hi[k]));
  }
  out.push_back(std::move(seq));
}

}  // namespace

std::string utf8_encode(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    if (cp >= kSurrogateFirst && cp <= kSurrogateLast) return s;
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp <= kMaxCodePoint) {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

uint32_t utf8_next(const std::string& s, size_t& i) {
  const auto c0 = static_cast<unsigned char>(s[i]);
  size_t need = 0;
  uint32_t cp = 0;
  if ((c0 & 0xE0) == 0xC0) {
    need = 1;
    cp = c0 & 0x1F;
  } else if ((c0 & 0xF0) == 0xE0) {
    need = 2;
    cp = c0 & 0x0F;
  } else if ((c0 & 0xF8) == 0xF0) {
    need = 3;
    cp = c0 & 0x07;
  }
  if (need == 0 || i + need >= s.size()) {
    ++i;
    return c0;
  }
  for (size_t k = 1; k <= need; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) {
      ++i;
      return c0;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  i += need + 1;
  return cp;
}

std::vector<ByteRangeSeq> utf8_sequences(uint32_t first, uint32_t last) {
  std::vector<ByteRangeSeq> out;
  last = std::min(last, kMaxCodePoint);
  if (first > last) return out;
  // Pieces without surrogates, each within one encoded length.
  std::vector<std::pair<uint32_t, uint32_t>> pieces;
  if (first < kSurrogateFirst && last > kSurrogateLast) {
    pieces = {{first, kSurrogateFirst - 1}, {kSurrogateLast + 1, last}};
  } else if (first >= kSurrogateFirst && last <= kSurrogateLast) {
    return out;
  } else if (first >= kSurrogateFirst && first <= kSurrogateLast) {
    pieces = {{kSurrogateLast + 1, last}};
  } else if (last >= kSurrogateFirst && last <= kSurrogateLast) {
    pieces = {{first, kSurrogateFirst - 1}};
  } else {
    pieces = {{first, last}};
  }
  for (auto [a, b] : pieces) {
    for (uint32_t bound : {0x7Fu, 0x7FFu, 0xFFFFu}) {
      if (a <= bound && b > bound) {
        split(a, bound, out);
        a = bound + 1;
      }
    }
    split(a, b, out);
  }
  return out;
}

}  // namespace agentd::engine::grammar
