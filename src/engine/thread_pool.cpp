#include "engine/thread_pool.h"

#include <algorithm>

namespace agentd::engine {
namespace {

// The pool whose job the current thread is running, if any (nesting guard).
thread_local const ThreadPool* tls_running_pool = nullptr;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Polls `done` for up to `budget`; true if it became true. The first
// kPauseOnly polls only `pause` (sched_yield is a system call and showed up in
// profiles of short waits); after that every poll also yields, so a waiting
// thread gives its core away when there are more threads than cores.
template <typename Pred>
bool spin_until(Pred done, std::chrono::microseconds budget) {
  constexpr int kPauseOnly = 128;  // a few microseconds
  for (int i = 0; i < kPauseOnly; ++i) {
    if (done()) return true;
    cpu_relax();
  }
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (;;) {
    for (int i = 0; i < 16; ++i) {
      if (done()) return true;
      std::this_thread::yield();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunk(int index) {
  // Split n_ / grain_ units as evenly as possible over n_chunks_ chunks.
  const int64_t units = (n_ + grain_ - 1) / grain_;
  const int64_t base = units / n_chunks_;
  const int64_t extra = units % n_chunks_;
  const int64_t first = index * base + std::min<int64_t>(index, extra);
  const int64_t count = base + (index < extra ? 1 : 0);
  const int64_t begin = std::min(n_, first * grain_);
  const int64_t end = std::min(n_, (first + count) * grain_);
  if (begin < end) (*fn_)(begin, end);
}

void ThreadPool::run_job(int index) {
  tls_running_pool = this;
  if (!dynamic_) {
    run_chunk(index);
  } else {
    const int64_t blocks = (n_ + grain_ - 1) / grain_;
    for (int64_t b = next_block_.fetch_add(1, std::memory_order_relaxed); b < blocks;
         b = next_block_.fetch_add(1, std::memory_order_relaxed)) {
      (*fn_)(b * grain_, std::min(n_, (b + 1) * grain_));
    }
  }
  tls_running_pool = nullptr;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    auto has_news = [&] { return generation_.load() != seen || stop_.load(); };
    if (!spin_until(has_news, kSpin)) {
      std::unique_lock<std::mutex> lock(mu_);
      sleepers_.fetch_add(1);
      work_cv_.wait(lock, has_news);
      sleepers_.fetch_sub(1);
    }
    if (stop_.load()) return;
    seen = generation_.load();
    if (index < n_chunks_) run_job(index);  // a job may have fewer chunks than threads
    // Every worker acknowledges every job, so none can still be reading the
    // job fields when the next caller rewrites them.
    if (pending_.fetch_sub(1) == 1 && caller_sleeps_.load()) {
      // Taking the lock orders this notify after the caller's check.
      { std::lock_guard<std::mutex> lock(mu_); }
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, RangeFn fn) {
  if (n <= 0) return;
  if (n_threads_ == 1 || tls_running_pool == this) {
    fn(0, n);
    return;
  }
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  const int chunks = static_cast<int>(std::min<int64_t>(units, n_threads_));
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mu_);
  publish(fn, n, grain, chunks, false);
}

void ThreadPool::parallel_for_dynamic(int64_t n, int64_t grain, RangeFn fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (n_threads_ == 1 || tls_running_pool == this || n <= grain) {
    for (int64_t b = 0; b < n; b += grain) fn(b, std::min(n, b + grain));
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mu_);
  next_block_.store(0, std::memory_order_relaxed);
  publish(fn, n, grain, n_threads_, true);
}

void ThreadPool::publish(const RangeFn& fn, int64_t n, int64_t grain, int chunks, bool dynamic) {
  // No worker reads the job fields now: the previous job ended with
  // pending_ == 0, and idle workers only look at generation_.
  fn_ = &fn;
  n_ = n;
  grain_ = grain;
  n_chunks_ = chunks;
  dynamic_ = dynamic;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);  // all workers; the caller runs chunk 0
  generation_.fetch_add(1);
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(mu_); }
    work_cv_.notify_all();
  }
  run_job(0);
  auto all_done = [&] { return pending_.load() == 0; };
  if (!spin_until(all_done, kSpin)) {
    std::unique_lock<std::mutex> lock(mu_);
    caller_sleeps_.store(true);
    done_cv_.wait(lock, all_done);
    caller_sleeps_.store(false);
  }
  fn_ = nullptr;
}

}  // namespace agentd::engine
