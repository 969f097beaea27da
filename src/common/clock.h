#pragma once
// Time behind an interface so rate limiters, quotas and timestamps are
// testable without sleeping. Implementations are thread-safe.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace agentd {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, milliseconds since the Unix epoch.
  virtual int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override;
  static SystemClock& instance();
};

// A clock that moves only when told to, for tests of rate limits, quotas
// and timestamps (no sleeping). Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1700000000000) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(std::memory_order_relaxed); }
  void set_ms(int64_t ms) { now_.store(ms, std::memory_order_relaxed); }
  void advance_ms(int64_t by) { now_.fetch_add(by, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

// "2024-01-15T10:30:00.123Z" (UTC, millisecond precision).
std::string format_iso8601(int64_t unix_ms);

}  // namespace agentd
