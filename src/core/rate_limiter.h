#pragma once
// RateLimiter: per-key limits on requests per minute, tokens per minute and
// concurrent runs, over a sliding 60-second window of the injected Clock
// (tests move a ManualClock instead of sleeping).
//
// State is in-process: with several agentd instances behind one database each
// instance enforces its own window, so a key may get up to N times its limit
// across N instances. Keys idle for a full window are forgotten.
//
// Thread-safety: every method may be called from any thread. Borrows the
// clock (it must outlive the limiter). A RatePermit must not outlive its
// limiter.

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "core/runner.h"

namespace agentd::core {

struct RateLimits {
  int64_t rpm = 0;          // requests per minute, 0 = unlimited
  int64_t tpm = 0;          // tokens (in + out) per minute, 0 = unlimited
  int64_t concurrency = 0;  // runs at once, 0 = unlimited
  bool any() const { return rpm > 0 || tpm > 0 || concurrency > 0; }
};

class RateLimiter;

// One admitted request's concurrency slot; released when destroyed (or by
// release()). Movable, not copyable.
class RatePermit {
 public:
  RatePermit() = default;
  RatePermit(RatePermit&& other) noexcept;
  RatePermit& operator=(RatePermit&& other) noexcept;
  RatePermit(const RatePermit&) = delete;
  RatePermit& operator=(const RatePermit&) = delete;
  ~RatePermit() { release(); }
  void release();

 private:
  friend class RateLimiter;
  RatePermit(RateLimiter* limiter, std::string key) : limiter_(limiter), key_(std::move(key)) {}
  RateLimiter* limiter_ = nullptr;  // null once released or empty
  std::string key_;
};

class RateLimiter {
 public:
  static constexpr int64_t kWindowMs = 60000;

  explicit RateLimiter(const Clock& clock) : clock_(clock) {}
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Admits one request for `key` or refuses it with kRateLimited. Refused
  // when the window already holds `rpm` requests, when the tokens recorded
  // in the window reach `tpm`, or when `concurrency` runs are in flight.
  // `info` (may be null) gets the rpm header values after the decision:
  // limit, remaining, reset_s (seconds until the oldest request in the
  // window leaves it) and, when refused, retry_after_s (>= 1).
  StatusOr<RatePermit> acquire(const std::string& key, const RateLimits& limits, RateLimitInfo* info);

  // Counts a finished run's tokens against the key's tokens-per-minute.
  void record_tokens(const std::string& key, int64_t tokens);

  // Runs in flight for `key` (for tests and metrics).
  int64_t in_flight(const std::string& key) const;

 private:
  friend class RatePermit;
  struct Entry {
    int64_t at_ms;
    int64_t amount;
  };
  struct KeyState {
    std::deque<int64_t> requests;  // admission times, oldest first
    std::deque<Entry> tokens;      // token records, oldest first
    int64_t token_sum = 0;         // sum of tokens[].amount
    int64_t in_flight = 0;
  };
  void release(const std::string& key);
  void expire(KeyState& st, int64_t now) const;
  static int64_t ceil_seconds(int64_t ms) { return ms <= 0 ? 0 : (ms + 999) / 1000; }

  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, KeyState> keys_;  // guarded by mu_
};

}  // namespace agentd::core
