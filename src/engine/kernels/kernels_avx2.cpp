// AVX2 + FMA + F16C kernels. Compiled with those flags (see CMakeLists.txt)
// and installed only when the CPU has them; everything here has internal
// linkage (no std:: templates either) so no code built for AVX2 can be
// shared with scalar callers.
//
// Quantized dot products compute each block's integer sum exactly; the float
// part of every dot product (float rows included) follows the fixed order of
// kernels_internal.h, as the scalar reference does, so results are
// bit-identical to it. matmul uses the matrix kernels of kernels_mat_avx2.cpp.

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/kernels/kernels_internal.h"
#include "engine/kernels/quants.h"
#include "engine/kernels/simd_x86.h"

namespace agentd::engine::detail {
namespace {

// Sum of products of signed bytes, as 8 int32 lanes (each the sum of 4
// neighbours). |a| must not be 128 (true for every quantizer here).
inline __m256i dot_i8_pairs(__m256i a, __m256i b) {
  const __m256i abs_a = _mm256_sign_epi8(a, a);
  const __m256i b_signed = _mm256_sign_epi8(b, a);
  const __m256i pairs = _mm256_maddubs_epi16(abs_a, b_signed);
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

// The totals of 8 vectors of 8 int32 lanes, in order: {sum(v[0]), ..., sum(v[7])}.
inline __m256i reduce8_epi32(const __m256i* v) {
  const __m256i h01 = _mm256_hadd_epi32(v[0], v[1]);
  const __m256i h23 = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i h45 = _mm256_hadd_epi32(v[4], v[5]);
  const __m256i h67 = _mm256_hadd_epi32(v[6], v[7]);
  const __m256i q0 = _mm256_hadd_epi32(h01, h23);  // per 128-bit half: partial sums of v0..v3
  const __m256i q1 = _mm256_hadd_epi32(h45, h67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(q0, q1, 0x20), _mm256_permute2x128_si256(q0, q1, 0x31));
}

// Sum over nb 32-element blocks: block(b, &scale, &offset) returns block b's
// 8 partial integer sums and its float scale (and offset, if kOffset). Eight
// blocks at a time, their totals land in one lane each of the accumulator,
// exactly as kernels_internal.h prescribes.
template <bool kOffset, typename BlockFn>
float sum_blocks(int64_t nb, BlockFn block) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; i += kBlockLanes) {
    const int count = nb - i < kBlockLanes ? static_cast<int>(nb - i) : kBlockLanes;
    __m256i v[kBlockLanes];
    alignas(32) float scale[kBlockLanes];
    alignas(32) float offset[kBlockLanes];
    for (int k = 0; k < count; ++k) v[k] = block(i + k, &scale[k], &offset[k]);
    for (int k = count; k < kBlockLanes; ++k) {
      v[k] = _mm256_setzero_si256();
      scale[k] = 0.f;
      offset[k] = 0.f;
    }
    __m256 term = _mm256_mul_ps(_mm256_load_ps(scale), _mm256_cvtepi32_ps(reduce8_epi32(v)));
    AGENTD_NO_FUSE(term);
    if (kOffset) term = _mm256_add_ps(term, _mm256_load_ps(offset));
    acc = _mm256_add_ps(acc, term);
  }
  return hsum_ps(acc);
}

// Q4_0/Q5_0/Q8_0 order (kernels_internal.h): block(b, &scale) returns block
// b's 8 int32 lane sums; they are fused with its scale into accumulator b % 4.
template <typename BlockFn>
float sum_q8_lanes(int64_t nb, BlockFn block) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 4 <= nb; i += 4) {
    for (int k = 0; k < 4; ++k) {
      float scale;
      const __m256i v = block(i + k, &scale);
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(v), acc[k]);
    }
  }
  for (int k = 0; i < nb; ++i, ++k) {
    float scale;
    const __m256i v = block(i, &scale);
    acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(v), acc[k]);
  }
  return hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3])));
}

// ------------------------------------------------------------ conversions

void quantize_f16(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Half*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), h);
  }
  for (; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}

// 32 floats -> int8 scaled by 127/amax, round half to even; returns d.
inline float quantize_block_8bit(const float* x, int8_t* q) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 v[4];
  __m256 amax = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float max_abs = _mm_cvtss_f32(m4);
  const float d = max_abs / 127.f;
  const __m256 id = _mm256_set1_ps(max_abs != 0.f ? 127.f / max_abs : 0.f);
  __m256i iv[4];
  for (int k = 0; k < 4; ++k) {
    const __m256 r = _mm256_round_ps(_mm256_mul_ps(v[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    iv[k] = _mm256_cvtps_epi32(r);
  }
  // packs interleave 128-bit lanes; the permute restores element order.
  const __m256i p16a = _mm256_packs_epi32(iv[0], iv[1]);
  const __m256i p16b = _mm256_packs_epi32(iv[2], iv[3]);
  const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
  const __m256i ordered = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), ordered);
  return d;
}

void quantize_q8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q8_0Block*>(dst);
  for (int64_t i = 0; i < n / kQK8_0; ++i) y[i].d = fp32_to_fp16(quantize_block_8bit(x + i * kQK8_0, y[i].qs));
}

// As quantize_row_q8_k, byte for byte for finite inputs (as quantize_q8_0):
// the element of largest magnitude (the first of equals) maps to -127;
// round half to even, clamped at 127; sums of 16.
void quantize_q8_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q8_KBlock*>(dst);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < kQK_K / 8; ++k) amax = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * k)), amax);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float max_abs = _mm_cvtss_f32(m4);
    if (max_abs == 0.f) {
      y[i].d = 0;
      std::memset(y[i].qs, 0, sizeof y[i].qs);
      std::memset(y[i].bsums, 0, sizeof y[i].bsums);
      continue;
    }
    float max = max_abs;
    for (int k = 0; k < kQK_K / 8; ++k) {
      const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * k));
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_set1_ps(max_abs), _CMP_EQ_OQ));
      if (hit != 0) {
        max = x[8 * k + __builtin_ctz(static_cast<unsigned>(hit))];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 scale = _mm256_set1_ps(iscale);
    for (int k = 0; k < kQK_K / 32; ++k) {
      __m256i iv[4];
      for (int j = 0; j < 4; ++j) {
        const __m256 r = _mm256_round_ps(_mm256_mul_ps(scale, _mm256_loadu_ps(x + 32 * k + 8 * j)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        iv[j] = _mm256_min_epi32(_mm256_cvtps_epi32(r), _mm256_set1_epi32(127));
      }
      const __m256i p8 = _mm256_packs_epi16(_mm256_packs_epi32(iv[0], iv[1]), _mm256_packs_epi32(iv[2], iv[3]));
      const __m256i q = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs + 32 * k), q);
      // Sums of 16: sad of q + 128 per 8 bytes, less 8 * 128 each.
      const __m256i s = _mm256_sad_epu8(_mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80))),
                                        _mm256_setzero_si256());
      alignas(32) int64_t s4[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(s4), s);
      y[i].bsums[2 * k] = static_cast<int16_t>(s4[0] + s4[1] - 2048);
      y[i].bsums[2 * k + 1] = static_cast<int16_t>(s4[2] + s4[3] - 2048);
    }
    y[i].d = 1 / iscale;
  }
}

void quantize_q8_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q8_1Block*>(dst);
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    const float d = quantize_block_8bit(x + i * kQK8_1, y[i].qs);
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
    const int32_t sum = hsum_epi32(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
    y[i].d = fp32_to_fp16(d);
    y[i].s = fp32_to_fp16(d * static_cast<float>(sum));
  }
}

// ------------------------------------------------------------ float rows

// Float rows with the lane layout of kernels_internal.h: accumulator k holds
// lanes 8k .. 8k+7. A tail shorter than 32 is widened into a zero-padded
// buffer and run through one more step (0 * 0 + acc leaves acc unchanged).
template <typename T, typename Widen8, typename Widen1>
float dot_float_rows(int64_t n, const T* a, const T* b, Widen8 widen8, Widen1 widen1) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + kFloatLanes <= n; i += kFloatLanes) {
    for (int k = 0; k < 4; ++k) acc[k] = _mm256_fmadd_ps(widen8(a + i + 8 * k), widen8(b + i + 8 * k), acc[k]);
  }
  if (i < n) {
    alignas(32) float ta[kFloatLanes] = {};
    alignas(32) float tb[kFloatLanes] = {};
    for (int64_t j = 0; i + j < n; ++j) {
      ta[j] = widen1(a[i + j]);
      tb[j] = widen1(b[i + j]);
    }
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_fmadd_ps(_mm256_load_ps(ta + 8 * k), _mm256_load_ps(tb + 8 * k), acc[k]);
    }
  }
  return hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

inline __m256 load_f16x8(const Half* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline __m256 load_bf16x8(const BHalf* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

float dot_f32(int64_t n, const void* w, const void* x) {
  return dot_float_rows(
      n, static_cast<const float*>(w), static_cast<const float*>(x), [](const float* p) { return _mm256_loadu_ps(p); },
      [](float v) { return v; });
}

float dot_f16(int64_t n, const void* w, const void* x) {
  return dot_float_rows(n, static_cast<const Half*>(w), static_cast<const Half*>(x), load_f16x8, half_to_float);
}

float dot_bf16(int64_t n, const void* w, const void* x) {
  return dot_float_rows(n, static_cast<const BHalf*>(w), static_cast<const BHalf*>(x), load_bf16x8,
                        [](BHalf v) { return bf16_to_fp32(v); });
}

// ------------------------------------------------------------ 32-element blocks

float dot_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q8_0Block*>(w);
  const auto* b = static_cast<const Q8_0Block*>(x);
  return sum_q8_lanes(n / kQK8_0, [&](int64_t i, float* scale) {
    *scale = half_to_float(a[i].d) * half_to_float(b[i].d);
    const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    return dot_i8_pairs(qa, qb);
  });
}

float dot_q4_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q4_0Block*>(w);
  const auto* b = static_cast<const Q8_0Block*>(x);
  const __m256i eight = _mm256_set1_epi8(8);
  return sum_q8_lanes(n / kQK4_0, [&](int64_t i, float* scale) {
    *scale = half_to_float(a[i].d) * half_to_float(b[i].d);
    const __m256i qa = _mm256_sub_epi8(unpack_nibbles_32(a[i].qs), eight);
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    return dot_i8_pairs(qa, qb);
  });
}

float dot_q5_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q5_0Block*>(w);
  const auto* b = static_cast<const Q8_0Block*>(x);
  const __m256i sixteen = _mm256_set1_epi8(16);
  return sum_q8_lanes(n / kQK5_0, [&](int64_t i, float* scale) {
    *scale = half_to_float(a[i].d) * half_to_float(b[i].d);
    uint32_t qh;
    std::memcpy(&qh, a[i].qh, sizeof qh);
    const __m256i high = _mm256_and_si256(expand_bits_32(qh), sixteen);
    const __m256i qa = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles_32(a[i].qs), high), sixteen);
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    return dot_i8_pairs(qa, qb);
  });
}

// Q4_1/Q5_1 x Q8_1: q is unsigned, so maddubs applies directly; the offset
// meets the activation block's stored sum s.
float dot_q4_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q4_1Block*>(w);
  const auto* b = static_cast<const Q8_1Block*>(x);
  return sum_blocks<true>(n / kQK4_1, [&](int64_t i, float* scale, float* offset) {
    *scale = half_to_float(a[i].d) * half_to_float(b[i].d);
    *offset = half_to_float(a[i].m) * half_to_float(b[i].s);
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(unpack_nibbles_32(a[i].qs), qb), _mm256_set1_epi16(1));
  });
}

float dot_q5_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q5_1Block*>(w);
  const auto* b = static_cast<const Q8_1Block*>(x);
  const __m256i sixteen = _mm256_set1_epi8(16);
  return sum_blocks<true>(n / kQK5_1, [&](int64_t i, float* scale, float* offset) {
    *scale = half_to_float(a[i].d) * half_to_float(b[i].d);
    *offset = half_to_float(a[i].m) * half_to_float(b[i].s);
    uint32_t qh;
    std::memcpy(&qh, a[i].qh, sizeof qh);
    const __m256i qa = _mm256_or_si256(unpack_nibbles_32(a[i].qs), _mm256_and_si256(expand_bits_32(qh), sixteen));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(qa, qb), _mm256_set1_epi16(1));
  });
}

// ------------------------------------------------------------ K-quants

// Scales and mins of a Q4_K/Q5_K block, and the min correction
// sum_j m_j * (sum of the activations of sub-block j) as an exact integer.
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
    __m256i acc = _mm256_setzero_si256();
    for (int g = 0; g < 4; ++g) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * g));
      const __m256i q_lo = _mm256_and_si256(raw, low4);
      const __m256i q_hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
      const __m256i x_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * g));
      const __m256i x_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * g + 32));
      const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(q_lo, x_lo), _mm256_set1_epi16(sc[2 * g]));
      const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(q_hi, x_hi), _mm256_set1_epi16(sc[2 * g + 1]));
      acc = _mm256_add_epi32(acc, _mm256_add_epi32(p_lo, p_hi));
    }
    const int32_t scaled = hsum_epi32(acc);
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
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh));
    __m256i acc = _mm256_setzero_si256();
    for (int g = 0; g < 4; ++g) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * g));
      // Bit 2g of qh[l] -> bit 4 of element l; bit 2g+1 -> bit 4 of element 32 + l.
      const __m256i h_lo = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * g), 4), sixteen);
      const __m256i h_hi = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * g + 1), 4), sixteen);
      const __m256i q_lo = _mm256_or_si256(_mm256_and_si256(raw, low4), h_lo);
      const __m256i q_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(raw, 4), low4), h_hi);
      const __m256i x_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * g));
      const __m256i x_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * g + 32));
      const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(q_lo, x_lo), _mm256_set1_epi16(sc[2 * g]));
      const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(q_hi, x_hi), _mm256_set1_epi16(sc[2 * g + 1]));
      acc = _mm256_add_epi32(acc, _mm256_add_epi32(p_lo, p_hi));
    }
    const int32_t scaled = hsum_epi32(acc);
    const float scale = half_to_float(a[i].d) * b[i].d;
    const float offset = -(half_to_float(a[i].dmin) * b[i].d * static_cast<float>(mins));
    sum = accumulate_blocks(sum, &scale, &scaled, &offset, 1);
  }
  return sum;
}

// q - 32 is folded out: sum sc_j * (sum q*x - 32 * bsum_j), q in 0..63 so
// maddubs (unsigned x signed) applies directly.
float dot_q6_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q6_KBlock*>(w);
  const auto* b = static_cast<const Q8_KBlock*>(x);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i three = _mm256_set1_epi8(3);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t offset = 0;
    for (int j = 0; j < 16; ++j) offset += a[i].scales[j] * b[i].bsums[j];
    __m256i acc = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = a[i].ql + 64 * half;
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh + 32 * half));
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i lows[4] = {_mm256_and_si256(ql0, low4), _mm256_and_si256(ql1, low4),
                               _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                               _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4)};
      for (int k = 0; k < 4; ++k) {
        const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), three), 4);
        const __m256i q = _mm256_or_si256(lows[k], hi);
        const int e = 128 * half + 32 * k;  // first element of these 32
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + e));
        const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(a[i].scales[e / 16 + 1]),
                                               _mm_set1_epi16(a[i].scales[e / 16]));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(q, xv), scale));
      }
    }
    const int32_t isum = hsum_epi32(acc) - 32 * offset;
    const float scale = half_to_float(a[i].d) * b[i].d;
    sum = accumulate_blocks(sum, &scale, &isum, nullptr, 1);
  }
  return sum;
}

}  // namespace

void fill_avx2_kernels(KernelTable& t) {
  t.dot_f32 = dot_f32;
  t.dot_f16 = dot_f16;
  t.dot_bf16 = dot_bf16;
  t.dot_q8_0 = dot_q8_0;
  t.dot_q4_0 = dot_q4_0;
  t.dot_q5_0 = dot_q5_0;
  t.dot_q4_1 = dot_q4_1;
  t.dot_q5_1 = dot_q5_1;
  t.dot_q4_k = dot_q4_k;
  t.dot_q5_k = dot_q5_k;
  t.dot_q6_k = dot_q6_k;
  t.quantize_f16 = quantize_f16;
  t.quantize_q8_0 = quantize_q8_0;
  t.quantize_q8_1 = quantize_q8_1;
  t.quantize_q8_k = quantize_q8_k;
  fill_avx2_mat_kernels(t);
}

}  // namespace agentd::engine::detail
