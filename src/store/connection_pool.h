#pragma once
// A bounded pool of database connections shared by the store's threads.
// Connections are made lazily by a factory, at most `max_size` at a time; a
// caller that finds every connection leased waits up to `wait` and then gets
// kUnavailable, so a stuck database cannot pile up threads without limit.
//
// Ownership: the pool owns idle connections; a Lease owns a leased one and
// gives it back when destroyed (or drops it after discard()). Every Lease
// must be destroyed before the pool.
// Thread-safety: acquire() and clear_idle() may be called from any thread; a
// Lease is used by one thread at a time.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace agentd::store {

template <typename Conn>
class ConnectionPool {
 public:
  using Factory = std::function<StatusOr<std::unique_ptr<Conn>>()>;

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) { other.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->give_back(std::move(conn_));
    }

    Conn& operator*() const { return *conn_; }
    Conn* operator->() const { return conn_.get(); }
    // Closes the connection instead of returning it (it is broken); the pool
    // may then make a fresh one.
    void discard() { conn_.reset(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  ConnectionPool(size_t max_size, std::chrono::milliseconds wait, Factory factory)
      : max_size_(max_size), wait_(wait), factory_(std::move(factory)) {}
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  StatusOr<Lease> acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    bool got_slot = cv_.wait_for(lock, wait_, [&] { return !idle_.empty() || open_ < max_size_; });
    if (!got_slot) {
      return Status::unavailable("all " + std::to_string(max_size_) + " database connections are busy");
    }
    if (!idle_.empty()) {
      std::unique_ptr<Conn> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;  // reserve the slot, then connect without holding the lock
    lock.unlock();
    StatusOr<std::unique_ptr<Conn>> made = factory_();
    if (!made.is_ok()) {
      release_slot();
      return made.status();
    }
    return Lease(this, std::move(made).value());
  }

  // Closes every idle connection: after one connection broke, the others
  // made before the same outage are most likely broken too.
  void clear_idle() {
    std::vector<std::unique_ptr<Conn>> doomed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      doomed.swap(idle_);
      open_ -= doomed.size();
    }
    cv_.notify_all();
    // `doomed` closes its connections here, outside the lock.
  }

 private:
  void give_back(std::unique_ptr<Conn> conn) {
    if (!conn) {
      release_slot();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      idle_.push_back(std::move(conn));
    }
    cv_.notify_one();
  }

  void release_slot() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --open_;
    }
    cv_.notify_one();
  }

  const size_t max_size_;
  const std::chrono::milliseconds wait_;
  const Factory factory_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
  size_t open_ = 0;                          // idle + leased; guarded by mu_
};

}  // namespace agentd::store
