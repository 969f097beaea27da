#pragma once
// A small fixed pool of worker threads for data-parallel loops (matmul rows,
// attention heads). The thread that calls parallel_for takes part, so a pool
// of n threads starts n - 1 workers.
//
// Latency matters more than throughput here: a decode step issues hundreds
// of short parallel_for calls. Idle workers therefore spin for a short while
// (kSpin) on the job counter before they sleep on a condition variable, and
// the caller spins the same way while it waits for the last chunk.
//
// Thread-safety: parallel_for may be called from any thread; concurrent calls
// on one pool are serialized. A parallel_for issued from inside a running
// parallel_for body (on any of the pool's threads) runs inline on that
// thread, so nesting cannot deadlock. The destructor must not race with a
// parallel_for.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace agentd::engine {

class ThreadPool {
 public:
  // n_threads counts the calling thread; values below 1 mean 1.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Calls fn(begin, end) on disjoint, contiguous ranges that together cover
  // [0, n), at most one range per thread, and returns when all have run.
  // Range boundaries are multiples of `grain` (>= 1), so a caller can keep
  // blocks of rows together. fn must not throw.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& fn);
  void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn) {
    parallel_for(n, 1, fn);
  }

 private:
  // How long an idle thread polls before it blocks.
  static constexpr std::chrono::microseconds kSpin{50};

  void worker_loop(int index);
  void run_chunk(int index);

  const int n_threads_;
  std::vector<std::thread> workers_;

  std::mutex call_mu_;  // serializes parallel_for callers

  // Job publication: the caller writes the job fields, then bumps
  // generation_ (release) under mu_; workers read generation_ (acquire) and
  // then the fields. pending_ counts workers that have not yet finished
  // (or, without a chunk of their own, acknowledged) the current job.
  std::mutex mu_;
  std::condition_variable work_cv_;  // sleeping workers wait for a new generation
  std::condition_variable done_cv_;  // a sleeping caller waits for pending_ == 0
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  int n_chunks_ = 0;
};

}  // namespace agentd::engine
