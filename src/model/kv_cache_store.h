#pragma once
// KvCacheStore: the KV caches a local model keeps between turns and lends as
// prefix donors (local_backend.h says how the engine uses them).

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/kv_cache.h"

namespace agentd::model {

// Keeps KvCaches between turns, by key, within a memory budget (bytes);
// least recently used first out. Thread-safety: all methods are safe to call
// concurrently. A taken cache belongs to the caller until put back.
class KvCacheStore {
 public:
  explicit KvCacheStore(int64_t budget_bytes) : budget_(budget_bytes) {}

  // Keyless donors kept at most (older ones leave first).
  static constexpr size_t kMaxDonors = 4;

  // Removes and returns the cache kept for `key`, or nullptr.
  std::unique_ptr<engine::KvCache> take(const std::string& key);
  // Keeps `cache` under no key, only as a prefix donor (at most kMaxDonors
  // such caches; same budget and LRU as put()).
  void put_donor(std::unique_ptr<engine::KvCache> cache);
  // Finds the kept cache (keyed or not) sharing the longest token prefix
  // with `prompt`, at most prompt.size() - 1 tokens (the last one is always
  // computed). When that is longer than `better_than`, copies those
  // positions into `into` (replacing its contents), marks the donor recently
  // used and returns their number; otherwise returns 0 and leaves `into`.
  // The kept caches are not changed.
  int64_t copy_longest_prefix(std::span<const int32_t> prompt, int64_t better_than, engine::KvCache& into);
  // The length copy_longest_prefix() would copy now (better_than = 0), with
  // nothing copied or marked.
  int64_t longest_prefix(std::span<const int32_t> prompt) const;
  // Keeps `cache` as the most recently used for `key` (replacing any), then
  // evicts least recently used caches until the total fits the budget (a
  // cache larger than the whole budget is not kept).
  void put(const std::string& key, std::unique_ptr<engine::KvCache> cache);

  int64_t bytes() const;
  size_t size() const;

 private:
  struct Entry {
    std::string key;
    std::unique_ptr<engine::KvCache> cache;
    int64_t bytes = 0;
    bool donor = false;  // keyless: not in index_
  };
  void insert_locked(Entry entry, std::vector<std::unique_ptr<engine::KvCache>>& evicted);
  void erase_locked(std::list<Entry>::iterator it);

  const int64_t budget_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front = most recently used; guarded by mu_
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
  int64_t bytes_ = 0;  // guarded by mu_
  size_t donors_ = 0;  // keyless entries in lru_; guarded by mu_
};

}  // namespace agentd::model
