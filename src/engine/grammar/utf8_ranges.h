#pragma once
// Code point ranges as UTF-8 byte ranges: [a, b] becomes a few sequences of
// byte ranges whose concatenations spell exactly the code points in [a, b]
// (surrogates D800-DFFF excluded, as UTF-8 has none). The method is the
// usual one of byte-level regex engines: split the range where the encoded
// length changes, then where a continuation byte would not cover its whole
// 0x80-0xBF span, until every position of the sequence is an independent
// range.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace agentd::engine::grammar {

// One sequence: a byte range per position (1 to 4 positions).
using ByteRangeSeq = std::vector<std::pair<uint8_t, uint8_t>>;

std::vector<ByteRangeSeq> utf8_sequences(uint32_t first, uint32_t last);

}  // namespace agentd::engine::grammar
