#include "store/connection_pool.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace agentd::store {
namespace {

struct FakeConn {
  int serial = 0;
};

// A pool whose factory numbers the connections it makes and can be told to fail.
struct Fixture {
  std::atomic<int> made{0};
  std::atomic<bool> fail{false};
  ConnectionPool<FakeConn> pool;

  explicit Fixture(size_t max, int wait_ms = 50)
      : pool(max, std::chrono::milliseconds(wait_ms), [this]() -> StatusOr<std::unique_ptr<FakeConn>> {
          if (fail.load()) return Status::unavailable("database down");
          auto c = std::make_unique<FakeConn>();
          c->serial = ++made;
          return c;
        }) {}
};

TEST(ConnectionPool, ReusesIdleConnectionsAndBoundsTheCount) {
  Fixture f(2);
  {
    auto a = f.pool.acquire();
    ASSERT_TRUE(a.is_ok());
    auto b = f.pool.acquire();
    ASSERT_TRUE(b.is_ok());
    EXPECT_NE((**a).serial, (**b).serial);
    auto start = std::chrono::steady_clock::now();
    auto c = f.pool.acquire();  // both leased: waits, then gives up
    EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
  }
  auto again = f.pool.acquire();
  ASSERT_TRUE(again.is_ok());
  EXPECT_LE((**again).serial, 2);  // an old one, not a new connection
  EXPECT_EQ(f.made.load(), 2);
}

TEST(ConnectionPool, FailedConnectFreesItsSlot) {
  Fixture f(1);
  f.fail = true;
  EXPECT_EQ(f.pool.acquire().status().code(), StatusCode::kUnavailable);
  f.fail = false;
  auto a = f.pool.acquire();  // the slot was not lost
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ((**a).serial, 1);
}

TEST(ConnectionPool, DiscardAndClearIdleMakeFreshConnections) {
  Fixture f(2);
  {
    auto a = f.pool.acquire();
    ASSERT_TRUE(a.is_ok());
    a->discard();  // broken: not returned
  }
  {
    auto b = f.pool.acquire();
    ASSERT_TRUE(b.is_ok());
    EXPECT_EQ((**b).serial, 2);
  }
  f.pool.clear_idle();  // drops #2
  auto c = f.pool.acquire();
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ((**c).serial, 3);
  auto d = f.pool.acquire();  // the dropped ones no longer count against the limit
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ((**d).serial, 4);
}

TEST(ConnectionPool, ManyThreadsNeverExceedTheLimit) {
  Fixture f(3, 5000);
  std::atomic<int> leased{0}, peak{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto l = f.pool.acquire();
        if (!l.is_ok()) {
          ++failures;
          continue;
        }
        int now = ++leased;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        std::this_thread::yield();
        --leased;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(peak.load(), 3);
  EXPECT_LE(f.made.load(), 3);
}

}  // namespace
}  // namespace agentd::store
