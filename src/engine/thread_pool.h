#pragma once
// A small fixed pool of worker threads for data-parallel loops (matmul rows,
// attention heads). The thread that calls parallel_for takes part, so a pool
// of n threads starts n - 1 workers.
//
// Latency matters more than throughput here: a decode step issues hundreds
// of short parallel_for calls. Idle workers therefore poll the job counter
// with `pause` for a while (kSpin) before they sleep on a condition
// variable, and the caller polls the same way while it waits for the last
// chunk; after a few microseconds of `pause` the polling also yields, so
// waiting threads give their core away when there are more threads than
// cores. Apart from the mutex that serializes callers, the condition
// variables and their mutex are only touched when some thread actually
// sleeps. A 1-thread pool runs everything inline without touching any shared
// state.
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
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace agentd::engine {

// A non-owning reference to a callable fn(begin, end): no allocation, one
// indirect call. It must not outlive the callable (parallel_for's argument
// lives for the whole call, which is all it needs).
class RangeFn {
 public:
  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, RangeFn> && std::is_invocable_v<F&, int64_t, int64_t>)
  RangeFn(F&& f)  // NOLINT(google-explicit-constructor): lambdas convert implicitly
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, int64_t b, int64_t e) { (*static_cast<std::remove_reference_t<F>*>(o))(b, e); }) {}

  void operator()(int64_t begin, int64_t end) const { call_(obj_, begin, end); }

 private:
  void* obj_;
  void (*call_)(void*, int64_t, int64_t);
};

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
  void parallel_for(int64_t n, int64_t grain, RangeFn fn);
  void parallel_for(int64_t n, RangeFn fn) { parallel_for(n, 1, fn); }

  // Like parallel_for, but the ranges are the `grain`-sized blocks of [0, n),
  // handed to whichever thread asks next: a thread that starts late or is
  // slowed (another process on its core) takes fewer, so the call ends when
  // the work does rather than when the slowest fixed share does. fn may be
  // called several times per thread.
  void parallel_for_dynamic(int64_t n, int64_t grain, RangeFn fn);

 private:
  // How long an idle thread polls before it blocks. A decode step issues a
  // parallel_for every few tens of microseconds, so workers stay awake
  // through a step and sleep between requests.
  static constexpr std::chrono::microseconds kSpin{200};

  void worker_loop(int index);
  void run_chunk(int index);
  void run_job(int index);
  void publish(const RangeFn& fn, int64_t n, int64_t grain, int chunks, bool dynamic);

  const int n_threads_;
  std::vector<std::thread> workers_;

  std::mutex call_mu_;  // serializes parallel_for callers

  // Job publication: the caller writes the job fields, then bumps
  // generation_ (seq_cst); workers read generation_ and then the fields.
  // pending_ counts workers that have not yet finished (or, without a chunk
  // of their own, acknowledged) the current job. sleepers_ / caller_sleeps_
  // say whether anyone waits on a condition variable; the seq_cst order of
  // "publish, then check for sleepers" against "announce sleep, then check
  // the condition" means no wake-up is lost.
  std::mutex mu_;
  std::condition_variable work_cv_;  // sleeping workers wait for a new generation
  std::condition_variable done_cv_;  // a sleeping caller waits for pending_ == 0
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_sleeps_{false};
  std::atomic<bool> stop_{false};
  const RangeFn* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  int n_chunks_ = 0;
  bool dynamic_ = false;                // blocks of grain_ claimed through next_block_
  std::atomic<int64_t> next_block_{0};
};

}  // namespace agentd::engine
