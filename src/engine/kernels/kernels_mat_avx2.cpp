// AVX2 + FMA + F16C matrix kernels: blocks of weight rows times blocks of
// activation rows, each weight block decoded once per tile of activation
// rows. Internal linkage throughout, for the same reason as kernels_avx2.cpp.
//
// Every output is computed with exactly the operations of the AVX2 dot
// product for its row and column (kernels_avx2.cpp, kernels_internal.h): the
// integer sums are exact and the float steps are the same instructions on
// the same operands in the same order, so a tile of any shape gives each
// output bit-identical to the scalar reference.
//
// Q4_0/Q5_0/Q8_0 and the float rows give each output 4 accumulators (unit u,
// a 32-block or 8 floats, goes into accumulator u % 4). 16 ymm registers do
// not hold 4 of them for every output of a tile, so a tile runs 4 passes
// over its rows, pass p taking the units u % 4 == p with one register per
// output; the rows are then in L1 for passes 1 to 3. A single output (m = 1;
// floats: up to 3) keeps its 4 accumulators in registers and streams its
// row once. The K-quants add super-blocks one after another: one float per
// output, no passes.
//
// Tile shapes (weight rows x activation rows), chosen by measurement:
// prefill (m > 8) 2 x 4 in row blocks of 64; batched decode (m <= 8) each
// weight row (pairs for the 32-blocks) against 4 activation rows at a time
// (3 for floats); decode 1 x 1, row after row.

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/kernels/kernels_internal.h"
#include "engine/kernels/quants.h"
#include "engine/kernels/simd_x86.h"

namespace agentd::engine::detail {
namespace {

#define AGENTD_INLINE inline __attribute__((always_inline))

// Weight rows finished against every activation row before the next ones
// (m > kRowPassMax), so they stay in L2 while a tile's activation rows stay
// in L1.
constexpr int64_t kRowBlock = 64;
// Up to this many activation rows (batched decode), each weight row is
// finished against all of them before the next: the weights stream from
// memory once, in order.
constexpr int64_t kRowPassMax = 8;

// Runs K's tiles over rows x m outputs. K::run<R, C>(w, w_stride, x,
// x_stride, y, y_stride) computes an R x C tile for C <= 4: K::kRows x
// K::kCols tiles for m > kRowPassMax, else K::kRowPassRows x
// K::kRowPassCols.
template <class K>
void drive(const K& k, const uint8_t* w, size_t w_stride, int64_t rows, const uint8_t* x, size_t x_stride, int64_t m,
           float* y, int64_t y_stride) {
  constexpr int R = K::kRows;
  constexpr int C = K::kCols;
  static_assert(C == 4);
  // Rows [rb, re) against columns [c, c + CC), RR rows at a time.
  auto tile = [&]<int RR, int CC>(int64_t rb, int64_t re, int64_t c) {
    const uint8_t* xc = x + x_stride * static_cast<size_t>(c);
    float* yc = y + y_stride * c;
    int64_t r = rb;
    for (; r + RR <= re; r += RR) {
      k.template run<RR, CC>(w + w_stride * static_cast<size_t>(r), w_stride, xc, x_stride, yc + r, y_stride);
    }
    for (; r < re; ++r) k.template run<1, CC>(w + w_stride * static_cast<size_t>(r), w_stride, xc, x_stride, yc + r, y_stride);
  };
  auto columns = [&]<int RR, int CT>(int64_t rb, int64_t re) {
    int64_t c = 0;
    for (; c + CT <= m; c += CT) tile.template operator()<RR, CT>(rb, re, c);
    switch (m - c) {
      case 3: tile.template operator()<RR, 3>(rb, re, c); break;
      case 2: tile.template operator()<RR, 2>(rb, re, c); break;
      case 1: tile.template operator()<RR, 1>(rb, re, c); break;
      default: break;
    }
  };
  if (m <= kRowPassMax) {
    // Decode and batched decode: one weight row (or K::kRowPassRows) at a
    // time against all activation rows (m = 1: one sequential pass per row).
    constexpr int RP = K::kRowPassRows;
    int64_t r = 0;
    if (m > 1) {
      for (; r + RP <= rows; r += RP) columns.template operator()<RP, K::kRowPassCols>(r, r + RP);
    }
    for (; r < rows; ++r) columns.template operator()<1, K::kRowPassCols>(r, r + 1);
    return;
  }
  for (int64_t rb = 0; rb < rows; rb += kRowBlock) {
    columns.template operator()<R, C>(rb, rb + kRowBlock < rows ? rb + kRowBlock : rows);
  }
}

// ------------------------------------------------------------ 4-lane tiles

// Tiles for encodings whose dot product spreads units over 4 accumulators.
// U provides: units (count), full (units without a zero-padded tail; all
// but possibly the last), step<R, C, kTail>(w, w_stride, x, x_stride, u,
// acc) adding unit u of an R x C tile into acc, and finish(a0, a1, a2, a3)
// reducing one output's accumulators as its dot product does.
template <class U>
struct LaneTiles {
  static constexpr int kRows = U::kRows;
  static constexpr int kCols = 4;
  static constexpr int kRowPassRows = U::kRowPassRows;
  static constexpr int kRowPassCols = U::kRowPassCols;
  U u;

  template <int R, int C>
  void run(const uint8_t* w, size_t w_stride, const uint8_t* x, size_t x_stride, float* y, int64_t y_stride) const {
    const int64_t units = u.units;
    const int64_t full = u.full;
    if constexpr (R * C <= U::kSinglePass) {
      __m256 acc[4][R][C];
      _Pragma("GCC unroll 4") for (int p = 0; p < 4; ++p) {
        _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
          _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) acc[p][r][c] = _mm256_setzero_ps();
        }
      }
      int64_t i = 0;
      for (; i + 4 <= full; i += 4) {
        _Pragma("GCC unroll 4") for (int p = 0; p < 4; ++p) {
          u.template step<R, C, false>(w, w_stride, x, x_stride, i + p, acc[p]);
        }
      }
      // The last units, each into its own accumulator (constant indices keep
      // acc in registers).
      const int64_t rest = full - i;
      if (rest > 0) u.template step<R, C, false>(w, w_stride, x, x_stride, i, acc[0]);
      if (rest > 1) u.template step<R, C, false>(w, w_stride, x, x_stride, i + 1, acc[1]);
      if (rest > 2) u.template step<R, C, false>(w, w_stride, x, x_stride, i + 2, acc[2]);
      if (units > full) {
        switch (rest) {
          case 0: u.template step<R, C, true>(w, w_stride, x, x_stride, full, acc[0]); break;
          case 1: u.template step<R, C, true>(w, w_stride, x, x_stride, full, acc[1]); break;
          case 2: u.template step<R, C, true>(w, w_stride, x, x_stride, full, acc[2]); break;
          default: u.template step<R, C, true>(w, w_stride, x, x_stride, full, acc[3]); break;
        }
      }
      _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
        _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) {
          y[y_stride * c + r] = U::finish(acc[0][r][c], acc[1][r][c], acc[2][r][c], acc[3][r][c]);
        }
      }
    } else {
      // Chunks of U::kChunkUnits units keep the tile's activations in L1
      // across the 4 passes; each accumulator still takes its units in order.
      static_assert(U::kChunkUnits % 4 == 0);
      __m256 part[4][R][C];
      _Pragma("GCC unroll 4") for (int p = 0; p < 4; ++p) {
        _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
          _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) part[p][r][c] = _mm256_setzero_ps();
        }
      }
      for (int64_t k0 = 0; k0 < units; k0 += U::kChunkUnits) {
        const int64_t k1 = k0 + U::kChunkUnits < units ? k0 + U::kChunkUnits : units;
        const int64_t k1_full = k1 < full ? k1 : full;
        for (int p = 0; p < 4; ++p) {
          __m256 acc[R][C];
          std::memcpy(acc, part[p], sizeof acc);
          int64_t i = k0 + p;
          for (; i < k1_full; i += 4) u.template step<R, C, false>(w, w_stride, x, x_stride, i, acc);
          if (i < k1) u.template step<R, C, true>(w, w_stride, x, x_stride, i, acc);  // i == full: the tail
          std::memcpy(part[p], acc, sizeof acc);
        }
      }
      _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
        _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) {
          y[y_stride * c + r] = U::finish(part[0][r][c], part[1][r][c], part[2][r][c], part[3][r][c]);
        }
      }
    }
  }
};

template <class U>
void mat_lanes(const U& u, const void* w, size_t w_stride, int64_t rows, const void* x, size_t x_stride, int64_t m,
               float* y, int64_t y_stride) {
  const LaneTiles<U> k{u};
  drive(k, static_cast<const uint8_t*>(w), w_stride, rows, static_cast<const uint8_t*>(x), x_stride, m, y, y_stride);
}

// ------------------------------------------------------------ Q4_0 / Q5_0 / Q8_0

// Q8_0 weights are signed: their lane sums are dot_i8_pairs of
// kernels_avx2.cpp (|w| times x signed like w). Q4_0/Q5_0 weights are
// unsigned levels q with an offset k (w = q - k, k = 8 or 16), so maddubs
// takes q directly and the offset is taken off per int16 pair through the
// activations: q0 x0 + q1 x1 - k (x0 + x1) = w0 x0 + w1 x1 (exact; |q| <= 31
// keeps every pair far from int16 saturation). Both give each block's exact
// 8 lane sums, fused with d_w * d_x into the accumulator as the dot product
// does.

// A prepared Q8_0 activation block: its 32 values, for an offset k the int16
// pair corrections k (x[2i] + x[2i+1]), and d widened to float.
template <int kOffset>
struct PreparedQ8 {
  int8_t qs[kQK8_0];
  int16_t corr[kQK8_0 / 2];
  float d;
};
template <>
struct PreparedQ8<0> {
  int8_t qs[kQK8_0];
  float d;
};
static_assert(sizeof(PreparedQ8<0>) == 36 && sizeof(PreparedQ8<8>) == 68);

template <int kOffset>
size_t q8_prepared_bytes(int64_t n) {
  return static_cast<size_t>(n / kQK8_0) * sizeof(PreparedQ8<kOffset>);
}

template <int kOffset>
void q8_prepare(int64_t n, const void* src, void* dst) {
  const auto* b = static_cast<const Q8_0Block*>(src);
  auto* out = static_cast<PreparedQ8<kOffset>*>(dst);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256i xv = load256(b[i].qs);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[i].qs), xv);
    if constexpr (kOffset != 0) {
      const __m256i corr = _mm256_maddubs_epi16(_mm256_set1_epi8(static_cast<char>(kOffset)), xv);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[i].corr), corr);
    }
    out[i].d = half_to_float(b[i].d);
  }
}

// Block b's weights (signed if kOffset is 0, else unsigned levels) and its
// d broadcast.
struct DecodeQ4_0 {
  static constexpr int kOffset = 8;
  static AGENTD_INLINE __m256i weights(const uint8_t* row, int64_t b, __m256* d) {
    const Q4_0Block& a = reinterpret_cast<const Q4_0Block*>(row)[b];
    *d = _mm256_set1_ps(half_to_float(a.d));
    return unpack_nibbles_32(a.qs);
  }
};

struct DecodeQ5_0 {
  static constexpr int kOffset = 16;
  static AGENTD_INLINE __m256i weights(const uint8_t* row, int64_t b, __m256* d) {
    const Q5_0Block& a = reinterpret_cast<const Q5_0Block*>(row)[b];
    *d = _mm256_set1_ps(half_to_float(a.d));
    uint32_t qh;
    std::memcpy(&qh, a.qh, sizeof qh);
    const __m256i high = _mm256_and_si256(expand_bits_32(qh), _mm256_set1_epi8(16));
    return _mm256_or_si256(unpack_nibbles_32(a.qs), high);
  }
};

struct DecodeQ8_0 {
  static constexpr int kOffset = 0;
  static AGENTD_INLINE __m256i weights(const uint8_t* row, int64_t b, __m256* d) {
    const Q8_0Block& a = reinterpret_cast<const Q8_0Block*>(row)[b];
    *d = _mm256_set1_ps(half_to_float(a.d));
    return load256(a.qs);
  }
};

template <class D>
struct Q8Units {
  static constexpr int kRows = 2;
  static constexpr int kRowPassRows = 2;
  static constexpr int kRowPassCols = 4;
  static constexpr int kSinglePass = 1;  // outputs whose 4 accumulators stay in registers
  static constexpr int64_t kChunkUnits = 64;  // 4 x 64 prepared blocks: 9 or 17 KB
  using Prepared = PreparedQ8<D::kOffset>;
  int64_t units;
  int64_t full;

  template <int R, int C, bool kTail>
  AGENTD_INLINE void step(const uint8_t* w, size_t w_stride, const uint8_t* x, size_t x_stride, int64_t b,
                          __m256 (&acc)[R][C]) const {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i wv[R], wa[R];
    __m256 wd[R];
    _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
      wv[r] = D::weights(w + w_stride * static_cast<size_t>(r), b, &wd[r]);
      if constexpr (D::kOffset == 0) wa[r] = _mm256_sign_epi8(wv[r], wv[r]);
    }
    _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) {
      const Prepared& xb = reinterpret_cast<const Prepared*>(x + x_stride * static_cast<size_t>(c))[b];
      const __m256i xv = load256(xb.qs);
      const __m256 xd = _mm256_broadcast_ss(&xb.d);
      _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
        __m256i pairs;
        if constexpr (D::kOffset == 0) {
          pairs = _mm256_maddubs_epi16(wa[r], _mm256_sign_epi8(xv, wv[r]));
        } else {
          pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(wv[r], xv), load256(xb.corr));
        }
        const __m256i lanes = _mm256_madd_epi16(pairs, ones);
        acc[r][c] = _mm256_fmadd_ps(_mm256_mul_ps(wd[r], xd), _mm256_cvtepi32_ps(lanes), acc[r][c]);
      }
    }
  }

  static AGENTD_INLINE float finish(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    return hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3)));
  }
};

template <class D>
void mat_q8(int64_t n, const void* w, size_t w_stride, int64_t rows, const void* x, size_t x_stride, int64_t m,
            float* y, int64_t y_stride) {
  const Q8Units<D> u{n / kQK8_0, n / kQK8_0};
  mat_lanes(u, w, w_stride, rows, x, x_stride, m, y, y_stride);
}

template <class D>
MatKernel q8_kernel() {
  return {mat_q8<D>, q8_prepare<D::kOffset>, q8_prepared_bytes<D::kOffset>};
}

// ------------------------------------------------------------ F32 / F16

// 8 lanes of a row as floats; the tail variants read `count` < 8 elements
// and zero the rest (0 * 0 + acc leaves acc unchanged, as the dot product's
// zero-padded tail does).
inline __m256i tail_mask(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

struct LoadF32 {
  static AGENTD_INLINE __m256 load(const uint8_t* row, int64_t i) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
  static __m256 load_tail(const uint8_t* row, int64_t i, int64_t count) {
    return _mm256_maskload_ps(reinterpret_cast<const float*>(row) + i, tail_mask(count));
  }
};

struct LoadF16 {
  static AGENTD_INLINE __m256 load(const uint8_t* row, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const Half*>(row) + i)));
  }
  static __m256 load_tail(const uint8_t* row, int64_t i, int64_t count) {
    alignas(16) Half h[8] = {};
    std::memcpy(h, reinterpret_cast<const Half*>(row) + i, static_cast<size_t>(count) * sizeof(Half));
    return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h)));
  }
};

// Unit u: elements 8u .. 8u + 7, fused-multiply-added into accumulator u % 4
// (the lanes 8k .. 8k + 7 of kernels_internal.h's 32). Activations are floats
// (F32 as given, F16 widened by prepare).
template <class L>
struct FloatUnits {
  static constexpr int kRows = 2;
  static constexpr int kRowPassRows = 1;
  static constexpr int kRowPassCols = 3;
  static constexpr int kSinglePass = 3;
  static constexpr int64_t kChunkUnits = 128;  // 4 x 1024 floats: 16 KB
  int64_t units;
  int64_t full;
  int64_t n;

  template <int R, int C, bool kTail>
  AGENTD_INLINE void step(const uint8_t* w, size_t w_stride, const uint8_t* x, size_t x_stride, int64_t u,
                          __m256 (&acc)[R][C]) const {
    const int64_t i = 8 * u;
    __m256 wv[R];
    _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
      const uint8_t* wr = w + w_stride * static_cast<size_t>(r);
      wv[r] = kTail ? L::load_tail(wr, i, n - i) : L::load(wr, i);
    }
    _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) {
      const uint8_t* xr = x + x_stride * static_cast<size_t>(c);
      const __m256 xv = kTail ? LoadF32::load_tail(xr, i, n - i) : LoadF32::load(xr, i);
      _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(wv[r], xv, acc[r][c]);
    }
  }

  static AGENTD_INLINE float finish(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    return hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  }
};

template <class L>
void mat_float(int64_t n, const void* w, size_t w_stride, int64_t rows, const void* x, size_t x_stride, int64_t m,
               float* y, int64_t y_stride) {
  const FloatUnits<L> u{(n + 7) / 8, n / 8, n};
  mat_lanes(u, w, w_stride, rows, x, x_stride, m, y, y_stride);
}

// F16 activations widened to float once per call (exact).
size_t f16_prepared_bytes(int64_t n) { return static_cast<size_t>(n) * sizeof(float); }
void f16_prepare(int64_t n, const void* src, void* dst) {
  const auto* h = static_cast<const Half*>(src);
  auto* f = static_cast<float*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(f + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
  }
  for (; i < n; ++i) f[i] = half_to_float(h[i]);
}

// ------------------------------------------------------------ K-quants

// A weight super-block decoded once for a tile: the levels of its 8 runs of
// 32 elements and their int16 scales, so that each activation row costs 8
// x (maddubs, madd, add). Integer sums are exact; the float part is
// accumulate_blocks' (written out: a call would spill the tile).

struct Q4KRow {
  __m256i q[8];   // elements 32h .. 32h + 31, 0..15
  __m256i sc[8];  // scale of sub-block h in every int16 lane
  __m256i min_pairs;  // int16: m[j] at 2j and 2j + 1
  float d, dmin;

  AGENTD_INLINE void unpack(const uint8_t* row, int64_t i) {
    const Q4_KBlock& a = reinterpret_cast<const Q4_KBlock*>(row)[i];
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    _Pragma("GCC unroll 4") for (int g = 0; g < 4; ++g) {
      const __m256i raw = load256(a.qs + 32 * g);
      q[2 * g] = _mm256_and_si256(raw, low4);
      q[2 * g + 1] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
    }
    // k_scale_min for all 8 sub-blocks at once: bytes sc[0..7], then m[0..7].
    uint32_t p[3];
    std::memcpy(p, a.scales, sizeof p);
    const uint32_t sc_lo = p[0] & 0x3f3f3f3fu;
    const uint32_t m_lo = p[1] & 0x3f3f3f3fu;
    const uint32_t sc_hi = (p[2] & 0x0f0f0f0fu) | (((p[0] >> 6) & 0x03030303u) << 4);
    const uint32_t m_hi = ((p[2] >> 4) & 0x0f0f0f0fu) | (((p[1] >> 6) & 0x03030303u) << 4);
    const __m128i bytes = _mm_setr_epi32(static_cast<int>(sc_lo), static_cast<int>(sc_hi), static_cast<int>(m_lo),
                                         static_cast<int>(m_hi));
    // int16 pairs (sc[h], sc[h]) and (m[j], m[j]) by unpacking bytes with themselves.
    const __m128i sc_dup = _mm_unpacklo_epi8(bytes, _mm_setzero_si128());  // sc[0..7] as int16
    const __m128i m_dup = _mm_unpackhi_epi8(bytes, _mm_setzero_si128());   // m[0..7] as int16
    const __m256i sc_all = _mm256_broadcastsi128_si256(sc_dup);
    _Pragma("GCC unroll 8") for (int h = 0; h < 8; ++h) {
      sc[h] = _mm256_shuffle_epi8(sc_all, _mm256_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * h)));
    }
    min_pairs = _mm256_set_m128i(_mm_unpackhi_epi16(m_dup, m_dup), _mm_unpacklo_epi16(m_dup, m_dup));
    d = half_to_float(a.d);
    dmin = half_to_float(a.dmin);
  }

  // sum plus this super-block's term, given acc = the 8 int32 lanes of
  // sum_h madd(maddubs(q[h], x[h]), sc[h]).
  AGENTD_INLINE float finish(__m256i acc, const Q8_KBlock& b, float sum) const {
    const __m256i mins8 = _mm256_madd_epi16(load256(b.bsums), min_pairs);
    const __m256i h = _mm256_hadd_epi32(acc, mins8);
    __m128i h4 = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    h4 = _mm_hadd_epi32(h4, h4);
    const int32_t isum = _mm_cvtsi128_si32(h4);
    const int32_t mins = _mm_extract_epi32(h4, 1);
    float term = (d * b.d) * static_cast<float>(isum);
    AGENTD_NO_FUSE(term);
    float min_part = dmin * b.d * static_cast<float>(mins);
    AGENTD_NO_FUSE(min_part);
    term += -min_part;
    return sum + term;
  }
};

struct Q6KRow {
  __m256i q[8];   // elements 32h .. 32h + 31, 0..63
  __m256i sc[8];  // int16: scale of elements 32h .. 32h + 15, then of 32h + 16 .. 32h + 31
  __m256i neg32_scales;  // int16: -32 * scales[j]
  float d;

  AGENTD_INLINE void unpack(const uint8_t* row, int64_t i) {
    const Q6_KBlock& a = reinterpret_cast<const Q6_KBlock*>(row)[i];
    q6_k_half_levels(a, 0, q);
    q6_k_half_levels(a, 1, q + 4);
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.scales));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    // Each 128-bit half of sc[h] repeats one int16 scale: 2h, then 2h + 1.
    const __m256i both = _mm256_permute4x64_epi64(sc16, _MM_SHUFFLE(1, 0, 1, 0));  // sc 0..7 | sc 0..7
    const __m256i both_hi = _mm256_permute4x64_epi64(sc16, _MM_SHUFFLE(3, 2, 3, 2));  // sc 8..15 | sc 8..15
    _Pragma("GCC unroll 8") for (int h = 0; h < 8; ++h) {
      const int j = (2 * h) % 8;  // scale 2h within its group of 8
      const __m256i idx = _mm256_setr_epi8(2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1,
                                           2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1,
                                           2 * j + 2, 2 * j + 3, 2 * j + 2, 2 * j + 3, 2 * j + 2, 2 * j + 3, 2 * j + 2,
                                           2 * j + 3, 2 * j + 2, 2 * j + 3, 2 * j + 2, 2 * j + 3, 2 * j + 2, 2 * j + 3,
                                           2 * j + 2, 2 * j + 3);
      sc[h] = _mm256_shuffle_epi8(h < 4 ? both : both_hi, idx);
    }
    neg32_scales = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc16, 5));
    d = half_to_float(a.d);
  }

  AGENTD_INLINE float finish(__m256i acc, const Q8_KBlock& b, float sum) const {
    const int32_t isum = hsum_epi32(_mm256_add_epi32(acc, _mm256_madd_epi16(load256(b.bsums), neg32_scales)));
    float term = (d * b.d) * static_cast<float>(isum);
    AGENTD_NO_FUSE(term);
    return sum + term;
  }
};

template <class Row>
struct KTiles {
  static constexpr int kRows = 2;
  static constexpr int kCols = 4;
  static constexpr int kRowPassRows = 1;
  static constexpr int kRowPassCols = 4;
  int64_t blocks;

  template <int R, int C>
  void run(const uint8_t* w, size_t w_stride, const uint8_t* x, size_t x_stride, float* y, int64_t y_stride) const {
    float sum[R][C] = {};
    for (int64_t i = 0; i < blocks; ++i) {
      Row wr[R];
      _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) wr[r].unpack(w + w_stride * static_cast<size_t>(r), i);
      const Q8_KBlock* b[C];
      _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) {
        b[c] = reinterpret_cast<const Q8_KBlock*>(x + x_stride * static_cast<size_t>(c)) + i;
      }
      // Integer sums with the runs of 32 outermost: each decoded run and
      // each activation run is loaded once per tile.
      __m256i acc[R][C];
      _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
        _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_si256();
      }
      _Pragma("GCC unroll 8") for (int h = 0; h < 8; ++h) {
        _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) {
          const __m256i xv = load256(b[c]->qs + 32 * h);
          _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
            const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(wr[r].q[h], xv), wr[r].sc[h]);
            acc[r][c] = _mm256_add_epi32(acc[r][c], p);
          }
        }
      }
      _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) {
        _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) sum[r][c] = wr[r].finish(acc[r][c], *b[c], sum[r][c]);
      }
    }
    _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
      _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) y[y_stride * c + r] = sum[r][c];
    }
  }
};

template <class Row>
void mat_k(int64_t n, const void* w, size_t w_stride, int64_t rows, const void* x, size_t x_stride, int64_t m,
           float* y, int64_t y_stride) {
  const KTiles<Row> k{n / kQK_K};
  drive(k, static_cast<const uint8_t*>(w), w_stride, rows, static_cast<const uint8_t*>(x), x_stride, m, y, y_stride);
}

}  // namespace

void fill_avx2_mat_kernels(KernelTable& t) {
  t.mat_q4_0 = q8_kernel<DecodeQ4_0>();
  t.mat_q5_0 = q8_kernel<DecodeQ5_0>();
  t.mat_q8_0 = q8_kernel<DecodeQ8_0>();
  t.mat_f32 = {mat_float<LoadF32>, nullptr, nullptr};
  // Widening F16 activations to float doubles what decode reads: one
  // activation row is faster through vec_dot (0.73-0.96x measured).
  t.mat_f16 = {mat_float<LoadF16>, f16_prepare, f16_prepared_bytes, false};
  t.mat_q4_k = {mat_k<Q4KRow>, nullptr, nullptr};
  t.mat_q6_k = {mat_k<Q6KRow>, nullptr, nullptr};
}

}  // namespace agentd::engine::detail
