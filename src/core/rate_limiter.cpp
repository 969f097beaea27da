#include "core/rate_limiter.h"

#include <algorithm>
#include <utility>

namespace agentd::core {

RatePermit::RatePermit(RatePermit&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)), key_(std::move(other.key_)) {}

RatePermit& RatePermit::operator=(RatePermit&& other) noexcept {
  if (this != &other) {
    release();
    limiter_ = std::exchange(other.limiter_, nullptr);
    key_ = std::move(other.key_);
  }
  return *this;
}

void RatePermit::release() {
  if (limiter_ != nullptr) std::exchange(limiter_, nullptr)->release(key_);
}

void RateLimiter::expire(KeyState& st, int64_t now) const {
  while (!st.requests.empty() && st.requests.front() + kWindowMs <= now) st.requests.pop_front();
  while (!st.tokens.empty() && st.tokens.front().at_ms + kWindowMs <= now) {
    st.token_sum -= st.tokens.front().amount;
    st.tokens.pop_front();
  }
}

StatusOr<RatePermit> RateLimiter::acquire(const std::string& key, const RateLimits& limits, RateLimitInfo* info) {
  if (!limits.any()) {
    if (info != nullptr) *info = RateLimitInfo{};
    return RatePermit();
  }
  const int64_t now = clock_.now_ms();
  std::lock_guard<std::mutex> lock(mu_);
  KeyState& st = keys_[key];
  expire(st, now);

  auto fill = [&](int64_t retry_after_s) {
    if (info == nullptr) return;
    info->limit = limits.rpm;
    info->remaining = limits.rpm > 0 ? std::max<int64_t>(0, limits.rpm - static_cast<int64_t>(st.requests.size())) : 0;
    info->reset_s = st.requests.empty() ? 0 : ceil_seconds(st.requests.front() + kWindowMs - now);
    info->retry_after_s = retry_after_s;
  };

  if (limits.rpm > 0 && static_cast<int64_t>(st.requests.size()) >= limits.rpm) {
    // The request that frees a slot is the rpm-th newest one.
    int64_t frees_at = st.requests[st.requests.size() - static_cast<size_t>(limits.rpm)] + kWindowMs;
    int64_t retry = std::max<int64_t>(1, ceil_seconds(frees_at - now));
    fill(retry);
    return Status::rate_limited("rate limit exceeded: " + std::to_string(limits.rpm) +
                                " requests per minute; retry in " + std::to_string(retry) + " s");
  }
  if (limits.tpm > 0 && st.token_sum >= limits.tpm) {
    // Wait until enough of the oldest records leave the window to go below tpm.
    int64_t sum = st.token_sum;
    int64_t frees_at = now;
    for (const Entry& e : st.tokens) {
      sum -= e.amount;
      frees_at = e.at_ms + kWindowMs;
      if (sum < limits.tpm) break;
    }
    int64_t retry = std::max<int64_t>(1, ceil_seconds(frees_at - now));
    fill(retry);
    return Status::rate_limited("rate limit exceeded: " + std::to_string(limits.tpm) +
                                " tokens per minute; retry in " + std::to_string(retry) + " s");
  }
  if (limits.concurrency > 0 && st.in_flight >= limits.concurrency) {
    // A slot frees when a run ends, which cannot be predicted: ask for 1 s.
    fill(1);
    return Status::rate_limited("rate limit exceeded: " + std::to_string(limits.concurrency) +
                                " concurrent runs; retry in 1 s");
  }
  st.requests.push_back(now);
  ++st.in_flight;
  fill(0);
  return RatePermit(this, key);
}

void RateLimiter::record_tokens(const std::string& key, int64_t tokens) {
  if (tokens <= 0) return;
  const int64_t now = clock_.now_ms();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(key);
  if (it == keys_.end()) it = keys_.emplace(key, KeyState{}).first;
  KeyState& st = it->second;
  expire(st, now);
  st.tokens.push_back(Entry{now, tokens});
  st.token_sum += tokens;
}

int64_t RateLimiter::in_flight(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(key);
  return it == keys_.end() ? 0 : it->second.in_flight;
}

void RateLimiter::release(const std::string& key) {
  const int64_t now = clock_.now_ms();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(key);
  if (it == keys_.end()) return;
  KeyState& st = it->second;
  if (st.in_flight > 0) --st.in_flight;
  expire(st, now);
  if (st.in_flight == 0 && st.requests.empty() && st.tokens.empty()) keys_.erase(it);
}

}  // namespace agentd::core
