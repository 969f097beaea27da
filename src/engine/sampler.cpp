#include "engine/sampler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <optional>
#include <limits>
#include <string>

#include "engine/kernels/activation.h"

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
  // Vectorized float exps (fast_exp.h; NaN gives 0), summed in double in id
  // order: a double exp per token of the vocabulary took 0.2 ms a token at
  // 32000.
  thread_local std::vector<float> weights;
  weights.resize(logits.size());
  exp_weights(logits.data(), mx, 1.0f, weights.data(), static_cast<int64_t>(logits.size()));
  double sum = 0.0;
  for (float w : weights) sum += w;
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

void Sampler::apply_penalties(std::vector<float>& logits) const {
  const bool any = params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                   params_.presence_penalty != 0.0f;
  if (!any || counts_.empty()) return;
  for (const auto& [id, count] : counts_) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size()) continue;
    float& l = logits[static_cast<size_t>(id)];
    if (l <= 0.0f) {
      l *= params_.repeat_penalty;
    } else {
      l /= params_.repeat_penalty;
    }
    l -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
  }
}

// The chain walks the candidates in order (highest logit first, lower id
// first on ties) only as far as its walks go: top-p stops where the mass
// reaches top_p, the draw where it passes r. Sorting the whole vocabulary
// for that took about 2.3 ms a token at 32000 tokens (12 ms at 152000), more
// than a decode step of a 135M-parameter model. Instead each walk computes
// the weights exp((logit - max) / temp) (exp_weights, vectorized), buckets
// the kept candidates by weight, 16 buckets per halving, sums each bucket in
// id order (in double), finds the bucket where the running sum crosses its
// target and sorts only that bucket's candidates to find the one. The sums
// run in a fixed order, so a seed gives the same tokens whatever the sort did.
namespace {

constexpr int kBucketsPerHalving = 16;
constexpr int kBuckets = 64 * kBucketsPerHalving;  // weights down to 2^-64; one more for the rest
constexpr uint16_t kNotKept = 0xffff;

// The bucket of a weight w in [0, 1]: from its float bits, which grow with w.
int weight_bucket(float w) {
  uint32_t bits;
  std::memcpy(&bits, &w, sizeof bits);
  const int64_t below_one = int64_t{0x3f800000} - static_cast<int64_t>(bits);
  return static_cast<int>(std::clamp<int64_t>(below_one >> (23 - 4), 0, kBuckets));  // exponent, 4 mantissa bits
}

}  // namespace

int32_t Sampler::sample(std::span<const float> logits, const uint32_t* allowed) {
  if (logits.empty()) return 0;
  std::vector<float>& lp = penalized_;  // by id
  const size_t n = logits.size();
  lp.resize(n);
  for (size_t i = 0; i < n; ++i) lp[i] = clean(logits[i]);
  for (const auto& [id, bias] : params_.logit_bias) {
    if (id >= 0 && static_cast<size_t>(id) < n) lp[static_cast<size_t>(id)] += bias;
  }
  apply_penalties(lp);
  if (allowed != nullptr) {
    for (size_t i = 0; i < n; ++i) {
      if ((allowed[i >> 5] & (1u << (i & 31))) == 0) lp[i] = -std::numeric_limits<float>::infinity();
    }
  }
  size_t top = 0;  // the best: the highest logit, the lowest id on ties
  float best = lp[0];
  for (size_t i = 1; i < n; ++i) {
    if (lp[i] > best) {
      best = lp[i];
      top = i;
    }
  }
  if (params_.temperature <= 0.0f || !std::isfinite(lp[top])) return static_cast<int32_t>(top);
  const float mx = lp[top];

  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  auto candidate = [&](size_t i) { return Candidate{static_cast<int32_t>(i), lp[i]}; };
  // The kept candidates: every one not worse than `last` (all of them while
  // there is none) and at or above `floor`.
  std::optional<Candidate> last;
  float floor = -std::numeric_limits<float>::infinity();
  auto kept = [&](size_t i) {
    return lp[i] > -std::numeric_limits<float>::infinity() && lp[i] >= floor &&
           (!last || !by_logit(*last, candidate(i)));
  };

  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    std::vector<Candidate>& c = scratch_;
    c.resize(n);
    for (size_t i = 0; i < n; ++i) c[i] = candidate(i);
    const auto kth = c.begin() + (params_.top_k - 1);
    std::nth_element(c.begin(), kth, c.end(), by_logit);
    last = *kth;
  }

  // Walks the kept candidates in order, adding each weight to a running sum
  // until done(sum, total) holds; returns that candidate, or the last one.
  std::vector<float>& weight = weights_;
  std::vector<uint16_t>& bucket = buckets_;
  weight.resize(n);
  bucket.resize(n);
  auto walk = [&](float temp, auto done) -> Candidate {
    std::array<double, kBuckets + 1> mass{};
    double total = 0.0;
    int last_bucket = 0;  // the last one holding a kept candidate
    exp_weights(lp.data(), mx, temp, weight.data(), static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) {
      bucket[i] = kNotKept;
      if (!kept(i)) continue;
      const float w = weight[i];
      const int b = weight_bucket(w);
      bucket[i] = static_cast<uint16_t>(b);
      last_bucket = std::max(last_bucket, b);
      mass[static_cast<size_t>(b)] += w;
      total += w;
    }
    double sum = 0.0;
    int b = 0;
    while (b < last_bucket && !done(sum + mass[static_cast<size_t>(b)], total)) sum += mass[static_cast<size_t>(b++)];
    std::vector<Candidate>& c = scratch_;
    Candidate at = candidate(top);
    for (; b <= last_bucket; ++b) {  // the crossing bucket; the next ones only if rounding moved the crossing
      c.clear();
      for (size_t i = 0; i < n; ++i) {
        if (bucket[i] == b) c.push_back(candidate(i));
      }
      std::sort(c.begin(), c.end(), by_logit);
      for (const Candidate& x : c) {
        sum += weight[static_cast<size_t>(x.id)];
        at = x;
        if (done(sum, total)) return at;
      }
    }
    return at;
  };

  // top-p over the untempered distribution, as llama.cpp orders its chain.
  if (params_.top_p < 1.0f) {
    const double top_p = params_.top_p;
    last = walk(1.0f, [&](double sum, double total) { return sum >= top_p * total; });
  }
  // min-p: keep logits within log(min_p) of the best.
  if (params_.min_p > 0.0f) floor = mx + std::log(params_.min_p);

  const double r = uniform();
  return walk(params_.temperature, [&](double sum, double total) { return r * total < sum; }).id;
}

}  // namespace agentd::engine
