#include "common/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace agentd {
namespace {

TEST(MetricsTest, CounterRendersWithSortedEscapedLabels) {
  MetricsRegistry reg;
  reg.counter("agentd_runs_total", "Runs by outcome", {{"outcome", "ok"}, {"endpoint", "a\"b\\c\nd"}}).inc(2);
  reg.counter("agentd_runs_total", "Runs by outcome", {{"endpoint", "a\"b\\c\nd"}, {"outcome", "ok"}}).inc();
  reg.counter("agentd_runs_total", "ignored", {{"endpoint", "x"}, {"outcome", "failed"}}).inc(-5);  // never down
  EXPECT_EQ(reg.render(),
            "# HELP agentd_runs_total Runs by outcome\n"
            "# TYPE agentd_runs_total counter\n"
            "agentd_runs_total{endpoint=\"a\\\"b\\\\c\\nd\",outcome=\"ok\"} 3\n"
            "agentd_runs_total{endpoint=\"x\",outcome=\"failed\"} 0\n");
}

TEST(MetricsTest, GaugeAndHistogramExposition) {
  MetricsRegistry reg;
  Gauge& g = reg.gauge("agentd_job_queue_depth", "Jobs waiting");
  g.set(4);
  g.add(-1.5);
  Histogram& h = reg.histogram("agentd_run_seconds", "Run latency", {1, 0.5});  // unsorted bounds are sorted
  h.observe(0.5);   // le=0.5 is inclusive
  h.observe(0.75);
  h.observe(3);
  EXPECT_EQ(reg.render(),
            "# HELP agentd_job_queue_depth Jobs waiting\n"
            "# TYPE agentd_job_queue_depth gauge\n"
            "agentd_job_queue_depth 2.5\n"
            "# HELP agentd_run_seconds Run latency\n"
            "# TYPE agentd_run_seconds histogram\n"
            "agentd_run_seconds_bucket{le=\"0.5\"} 1\n"
            "agentd_run_seconds_bucket{le=\"1\"} 2\n"
            "agentd_run_seconds_bucket{le=\"+Inf\"} 3\n"
            "agentd_run_seconds_sum 4.25\n"
            "agentd_run_seconds_count 3\n");
}

TEST(MetricsTest, HttpHookAndTypeClash) {
  MetricsRegistry reg;
  reg.record_http_request("/api/v3/run", "POST", 402, 0.003);
  reg.gauge("agentd_http_requests_total", "clash").set(99);  // other type: detached, not rendered
  std::string text = reg.render();
  EXPECT_NE(text.find("agentd_http_requests_total{method=\"POST\",route=\"/api/v3/run\",status=\"402\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("agentd_http_request_duration_seconds_bucket{route=\"/api/v3/run\",le=\"0.005\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(text.find("99"), std::string::npos);
}

TEST(MetricsTest, ConcurrentIncrementsAreExact) {
  MetricsRegistry reg;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&reg] {
      for (int i = 0; i < 1000; ++i) {
        reg.counter("c_total", "c", {{"k", "v"}}).inc();
        reg.histogram("h", "h", {1}).observe(0.1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(reg.counter("c_total", "c", {{"k", "v"}}).value(), 4000);
  EXPECT_EQ(reg.histogram("h", "h", {1}).snapshot().count, 4000u);
}

}  // namespace
}  // namespace agentd
