#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace agentd {
namespace {

void atomic_add(std::atomic<double>& a, double by) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + by, std::memory_order_relaxed)) {
  }
}

// Prometheus float text: integers without a fraction, +Inf/-Inf/NaN by name.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", v);
    return buf;
  }
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  // Shortest form that reads back the same.
  for (int prec = 1; prec < 17; ++prec) {
    char shorter[40];
    std::snprintf(shorter, sizeof(shorter), "%.*g", prec, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buf;
}

// Label values escape backslash, double quote and newline.
void append_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

// HELP text escapes backslash and newline.
std::string escape_help(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string label_text(const MetricLabels& labels, const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && extra == nullptr) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::pair<std::string, std::string>& kv) {
    if (!first) out += ",";
    first = false;
    out += kv.first;
    out += "=\"";
    append_escaped(out, kv.second);
    out += "\"";
  };
  for (const auto& kv : labels) add(kv);
  if (extra != nullptr) add(*extra);
  out += "}";
  return out;
}

}  // namespace

void Counter::inc(double by) {
  if (!(by > 0)) return;
  atomic_add(value_, by);
}

void Gauge::add(double by) { atomic_add(value_, by); }

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[i];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t run = 0;
  for (uint64_t c : counts_) {
    run += c;
    s.cumulative.push_back(run);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

const std::vector<double>& latency_buckets_s() {
  static const std::vector<double> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                               1,     2.5,  5,     10,   30,  60};
  return kBuckets;
}

MetricsRegistry::Series& MetricsRegistry::find_or_add(std::string_view name, std::string_view help, Type type,
                                                      MetricLabels labels, const std::vector<double>* bounds) {
  std::sort(labels.begin(), labels.end());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}}).first;
  }
  Family& fam = it->second;
  Series* series;
  if (fam.type != type) {
    detached_.emplace_back();
    series = &detached_.back();
  } else {
    series = &fam.series[std::move(labels)];
  }
  if (type == Type::kCounter && series->counter == nullptr) series->counter = std::make_unique<Counter>();
  if (type == Type::kGauge && series->gauge == nullptr) series->gauge = std::make_unique<Gauge>();
  if (type == Type::kHistogram && series->histogram == nullptr) {
    series->histogram = std::make_unique<Histogram>(*bounds);
  }
  return *series;
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help, MetricLabels labels) {
  return *find_or_add(name, help, Type::kCounter, std::move(labels), nullptr).counter;
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help, MetricLabels labels) {
  return *find_or_add(name, help, Type::kGauge, std::move(labels), nullptr).gauge;
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                                      MetricLabels labels) {
  std::vector<double> sorted = bounds;
  std::sort(sorted.begin(), sorted.end());
  return *find_or_add(name, help, Type::kHistogram, std::move(labels), &sorted).histogram;
}

std::string MetricsRegistry::render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, fam] : families_) {
    const char* type = fam.type == Type::kCounter ? "counter" : fam.type == Type::kGauge ? "gauge" : "histogram";
    out += "# HELP " + name + " " + escape_help(fam.help) + "\n";
    out += "# TYPE " + name + " " + type + "\n";
    for (const auto& [labels, series] : fam.series) {
      if (fam.type == Type::kCounter) {
        out += name + label_text(labels) + " " + format_value(series.counter->value()) + "\n";
      } else if (fam.type == Type::kGauge) {
        out += name + label_text(labels) + " " + format_value(series.gauge->value()) + "\n";
      } else {
        Histogram::Snapshot s = series.histogram->snapshot();
        for (size_t i = 0; i <= s.bounds.size(); ++i) {
          std::pair<std::string, std::string> le{"le", i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf"};
          out += name + "_bucket" + label_text(labels, &le) + " " + std::to_string(s.cumulative[i]) + "\n";
        }
        out += name + "_sum" + label_text(labels) + " " + format_value(s.sum) + "\n";
        out += name + "_count" + label_text(labels) + " " + std::to_string(s.count) + "\n";
      }
    }
  }
  return out;
}

void MetricsRegistry::record_http_request(std::string_view route, std::string_view method, int status,
                                          double seconds) {
  counter("agentd_http_requests_total", "HTTP requests by route, method and status",
          {{"route", std::string(route)}, {"method", std::string(method)}, {"status", std::to_string(status)}})
      .inc();
  histogram("agentd_http_request_duration_seconds", "HTTP request latency by route", latency_buckets_s(),
            {{"route", std::string(route)}})
      .observe(seconds);
}

}  // namespace agentd
