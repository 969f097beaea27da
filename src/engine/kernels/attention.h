#pragma once
// Causal attention of query rows over one KV head of one sequence's cache,
// with keys and values in F16.
//
// A tile is up to kMaxTileRows query rows that share one KV head (the query
// heads of a GQA group, and/or several new tokens of one sequence); each row
// attends to keys kv_begin .. n_kv - 1 (kv_begin > 0: a sliding window). The keys are read once per tile for all of
// its rows, so a prefill does not re-read the cache per (token, head).
//
// Every row's result depends only on that row's query, n_kv and the cached
// keys/values: never on which other rows share its tile, on the thread, or on
// the instruction set. The arithmetic is fixed as follows (the scalar
// reference and the SIMD paths compute exactly this, bit for bit):
//   qh[i]  = f16(q[i])                              (ggml rounds q to F16)
//   s_j    = (fma over i = 0..d-1 in order: acc = fma(qh[i], k_j[i], acc),
//             from +0) * scale                       (one rounding for *)
//   s_j    = cap * tanh(s_j * (1 / cap))              when softcap = cap > 0 (Gemma 2)
//   s_j    = -inf                                      for j < kv_begin
//            (shape_scores; e_j is then 0 and adds nothing below)
//   m      = max_j s_j
//   e_j    = fast_exp_nonpositive(s_j - m)          (fast_exp.h; not std::exp)
//   sum    = 16 lanes, e_j added to lane j % 16 in order of j, from +0;
//            then t[l] = a[l] + a[l + 8], u[l] = t[l] + t[l + 4],
//            w[l] = u[l] + u[l + 2], sum = w[0] + w[1]
//   p_j    = f16(e_j * (1 / sum))                   (ggml rounds the weights to F16)
//   out[i] = fma over j = 0..n_kv-1 in order: acc = fma(p_j, v_j[i], acc), from +0
//
// Thread-safety: all functions are pure and thread-safe; each thread uses its
// own scratch buffer.

#include <cstdint>

#include "engine/kernels/quants.h"

namespace agentd::engine {

// Keys are cached transposed in blocks of kKeyBlock positions: within a block,
// element i of head h at position p is at [h * head_dim * kKeyBlock +
// i * kKeyBlock + p % kKeyBlock], so the scores of 16 keys are 16 lanes.
constexpr int64_t kKeyBlock = 16;
constexpr int kMaxTileRows = 8;

// One KV head of one sequence's cache (a layer).
struct KvHeadView {
  const Half* keys = nullptr;  // block 0 of this head; block b at keys + b * key_block_stride
  int64_t key_block_stride = 0;
  const Half* values = nullptr;  // position 0 of this head; position j at values + j * value_stride
  int64_t value_stride = 0;
  int64_t head_dim = 0;
  float scale = 1.0f;  // applied to q.k
  float softcap = 0.0f;  // > 0: scores are soft-capped to (-softcap, softcap)
};

struct AttentionTile {
  int n_rows = 0;                      // 1..kMaxTileRows
  const float* q[kMaxTileRows] = {};   // head_dim floats each
  float* out[kMaxTileRows] = {};       // head_dim floats each
  int64_t n_kv[kMaxTileRows] = {};     // >= 1, and the cache holds that many positions
  int64_t kv_begin[kMaxTileRows] = {};  // first position attended, < n_kv
};

// Computes every row of the tile with the instruction set active_isa() names.
void attend(const KvHeadView& kv, const AttentionTile& tile);

// exp(x) for the softmax, x <= 0: fast_exp_nonpositive (fast_exp.h), the
// same bits on every instruction set.
float attention_exp(float x);

namespace detail {
// Fewest and most positions among rows [0, rows) of n_kv: the positions every
// row attends to, then those only some do.
struct KvSpan {
  int64_t min, max;
};
inline KvSpan kv_span(const int64_t* n_kv, int rows) {
  KvSpan s{n_kv[0], n_kv[0]};
  for (int r = 1; r < rows; ++r) {
    s.min = n_kv[r] < s.min ? n_kv[r] : s.min;
    s.max = n_kv[r] > s.max ? n_kv[r] : s.max;
  }
  return s;
}

// Soft-cap and window of one row's n scores (the two steps after s_j in the
// contract above); every implementation calls it when the row needs either.
void shape_scores(const KvHeadView& kv, int64_t kv_begin, float* s, int64_t n);
inline bool needs_shaping(const KvHeadView& kv, int64_t kv_begin) { return kv.softcap > 0.0f || kv_begin > 0; }

// The per-ISA implementations (attention.cpp, attention_avx2.cpp,
// attention_avx512.cpp); exposed for tests. `scratch` holds at least
// attention_scratch_floats(tile) floats.
int64_t attention_scratch_floats(const KvHeadView& kv, const AttentionTile& tile);
void attend_scalar(const KvHeadView& kv, const AttentionTile& tile, float* scratch);
void attend_avx2(const KvHeadView& kv, const AttentionTile& tile, float* scratch);
void attend_avx512(const KvHeadView& kv, const AttentionTile& tile, float* scratch);

}  // namespace detail

}  // namespace agentd::engine
