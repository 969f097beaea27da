#pragma once
// The key/value cache of one sequence: for every layer, the rotated keys and
// the values of every position seen so far, in F16 (as llama.cpp keeps them,
// so attention rounds the same way). Keys are stored transposed in blocks of
// kKeyBlock positions (layout in attention.h) so attention scores 16 keys per
// vector; values are stored one position after another. A cache outlives a single call: a session
// keeps it and the next turn only processes its new tokens. The token ids are
// kept beside the entries so a caller can find a shared prefix and truncate().
//
// Ownership: a KvCache owns its buffers. Thread-safety: none; one sequence is
// advanced by one forward() at a time (forward() may read and write several
// caches, each from one thread per layer step).

#include <cstdint>
#include <span>
#include <vector>

#include "engine/kernels/attention.h"
#include "engine/kernels/quants.h"

namespace agentd::engine {

class KvCache {
 public:
  // n_layer layers of kv_dim (= n_head_kv * head_dim) values per position, for
  // at most max_tokens positions. Memory grows as positions are added.
  KvCache(int64_t n_layer, int64_t kv_dim, int64_t max_tokens);

  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }  // positions filled
  int64_t max_tokens() const { return max_tokens_; }
  int64_t kv_dim() const { return kv_dim_; }
  int64_t n_layer() const { return n_layer_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }

  // Drops positions n.. (n <= size()), e.g. to reuse a shared prompt prefix.
  void truncate(int64_t n);
  void clear() { truncate(0); }
  // Replaces this cache's contents with a copy of the first n positions of
  // `donor` (keys, values and token ids), as if those tokens had been fed
  // here. The donor must have the same n_layer and kv_dim, and n <=
  // donor.size(), n <= max_tokens() (checked by the caller).
  void assign_prefix(const KvCache& donor, int64_t n);

  // Sets aside room for `positions` in total (at most max_tokens()), so the
  // cache grows that far without copying. Only capacity: its pages become
  // resident as the cache grows into them. A decoding reserves its prompt
  // plus max_tokens up front; growing by doubling instead copies every
  // layer's keys and values mid-generation (in `agentd bench --batch 8` on a
  // 30-layer model, about 13 ms in one step, when all 8 caches grew at once;
  // a batched step takes about 10 ms).
  void reserve(int64_t positions);

  // --- used by Model::forward ---
  // Makes room for `n` more positions after size() (whole key blocks); the
  // caller fills them with store_keys() and store_values() and then
  // commit()s the tokens.
  void reserve_more(int64_t n);
  // Writes elements [begin, end) of the keys or of the values of position
  // `pos` (converted to F16; key and value point at element 0). Different
  // ranges of one position may be written from different threads.
  void store_keys(int64_t layer, int64_t pos, const float* key, int64_t begin, int64_t end);
  void store_values(int64_t layer, int64_t pos, const float* value, int64_t begin, int64_t end);
  // Key block b (positions 16b .. 16b + 15) of a layer: kv_dim * kKeyBlock halfs.
  const Half* key_block(int64_t layer, int64_t b) const { return &k_[layer][b * kKeyBlock * kv_dim_]; }
  const Half* value(int64_t layer, int64_t pos) const { return &v_[layer][pos * kv_dim_]; }
  void commit(std::span<const int32_t> tokens);

  // Bytes held by the cache's buffers.
  size_t memory_bytes() const;

 private:
  int64_t n_layer_;
  int64_t kv_dim_;
  int64_t max_tokens_;
  std::vector<int32_t> tokens_;
  std::vector<std::vector<Half>> k_;  // [layer][block][kv_dim][kKeyBlock]
  std::vector<std::vector<Half>> v_;
};

// How much of a cache holding `cached` a new `prompt` can keep: their common
// prefix, at most prompt.size() - 1 (the last prompt token is always
// computed, so there are logits to sample from). 0 for an empty prompt.
int64_t reusable_prefix(std::span<const int32_t> cached, std::span<const int32_t> prompt);

}  // namespace agentd::engine
