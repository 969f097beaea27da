#pragma once
// Metrics: counters, gauges and histograms with labels, rendered in the
// Prometheus text exposition format (version 0.0.4) for GET /metrics.
//
// A MetricsRegistry owns every metric registered in it; the references it
// hands out stay valid for the registry's lifetime, so callers look a series
// up once and keep it. One metric name has one type and one help text; each
// distinct label set under it is its own series.
//
// Thread-safety: every method of every class here may be called from any
// thread. Updating a Counter or Gauge is lock-free; a Histogram takes a
// short per-series lock; registering and rendering take the registry lock.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace agentd {

// Label name/value pairs, e.g. {{"route", "/api/v3/run"}, {"status", "200"}}.
// Order does not matter: series are keyed on the sorted set.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double by = 1.0);  // by < 0 is ignored: counters never go down
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `bounds`: upper bounds of the buckets, ascending (a +Inf bucket is implied).
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf last (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // guarded by mu_; one per bound plus +Inf
  double sum_ = 0;                // guarded by mu_
  uint64_t count_ = 0;            // guarded by mu_
};

// Default buckets for latencies in seconds (5 ms .. 60 s).
const std::vector<double>& latency_buckets_s();

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Find-or-create. A name registered before under another type returns a
  // detached series that is never rendered (a programming error, not fatal).
  Counter& counter(std::string_view name, std::string_view help, MetricLabels labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, MetricLabels labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                       MetricLabels labels = {});

  // The whole registry in Prometheus text format, families sorted by name.
  std::string render() const;

  // The HTTP server's hook: one finished request. Records
  // agentd_http_requests_total{route,method,status} and
  // agentd_http_request_duration_seconds{route}. `route` should be the
  // route pattern, not the raw path (bounded cardinality).
  void record_http_request(std::string_view route, std::string_view method, int status, double seconds);

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    Type type;
    std::string help;
    std::map<MetricLabels, Series> series;  // key: sorted labels
  };
  Series& find_or_add(std::string_view name, std::string_view help, Type type, MetricLabels labels,
                      const std::vector<double>* bounds);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;  // guarded by mu_
  std::vector<Series> detached_;                          // guarded by mu_
  // Series in a std::map never move, so the references handed out stay valid.
};

}  // namespace agentd
