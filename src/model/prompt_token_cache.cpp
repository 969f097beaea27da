#include "model/prompt_token_cache.h"

#include <iterator>
#include <utility>

namespace agentd::model {

void PromptTokenCache::put(const std::vector<Message>& messages, const std::vector<int32_t>& ids) {
  size_t bytes = ids.size() * sizeof(int32_t);
  for (const Message& m : messages) bytes += m.role.size() + m.content.size();
  if (bytes > kMaxBytes) return;
  Entry entry{messages, ids, bytes};  // copied outside the lock
  std::list<Entry> evicted;           // freed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  entries_.push_front(std::move(entry));
  bytes_ += bytes;
  while (entries_.size() > kMaxEntries || bytes_ > kMaxBytes) {
    bytes_ -= entries_.back().bytes;
    evicted.splice(evicted.begin(), entries_, std::prev(entries_.end()));
  }
}

std::optional<std::vector<int32_t>> PromptTokenCache::take(const std::vector<Message>& messages) {
  std::list<Entry> found;  // freed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->messages != messages) continue;
      bytes_ -= it->bytes;
      found.splice(found.begin(), entries_, it);
      break;
    }
  }
  if (found.empty()) return std::nullopt;
  return std::move(found.front().ids);
}

}  // namespace agentd::model
