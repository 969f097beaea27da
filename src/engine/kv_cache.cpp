#include "engine/kv_cache.h"

#include <algorithm>

namespace agentd::engine {

KvCache::KvCache(int64_t n_layer, int64_t kv_dim, int64_t max_tokens)
    : n_layer_(n_layer), kv_dim_(kv_dim), max_tokens_(max_tokens), k_(n_layer), v_(n_layer) {}

void KvCache::truncate(int64_t n) {
  if (n < size()) tokens_.resize(static_cast<size_t>(std::max<int64_t>(n, 0)));
}

void KvCache::reserve_more(int64_t n) {
  const size_t need = static_cast<size_t>((size() + n) * kv_dim_);
  for (int64_t l = 0; l < n_layer_; ++l) {
    if (k_[l].size() < need) {
      // Grow geometrically so a long conversation does not copy per token.
      const size_t cap = std::min(std::max(need, k_[l].size() * 2), static_cast<size_t>(max_tokens_ * kv_dim_));
      k_[l].resize(std::max(cap, need));
      v_[l].resize(std::max(cap, need));
    }
  }
}

void KvCache::commit(std::span<const int32_t> tokens) { tokens_.insert(tokens_.end(), tokens.begin(), tokens.end()); }

size_t KvCache::memory_bytes() const {
  size_t b = 0;
  for (int64_t l = 0; l < n_layer_; ++l) b += (k_[l].size() + v_[l].size()) * sizeof(Half);
  return b;
}

}  // namespace agentd::engine
