// Scalar reference of the attention tile (the order of operations is the
// contract in attention.h) and the run-time dispatch.

#include "engine/kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/kernels/fast_exp.h"
#include "engine/kernels/kernels.h"

namespace agentd::engine {

float attention_exp(float x) { return fast_exp_nonpositive(x); }

namespace detail {

int64_t attention_scratch_floats(const KvHeadView& kv, const AttentionTile& tile) {
  int64_t n_max = 0;
  for (int r = 0; r < tile.n_rows; ++r) n_max = std::max(n_max, tile.n_kv[r]);
  const int64_t padded = (n_max + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
  return tile.n_rows * (kv.head_dim + padded);
}

void shape_scores(const KvHeadView& kv, int64_t kv_begin, float* s, int64_t n) {
  const int64_t begin = std::min(kv_begin, n);
  for (int64_t j = 0; j < begin; ++j) s[j] = -INFINITY;
  if (kv.softcap > 0.0f) {  // only the positions attended to
    const float inv = 1.0f / kv.softcap;
    for (int64_t j = begin; j < n; ++j) s[j] = kv.softcap * std::tanh(s[j] * inv);
  }
}

void attend_scalar(const KvHeadView& kv, const AttentionTile& tile, float* scratch) {
  const int64_t d = kv.head_dim;
  std::vector<float> qh(static_cast<size_t>(d));
  std::vector<float> acc(static_cast<size_t>(d));
  for (int r = 0; r < tile.n_rows; ++r) {
    const int64_t n_kv = tile.n_kv[r];
    float* s = scratch;  // n_kv scores, then weights
    for (int64_t i = 0; i < d; ++i) qh[static_cast<size_t>(i)] = fp16_to_fp32(fp32_to_fp16(tile.q[r][i]));
    for (int64_t j = 0; j < n_kv; ++j) {
      const Half* k = kv.keys + (j / kKeyBlock) * kv.key_block_stride + j % kKeyBlock;
      float a = 0.0f;
      for (int64_t i = 0; i < d; ++i) a = std::fma(qh[static_cast<size_t>(i)], fp16_to_fp32(k[i * kKeyBlock]), a);
      s[j] = a * kv.scale;
    }
    if (needs_shaping(kv, tile.kv_begin[r])) shape_scores(kv, tile.kv_begin[r], s, n_kv);
    float m = -INFINITY;
    for (int64_t j = 0; j < n_kv; ++j) m = std::max(m, s[j]);
    float lanes[kKeyBlock] = {};
    for (int64_t j = 0; j < n_kv; ++j) {
      s[j] = fast_exp_nonpositive(s[j] - m);
      lanes[j % kKeyBlock] += s[j];
    }
    float t[8], u[4], w[2];
    for (int l = 0; l < 8; ++l) t[l] = lanes[l] + lanes[l + 8];
    for (int l = 0; l < 4; ++l) u[l] = t[l] + t[l + 4];
    for (int l = 0; l < 2; ++l) w[l] = u[l] + u[l + 2];
    const float inv = 1.0f / (w[0] + w[1]);
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t j = 0; j < n_kv; ++j) {
      const float p = fp16_to_fp32(fp32_to_fp16(s[j] * inv));
      const Half* v = kv.values + j * kv.value_stride;
      for (int64_t i = 0; i < d; ++i) acc[static_cast<size_t>(i)] = std::fma(p, fp16_to_fp32(v[i]), acc[static_cast<size_t>(i)]);
    }
    std::copy(acc.begin(), acc.end(), tile.out[r]);
  }
}

}  // namespace detail

void attend(const KvHeadView& kv, const AttentionTile& tile) {
  thread_local std::vector<float> scratch;
  const size_t need = static_cast<size_t>(detail::attention_scratch_floats(kv, tile));
  if (scratch.size() < need) scratch.resize(need);
  switch (active_isa()) {
    case Isa::kAvx512: detail::attend_avx512(kv, tile, scratch.data()); return;
    case Isa::kAvx2: detail::attend_avx2(kv, tile, scratch.data()); return;
    case Isa::kScalar: detail::attend_scalar(kv, tile, scratch.data()); return;
  }
}

}  // namespace agentd::engine
