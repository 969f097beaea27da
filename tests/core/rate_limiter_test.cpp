// Sliding-window limits on a ManualClock: no sleeping.
#include "core/rate_limiter.h"

#include <gtest/gtest.h>

namespace agentd::core {
namespace {

TEST(RateLimiterTest, RequestsPerMinuteWithRetryAfterAndReset) {
  ManualClock clock(1000000);
  RateLimiter limiter(clock);
  RateLimits limits{3, 0, 0};
  RateLimitInfo info;
  ASSERT_TRUE(limiter.acquire("k", limits, &info).is_ok());  // t=0
  EXPECT_EQ(info.limit, 3);
  EXPECT_EQ(info.remaining, 2);
  EXPECT_EQ(info.reset_s, 60);
  clock.advance_ms(10500);
  ASSERT_TRUE(limiter.acquire("k", limits, &info).is_ok());  // t=10.5s
  clock.advance_ms(10000);
  ASSERT_TRUE(limiter.acquire("k", limits, &info).is_ok());  // t=20.5s
  EXPECT_EQ(info.remaining, 0);
  EXPECT_EQ(info.reset_s, 40);  // the first leaves the window at t=60s: 39.5 s, rounded up
  auto refused = limiter.acquire("k", limits, &info);
  EXPECT_EQ(refused.status().code(), StatusCode::kRateLimited);
  EXPECT_EQ(info.retry_after_s, 40);
  EXPECT_EQ(info.remaining, 0);
  // Another key has its own window.
  EXPECT_TRUE(limiter.acquire("other", limits, nullptr).is_ok());
  clock.advance_ms(39499);  // t=59.999s: still full
  EXPECT_FALSE(limiter.acquire("k", limits, &info).is_ok());
  EXPECT_EQ(info.retry_after_s, 1);
  clock.advance_ms(1);  // t=60s: the first request left the window
  ASSERT_TRUE(limiter.acquire("k", limits, &info).is_ok());
  EXPECT_EQ(info.remaining, 0);
  EXPECT_EQ(info.reset_s, 11);  // next to leave: t=10.5s + 60s
}

TEST(RateLimiterTest, TokensPerMinute) {
  ManualClock clock;
  RateLimiter limiter(clock);
  RateLimits limits{0, 100, 0};
  RateLimitInfo info;
  ASSERT_TRUE(limiter.acquire("k", limits, &info).is_ok());
  EXPECT_EQ(info.limit, 0);  // no rpm: no X-RateLimit headers
  limiter.record_tokens("k", 60);
  clock.advance_ms(15000);
  ASSERT_TRUE(limiter.acquire("k", limits, nullptr).is_ok());  // 60 < 100
  limiter.record_tokens("k", 50);                              // 110 in the window
  auto refused = limiter.acquire("k", limits, &info);
  EXPECT_EQ(refused.status().code(), StatusCode::kRateLimited);
  EXPECT_EQ(info.retry_after_s, 45);  // the 60 leave at t=60s, leaving 50 < 100
  clock.advance_ms(45000);
  EXPECT_TRUE(limiter.acquire("k", limits, nullptr).is_ok());
}

TEST(RateLimiterTest, ConcurrencySlotsAreReleasedByPermits) {
  ManualClock clock;
  RateLimiter limiter(clock);
  RateLimits limits{0, 0, 2};
  auto a = limiter.acquire("k", limits, nullptr);
  auto b = limiter.acquire("k", limits, nullptr);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ(limiter.in_flight("k"), 2);
  RateLimitInfo info;
  EXPECT_EQ(limiter.acquire("k", limits, &info).status().code(), StatusCode::kRateLimited);
  EXPECT_EQ(info.retry_after_s, 1);
  {
    RatePermit moved = std::move(a).value();
    EXPECT_EQ(limiter.in_flight("k"), 2);
  }
  EXPECT_EQ(limiter.in_flight("k"), 1);
  auto c = limiter.acquire("k", limits, nullptr);
  EXPECT_TRUE(c.is_ok());
  c->release();
  c->release();  // twice is harmless
  EXPECT_EQ(limiter.in_flight("k"), 1);
}

TEST(RateLimiterTest, NoLimitsAdmitEverything) {
  ManualClock clock;
  RateLimiter limiter(clock);
  RateLimitInfo info;
  info.limit = 7;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.acquire("k", RateLimits{}, &info).is_ok());
  EXPECT_EQ(info.limit, 0);
  EXPECT_EQ(limiter.in_flight("k"), 0);
}

}  // namespace
}  // namespace agentd::core
