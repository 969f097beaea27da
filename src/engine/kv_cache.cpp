#include "engine/kv_cache.h"

#include <algorithm>

#include "engine/kernels/kernels.h"

namespace agentd::engine {

KvCache::KvCache(int64_t n_layer, int64_t kv_dim, int64_t max_tokens)
    : n_layer_(n_layer), kv_dim_(kv_dim), max_tokens_(max_tokens), k_(n_layer), v_(n_layer) {}

void KvCache::truncate(int64_t n) {
  if (n < size()) tokens_.resize(static_cast<size_t>(std::max<int64_t>(n, 0)));
}

void KvCache::assign_prefix(const KvCache& donor, int64_t n) {
  tokens_.clear();
  reserve_more(n);
  // Whole key blocks, then the slots past n in the last block are zeroed
  // (they hold the donor's later positions), as in a cache fed n tokens.
  const int64_t blocks = (n + kKeyBlock - 1) / kKeyBlock;
  const auto k_count = static_cast<size_t>(blocks * kKeyBlock * kv_dim_);
  const auto v_count = static_cast<size_t>(n * kv_dim_);
  for (int64_t l = 0; l < n_layer_; ++l) {
    std::copy_n(donor.k_[l].begin(), k_count, k_[l].begin());
    std::copy_n(donor.v_[l].begin(), v_count, v_[l].begin());
    if (n % kKeyBlock != 0) {
      Half* last = &k_[l][(blocks - 1) * kKeyBlock * kv_dim_];
      for (int64_t i = 0; i < kv_dim_; ++i) {
        std::fill(last + i * kKeyBlock + n % kKeyBlock, last + (i + 1) * kKeyBlock, Half{0});
      }
    }
  }
  tokens_.assign(donor.tokens_.begin(), donor.tokens_.begin() + n);
}

void KvCache::reserve_more(int64_t n) {
  const int64_t positions = size() + n;
  const int64_t blocks = (positions + kKeyBlock - 1) / kKeyBlock;
  const int64_t max_blocks = (max_tokens_ + kKeyBlock - 1) / kKeyBlock;
  const size_t need_k = static_cast<size_t>(blocks * kKeyBlock * kv_dim_);
  const size_t need_v = static_cast<size_t>(positions * kv_dim_);
  for (int64_t l = 0; l < n_layer_; ++l) {
    // Grow geometrically so a long conversation does not copy per token.
    if (k_[l].size() < need_k) {
      const size_t cap = std::min(k_[l].size() * 2, static_cast<size_t>(max_blocks * kKeyBlock * kv_dim_));
      k_[l].resize(std::max(cap, need_k));
    }
    if (v_[l].size() < need_v) {
      const size_t cap = std::min(v_[l].size() * 2, static_cast<size_t>(max_tokens_ * kv_dim_));
      v_[l].resize(std::max(cap, need_v));
    }
  }
}

void KvCache::reserve(int64_t positions) {
  positions = std::min(positions, max_tokens_);
  if (positions <= 0) return;
  const int64_t blocks = (positions + kKeyBlock - 1) / kKeyBlock;
  for (int64_t l = 0; l < n_layer_; ++l) {
    k_[l].reserve(static_cast<size_t>(blocks * kKeyBlock * kv_dim_));
    v_[l].reserve(static_cast<size_t>(positions * kv_dim_));
  }
}

void KvCache::store_keys(int64_t layer, int64_t pos, const float* key, int64_t begin, int64_t end) {
  // quantize_row converts with the active SIMD set (same bits as fp32_to_fp16).
  thread_local std::vector<Half> key_f16;
  if (key_f16.size() < static_cast<size_t>(end - begin)) key_f16.resize(static_cast<size_t>(end - begin));
  quantize_row(TensorType::kF16, key + begin, key_f16.data(), end - begin);
  Half* kb = &k_[layer][(pos / kKeyBlock) * kKeyBlock * kv_dim_ + pos % kKeyBlock];
  for (int64_t i = begin; i < end; ++i) kb[i * kKeyBlock] = key_f16[static_cast<size_t>(i - begin)];
}

void KvCache::store_values(int64_t layer, int64_t pos, const float* value, int64_t begin, int64_t end) {
  quantize_row(TensorType::kF16, value + begin, &v_[layer][pos * kv_dim_ + begin], end - begin);
}

void KvCache::commit(std::span<const int32_t> tokens) { tokens_.insert(tokens_.end(), tokens.begin(), tokens.end()); }

size_t KvCache::memory_bytes() const {
  size_t b = 0;
  for (int64_t l = 0; l < n_layer_; ++l) b += (k_[l].size() + v_[l].size()) * sizeof(Half);
  return b;
}

int64_t reusable_prefix(std::span<const int32_t> cached, std::span<const int32_t> prompt) {
  if (prompt.empty()) return 0;
  const size_t limit = std::min(cached.size(), prompt.size() - 1);
  size_t n = 0;
  while (n < limit && cached[n] == prompt[n]) ++n;
  return static_cast<int64_t>(n);
}

}  // namespace agentd::engine
