// AVX-512 (F, BW, VL, DQ, VNNI) matrix kernels: blocks of weight rows times
// blocks of activation rows, each weight block decoded once per block of
// activation rows held in registers. Internal linkage throughout, for the
// same reason as kernels_avx2.cpp.
//
// Every output is computed with exactly the operations its dot product
// prescribes (kernels_internal.h): the integer sums are exact and the float
// steps the same, so a tile of any shape gives each output bit-identical to
// the scalar reference for that one row and column.
//
// The quantized kernels for several activation rows (prefill, batched
// decode) hold 16 weight rows in the 16 int32 lanes of a register, their
// levels transposed once per block; dpbusd against 4 bytes of one
// activation row broadcast from memory then adds to each row's own lane, and
// every float step serves 16 outputs. One activation row (decode) streams
// the weight rows one after another instead.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "engine/kernels/kernels_internal.h"
#include "engine/kernels/quants.h"
#include "engine/kernels/simd_avx512.h"

namespace agentd::engine::detail {
namespace {

#define AGENTD_INLINE inline __attribute__((always_inline))

// Rows finished against every activation row before the next ones, so they
// stay in L2 while a tile's activation rows stay in L1.
constexpr int64_t kRowBlock = 64;

// Runs K's tiles over rows x m outputs. K::run<R, C>(w, w_stride, x,
// x_stride, y, y_stride) computes an R x C tile; K::kRowsDecode x 1 tiles
// serve m = 1, K::kRows x K::kCols (then x 4, x 1 for the rest) the others.
template <class K>
void drive(const K& k, const uint8_t* w, size_t w_stride, int64_t rows, const uint8_t* x, size_t x_stride, int64_t m,
           float* y, int64_t y_stride) {
  constexpr int R1 = K::kRowsDecode;
  constexpr int R = K::kRows;
  constexpr int C = K::kCols;
  static_assert(C == 4 || C == 8);
  if (m == 1) {
    // One row at a time: the weights then stream from memory in one
    // sequential run, which measured faster than tiles of several rows.
    int64_t r = 0;
    for (; r + R1 <= rows; r += R1) k.template run<R1, 1>(w + w_stride * r, w_stride, x, x_stride, y + r, y_stride);
    for (; r < rows; ++r) k.template run<1, 1>(w + w_stride * r, w_stride, x, x_stride, y + r, y_stride);
    return;
  }
  // Rows [rb, re) against columns [c, c + CC).
  auto tile = [&]<int CC>(int64_t rb, int64_t re, int64_t c) {
    const uint8_t* xc = x + x_stride * c;
    float* yc = y + y_stride * c;
    int64_t r = rb;
    for (; r + R <= re; r += R) k.template run<R, CC>(w + w_stride * r, w_stride, xc, x_stride, yc + r, y_stride);
    for (; r < re; ++r) k.template run<1, CC>(w + w_stride * r, w_stride, xc, x_stride, yc + r, y_stride);
  };
  for (int64_t rb = 0; rb < rows; rb += kRowBlock) {
    const int64_t re = rb + kRowBlock < rows ? rb + kRowBlock : rows;
    int64_t c = 0;
    for (; c + C <= m; c += C) tile.template operator()<C>(rb, re, c);
    if (C > 4 && c + 4 <= m) {
      tile.template operator()<4>(rb, re, c);
      c += 4;
    }
    for (; c < m; ++c) tile.template operator()<1>(rb, re, c);
  }
}

// ------------------------------------------------------------ 32-element blocks

// Q4_0, Q5_0 and Q8_0 weights (x Q8_0) follow the whole-block order
// (kernels_internal.h): per output, each block's exact integer sum isum_b,
// then acc = fma(d_w * d_x, float(isum_b), acc), block after block. Its float
// work is one step per block instead of one per 4 elements, which is what
// lets several activation rows share the work below.
//
// A format gives its weights as unsigned levels q = w + kOffset (Q4_0: the
// nibbles, offset 8; Q5_0: 5 bits, 16; Q8_0: w + 128): two blocks side by
// side in element order (pair_levels, the second zero if missing) for one
// activation row, and block b of 16 rows in the tile layout below
// (tile_levels) for several.

// Lane l of a tile register holds row lane_rows()[l]: transpose4x4 of four
// registers of 4 rows each (row 4g + i in 128-bit lane i of register g)
// leaves row 4g + i's dword in lane 4i + g. Its own inverse.
AGENTD_INLINE __m512i lane_rows() { return _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15); }

// z[g] 128-bit lane i: 4 dwords of row 4g + i -> z[j] lane 4i + g: dword j of row 4g + i.
AGENTD_INLINE void transpose4x4(__m512i (&z)[4]) {
  const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
  const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
  z[0] = _mm512_unpacklo_epi64(t0, t2);
  z[1] = _mm512_unpackhi_epi64(t0, t2);
  z[2] = _mm512_unpacklo_epi64(t1, t3);
  z[3] = _mm512_unpackhi_epi64(t1, t3);
}

// 16 bytes at offset off of each of 16 rows -> z[j] lane l: bytes
// off + 4j .. off + 4j + 3 of row lane_rows()[l].
template <class Block>
AGENTD_INLINE void load_tile16(const Block* const (&rows)[16], int64_t b, size_t off, __m512i (&z)[4]) {
  auto at = [&](int r) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint8_t*>(rows[r] + b) + off));
  };
  _Pragma("GCC unroll 4") for (int g = 0; g < 4; ++g) {
    __m512i v = _mm512_castsi128_si512(at(4 * g));
    v = _mm512_inserti32x4(v, at(4 * g + 1), 1);
    v = _mm512_inserti32x4(v, at(4 * g + 2), 2);
    z[g] = _mm512_inserti32x4(v, at(4 * g + 3), 3);
  }
  transpose4x4(z);
}

// Rows [0, n_rows) of a tile (n_rows <= 16), w_stride bytes apart; missing
// rows repeat the last one (computed, not stored).
template <class Block>
AGENTD_INLINE void tile_row_pointers(const uint8_t* w, size_t w_stride, int n_rows, const Block* (&rows)[16]) {
  for (int r = 0; r < 16; ++r) {
    rows[r] = reinterpret_cast<const Block*>(w + w_stride * static_cast<size_t>(std::min(r, n_rows - 1)));
  }
}

// One column's 16 accumulated lanes to y[0 .. n_rows), in row order.
AGENTD_INLINE void store_tile_column(__m512 acc, int n_rows, float* y) {
  _mm512_mask_storeu_ps(y, static_cast<__mmask16>((1u << n_rows) - 1u), _mm512_permutexvar_ps(lane_rows(), acc));
}

// Asks for `bytes` bytes from `pf` into L2 over `steps` calls of next(), a
// few lines at a time (all at once stalls on the miss buffers): the next
// tile's rows, which 16 rows read side by side do not make look like a
// stream to the hardware prefetchers.
class SpreadPrefetch {
 public:
  SpreadPrefetch(const uint8_t* pf, size_t bytes, int64_t steps)
      : pf_(pf), end_(pf + bytes), step_(64 * ((bytes + 63) / 64 / static_cast<size_t>(steps) + 1)) {}
  AGENTD_INLINE void next() {
    for (const uint8_t* until = pf_ + std::min<size_t>(step_, end_ - pf_); pf_ < until; pf_ += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(pf_), _MM_HINT_T1);
    }
  }

 private:
  const uint8_t* pf_;
  const uint8_t* end_;
  size_t step_;
};

// Block b of 16 rows (Q4_0 or Q5_0 layout): the nibbles of 4 rows per
// register, transposed, give levels 4j .. 4j + 3 (low nibbles) and
// 16 + 4j .. 16 + 4j + 3 (high nibbles) of every row.
template <class Block>
AGENTD_INLINE void tile_nibbles(const Block* const (&rows)[16], int64_t b, __m512i (&q)[8]) {
  __m512i z[4];
  load_tile16(rows, b, offsetof(Block, qs), z);
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  _Pragma("GCC unroll 4") for (int j = 0; j < 4; ++j) {
    q[j] = _mm512_and_si512(z[j], low4);
    q[j + 4] = _mm512_and_si512(_mm512_srli_epi32(z[j], 4), low4);
  }
}

struct Q4_0Format {
  using Block = Q4_0Block;
  static constexpr int kOffset = 8;
  static AGENTD_INLINE void tile_levels(const Block* const (&rows)[16], int64_t b, const int32_t* /*row_of_lane*/,
                                         __m512i (&q)[8]) {
    tile_nibbles(rows, b, q);
  }
  static AGENTD_INLINE __m512i pair_levels(const Block* a, bool both) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[0].qs));
    const __m128i hi = both ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[1].qs)) : _mm_setzero_si128();
    const __m256i y = _mm256_set_m128i(hi, lo);
    const __m512i z = join(y, _mm256_srli_epi16(y, 4));  // lo, hi, lo >> 4, hi >> 4
    return _mm512_and_si512(_mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0)), _mm512_set1_epi8(0x0f));
  }
};

struct Q5_0Format {
  using Block = Q5_0Block;
  static constexpr int kOffset = 16;
  // Bit k of qh is bit 4 of element k.
  static AGENTD_INLINE uint32_t high_bits(const Block& a) {
    uint32_t qh;
    std::memcpy(&qh, a.qh, sizeof qh);
    return qh;
  }
  // Bit 4 of levels 4j .. 4j + 3 of 16 rows: bits 4j .. 4j + 3 of each
  // row's qh, spread to bit 4 of each byte through a table of 16 dwords.
  static AGENTD_INLINE void tile_levels(const Block* const (&rows)[16], int64_t b, const int32_t* row_of_lane,
                                         __m512i (&q)[8]) {
    tile_nibbles(rows, b, q);
    alignas(64) uint32_t qh[16];
    _Pragma("GCC unroll 16") for (int l = 0; l < 16; ++l) qh[l] = high_bits(rows[row_of_lane[l]][b]);
    const __m512i h = _mm512_load_si512(qh);
    const __m512i spread = _mm512_setr_epi32(0x00000000, 0x00000010, 0x00001000, 0x00001010, 0x00100000, 0x00100010,
                                             0x00101000, 0x00101010, 0x10000000, 0x10000010, 0x10001000, 0x10001010,
                                             0x10100000, 0x10100010, 0x10101000, 0x10101010);
    // vpermd reads the low 4 bits of each index lane: bits 4j .. 4j + 3.
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; ++j) {
      q[j] = _mm512_or_si512(q[j], _mm512_permutexvar_epi32(_mm512_srli_epi32(h, 4 * j), spread));
    }
  }
  static AGENTD_INLINE __m512i pair_levels(const Block* a, bool both) {
    const __m512i low = join(unpack_nibbles_32(a[0].qs), both ? unpack_nibbles_32(a[1].qs) : _mm256_setzero_si256());
    const __mmask64 high = static_cast<__mmask64>(high_bits(a[0])) |
                           (both ? static_cast<__mmask64>(high_bits(a[1])) << 32 : __mmask64{0});
    return _mm512_mask_add_epi8(low, high, low, _mm512_set1_epi8(16));
  }
};

struct Q8_0Format {
  using Block = Q8_0Block;
  static constexpr int kOffset = 128;
  static AGENTD_INLINE void tile_levels(const Block* const (&rows)[16], int64_t b, const int32_t* /*row_of_lane*/,
                                         __m512i (&q)[8]) {
    __m512i z[4];
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    _Pragma("GCC unroll 2") for (int h = 0; h < 2; ++h) {
      load_tile16(rows, b, offsetof(Block, qs) + 16 * static_cast<size_t>(h), z);
      _Pragma("GCC unroll 4") for (int j = 0; j < 4; ++j) q[4 * h + j] = _mm512_xor_si512(z[j], flip);
    }
  }
  static AGENTD_INLINE __m512i pair_levels(const Block* a, bool both) {
    const __m512i wq = both ? join(load256(a[0].qs), load256(a[1].qs)) : _mm512_zextsi256_si512(load256(a[0].qs));
    return _mm512_xor_si512(wq, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};

// Several activation rows (prefill, batched decode): 16 weight rows in the
// int32 lanes of a 512-bit register. Per block, register k holds each row's
// levels 4k .. 4k + 3 (one row per lane), so dpbusd against an activation
// row's bytes 4k .. 4k + 3 broadcast from memory adds them to every row's
// lane: eight of them give 16 rows' whole block sums in one register, with
// nothing to reduce across lanes, and one float step serves the 16 outputs.
// The levels' offset k is taken off through the activation's sums, the
// chain started from -k * sum(x): sum((q - k) * x) = sum(q * x) - k * sum(x).
// The rows sit in the lanes in the order transpose4x4 leaves them
// (lane_rows), put back in order when the outputs are stored.

// An activation row as the kernels read it (MatKernel::prepare, once per
// matmul): per block, its 32 bytes (4 per int32), -k * their sum for the
// format's offset k, and the scale as a float.
struct PreparedBlock {
  int32_t x[8];
  int32_t corr;
  float d;
};

size_t prepared_row_bytes(int64_t n) { return static_cast<size_t>(n / kQK8_0) * sizeof(PreparedBlock); }

template <class F>
void prepare_row(int64_t n, const void* src, void* dst) {
  const auto* row = static_cast<const Q8_0Block*>(src);
  auto* out = static_cast<PreparedBlock*>(dst);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const __m256i q = load256(row[b].qs);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].x), q);
    // sum(x) = sum(x + 128) - 32 * 128, sad summing 8 bytes per qword.
    const __m256i s4 = _mm256_sad_epu8(_mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80))),
                                       _mm256_setzero_si256());
    __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
    s2 = _mm_add_epi64(s2, _mm_unpackhi_epi64(s2, s2));
    out[b].corr = -F::kOffset * (_mm_cvtsi128_si32(s2) - 32 * 128);
    out[b].d = half_to_float(row[b].d);
  }
}

// Up to 8 prepared activation rows; those past cols repeat row 0 (computed,
// not stored).
struct Columns {
  int cols;
  const PreparedBlock* row[8];
};

// Blocks of a tile's weight rows unpacked at a time (16 KiB).
constexpr int64_t kTileBlocks = 32;

// dpbusd(acc, u, s) with s = *x in every lane, the load folded into the
// instruction (compilers keep a separate broadcast).
AGENTD_INLINE __m512i dpbusd_broadcast(__m512i acc, __m512i u, const int32_t* x) {
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(u), "m"(*x));
  return acc;
}

// 16 rows' blocks [b0, b0 + nb) as the kernel reads them: per block, the 8
// registers of levels and the scales, in lane order.
struct WeightTile {
  alignas(64) int32_t q[kTileBlocks][8][16];
  alignas(64) float d[kTileBlocks][16];
};

// The scales of block b of 16 rows, in lane order.
template <class Block>
AGENTD_INLINE __m512 tile_scales(const Block* const (&rows)[16], int64_t b, const int32_t* row_of_lane) {
  alignas(32) Half dh[16];
  _Pragma("GCC unroll 16") for (int l = 0; l < 16; ++l) dh[l] = rows[row_of_lane[l]][b].d;
  return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(dh)));
}

// Blocks [0, nb) against C columns of g (from block b0 on): source(k, q, d)
// gives block k's levels and scales; acc[c] lane l accumulates column c of
// row lane_rows()[l]. The next tile's bytes (pf, pf_bytes) are asked for
// along the way.
template <int C, class Source>
AGENTD_INLINE void tile_columns(const Source& source, const Columns& g, int64_t b0, int64_t nb, __m512 (&acc)[C],
                                const uint8_t* pf, size_t pf_bytes) {
  SpreadPrefetch prefetch(pf, pf_bytes, nb);
  for (int64_t k = 0; k < nb; ++k) {
    prefetch.next();
    const int64_t b = b0 + k;
    __m512i q[8];
    __m512 d;
    source(k, q, d);
    // All columns' chains side by side, one dword position at a time.
    __m512i sum[C];
    _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) sum[c] = _mm512_set1_epi32(g.row[c][b].corr);
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; ++j) {
      _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) sum[c] = dpbusd_broadcast(sum[c], q[j], g.row[c][b].x + j);
    }
    _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) {
      const __m512 scale = _mm512_mul_ps(d, _mm512_set1_ps(g.row[c][b].d));
      acc[c] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(sum[c]), acc[c]);
    }
  }
}

// Weight rows [0, n_rows) (n_rows <= 16) against every group of columns.
// One group (up to 8 activation rows): each block unpacked into registers
// and used at once. More: each chunk of the rows' blocks unpacked once into
// a tile, then run against each group.
template <class F>
void rows16(const uint8_t* w, size_t w_stride, int n_rows, const std::vector<Columns>& groups, int64_t blocks, float* y,
            int64_t y_stride, const uint8_t* pf, size_t pf_bytes) {
  const auto n_groups = static_cast<int64_t>(groups.size());
  using Block = typename F::Block;
  thread_local WeightTile tile;
  thread_local std::vector<float> accs;  // [group][8 columns][16 lanes]
  accs.assign(static_cast<size_t>(n_groups * 128), 0.f);
  const Block* rows[16];
  tile_row_pointers(w, w_stride, n_rows, rows);
  alignas(64) int32_t row_of_lane[16];
  _mm512_store_si512(row_of_lane, lane_rows());
  // Blocks [b0, b0 + nb) of group gi from source.
  auto run_group = [&](int64_t gi, int64_t b0, int64_t nb, const auto& source, const uint8_t* p, size_t p_bytes) {
    float* a = accs.data() + 128 * gi;
    const Columns& g = groups[static_cast<size_t>(gi)];
    auto run = [&]<int C>() {
      __m512 acc[C];
      _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) acc[c] = _mm512_loadu_ps(a + 16 * c);
      tile_columns<C>(source, g, b0, nb, acc, p, p_bytes);
      _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) _mm512_storeu_ps(a + 16 * c, acc[c]);
    };
    if (g.cols > 4) {
      run.template operator()<8>();
    } else if (g.cols > 2) {
      run.template operator()<4>();
    } else if (g.cols == 2) {
      run.template operator()<2>();
    } else {
      run.template operator()<1>();
    }
  };
  if (n_groups == 1) {
    auto direct = [&](int64_t k, __m512i (&q)[8], __m512& d) {
      F::tile_levels(rows, k, row_of_lane, q);
      d = tile_scales(rows, k, row_of_lane);
    };
    run_group(0, 0, blocks, direct, pf != nullptr ? pf : w, pf != nullptr ? pf_bytes : 0);
  } else {
    for (int64_t b0 = 0; b0 < blocks; b0 += kTileBlocks) {
      const int64_t nb = std::min(kTileBlocks, blocks - b0);
      for (int64_t k = 0; k < nb; ++k) {
        __m512i q[8];
        F::tile_levels(rows, b0 + k, row_of_lane, q);
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; ++j) _mm512_store_si512(tile.q[k][j], q[j]);
        _mm512_store_ps(tile.d[k], tile_scales(rows, b0 + k, row_of_lane));
      }
      auto buffered = [&](int64_t k, __m512i (&q)[8], __m512& d) {
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; ++j) q[j] = _mm512_load_si512(tile.q[k][j]);
        d = _mm512_load_ps(tile.d[k]);
      };
      // The next tile's part of these blocks, asked for along the first group.
      const size_t pf_begin = pf_bytes * static_cast<size_t>(b0) / static_cast<size_t>(blocks);
      const size_t pf_next = pf_bytes * static_cast<size_t>(b0 + nb) / static_cast<size_t>(blocks);
      for (int64_t gi = 0; gi < n_groups; ++gi) {
        const bool ask = gi == 0 && pf != nullptr;
        run_group(gi, b0, nb, buffered, ask ? pf + pf_begin : w, ask ? pf_next - pf_begin : 0);
      }
    }
  }
  for (int64_t gi = 0; gi < n_groups; ++gi) {
    const Columns& g = groups[static_cast<size_t>(gi)];
    for (int c = 0; c < g.cols; ++c) {
      store_tile_column(_mm512_loadu_ps(accs.data() + 128 * gi + 16 * c), n_rows, y + y_stride * (8 * gi + c));
    }
  }
}

template <class F>
void rows16_matmul(const uint8_t* w, size_t w_stride, int64_t rows, const uint8_t* x, size_t x_stride, int64_t m,
                   int64_t blocks, float* y, int64_t y_stride) {
  thread_local std::vector<Columns> groups;
  groups.resize(static_cast<size_t>((m + 7) / 8));
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    Columns& g = groups[gi];
    g.cols = static_cast<int>(std::min<int64_t>(8, m - 8 * static_cast<int64_t>(gi)));
    for (int c = 0; c < 8; ++c) {
      const int64_t row = 8 * static_cast<int64_t>(gi) + (c < g.cols ? c : 0);
      g.row[c] = reinterpret_cast<const PreparedBlock*>(x + x_stride * static_cast<size_t>(row));
    }
  }
  for (int64_t r = 0; r < rows; r += 16) {
    const int n_rows = static_cast<int>(std::min<int64_t>(16, rows - r));
    const bool next = r + 32 <= rows;  // prefetch only whole tiles of this call
    rows16<F>(w + w_stride * r, w_stride, n_rows, groups, blocks, y + r, y_stride,
              next ? w + w_stride * (r + 16) : nullptr, next ? 16 * w_stride : 0);
  }
}

// ------------------------------------------------------------ 32-element blocks, one activation row

// One activation row (decode), the weight rows streamed one after another.
// Per row the exact block sums: one dpbusd per pair of blocks (8 partial
// sums of each), then 8 pairs reduced together to 16 block sums. Per 16
// rows, the float chain with one row per lane.

// A pair of activation blocks (the second zero if missing) as signed bytes,
// and -k * sum4(x) per lane for a format's offset k:
// dpbusd(-k * sum4(x), q, x) = sum4(x * (q - k)) = sum4(x * w).
struct XPair {
  __m512i xv, corr;
  XPair(const PreparedBlock* a, bool both, int offset)
      : xv(both ? join(load256(a[0].x), load256(a[1].x)) : _mm512_zextsi256_si512(load256(a[0].x))),
        corr(_mm512_sub_epi32(_mm512_setzero_si512(),
                              _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(static_cast<char>(offset)), xv))) {}
};

// The 16 exact lane sums of weight blocks a[0], a[1] (if both) with a pair.
template <class F>
AGENTD_INLINE __m512i block_pair_sums(const typename F::Block* a, const XPair& x, bool both) {
  return _mm512_dpbusd_epi32(x.corr, F::pair_levels(a, both), x.xv);
}

// Lanes 0-7: sums of adjacent lane pairs of a; 8-15: of b.
AGENTD_INLINE __m512i pair_sums(__m512i a, __m512i b) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  return _mm512_add_epi32(_mm512_permutex2var_epi32(a, even, b), _mm512_permutex2var_epi32(a, odd, b));
}

// v[k] holds the 8 partial sums of block 2k (lanes 0-7) and of block 2k + 1:
// the 16 block sums, in order.
AGENTD_INLINE __m512i block_sums16(const __m512i (&v)[8]) {
  const __m512i u0 = pair_sums(v[0], v[1]), u1 = pair_sums(v[2], v[3]);
  const __m512i u2 = pair_sums(v[4], v[5]), u3 = pair_sums(v[6], v[7]);
  return pair_sums(pair_sums(u0, u1), pair_sums(u2, u3));
}

// The block sums of the last k <= 8 pairs (the last has both blocks if
// last_both), through a tree no deeper than k needs; later lanes are 0.
template <class F>
AGENTD_INLINE __m512i last_block_sums(const typename F::Block* a, const XPair* x, int64_t k, bool last_both) {
  const __m512i zero = _mm512_setzero_si512();
  __m512i v[8];
  _Pragma("GCC unroll 8") for (int i = 0; i < 8; ++i) {
    v[i] = i < k ? block_pair_sums<F>(a + 2 * i, x[i], i + 1 < k || last_both) : zero;
  }
  if (k <= 2) return pair_sums(pair_sums(pair_sums(v[0], v[1]), zero), zero);
  if (k <= 4) return pair_sums(pair_sums(pair_sums(v[0], v[1]), pair_sums(v[2], v[3])), zero);
  return block_sums16(v);
}

// t[i] lane j <-> t[j] lane i.
AGENTD_INLINE void transpose16(__m512i (&t)[16]) {
  __m512i u[16];
  _Pragma("GCC unroll 8") for (int i = 0; i < 16; i += 2) {
    u[i] = _mm512_unpacklo_epi32(t[i], t[i + 1]);
    u[i + 1] = _mm512_unpackhi_epi32(t[i], t[i + 1]);
  }
  _Pragma("GCC unroll 4") for (int i = 0; i < 16; i += 4) {
    t[i] = _mm512_unpacklo_epi64(u[i], u[i + 2]);
    t[i + 1] = _mm512_unpackhi_epi64(u[i], u[i + 2]);
    t[i + 2] = _mm512_unpacklo_epi64(u[i + 1], u[i + 3]);
    t[i + 3] = _mm512_unpackhi_epi64(u[i + 1], u[i + 3]);
  }
  // t[4q + k], 128-bit lane L: rows 4q .. 4q+3 of column 4L + k. Now a 4 x 4
  // transpose of 128-bit lanes for each k.
  _Pragma("GCC unroll 4") for (int k = 0; k < 4; ++k) {
    u[k] = _mm512_shuffle_i32x4(t[k], t[4 + k], 0x88);  // lanes 0, 2 of each
    u[4 + k] = _mm512_shuffle_i32x4(t[k], t[4 + k], 0xdd);  // lanes 1, 3
    u[8 + k] = _mm512_shuffle_i32x4(t[8 + k], t[12 + k], 0x88);
    u[12 + k] = _mm512_shuffle_i32x4(t[8 + k], t[12 + k], 0xdd);
  }
  _Pragma("GCC unroll 4") for (int k = 0; k < 4; ++k) {
    t[k] = _mm512_shuffle_i32x4(u[k], u[8 + k], 0x88);
    t[8 + k] = _mm512_shuffle_i32x4(u[k], u[8 + k], 0xdd);
    t[4 + k] = _mm512_shuffle_i32x4(u[4 + k], u[12 + k], 0x88);
    t[12 + k] = _mm512_shuffle_i32x4(u[4 + k], u[12 + k], 0xdd);
  }
}

struct DecodeScratch {
  std::vector<XPair> x;         // per pair
  std::vector<float> dx;        // per block
  std::vector<int32_t> sums;    // [16 rows][stride]: block sums
  std::vector<uint16_t> dw;     // [block][16 rows]: weight scales
};

template <class F>
void decode_blocks(const uint8_t* w, size_t w_stride, int64_t rows, const uint8_t* x, int64_t blocks, float* y) {
  using Block = typename F::Block;
  thread_local DecodeScratch s;
  const int64_t pairs = (blocks + 1) / 2;
  const int64_t stride = 16 * ((pairs + 7) / 8);
  const auto* xb = reinterpret_cast<const PreparedBlock*>(x);
  s.x.clear();
  for (int64_t p = 0; p < pairs; ++p) s.x.emplace_back(xb + 2 * p, 2 * p + 1 < blocks, F::kOffset);
  s.dx.resize(static_cast<size_t>(blocks));
  for (int64_t b = 0; b < blocks; ++b) s.dx[static_cast<size_t>(b)] = xb[b].d;
  s.sums.resize(static_cast<size_t>(16 * stride));
  s.dw.resize(static_cast<size_t>(16 * blocks));
  for (int64_t r0 = 0; r0 < rows; r0 += 16) {
    const int n = static_cast<int>(std::min<int64_t>(16, rows - r0));
    for (int lane = 0; lane < n; ++lane) {
      const auto* a = reinterpret_cast<const Block*>(w + w_stride * static_cast<size_t>(r0 + lane));
      int32_t* out = s.sums.data() + stride * lane;
      int64_t g = 0;
      for (; g + 8 <= blocks / 2; g += 8) {
        __m512i v[8];
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; ++k) {
          v[k] = block_pair_sums<F>(a + 2 * (g + k), s.x[static_cast<size_t>(g + k)], true);
        }
        _mm512_storeu_si512(out + 2 * g, block_sums16(v));
      }
      if (g < pairs) _mm512_storeu_si512(out + 2 * g, last_block_sums<F>(a + 2 * g, s.x.data() + g, pairs - g, blocks % 2 == 0));
      uint16_t* dw = s.dw.data() + lane;
      int64_t b = 0;
      for (; b + 4 <= blocks; b += 4) {
        _Pragma("GCC unroll 4") for (int k = 0; k < 4; ++k) dw[16 * (b + k)] = a[b + k].d;
      }
      for (; b < blocks; ++b) dw[16 * b] = a[b].d;
    }
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b0 = 0; b0 < blocks; b0 += 16) {
      __m512i t[16];
      _Pragma("GCC unroll 16") for (int lane = 0; lane < 16; ++lane) {
        t[lane] = _mm512_loadu_si512(s.sums.data() + stride * lane + b0);  // rows past n: unused lanes
      }
      transpose16(t);
      const int64_t nb = std::min<int64_t>(16, blocks - b0);
      for (int64_t k = 0; k < nb; ++k) {
        const int64_t b = b0 + k;
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.dw.data() + 16 * b)));
        acc = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(s.dx[static_cast<size_t>(b)])), _mm512_cvtepi32_ps(t[k]), acc);
      }
    }
    _mm512_mask_storeu_ps(y + r0, static_cast<__mmask16>((1u << n) - 1u), acc);
  }
}

template <class F>
void mat_blocks(int64_t n, const void* w, size_t w_stride, int64_t rows, const void* x, size_t x_stride, int64_t m,
                float* y, int64_t y_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  if (m == 1) {
    decode_blocks<F>(wb, w_stride, rows, xb, n / kQK8_0, y);
  } else {
    rows16_matmul<F>(wb, w_stride, rows, xb, x_stride, m, n / kQK8_0, y, y_stride);
  }
}

// ------------------------------------------------------------ F32 / F16

// 32 lanes per output in two registers (kernels_internal.h); the tail runs
// through masked loads (zeros leave the accumulators unchanged).
template <class L>
struct FloatTiles {
  static constexpr int kRowsDecode = 1;
  static constexpr int kRows = 2;
  static constexpr int kCols = 4;
  int64_t n;

  template <int R, int C>
  void run(const uint8_t* w, size_t w_stride, const uint8_t* x, size_t x_stride, float* y, int64_t y_stride) const {
    __m512 acc[R][C][2];
    _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
      _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) acc[r][c][0] = acc[r][c][1] = _mm512_setzero_ps();
    }
    const __mmask16 all = 0xffff;
    // Several activation rows: the next R weight rows are asked for along
    // the way, into L2 (rows read side by side stream from memory at a
    // third of the rate otherwise).
    const uint8_t* next = w + w_stride * R;
    for (int64_t i = 0; i < n; i += kFloatLanes) {
      const int64_t left = n - i;
      const __mmask16 m0 = left >= 16 ? all : static_cast<__mmask16>((1u << left) - 1u);
      const __mmask16 m1 = left >= 32 ? all : left > 16 ? static_cast<__mmask16>((1u << (left - 16)) - 1u) : __mmask16{0};
      if constexpr (C > 1) {
        _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
          const uint8_t* p = next + w_stride * static_cast<size_t>(r) + static_cast<size_t>(i) * L::kBytes;
          _Pragma("GCC unroll 2") for (int64_t line = 0; line < kFloatLanes * L::kBytes; line += 64) {
            _mm_prefetch(reinterpret_cast<const char*>(p + line), _MM_HINT_T1);
          }
        }
      }
      __m512 w0[R], w1[R];
      _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
        const uint8_t* wr = w + w_stride * static_cast<size_t>(r);
        w0[r] = L::load(wr, i, m0);
        w1[r] = L::load(wr, i + 16, m1);
      }
      _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) {
        const float* xc = reinterpret_cast<const float*>(x + x_stride * static_cast<size_t>(c)) + i;
        const __m512 x0 = _mm512_maskz_loadu_ps(m0, xc);
        const __m512 x1 = _mm512_maskz_loadu_ps(m1, xc + 16);
        _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
          acc[r][c][0] = _mm512_fmadd_ps(w0[r], x0, acc[r][c][0]);
          acc[r][c][1] = _mm512_fmadd_ps(w1[r], x1, acc[r][c][1]);
        }
      }
    }
    _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
      _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) {
        y[y_stride * c + r] = float_rows_total(acc[r][c][0], acc[r][c][1]);
      }
    }
  }
};

struct LoadF32 {
  static constexpr int64_t kBytes = 4;
  static AGENTD_INLINE __m512 load(const uint8_t* row, int64_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + i);
  }
};
struct LoadF16 {
  static constexpr int64_t kBytes = 2;
  static AGENTD_INLINE __m512 load(const uint8_t* row, int64_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const Half*>(row) + i));
  }
};

template <class L>
void mat_float(int64_t n, const void* w, size_t w_stride, int64_t rows, const void* x, size_t x_stride, int64_t m,
               float* y, int64_t y_stride) {
  const FloatTiles<L> k{n};
  drive(k, static_cast<const uint8_t*>(w), w_stride, rows, static_cast<const uint8_t*>(x), x_stride, m, y, y_stride);
}

// F16 activations widened to float once per call (exact).
size_t f16_prepared_bytes(int64_t n) { return static_cast<size_t>(n) * sizeof(float); }
void f16_prepare(int64_t n, const void* src, void* dst) {
  const auto* h = static_cast<const Half*>(src);
  auto* f = static_cast<float*>(dst);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(f + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i))));
  }
  for (; i < n; ++i) f[i] = half_to_float(h[i]);
}

// ------------------------------------------------------------ K-quants

// Per super-block, the integer sum is exact (dpbusd per 4 elements, packed to
// int16 and weighted by the sub-block scales with dpwssd) and the float part
// is accumulate_blocks' (written out here: a call would spill every vector
// register).
// packs_epi32 interleaves 128-bit lanes: in pack(d[2k], d[2k+1]), lane L
// holds 4 sums of d[2k] then 4 of d[2k+1], both from their int32 lanes
// 4L .. 4L+3; the scale vectors are laid out to match.

// int16 lane i of a 32-lane scale vector for pack(d[2k], d[2k+1]), given the
// sub-block of int32 lane l of d[v] as sub(v, l).
template <typename SubBlock>
__m512i scale_index(int k, SubBlock sub) {
  alignas(64) int16_t idx[32];
  for (int lane = 0; lane < 4; ++lane) {
    for (int i = 0; i < 4; ++i) {
      idx[8 * lane + i] = static_cast<int16_t>(sub(2 * k, 4 * lane + i));
      idx[8 * lane + 4 + i] = static_cast<int16_t>(sub(2 * k + 1, 4 * lane + i));
    }
  }
  return _mm512_load_si512(idx);
}

// Sum over 4 x 64 elements of q * x weighted per 16 int16 pairs: 16 int32 lanes.
AGENTD_INLINE __m512i weighted_sums(const __m512i (&q)[4], const int8_t* x, __m512i s01, __m512i s23) {
  __m512i d[4];
  _Pragma("GCC unroll 16") for (int v = 0; v < 4; ++v) d[v] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[v], _mm512_loadu_si512(x + 64 * v));
  const __m512i acc = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_packs_epi32(d[0], d[1]), s01);
  return _mm512_dpwssd_epi32(acc, _mm512_packs_epi32(d[2], d[3]), s23);
}

AGENTD_INLINE __m256i fold16(__m512i v) { return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)); }

struct Q4KRow {
  __m512i q[4];  // elements 64v .. 64v + 63, 0..15
  __m512i s01, s23;
  __m256i min_pairs;  // int16: m[j] at 2j and 2j + 1
  float d, dmin;

  AGENTD_INLINE void unpack(const uint8_t* row, int64_t i, __m512i idx01, __m512i idx23) {
    const Q4_KBlock& a = reinterpret_cast<const Q4_KBlock*>(row)[i];
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    _Pragma("GCC unroll 16") for (int g = 0; g < 4; ++g) {
      const __m256i raw = load256(a.qs + 32 * g);
      q[g] = join(_mm256_and_si256(raw, low4), _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4));
    }
    // k_scale_min for all 8 sub-blocks at once: bytes sc[0..7], then m[0..7].
    uint32_t q[3];
    std::memcpy(q, a.scales, sizeof q);
    const uint32_t sc_lo = q[0] & 0x3f3f3f3fu;
    const uint32_t m_lo = q[1] & 0x3f3f3f3fu;
    const uint32_t sc_hi = (q[2] & 0x0f0f0f0fu) | (((q[0] >> 6) & 0x03030303u) << 4);
    const uint32_t m_hi = ((q[2] >> 4) & 0x0f0f0f0fu) | (((q[1] >> 6) & 0x03030303u) << 4);
    const __m128i bytes = _mm_setr_epi32(static_cast<int>(sc_lo), static_cast<int>(sc_hi), static_cast<int>(m_lo),
                                         static_cast<int>(m_hi));
    const __m512i all16 = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(bytes));
    s01 = _mm512_permutexvar_epi16(idx01, all16);
    s23 = _mm512_permutexvar_epi16(idx23, all16);
    const __m256i pair_idx = _mm256_setr_epi16(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    min_pairs = _mm512_castsi512_si256(_mm512_permutexvar_epi16(_mm512_zextsi256_si512(pair_idx), all16));
    d = half_to_float(a.d);
    dmin = half_to_float(a.dmin);
  }

  AGENTD_INLINE float dot(const Q8_KBlock& b, float sum) const {
    const __m256i isum8 = fold16(weighted_sums(q, b.qs, s01, s23));
    const __m256i mins8 = _mm256_madd_epi16(load256(b.bsums), min_pairs);
    __m256i h = _mm256_hadd_epi32(isum8, mins8);
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
  __m512i q[4];  // elements 64v .. 64v + 63, 0..63
  __m512i s01, s23;
  __m256i neg32_scales;  // int16: -32 * scales[j]
  float d;

  AGENTD_INLINE void unpack(const uint8_t* row, int64_t i, __m512i idx01, __m512i idx23) {
    const Q6_KBlock& a = reinterpret_cast<const Q6_KBlock*>(row)[i];
    q6_k_levels(a, q);
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.scales)));
    s01 = _mm512_permutexvar_epi16(idx01, _mm512_zextsi256_si512(sc16));
    s23 = _mm512_permutexvar_epi16(idx23, _mm512_zextsi256_si512(sc16));
    neg32_scales = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc16, 5));
    d = half_to_float(a.d);
  }

  AGENTD_INLINE float dot(const Q8_KBlock& b, float sum) const {
    const __m256i isum8 = _mm256_add_epi32(fold16(weighted_sums(q, b.qs, s01, s23)),
                                           _mm256_madd_epi16(load256(b.bsums), neg32_scales));
    const int32_t isum = hsum_epi32(isum8);
    float term = (d * b.d) * static_cast<float>(isum);
    AGENTD_NO_FUSE(term);
    return sum + term;
  }
};

template <class Row>
struct KTiles {
  static constexpr int kRowsDecode = 1;
  static constexpr int kRows = 2;
  static constexpr int kCols = 4;
  int64_t blocks;
  __m512i idx01, idx23;

  template <int R, int C>
  void run(const uint8_t* w, size_t w_stride, const uint8_t* x, size_t x_stride, float* y, int64_t y_stride) const {
    float sum[R][C] = {};
    for (int64_t i = 0; i < blocks; ++i) {
      Row wr[R];
      _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) wr[r].unpack(w + w_stride * static_cast<size_t>(r), i, idx01, idx23);
      _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) {
        const Q8_KBlock& b = reinterpret_cast<const Q8_KBlock*>(x + x_stride * static_cast<size_t>(c))[i];
        _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) sum[r][c] = wr[r].dot(b, sum[r][c]);
      }
    }
    _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {
      _Pragma("GCC unroll 16") for (int c = 0; c < C; ++c) y[y_stride * c + r] = sum[r][c];
    }
  }
};

// Several activation rows, Q4_K: 16 weight rows in the lanes, as for the
// 32-element blocks above. Per super-block and sub-block j (32 elements),
// eight dpbusd give each row's exact sum against one activation row, which
// is multiplied by the rows' scales sc_j and added up; the mins' part,
// sum_j m_j * (bsums[2j] + bsums[2j + 1]), takes four dpwssd of the rows'
// pairs (m_2t, m_2t+1) against the activation's pairs. The float steps are
// Q4KRow::dot's, 16 rows at a time.

// Up to 8 Q8_K activation rows: per super-block, the format's pairs of
// int16 bsums (up to 8 per row) and the scale.
struct KColumns {
  int cols = 0;
  const uint8_t* x = nullptr;
  size_t x_stride = 0;
  std::vector<int32_t> pairs;  // [block][8 rows][8]
  std::vector<float> dx;       // [block][8 rows]
};

AGENTD_INLINE int32_t int16_pair(int32_t lo, int32_t hi) {
  return static_cast<int32_t>(static_cast<uint16_t>(lo) | (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16));
}

template <class K>
void k_columns(const uint8_t* x, size_t x_stride, int cols, int64_t blocks, KColumns& g) {
  g.cols = cols;
  g.x = x;
  g.x_stride = x_stride;
  g.pairs.resize(static_cast<size_t>(blocks) * 64);
  g.dx.resize(static_cast<size_t>(blocks) * 8);
  for (int c = 0; c < cols; ++c) {
    const auto* row = reinterpret_cast<const Q8_KBlock*>(x + x_stride * static_cast<size_t>(c));
    for (int64_t b = 0; b < blocks; ++b) {
      K::bsum_pairs(row[b].bsums, g.pairs.data() + 64 * b + 8 * c);
      g.dx[static_cast<size_t>(8 * b + c)] = row[b].d;
    }
  }
}

// The scales of super-block b of 16 rows, in lane order.
struct Q4KTileScales {
  __m512i sc[8];     // sc_j
  __m512i mpair[4];  // (m_2t, m_2t+1) as int16
  __m512 d, dmin;
};

AGENTD_INLINE void q4_k_tile_scales(const Q4_KBlock* const (&rows)[16], int64_t b, const int32_t* row_of_lane,
                                    Q4KTileScales& s) {
  // k_scale_min for 8 sub-blocks at once (as Q4KRow::unpack): bytes
  // sc[0..3], sc[4..7], m[0..3], m[4..7].
  alignas(64) uint32_t words[4][16];
  alignas(32) Half dh[2][16];
  _Pragma("GCC unroll 16") for (int l = 0; l < 16; ++l) {
    const Q4_KBlock& a = rows[row_of_lane[l]][b];
    uint32_t q[3];
    std::memcpy(q, a.scales, sizeof q);
    words[0][l] = q[0] & 0x3f3f3f3fu;
    words[1][l] = (q[2] & 0x0f0f0f0fu) | (((q[0] >> 6) & 0x03030303u) << 4);
    words[2][l] = q[1] & 0x3f3f3f3fu;
    words[3][l] = ((q[2] >> 4) & 0x0f0f0f0fu) | (((q[1] >> 6) & 0x03030303u) << 4);
    dh[0][l] = a.d;
    dh[1][l] = a.dmin;
  }
  const __m512i byte = _mm512_set1_epi32(0xff);
  _Pragma("GCC unroll 2") for (int h = 0; h < 2; ++h) {
    const __m512i sc = _mm512_load_si512(words[h]);
    _Pragma("GCC unroll 4") for (int k = 0; k < 4; ++k) s.sc[4 * h + k] = _mm512_and_si512(_mm512_srli_epi32(sc, 8 * k), byte);
    // Bytes (m0, m1, m2, m3) -> int16 pairs (m0, m1) and (m2, m3).
    const __m512i m = _mm512_load_si512(words[2 + h]);
    const __m512i high16 = _mm512_set1_epi32(0x00ff0000);
    s.mpair[2 * h] = _mm512_or_si512(_mm512_and_si512(m, byte), _mm512_and_si512(_mm512_slli_epi32(m, 8), high16));
    s.mpair[2 * h + 1] =
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(m, 16), byte), _mm512_and_si512(_mm512_srli_epi32(m, 8), high16));
  }
  s.d = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(dh[0])));
  s.dmin = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(dh[1])));
}

struct Q4KFormat {
  using Block = Q4_KBlock;
  // Pair t: the bsums of sub-blocks (of 32) 2t and 2t + 1.
  static void bsum_pairs(const int16_t* bs, int32_t* pairs) {
    for (int t = 0; t < 4; ++t) pairs[t] = int16_pair(bs[4 * t] + bs[4 * t + 1], bs[4 * t + 2] + bs[4 * t + 3]);
  }
  template <int C>
  static void add_block(const Block* const (&rows)[16], int64_t b, const int32_t* row_of_lane, const KColumns& g,
                        const Q8_KBlock* const (&x)[C], __m512 (&acc)[C]);
};

// Super-block b of 16 Q4_K rows against C columns of g, added to acc.
template <int C>
void Q4KFormat::add_block(const Q4_KBlock* const (&rows)[16], int64_t b, const int32_t* row_of_lane, const KColumns& g,
                          const Q8_KBlock* const (&x)[C], __m512 (&acc)[C]) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  Q4KTileScales sc;
  q4_k_tile_scales(rows, b, row_of_lane, sc);
  __m512i isum[C];
  _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) isum[c] = _mm512_setzero_si512();
  for (int grp = 0; grp < 4; ++grp) {
    // Bytes 32 grp .. 32 grp + 31 of qs: levels of sub-blocks 2 grp (low
    // nibbles) and 2 grp + 1 (high), dword k of each in p[k].
    __m512i p[8];
    {
      __m512i z[4];
      load_tile16(rows, b, offsetof(Q4_KBlock, qs) + 32 * static_cast<size_t>(grp), z);
      _Pragma("GCC unroll 4") for (int j = 0; j < 4; ++j) p[j] = z[j];
      load_tile16(rows, b, offsetof(Q4_KBlock, qs) + 32 * static_cast<size_t>(grp) + 16, z);
      _Pragma("GCC unroll 4") for (int j = 0; j < 4; ++j) p[4 + j] = z[j];
    }
    _Pragma("GCC unroll 2") for (int half = 0; half < 2; ++half) {
      const int sub = 2 * grp + half;
      __m512i q[8];
      _Pragma("GCC unroll 8") for (int k = 0; k < 8; ++k) {
        q[k] = _mm512_and_si512(half == 0 ? p[k] : _mm512_srli_epi32(p[k], 4), low4);
      }
      _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) {
        const auto* xq = reinterpret_cast<const int32_t*>(x[c][b].qs + 32 * sub);
        __m512i dot = _mm512_setzero_si512();
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; ++k) dot = dpbusd_broadcast(dot, q[k], xq + k);
        isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(dot, sc.sc[sub]));
      }
    }
  }
  _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) {
    const int32_t* pairs = g.pairs.data() + 64 * b + 8 * c;
    __m512i mins = _mm512_setzero_si512();
    _Pragma("GCC unroll 4") for (int t = 0; t < 4; ++t) mins = _mm512_dpwssd_epi32(mins, sc.mpair[t], _mm512_set1_epi32(pairs[t]));
    const __m512 dx = _mm512_set1_ps(g.dx[static_cast<size_t>(8 * b + c)]);
    __m512 term = _mm512_mul_ps(_mm512_mul_ps(sc.d, dx), _mm512_cvtepi32_ps(isum[c]));
    AGENTD_NO_FUSE(term);
    __m512 min_part = _mm512_mul_ps(_mm512_mul_ps(sc.dmin, dx), _mm512_cvtepi32_ps(mins));
    AGENTD_NO_FUSE(min_part);
    acc[c] = _mm512_add_ps(acc[c], _mm512_sub_ps(term, min_part));
  }
}

// Q6_K: levels 0..63 (w = level - 32) from 4 low bits in ql and 2 high
// bits in qh; sub-blocks of 16 with signed 8-bit scales. The level offset
// goes through the activation's bsums as in dot_q6_k:
// isum = sum_j sc_j * (sum q * x) - 32 * sum_j sc_j * bsums_j.
struct Q6KFormat {
  using Block = Q6_KBlock;
  // Pairs 2i and 2i + 1: bsums (4i, 4i + 2) and (4i + 1, 4i + 3), as the
  // rows' scales come out of their bytes (spair in add_block).
  static void bsum_pairs(const int16_t* bs, int32_t* pairs) {
    for (int i = 0; i < 4; ++i) {
      pairs[2 * i] = int16_pair(bs[4 * i], bs[4 * i + 2]);
      pairs[2 * i + 1] = int16_pair(bs[4 * i + 1], bs[4 * i + 3]);
    }
  }
  template <int C>
  static void add_block(const Block* const (&rows)[16], int64_t b, const int32_t* row_of_lane, const KColumns& g,
                        const Q8_KBlock* const (&x)[C], __m512 (&acc)[C]);
};

// Super-block b of 16 Q6_K rows against C columns of g, added to acc.
template <int C>
void Q6KFormat::add_block(const Q6_KBlock* const (&rows)[16], int64_t b, const int32_t* row_of_lane, const KColumns& g,
                          const Q8_KBlock* const (&x)[C], __m512 (&acc)[C]) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const __m512i bits45 = _mm512_set1_epi8(0x30);
  // Scales: z[i] lane l holds sc 4i .. 4i + 3 of its row.
  alignas(64) int32_t sc[16][16];
  __m512i spair[8];
  {
    __m512i z[4];
    load_tile16(rows, b, offsetof(Q6_KBlock, scales), z);
    _Pragma("GCC unroll 4") for (int i = 0; i < 4; ++i) {
      _Pragma("GCC unroll 4") for (int k = 0; k < 4; ++k) {
        _mm512_store_si512(sc[4 * i + k], _mm512_srai_epi32(_mm512_slli_epi32(z[i], 24 - 8 * k), 24));
      }
      spair[2 * i] = _mm512_srai_epi16(_mm512_slli_epi16(z[i], 8), 8);  // (sc 4i, sc 4i + 2)
      spair[2 * i + 1] = _mm512_srai_epi16(z[i], 8);                    // (sc 4i + 1, sc 4i + 3)
    }
  }
  const __m512 d = tile_scales(rows, b, row_of_lane);
  __m512i isum[C];
  _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) isum[c] = _mm512_setzero_si512();
  for (int h = 0; h < 2; ++h) {
    _Pragma("GCC unroll 2") for (int part = 0; part < 2; ++part) {
      // l = 16 part .. 16 part + 15 of this half: ql[l], ql[l + 32], qh[l].
      __m512i lo[4], hi[4], qh[4];
      load_tile16(rows, b, offsetof(Q6_KBlock, ql) + 64 * static_cast<size_t>(h) + 16 * static_cast<size_t>(part), lo);
      load_tile16(rows, b, offsetof(Q6_KBlock, ql) + 64 * static_cast<size_t>(h) + 32 + 16 * static_cast<size_t>(part), hi);
      load_tile16(rows, b, offsetof(Q6_KBlock, qh) + 32 * static_cast<size_t>(h) + 16 * static_cast<size_t>(part), qh);
      _Pragma("GCC unroll 4") for (int quarter = 0; quarter < 4; ++quarter) {
        // Elements 128h + 32 quarter + l: ql[l] low / ql[l + 32] low /
        // ql[l] high / ql[l + 32] high nibble, qh bits 2 quarter, + 1.
        __m512i q[4];
        _Pragma("GCC unroll 4") for (int k = 0; k < 4; ++k) {
          const __m512i nib = quarter % 2 == 0 ? lo[k] : hi[k];
          const __m512i low = _mm512_and_si512(quarter < 2 ? nib : _mm512_srli_epi32(nib, 4), low4);
          const __m512i h2 = quarter == 0   ? _mm512_slli_epi32(qh[k], 4)
                             : quarter == 1 ? _mm512_slli_epi32(qh[k], 2)
                             : quarter == 2 ? qh[k]
                                            : _mm512_srli_epi32(qh[k], 2);
          q[k] = _mm512_or_si512(low, _mm512_and_si512(h2, bits45));
        }
        const int sub = 8 * h + 2 * quarter + part;
        const __m512i scale = _mm512_load_si512(sc[sub]);
        _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) {
          const auto* xq = reinterpret_cast<const int32_t*>(x[c][b].qs + 16 * sub);
          __m512i dot = _mm512_setzero_si512();
          _Pragma("GCC unroll 4") for (int k = 0; k < 4; ++k) dot = dpbusd_broadcast(dot, q[k], xq + k);
          isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(dot, scale));
        }
      }
    }
  }
  _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) {
    const int32_t* pairs = g.pairs.data() + 64 * b + 8 * c;
    __m512i offset = _mm512_setzero_si512();
    _Pragma("GCC unroll 8") for (int t = 0; t < 8; ++t) offset = _mm512_dpwssd_epi32(offset, spair[t], _mm512_set1_epi32(pairs[t]));
    const __m512i total = _mm512_sub_epi32(isum[c], _mm512_slli_epi32(offset, 5));
    __m512 term = _mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(g.dx[static_cast<size_t>(8 * b + c)])),
                                _mm512_cvtepi32_ps(total));
    AGENTD_NO_FUSE(term);
    acc[c] = _mm512_add_ps(acc[c], term);
  }
}

// 16 rows of format K (n_rows of them real) against C columns of g, one
// super-block after another. The next tile's bytes (pf, pf_bytes) are asked
// for along the way.
template <class K, int C>
void k_rows16(const typename K::Block* const (&rows)[16], const KColumns& g, int64_t blocks, float* y, int64_t y_stride,
              int n_rows, const uint8_t* pf, size_t pf_bytes) {
  alignas(64) int32_t row_of_lane[16];
  _mm512_store_si512(row_of_lane, lane_rows());
  SpreadPrefetch prefetch(pf, pf_bytes, blocks);
  // Columns past g.cols (C rounds up) repeat column 0 and are not stored.
  const Q8_KBlock* x[C];
  _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) {
    x[c] = reinterpret_cast<const Q8_KBlock*>(g.x + g.x_stride * static_cast<size_t>(c < g.cols ? c : 0));
  }
  __m512 acc[C];
  _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    prefetch.next();
    K::template add_block<C>(rows, b, row_of_lane, g, x, acc);
  }
  _Pragma("GCC unroll 8") for (int c = 0; c < C; ++c) {
    if (c < g.cols) store_tile_column(acc[c], n_rows, y + y_stride * c);
  }
}

template <class K>
void k_matmul(const uint8_t* w, size_t w_stride, int64_t rows, const uint8_t* x, size_t x_stride, int64_t m,
              int64_t blocks, float* y, int64_t y_stride) {
  using Block = typename K::Block;
  thread_local std::vector<KColumns> groups;
  const int64_t n_groups = (m + 7) / 8;
  if (static_cast<int64_t>(groups.size()) < n_groups) groups.resize(static_cast<size_t>(n_groups));
  for (int64_t gi = 0; gi < n_groups; ++gi) {
    const int cols = static_cast<int>(std::min<int64_t>(8, m - 8 * gi));
    k_columns<K>(x + x_stride * static_cast<size_t>(8 * gi), x_stride, cols, blocks, groups[static_cast<size_t>(gi)]);
  }
  for (int64_t r0 = 0; r0 < rows; r0 += 16) {
    const int n_rows = static_cast<int>(std::min<int64_t>(16, rows - r0));
    const Block* tile[16];
    tile_row_pointers(w + w_stride * static_cast<size_t>(r0), w_stride, n_rows, tile);
    const bool next = r0 + 32 <= rows;
    const uint8_t* pf = next ? w + w_stride * static_cast<size_t>(r0 + 16) : w;
    const size_t pf_bytes = next ? 16 * w_stride : 0;
    for (int64_t gi = 0; gi < n_groups; ++gi) {
      const KColumns& g = groups[static_cast<size_t>(gi)];
      const int cols = g.cols;
      float* yc = y + y_stride * 8 * gi + r0;
      const bool ask = gi == 0;
      if (cols > 4) {
        k_rows16<K, 8>(tile, g, blocks, yc, y_stride, n_rows, pf, ask ? pf_bytes : 0);
      } else if (cols > 2) {
        k_rows16<K, 4>(tile, g, blocks, yc, y_stride, n_rows, pf, ask ? pf_bytes : 0);
      } else if (cols == 2) {
        k_rows16<K, 2>(tile, g, blocks, yc, y_stride, n_rows, pf, ask ? pf_bytes : 0);
      } else {
        k_rows16<K, 1>(tile, g, blocks, yc, y_stride, n_rows, pf, ask ? pf_bytes : 0);
      }
    }
  }
}

void mat_q4_k(int64_t n, const void* w, size_t w_stride, int64_t rows, const void* x, size_t x_stride, int64_t m,
              float* y, int64_t y_stride) {
  // d[v] lanes 0-7: sub-block 2v, lanes 8-15: 2v + 1.
  if (m > 1) {
    k_matmul<Q4KFormat>(static_cast<const uint8_t*>(w), w_stride, rows, static_cast<const uint8_t*>(x), x_stride, m,
                        n / kQK_K, y, y_stride);
    return;
  }
  auto sub = [](int v, int l) { return 2 * v + l / 8; };
  const KTiles<Q4KRow> k{n / kQK_K, scale_index(0, sub), scale_index(1, sub)};
  drive(k, static_cast<const uint8_t*>(w), w_stride, rows, static_cast<const uint8_t*>(x), x_stride, m, y, y_stride);
}

void mat_q6_k(int64_t n, const void* w, size_t w_stride, int64_t rows, const void* x, size_t x_stride, int64_t m,
              float* y, int64_t y_stride) {
  if (m > 1) {
    k_matmul<Q6KFormat>(static_cast<const uint8_t*>(w), w_stride, rows, static_cast<const uint8_t*>(x), x_stride, m,
                        n / kQK_K, y, y_stride);
    return;
  }
  // d[v] lane l: elements 64v + 4l .. 64v + 4l + 3, sub-block of 16: 4v + l / 4.
  auto sub = [](int v, int l) { return 4 * v + l / 4; };
  const KTiles<Q6KRow> k{n / kQK_K, scale_index(0, sub), scale_index(1, sub)};
  drive(k, static_cast<const uint8_t*>(w), w_stride, rows, static_cast<const uint8_t*>(x), x_stride, m, y, y_stride);
}

}  // namespace

void fill_avx512_mat_kernels(KernelTable& t) {
  t.mat_q4_0 = {mat_blocks<Q4_0Format>, prepare_row<Q4_0Format>, prepared_row_bytes};
  t.mat_q5_0 = {mat_blocks<Q5_0Format>, prepare_row<Q5_0Format>, prepared_row_bytes};
  t.mat_q8_0 = {mat_blocks<Q8_0Format>, prepare_row<Q8_0Format>, prepared_row_bytes};
  t.mat_f32 = {mat_float<LoadF32>, nullptr, nullptr};
  t.mat_f16 = {mat_float<LoadF16>, f16_prepare, f16_prepared_bytes};
  t.mat_q4_k = {mat_q4_k, nullptr, nullptr};
  t.mat_q6_k = {mat_q6_k, nullptr, nullptr};
}

}  // namespace agentd::engine::detail
