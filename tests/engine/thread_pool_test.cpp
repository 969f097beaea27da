// ThreadPool behaviour the forward pass relies on: inline runs without
// workers, wake-ups after the workers went to sleep, std::function and
// lambdas alike. (Coverage and nesting: kernels_test.cpp.)

#include "engine/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

namespace agentd::engine {
namespace {

TEST(ThreadPoolTest, OneThreadRunsWholeRangeOnTheCaller) {
  ThreadPool pool(1);
  EXPECT_EQ(pool.n_threads(), 1);
  const std::thread::id self = std::this_thread::get_id();
  int calls = 0;
  pool.parallel_for(1000, 7, [&](int64_t b, int64_t e) {
    ++calls;
    EXPECT_EQ(std::this_thread::get_id(), self);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 1000);
  });
  EXPECT_EQ(calls, 1);
  pool.parallel_for(0, [&](int64_t, int64_t) { ++calls; });  // empty range: no call
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPoolTest, WorkersWakeAfterSleepingAndSplitTheRange) {
  ThreadPool pool(2);
  for (int round = 0; round < 3; ++round) {
    // Longer than the spin budget, so the worker is asleep on its condvar.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::vector<std::atomic<int>> hits(64);
    std::atomic<int> chunks{0};
    pool.parallel_for(64, [&](int64_t b, int64_t e) {
      ++chunks;
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
    EXPECT_EQ(chunks.load(), 2);
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPoolTest, ManyShortCallsAndStdFunction) {
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  const std::function<void(int64_t, int64_t)> fn = [&](int64_t b, int64_t e) { sum += e - b; };
  for (int k = 0; k < 2000; ++k) pool.parallel_for(1 + k % 5, fn);
  int64_t want = 0;
  for (int k = 0; k < 2000; ++k) want += 1 + k % 5;
  EXPECT_EQ(sum.load(), want);
}

}  // namespace
}  // namespace agentd::engine
