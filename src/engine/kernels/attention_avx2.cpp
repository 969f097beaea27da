// AVX2 attention tile: 16 keys per pair of vectors for the scores, 8 head
// elements per vector for the weighted sum of values. Same arithmetic as
// attend_scalar (attention.h), bit for bit.

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/kernels/attention.h"
#include "engine/kernels/fast_exp.h"

// Keeps the optimizer from fusing a product with a later add (the flags of
// this file allow FMA contraction, which the scalar reference does not do).
#define AGENTD_ATTN_NO_FUSE(v) asm("" : "+x"(v))

namespace agentd::engine::detail {
namespace {

constexpr int kRowsPerPass = 4;  // 8 accumulators + 2 key vectors fit in 16 registers

inline __m256 round_f16(__m256 x) {
  return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Lanes l < n (n may exceed 8) as an all-ones mask.
inline __m256 lane_mask(int64_t n, int first) {
  const __m256i idx = _mm256_setr_epi32(first, first + 1, first + 2, first + 3, first + 4, first + 5, first + 6,
                                        first + 7);
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::min<int64_t>(n, 16))), idx));
}

// Up to 8 halfs from p (n of them), zero-padded.
inline __m256 load_f16(const Half* p, int64_t n) {
  if (n >= 8) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  Half tmp[8] = {};
  std::memcpy(tmp, p, static_cast<size_t>(n) * sizeof(Half));
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tmp)));
}

inline void store_f32(float* p, __m256 v, int64_t n) {
  if (n >= 8) {
    _mm256_storeu_ps(p, v);
  } else {
    float tmp[8];
    _mm256_storeu_ps(tmp, v);
    std::memcpy(p, tmp, static_cast<size_t>(n) * sizeof(float));
  }
}

inline __m256 load_f32(const float* p, int64_t n) {
  if (n >= 8) return _mm256_loadu_ps(p);
  float tmp[8] = {};
  std::memcpy(tmp, p, static_cast<size_t>(n) * sizeof(float));
  return _mm256_loadu_ps(tmp);
}

// a = lanes 0..7, b = lanes 8..15; the tree of attention.h.
inline float lane_sum16(__m256 a, __m256 b) {
  const __m256 t = _mm256_add_ps(a, b);
  const __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  const __m128 w = _mm_add_ps(u, _mm_movehl_ps(u, u));
  return _mm_cvtss_f32(_mm_add_ss(w, _mm_shuffle_ps(w, w, 1)));
}

template <int R>
void scores(const KvHeadView& kv, const float* const* qh, float* const* s, int64_t n_blocks) {
  const int64_t d = kv.head_dim;
  const __m256 scale = _mm256_set1_ps(kv.scale);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const Half* k = kv.keys + b * kv.key_block_stride;
    __m256 lo[R], hi[R];
    for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < d; ++i) {
      const __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i * kKeyBlock)));
      const __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i * kKeyBlock + 8)));
      for (int r = 0; r < R; ++r) {
        const __m256 q = _mm256_broadcast_ss(qh[r] + i);
        lo[r] = _mm256_fmadd_ps(q, k0, lo[r]);
        hi[r] = _mm256_fmadd_ps(q, k1, hi[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      __m256 a = _mm256_mul_ps(lo[r], scale);
      __m256 c = _mm256_mul_ps(hi[r], scale);
      AGENTD_ATTN_NO_FUSE(a);
      AGENTD_ATTN_NO_FUSE(c);
      _mm256_storeu_ps(s[r] + b * kKeyBlock, a);
      _mm256_storeu_ps(s[r] + b * kKeyBlock + 8, c);
    }
  }
}

template <int R>
void weighted_values(const KvHeadView& kv, const float* const* p, const int64_t* n_kv, float* const* out) {
  const int64_t d = kv.head_dim;
  const auto [n_min, n_max] = kv_span(n_kv, R);
  for (int64_t c = 0; c < d; c += 8) {
    const int64_t width = d - c;
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    const Half* v = kv.values + c;
    int64_t j = 0;
    for (; j < n_min; ++j, v += kv.value_stride) {
      const __m256 vv = load_f16(v, width);
      for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(p[r] + j), vv, acc[r]);
    }
    for (; j < n_max; ++j, v += kv.value_stride) {
      const __m256 vv = load_f16(v, width);
      for (int r = 0; r < R; ++r) {
        if (j < n_kv[r]) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(p[r] + j), vv, acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) store_f32(out[r] + c, acc[r], width);
  }
}

template <int R>
void tile_rows(const KvHeadView& kv, const AttentionTile& tile, int r0, float* qh_base, float* s_base,
               int64_t padded) {
  const int64_t d = kv.head_dim;
  const float* qh[R];
  float* s[R];
  int64_t n_max = 0;
  for (int r = 0; r < R; ++r) {
    float* q = qh_base + (r0 + r) * d;
    for (int64_t i = 0; i < d; i += 8) store_f32(q + i, round_f16(load_f32(tile.q[r0 + r] + i, d - i)), d - i);
    qh[r] = q;
    s[r] = s_base + (r0 + r) * padded;
    n_max = std::max(n_max, tile.n_kv[r0 + r]);
  }
  scores<R>(kv, qh, s, (n_max + kKeyBlock - 1) / kKeyBlock);
  for (int r = 0; r < R; ++r) {
    const int64_t begin = tile.kv_begin[r0 + r];
    if (needs_shaping(kv, begin)) shape_scores(kv, begin, s[r], tile.n_kv[r0 + r]);
  }
  for (int r = 0; r < R; ++r) {
    const int64_t n = tile.n_kv[r0 + r];
    float* row = s[r];
    const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
    __m256 mx = neg_inf;
    for (int64_t j = 0; j < n; j += 16) {
      mx = _mm256_max_ps(mx, _mm256_blendv_ps(neg_inf, _mm256_loadu_ps(row + j), lane_mask(n - j, 0)));
      mx = _mm256_max_ps(mx, _mm256_blendv_ps(neg_inf, _mm256_loadu_ps(row + j + 8), lane_mask(n - j, 8)));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    const __m256 m = _mm256_set1_ps(_mm_cvtss_f32(m4));
    __m256 sum_lo = _mm256_setzero_ps(), sum_hi = _mm256_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
      const __m256 e0 = _mm256_and_ps(fast_exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(row + j), m)), lane_mask(n - j, 0));
      const __m256 e1 = _mm256_and_ps(fast_exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(row + j + 8), m)), lane_mask(n - j, 8));
      _mm256_storeu_ps(row + j, e0);
      _mm256_storeu_ps(row + j + 8, e1);
      sum_lo = _mm256_add_ps(sum_lo, e0);
      sum_hi = _mm256_add_ps(sum_hi, e1);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / lane_sum16(sum_lo, sum_hi));
    for (int64_t j = 0; j < n; j += 8) _mm256_storeu_ps(row + j, round_f16(_mm256_mul_ps(_mm256_loadu_ps(row + j), inv)));
  }
  float* out[R];
  int64_t n_kv[R];
  for (int r = 0; r < R; ++r) {
    out[r] = tile.out[r0 + r];
    n_kv[r] = tile.n_kv[r0 + r];
  }
  weighted_values<R>(kv, s, n_kv, out);
}

}  // namespace

void attend_avx2(const KvHeadView& kv, const AttentionTile& tile, float* scratch) {
  int64_t n_max = 0;
  for (int r = 0; r < tile.n_rows; ++r) n_max = std::max(n_max, tile.n_kv[r]);
  const int64_t padded = (n_max + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
  float* qh = scratch;
  float* s = scratch + tile.n_rows * kv.head_dim;
  for (int r0 = 0; r0 < tile.n_rows; r0 += kRowsPerPass) {
    switch (std::min(kRowsPerPass, tile.n_rows - r0)) {
      case 1: tile_rows<1>(kv, tile, r0, qh, s, padded); break;
      case 2: tile_rows<2>(kv, tile, r0, qh, s, padded); break;
      case 3: tile_rows<3>(kv, tile, r0, qh, s, padded); break;
      case 4: tile_rows<4>(kv, tile, r0, qh, s, padded); break;
      default: break;
    }
  }
}

}  // namespace agentd::engine::detail
