// AVX-512 (F, BW, VL, DQ, VNNI) kernels. Installed over the AVX2 table
// only when the CPU has all of those; internal linkage throughout (and no
// std:: templates), for the same reason as kernels_avx2.cpp.
//
// vpdpbusd multiplies unsigned by signed bytes and accumulates into int32
// lanes. Q6_K subtracts 32 * bsums as the AVX2 kernel does. As there, each
// block's integer sum is exact and the float part follows the fixed order of
// kernels_internal.h, so results are bit-identical to the scalar reference.
// matmul uses the matrix kernels of kernels_mat_avx512.cpp where they exist.

#include <cstdint>
#include <cstring>

#include "engine/kernels/kernels_internal.h"
#include "engine/kernels/quants.h"
#include "engine/kernels/simd_avx512.h"

namespace agentd::engine::detail {
namespace {

// ------------------------------------------------------------ float rows

// Float rows with the lane layout of kernels_internal.h: z0 holds lanes
// 0-15, z1 lanes 16-31. load16(p, mask) widens up to 16 elements (zeros
// where the mask is clear), so the tail runs through the same step.
template <typename T, typename Load16>
float dot_float_rows(int64_t n, const T* a, const T* b, Load16 load16) {
  __m512 z0 = _mm512_setzero_ps();
  __m512 z1 = _mm512_setzero_ps();
  const __mmask16 all = 0xffff;
  int64_t i = 0;
  for (; i + kFloatLanes <= n; i += kFloatLanes) {
    z0 = _mm512_fmadd_ps(load16(a + i, all), load16(b + i, all), z0);
    z1 = _mm512_fmadd_ps(load16(a + i + 16, all), load16(b + i + 16, all), z1);
  }
  if (i < n) {
    const int64_t left = n - i;  // 1..31
    const __mmask16 m0 = left >= 16 ? all : static_cast<__mmask16>((1u << left) - 1u);
    const __mmask16 m1 = left > 16 ? static_cast<__mmask16>((1u << (left - 16)) - 1u) : __mmask16{0};
    z0 = _mm512_fmadd_ps(load16(a + i, m0), load16(b + i, m0), z0);
    if (m1 != 0) z1 = _mm512_fmadd_ps(load16(a + i + 16, m1), load16(b + i + 16, m1), z1);
  }
  return float_rows_total(z0, z1);
}

float dot_f32(int64_t n, const void* w, const void* x) {
  return dot_float_rows(n, static_cast<const float*>(w), static_cast<const float*>(x),
                        [](const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); });
}

float dot_f16(int64_t n, const void* w, const void* x) {
  return dot_float_rows(n, static_cast<const Half*>(w), static_cast<const Half*>(x),
                        [](const Half* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); });
}

float dot_bf16(int64_t n, const void* w, const void* x) {
  return dot_float_rows(n, static_cast<const BHalf*>(w), static_cast<const BHalf*>(x), [](const BHalf* p, __mmask16 m) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  });
}

// ------------------------------------------------------------ K-quants

// Sub-block scales as int32 lanes: lanes 0-7 get s0, lanes 8-15 get s1.
inline __m512i two_int_scales(int s0, int s1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(s0)), _mm256_set1_epi32(s1), 1);
}

inline int32_t k_scales_and_mins(const uint8_t* packed, const int16_t* bsums, uint8_t* sc) {
  int32_t mins = 0;
  for (int j = 0; j < 8; ++j) {
    uint8_t m;
    k_scale_min(j, packed, &sc[j], &m);
    mins += m * (bsums[2 * j] + bsums[2 * j + 1]);
  }
  return mins;
}

float dot_q4_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q4_KBlock*>(w);
  const auto* b = static_cast<const Q8_KBlock*>(x);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8];
    const int32_t mins = k_scales_and_mins(a[i].scales, b[i].bsums, sc);
    __m512i acc = _mm512_setzero_si512();
    for (int g = 0; g < 4; ++g) {
      // Elements 64g .. 64g+63: low nibbles then high nibbles of 32 bytes.
      const __m256i raw = load256(a[i].qs + 32 * g);
      const __m512i q = join(_mm256_and_si256(raw, low4), _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4));
      const __m512i xv = _mm512_loadu_si512(b[i].qs + 64 * g);
      const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, xv);
      acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(dot, two_int_scales(sc[2 * g], sc[2 * g + 1])));
    }
    const int32_t scaled = _mm512_reduce_add_epi32(acc);
    const float scale = half_to_float(a[i].d) * b[i].d;
    const float offset = -(half_to_float(a[i].dmin) * b[i].d * static_cast<float>(mins));
    sum = accumulate_blocks(sum, &scale, &scaled, &offset, 1);
  }
  return sum;
}

float dot_q5_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q5_KBlock*>(w);
  const auto* b = static_cast<const Q8_KBlock*>(x);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i sixteen = _mm256_set1_epi8(16);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8];
    const int32_t mins = k_scales_and_mins(a[i].scales, b[i].bsums, sc);
    const __m256i qh = load256(a[i].qh);
    __m512i acc = _mm512_setzero_si512();
    for (int g = 0; g < 4; ++g) {
      const __m256i raw = load256(a[i].qs + 32 * g);
      const __m256i h_lo = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * g), 4), sixteen);
      const __m256i h_hi = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * g + 1), 4), sixteen);
      const __m512i q = join(_mm256_or_si256(_mm256_and_si256(raw, low4), h_lo),
                             _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(raw, 4), low4), h_hi));
      const __m512i xv = _mm512_loadu_si512(b[i].qs + 64 * g);
      const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, xv);
      acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(dot, two_int_scales(sc[2 * g], sc[2 * g + 1])));
    }
    const int32_t scaled = _mm512_reduce_add_epi32(acc);
    const float scale = half_to_float(a[i].d) * b[i].d;
    const float offset = -(half_to_float(a[i].dmin) * b[i].d * static_cast<float>(mins));
    sum = accumulate_blocks(sum, &scale, &scaled, &offset, 1);
  }
  return sum;
}

float dot_q6_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q6_KBlock*>(w);
  const auto* b = static_cast<const Q8_KBlock*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t offset = 0;
    for (int j = 0; j < 16; ++j) offset += a[i].scales[j] * b[i].bsums[j];
    // One int32 scale per lane: 16 elements (a sub-block) span 4 lanes.
    const __m512i sc32 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales)));
    const __m512i lane_sub_block = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512i q[4];
    q6_k_levels(a[i], q);
    __m512i acc = _mm512_setzero_si512();
    for (int v = 0; v < 4; ++v) {
      const int e = 64 * v;  // first of these 64 elements: sub-blocks e/16 .. e/16 + 3
      const __m512i xv = _mm512_loadu_si512(b[i].qs + e);
      const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[v], xv);
      // Lanes 4s..4s+3 belong to sub-block e/16 + s.
      const __m512i scales =
          _mm512_permutexvar_epi32(_mm512_add_epi32(lane_sub_block, _mm512_set1_epi32(e / 16)), sc32);
      acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(dot, scales));
    }
    const int32_t isum = _mm512_reduce_add_epi32(acc) - 32 * offset;
    const float scale = half_to_float(a[i].d) * b[i].d;
    sum = accumulate_blocks(sum, &scale, &isum, nullptr, 1);
  }
  return sum;
}

// Whole-block order (kernels_internal.h), as the matrix kernels of this
// instruction set: |w| times x with w's sign, exact in dpbusd. weights(a)
// gives a block's 32 signed weights in element order.
template <typename Block, typename Weights>
float dot_whole_blocks(int64_t n, const void* w, const void* x, Weights weights) {
  const auto* a = static_cast<const Block*>(w);
  const auto* b = static_cast<const Q8_0Block*>(x);
  __m128 acc = _mm_setzero_ps();
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256i qa = weights(a[i]);
    const __m256i qb = load256(b[i].qs);
    const __m256i v = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(qa), _mm256_sign_epi8(qb, qa));
    const __m128 f = _mm_cvtsi32_ss(_mm_setzero_ps(), hsum_epi32(v));
    acc = _mm_fmadd_ss(_mm_set_ss(half_to_float(a[i].d) * half_to_float(b[i].d)), f, acc);
  }
  return _mm_cvtss_f32(acc);
}

float dot_q4_0(int64_t n, const void* w, const void* x) {
  return dot_whole_blocks<Q4_0Block>(n, w, x, [](const Q4_0Block& a) {
    return _mm256_sub_epi8(unpack_nibbles_32(a.qs), _mm256_set1_epi8(8));
  });
}

float dot_q5_0(int64_t n, const void* w, const void* x) {
  return dot_whole_blocks<Q5_0Block>(n, w, x, [](const Q5_0Block& a) {
    uint32_t qh;
    std::memcpy(&qh, a.qh, sizeof qh);
    const __m256i low = unpack_nibbles_32(a.qs);
    return _mm256_sub_epi8(_mm256_mask_add_epi8(low, qh, low, _mm256_set1_epi8(16)), _mm256_set1_epi8(16));
  });
}

float dot_q8_0(int64_t n, const void* w, const void* x) {
  return dot_whole_blocks<Q8_0Block>(n, w, x, [](const Q8_0Block& a) { return load256(a.qs); });
}

}  // namespace

void fill_avx512_kernels(KernelTable& t) {
  t.dot_q4_0 = dot_q4_0;
  t.dot_q5_0 = dot_q5_0;
  t.dot_q8_0 = dot_q8_0;
  t.dot_f32 = dot_f32;
  t.dot_f16 = dot_f16;
  t.dot_bf16 = dot_bf16;
  t.dot_q4_k = dot_q4_k;
  t.dot_q5_k = dot_q5_k;
  t.dot_q6_k = dot_q6_k;
  fill_avx512_mat_kernels(t);
}

}  // namespace agentd::engine::detail
