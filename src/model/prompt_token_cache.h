#pragma once
// PromptTokenCache: token ids of prompts just counted, for the generation
// that follows.

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <vector>

#include "model/backend.h"

namespace agentd::model {

// The token ids of prompts counted lately, so that generate() does not render
// and tokenize again what count_prompt_tokens() just did (the core counts a
// prompt, then generates it). Keyed by the messages themselves; at most
// kMaxEntries prompts and kMaxBytes of their text, least recently used out.
// Thread-safety: all methods are safe to call concurrently.
class PromptTokenCache {
 public:
  static constexpr size_t kMaxEntries = 16;
  static constexpr size_t kMaxBytes = size_t{4} << 20;

  void put(const std::vector<Message>& messages, const std::vector<int32_t>& ids);
  // Removes and returns the ids kept for exactly these messages, if any.
  std::optional<std::vector<int32_t>> take(const std::vector<Message>& messages);

 private:
  struct Entry {
    std::vector<Message> messages;
    std::vector<int32_t> ids;
    size_t bytes = 0;
  };
  std::mutex mu_;
  std::list<Entry> entries_;  // front = most recent; guarded by mu_
  size_t bytes_ = 0;          // guarded by mu_
};

}  // namespace agentd::model
