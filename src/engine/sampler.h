#pragma once
// Picks the next token from a row of logits. The chain is llama.cpp's:
//   penalties (repetition, frequency, presence over the last N accepted tokens)
//   -> top-k -> top-p -> min-p -> temperature -> draw with a seeded generator.
// temperature <= 0 is greedy: the highest penalized logit (the first on ties).
// The generator is our own (mt19937_64 bits mapped to [0, 1) by hand) and the
// softmax weights are exp_weights (activation.h: the same bits on every
// instruction set), summed in a fixed order, so the same seed gives the same
// tokens on every platform.
//
// Thread-safety: a Sampler is used by one sequence at a time (it holds the
// random state and the penalty history). The free functions are thread-safe.

#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"

namespace agentd::engine {

struct SamplingParams {
  float temperature = 0.0f;     // <= 0: greedy
  int32_t top_k = 0;            // <= 0: off
  float top_p = 1.0f;           // >= 1: off
  float min_p = 0.0f;           // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off; logits > 0 divided, < 0 multiplied
  int32_t penalty_last_n = 64;  // window of accepted tokens the penalties look at
  float frequency_penalty = 0.0f;  // minus count * this
  float presence_penalty = 0.0f;   // minus this when the token occurs at all
  // Added to a token's logit before anything else (OpenAI's logit_bias,
  // -100..100; -100 all but bans a token); ids outside the row are ignored.
  std::vector<std::pair<int32_t, float>> logit_bias;
  uint64_t seed = 0;
};

// InvalidArgument naming the first out-of-range field (NaN, negative
// temperature, top_p outside (0, 1], ...).
Status validate_sampling(const SamplingParams& p);

// The k highest (id, logit) pairs, highest first; ties keep the lower id
// first; NaN logits are skipped.
std::vector<std::pair<int32_t, float>> top_logits(std::span<const float> logits, int k);

// log softmax(logits)[id]: the model's log-probability of `id` before any
// sampling transformation.
float token_logprob(std::span<const float> logits, int32_t id);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  const SamplingParams& params() const { return params_; }

  // Chooses a token id in [0, logits.size()). Does not record it: call accept().
  // `allowed`, when given, is a bitset over the ids (bit i of word i / 32):
  // the others are never chosen (a grammar's mask, grammar/token_constraint.h).
  // The chain then runs over the allowed tokens only, as if the others had
  // logit -inf.
  int32_t sample(std::span<const float> logits, const uint32_t* allowed = nullptr);
  // Adds a token (prompt or generated) to the penalty history.
  void accept(int32_t id);
  void reset();

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  void apply_penalties(std::vector<float>& logits) const;  // logits by id
  double uniform();  // [0, 1)

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::deque<int32_t> history_;                 // last penalty_last_n accepted ids
  std::unordered_map<int32_t, int32_t> counts_;  // occurrences in history_
  // Scratch of sample(), by id: the logits with penalties applied, each
  // candidate's weight and bucket in the current walk; candidates in order.
  std::vector<float> penalized_;
  std::vector<float> weights_;
  std::vector<uint16_t> buckets_;
  std::vector<Candidate> scratch_;
};

}  // namespace agentd::engine
