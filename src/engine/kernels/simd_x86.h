#pragma once
// Small AVX2 + FMA + F16C helpers shared by the files built with at least
// those flags (the *_avx2.cpp and *_avx512.cpp kernels). Include only there:
// the functions have internal linkage (an unnamed namespace, one copy per
// file), so no code compiled for AVX2 can be picked by the linker for a
// caller built without it.

#include <immintrin.h>

#include <cstdint>

#include "engine/kernels/quants.h"

namespace agentd::engine::detail {
namespace {  // NOLINT(google-build-namespaces): internal linkage on purpose (above)

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

inline float half_to_float(Half h) { return _cvtsh_ss(h); }

// Levels (0..63, w = level - 32) of half `half` of a Q6_K block: out[k] holds
// elements 128 * half + 32k .. 128 * half + 32k + 31.
inline void q6_k_half_levels(const Q6_KBlock& a, int half, __m256i* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i three = _mm256_set1_epi8(3);
  const uint8_t* ql = a.ql + 64 * half;
  const __m256i qh = load256(a.qh + 32 * half);
  const __m256i ql0 = load256(ql);
  const __m256i ql1 = load256(ql + 32);
  const __m256i lows[4] = {_mm256_and_si256(ql0, low4), _mm256_and_si256(ql1, low4),
                           _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                           _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4)};
  for (int k = 0; k < 4; ++k) {
    out[k] = _mm256_or_si256(lows[k], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), three), 4));
  }
}

// Horizontal sums; the dot products' float order (kernels_internal.h) relies
// on these exact instruction sequences.
inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// 16 bytes of packed nibbles -> 32 bytes: low nibbles first, then high ones
// (the element order of Q4_0/Q5_0 blocks).
inline __m256i unpack_nibbles_32(const uint8_t* p) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0f));
}

// 32 bits -> 32 bytes, 0xff where the bit is set (bit k -> byte k).
inline __m256i expand_bits_32(uint32_t bits) {
  const __m256i shuffle = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuffle);
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

}  // namespace
}  // namespace agentd::engine::detail
