#pragma once
// AVX-512 (F, BW, VL, DQ) helpers for the *_avx512.cpp kernel files, on top
// of simd_x86.h; include only there. Internal linkage, as in simd_x86.h.

// GCC 12 reports its own _mm512_undefined_* idiom (self-initialized
// variables inside avx512fintrin.h) as uninitialized once inlined at -O3;
// the warnings point into the header, so they are silenced around it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "engine/kernels/simd_x86.h"

namespace agentd::engine::detail {
namespace {  // NOLINT(google-build-namespaces): internal linkage on purpose (simd_x86.h)

// Two 32-byte rows into one register: a in the low half, b in the high half.
inline __m512i join(__m256i a, __m256i b) { return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1); }

// A Q6_K block's 256 levels (0..63, w = level - 32): q[v] holds elements
// 64v .. 64v + 63.
inline void q6_k_levels(const Q6_KBlock& a, __m512i (&q)[4]) {
  for (int half = 0; half < 2; ++half) {
    __m256i h[4];
    q6_k_half_levels(a, half, h);
    q[2 * half] = join(h[0], h[1]);
    q[2 * half + 1] = join(h[2], h[3]);
  }
}

// One output's total from its accumulators, in the orders kernels_internal.h
// fixes. Float rows: lanes 0-15 in z0, 16-31 in z1.
inline float float_rows_total(__m512 z0, __m512 z1) {
  return hsum_ps(_mm256_add_ps(_mm256_add_ps(_mm512_castps512_ps256(z0), _mm512_extractf32x8_ps(z0, 1)),
                               _mm256_add_ps(_mm512_castps512_ps256(z1), _mm512_extractf32x8_ps(z1, 1))));
}

}  // namespace
}  // namespace agentd::engine::detail
