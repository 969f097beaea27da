// AVX-512 attention tile: 16 keys per vector for the scores, 16 head
// elements per vector for the weighted sum of values. Same arithmetic as
// attend_scalar (attention.h), bit for bit.

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "engine/kernels/attention.h"
#include "engine/kernels/fast_exp.h"

// Keeps the optimizer from fusing a product with a later add (the flags of
// this file allow FMA contraction, which the scalar reference does not do).
#define AGENTD_ATTN_NO_FUSE(v) asm("" : "+v"(v))
#define AGENTD_INLINE inline __attribute__((always_inline))

namespace agentd::engine::detail {
namespace {

inline __m512 round_f16(__m512 x) {
  return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// t[l] = a[l] + a[l + 8], u = t[l] + t[l + 4], w = u[l] + u[l + 2], w0 + w1.
inline float lane_sum16(__m512 a) {
  const __m256 t = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
  const __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  const __m128 w = _mm_add_ps(u, _mm_movehl_ps(u, u));
  return _mm_cvtss_f32(_mm_add_ss(w, _mm_shuffle_ps(w, w, 1)));
}

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << n) - 1u); }

// Scores of R rows against blocks [b, b + NB) of keys: NB x R independent
// fma chains (one chain per output is a latency-bound wait).
template <int R, int NB>
AGENTD_INLINE void score_blocks(const KvHeadView& kv, const float* const* qh, float* const* s, int64_t b) {
  const int64_t d = kv.head_dim;
  const __m512 scale = _mm512_set1_ps(kv.scale);
  __m512 acc[NB][R];
  for (int k = 0; k < NB; ++k) {
    for (int r = 0; r < R; ++r) acc[k][r] = _mm512_setzero_ps();
  }
  for (int64_t i = 0; i < d; ++i) {
    _Pragma("GCC unroll 8") for (int k = 0; k < NB; ++k) {
      const Half* keys = kv.keys + (b + k) * kv.key_block_stride + i * kKeyBlock;
      const __m512 kk = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(keys)));
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) acc[k][r] = _mm512_fmadd_ps(_mm512_set1_ps(qh[r][i]), kk, acc[k][r]);
    }
  }
  for (int k = 0; k < NB; ++k) {
    for (int r = 0; r < R; ++r) {
      __m512 v = _mm512_mul_ps(acc[k][r], scale);
      AGENTD_ATTN_NO_FUSE(v);
      _mm512_storeu_ps(s[r] + (b + k) * kKeyBlock, v);
    }
  }
}

// Scores of R rows against blocks [0, n_blocks) of keys.
template <int R>
void scores(const KvHeadView& kv, const float* const* qh, float* const* s, int64_t n_blocks) {
  constexpr int NB = R <= 4 ? 4 : 2;  // at most 16 accumulators
  int64_t b = 0;
  for (; b + NB <= n_blocks; b += NB) score_blocks<R, NB>(kv, qh, s, b);
  for (; b < n_blocks; ++b) score_blocks<R, 1>(kv, qh, s, b);
}

// out[r] = sum_j p[r][j] v_j for R rows; rows share each loaded value
// vector. Up to 4 chunks of 16 head elements go through the positions
// together: more independent fma chains.
template <int R, int NC>
AGENTD_INLINE void weighted_chunks(const KvHeadView& kv, const float* const* p, const int64_t* n_kv, int64_t n_min,
                                   int64_t n_max, float* const* out, int64_t c) {
  const int64_t d = kv.head_dim;
  __mmask16 m[NC];
  __m512 acc[NC][R];
  for (int k = 0; k < NC; ++k) {
    m[k] = tail_mask(d - c - 16 * k);
    for (int r = 0; r < R; ++r) acc[k][r] = _mm512_setzero_ps();
  }
  const Half* v = kv.values + c;
  int64_t j = 0;
  for (; j < n_min; ++j, v += kv.value_stride) {
    _Pragma("GCC unroll 4") for (int k = 0; k < NC; ++k) {
      const __m512 vv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m[k], v + 16 * k));
      _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) acc[k][r] = _mm512_fmadd_ps(_mm512_set1_ps(p[r][j]), vv, acc[k][r]);
    }
  }
  for (; j < n_max; ++j, v += kv.value_stride) {
    for (int k = 0; k < NC; ++k) {
      const __m512 vv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m[k], v + 16 * k));
      for (int r = 0; r < R; ++r) {
        if (j < n_kv[r]) acc[k][r] = _mm512_fmadd_ps(_mm512_set1_ps(p[r][j]), vv, acc[k][r]);
      }
    }
  }
  for (int k = 0; k < NC; ++k) {
    for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(out[r] + c + 16 * k, m[k], acc[k][r]);
  }
}

template <int R>
void weighted_values(const KvHeadView& kv, const float* const* p, const int64_t* n_kv, float* const* out) {
  const int64_t d = kv.head_dim;
  const auto [n_min, n_max] = kv_span(n_kv, R);
  constexpr int NC = R <= 4 ? 4 : 2;  // at most 16 accumulators
  int64_t c = 0;
  for (; c + 16 * NC <= d; c += 16 * NC) weighted_chunks<R, NC>(kv, p, n_kv, n_min, n_max, out, c);
  for (; c < d; c += 16) weighted_chunks<R, 1>(kv, p, n_kv, n_min, n_max, out, c);
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
    for (int64_t i = 0; i < d; i += 16) {
      const __mmask16 m = tail_mask(d - i);
      _mm512_mask_storeu_ps(q + i, m, round_f16(_mm512_maskz_loadu_ps(m, tile.q[r0 + r] + i)));
    }
    qh[r] = q;
    s[r] = s_base + (r0 + r) * padded;
    n_max = std::max(n_max, tile.n_kv[r0 + r]);
  }
  scores<R>(kv, qh, s, (n_max + kKeyBlock - 1) / kKeyBlock);
  for (int r = 0; r < R; ++r) {
    const int64_t begin = tile.kv_begin[r0 + r];
    if (needs_shaping(kv, begin)) shape_scores(kv, begin, s[r], tile.n_kv[r0 + r]);
  }
  // Softmax per row, in place: scores -> F16-rounded weights.
  for (int r = 0; r < R; ++r) {
    const int64_t n = tile.n_kv[r0 + r];
    float* row = s[r];
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < n; j += 16) mx = _mm512_mask_max_ps(mx, tail_mask(n - j), mx, _mm512_loadu_ps(row + j));
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 tm = tail_mask(n - j);
      const __m512 e = fast_exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(row + j), m));
      _mm512_storeu_ps(row + j, e);
      sum = _mm512_mask_add_ps(sum, tm, sum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / lane_sum16(sum));
    for (int64_t j = 0; j < n; j += 16) _mm512_storeu_ps(row + j, round_f16(_mm512_mul_ps(_mm512_loadu_ps(row + j), inv)));
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

void attend_avx512(const KvHeadView& kv, const AttentionTile& tile, float* scratch) {
  int64_t n_max = 0;
  for (int r = 0; r < tile.n_rows; ++r) n_max = std::max(n_max, tile.n_kv[r]);
  const int64_t padded = (n_max + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
  float* qh = scratch;
  float* s = scratch + tile.n_rows * kv.head_dim;
  switch (tile.n_rows) {
    case 1: tile_rows<1>(kv, tile, 0, qh, s, padded); break;
    case 2: tile_rows<2>(kv, tile, 0, qh, s, padded); break;
    case 3: tile_rows<3>(kv, tile, 0, qh, s, padded); break;
    case 4: tile_rows<4>(kv, tile, 0, qh, s, padded); break;
    case 5: tile_rows<5>(kv, tile, 0, qh, s, padded); break;
    case 6: tile_rows<6>(kv, tile, 0, qh, s, padded); break;
    case 7: tile_rows<7>(kv, tile, 0, qh, s, padded); break;
    case 8: tile_rows<8>(kv, tile, 0, qh, s, padded); break;
    default: break;
  }
}

}  // namespace agentd::engine::detail
