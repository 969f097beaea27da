#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace agentd::engine {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

float clean(float x) { return std::isnan(x) ? kNegInf : x; }

}  // namespace

Status validate_sampling(const SamplingParams& p) {
  auto bad = [](const char* field, double v, const char* range) {
    return Status::invalid_argument(std::string(field) + " = " + std::to_string(v) + " is out of range " + range);
  };
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f || p.temperature > 100.0f) {
    return bad("temperature", p.temperature, "[0, 100]");
  }
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return bad("top_p", p.top_p, "(0, 1]");
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return bad("min_p", p.min_p, "[0, 1]");
  if (p.top_k < 0) return bad("top_k", p.top_k, ">= 0");
  if (!(p.repeat_penalty > 0.0f && std::isfinite(p.repeat_penalty))) {
    return bad("repeat_penalty", p.repeat_penalty, "(0, inf)");
  }
  if (p.penalty_last_n < 0) return bad("penalty_last_n", p.penalty_last_n, ">= 0");
  if (!std::isfinite(p.frequency_penalty) || std::fabs(p.frequency_penalty) > 100.0f) {
    return bad("frequency_penalty", p.frequency_penalty, "[-100, 100]");
  }
  if (!std::isfinite(p.presence_penalty) || std::fabs(p.presence_penalty) > 100.0f) {
    return bad("presence_penalty", p.presence_penalty, "[-100, 100]");
  }
  return Status::ok();
}

std::vector<std::pair<int32_t, float>> top_logits(std::span<const float> logits, int k) {
  std::vector<std::pair<int32_t, float>> out;
  if (k <= 0) return out;
  auto better = [](const std::pair<int32_t, float>& a, const std::pair<int32_t, float>& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  };
  // A small sorted list: k is tiny (5) next to the vocabulary.
  for (size_t i = 0; i < logits.size(); ++i) {
    const float v = logits[i];
    if (std::isnan(v)) continue;
    const std::pair<int32_t, float> e{static_cast<int32_t>(i), v};
    if (out.size() == static_cast<size_t>(k) && !better(e, out.back())) continue;
    auto pos = std::upper_bound(out.begin(), out.end(), e, better);
    out.insert(pos, e);
    if (out.size() > static_cast<size_t>(k)) out.pop_back();
  }
  return out;
}

float token_logprob(std::span<const float> logits, int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= logits.size()) return kNegInf;
  float mx = kNegInf;
  for (float v : logits) mx = std::max(mx, clean(v));
  if (!std::isfinite(mx)) return kNegInf;
  double sum = 0.0;
  for (float v : logits) sum += std::exp(static_cast<double>(clean(v)) - mx);
  return static_cast<float>(static_cast<double>(clean(logits[static_cast<size_t>(id)])) - mx - std::log(sum));
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

void Sampler::reset() {
  rng_.seed(params_.seed);
  history_.clear();
  counts_.clear();
}

void Sampler::accept(int32_t id) {
  if (params_.penalty_last_n <= 0) return;
  history_.push_back(id);
  ++counts_[id];
  while (history_.size() > static_cast<size_t>(params_.penalty_last_n)) {
    auto it = counts_.find(history_.front());
    if (it != counts_.end() && --it->second == 0) counts_.erase(it);
    history_.pop_front();
  }
}

double Sampler::uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

void Sampler::apply_penalties(std::vector<Candidate>& c) const {
  const bool any = params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                   params_.presence_penalty != 0.0f;
  if (!any || counts_.empty()) return;
  for (const auto& [id, count] : counts_) {
    if (id < 0 || static_cast<size_t>(id) >= c.size()) continue;
    float& l = c[static_cast<size_t>(id)].logit;  // candidates are still indexed by id here
    if (l <= 0.0f) {
      l *= params_.repeat_penalty;
    } else {
      l /= params_.repeat_penalty;
    }
    l -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
  }
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (logits.empty()) return 0;
  std::vector<Candidate>& c = scratch_;
  c.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) c[i] = {static_cast<int32_t>(i), clean(logits[i]), 0.0f};
  apply_penalties(c);

  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  if (params_.temperature <= 0.0f) {
    return std::min_element(c.begin(), c.end(), by_logit)->id;
  }

  // top-k, then sort what is left (all of it when top-k is off).
  size_t n = c.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    n = static_cast<size_t>(params_.top_k);
    std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(n), c.end(), by_logit);
  } else {
    std::sort(c.begin(), c.end(), by_logit);
  }
  c.resize(n);
  if (!std::isfinite(c[0].logit)) return c[0].id;  // nothing has a finite logit

  auto softmax = [&](float temp) {
    const float mx = c[0].logit;
    double sum = 0.0;
    for (Candidate& x : c) {
      x.p = std::exp((x.logit - mx) / temp);
      sum += x.p;
    }
    for (Candidate& x : c) x.p = static_cast<float>(x.p / sum);
  };

  // top-p over the untempered distribution, as llama.cpp orders its chain.
  if (params_.top_p < 1.0f) {
    softmax(1.0f);
    double cum = 0.0;
    size_t keep = c.size();
    for (size_t i = 0; i < c.size(); ++i) {
      cum += c[i].p;
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
    c.resize(keep);
  }
  // min-p: keep logits within log(min_p) of the best.
  if (params_.min_p > 0.0f) {
    const float floor = c[0].logit + std::log(params_.min_p);
    size_t keep = 1;
    while (keep < c.size() && c[keep].logit >= floor) ++keep;
    c.resize(keep);
  }

  softmax(params_.temperature);
  const double r = uniform();
  double cum = 0.0;
  for (const Candidate& x : c) {
    cum += x.p;
    if (r < cum) return x.id;
  }
  return c.back().id;  // rounding left r at the very top
}

}  // namespace agentd::engine
