#pragma once
// Time behind an interface so rate limiters, quotas and timestamps are
// testable without sleeping. Implementations are thread-safe.

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

// "2024-01-15T10:30:00.123Z" (UTC, millisecond precision).
std::string format_iso8601(int64_t unix_ms);

}  // namespace agentd
