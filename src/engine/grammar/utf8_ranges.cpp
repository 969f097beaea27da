#include "engine/grammar/utf8_ranges.h"

#include <algorithm>

#include "common/utf8.h"

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
  std::string lo, hi;
  utf8_append(lo, a);
  utf8_append(hi, b);
  ByteRangeSeq seq;
  for (size_t k = 0; k < lo.size(); ++k) {
    seq.emplace_back(static_cast<uint8_t>(lo[k]), static_cast<uint8_t>(hi[k]));
  }
  out.push_back(std::move(seq));
}

}  // namespace

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
