#include "engine/thread_pool.h"

#include <algorithm>

namespace agentd::engine {
namespace {
// The pool whose job the current thread is running, if any (nesting guard).
thread_local const ThreadPool* tls_running_pool = nullptr;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
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

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= n_chunks_) continue;  // this job has fewer chunks than threads
    }
    tls_running_pool = this;
    run_chunk(index);
    tls_running_pool = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  const int chunks = static_cast<int>(std::min<int64_t>(units, n_threads_));
  if (chunks <= 1 || tls_running_pool == this) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_ = n;
    grain_ = grain;
    n_chunks_ = chunks;
    pending_ = chunks - 1;  // workers 1..chunks-1; the caller runs chunk 0
    ++generation_;
  }
  work_cv_.notify_all();
  tls_running_pool = this;
  run_chunk(0);
  tls_running_pool = nullptr;
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return pending_ == 0; });
  fn_ = nullptr;
}

}  // namespace agentd::engine
