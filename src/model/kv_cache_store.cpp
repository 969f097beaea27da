#include "model/kv_cache_store.h"

#include <algorithm>
#include <utility>

namespace agentd::model {

std::unique_ptr<engine::KvCache> KvCacheStore::take(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto found = index_.find(key);
  if (found == index_.end()) return nullptr;
  std::unique_ptr<engine::KvCache> cache = std::move(found->second->cache);
  erase_locked(found->second);
  return cache;
}

void KvCacheStore::put(const std::string& key, std::unique_ptr<engine::KvCache> cache) {
  if (!cache) return;
  const auto size = static_cast<int64_t>(cache->memory_bytes());
  std::unique_ptr<engine::KvCache> replaced;  // freed outside the lock
  std::vector<std::unique_ptr<engine::KvCache>> evicted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto found = index_.find(key);
    if (found != index_.end()) {
      replaced = std::move(found->second->cache);
      erase_locked(found->second);
    }
    if (size > budget_) return;
    insert_locked(Entry{key, std::move(cache), size, false}, evicted);
  }
}

void KvCacheStore::put_donor(std::unique_ptr<engine::KvCache> cache) {
  if (!cache || cache->size() == 0) return;
  const auto size = static_cast<int64_t>(cache->memory_bytes());
  std::vector<std::unique_ptr<engine::KvCache>> evicted;  // freed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  if (size > budget_) return;
  if (donors_ >= kMaxDonors) {
    for (auto it = std::prev(lru_.end());; --it) {  // the oldest donor leaves
      if (it->donor) {
        evicted.push_back(std::move(it->cache));
        erase_locked(it);
        break;
      }
      if (it == lru_.begin()) break;
    }
  }
  insert_locked(Entry{std::string(), std::move(cache), size, true}, evicted);
}

void KvCacheStore::insert_locked(Entry entry, std::vector<std::unique_ptr<engine::KvCache>>& evicted) {
  bytes_ += entry.bytes;
  if (entry.donor) ++donors_;
  lru_.push_front(std::move(entry));
  if (!lru_.front().donor) index_[lru_.front().key] = lru_.begin();
  while (bytes_ > budget_ && !lru_.empty()) {
    auto last = std::prev(lru_.end());
    evicted.push_back(std::move(last->cache));
    erase_locked(last);
  }
}

int64_t KvCacheStore::copy_longest_prefix(std::span<const int32_t> prompt, int64_t better_than,
                                          engine::KvCache& into) {
  std::lock_guard<std::mutex> lock(mu_);
  auto best = lru_.end();
  int64_t best_n = better_than;
  for (auto it = lru_.begin(); it != lru_.end(); ++it) {
    const engine::KvCache& c = *it->cache;
    if (c.n_layer() != into.n_layer() || c.kv_dim() != into.kv_dim()) continue;
    const int64_t n = engine::reusable_prefix(c.tokens(), prompt);
    if (n > best_n && n <= into.max_tokens()) {
      best = it;
      best_n = n;
    }
  }
  if (best == lru_.end()) return 0;
  into.assign_prefix(*best->cache, best_n);
  lru_.splice(lru_.begin(), lru_, best);  // iterators (and index_) stay valid
  return best_n;
}

int64_t KvCacheStore::longest_prefix(std::span<const int32_t> prompt) const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t best = 0;
  for (const Entry& e : lru_) best = std::max(best, engine::reusable_prefix(e.cache->tokens(), prompt));
  return best;
}

void KvCacheStore::erase_locked(std::list<Entry>::iterator it) {
  bytes_ -= it->bytes;
  if (it->donor) --donors_;
  else index_.erase(it->key);
  lru_.erase(it);
}

int64_t KvCacheStore::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

size_t KvCacheStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

}  // namespace agentd::model
