#pragma once
// The token loop: prompt ids -> forward -> sample -> feed back, until max
// tokens, an end-of-generation token, a stop string or a full context.
//
// Text is built from the tokenizer's pieces. A stop string is never emitted,
// even when it spans several tokens: text that could still be the start of a
// stop string (and an incomplete UTF-8 sequence) is held back until the next
// token decides it. The per-token callback receives only text that is final.
//
// A KvCache passed in may already hold an earlier turn: the longest common
// prefix with the new prompt is reused and only the rest is computed.
//
// Two ways to run: generate() runs one sequence to its end; start() returns a
// Decoding, the same loop one step at a time, so a scheduler can advance many
// sequences with one batched Model::forward (see Decoding).
//
// Ownership: a Generator borrows the model, the tokenizer and the pool, which
// must outlive it. Thread-safety: generate() and start() are const and may run
// on several threads at once with different caches.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/grammar/token_constraint.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/sampler.h"

namespace agentd::engine {

class Tokenizer;
class ThreadPool;

enum class FinishReason {
  kLength,            // max_tokens reached, or the context is full
  kStop,              // a stop string appeared
  kEndOfGeneration,   // the model produced EOS/EOT
  kCancelled,         // the callback asked to stop
};
std::string_view finish_reason_name(FinishReason r);  // "length", "stop", "eog", "cancelled"

struct GenerateOptions {
  int32_t max_tokens = 256;
  SamplingParams sampling;
  std::vector<std::string> stop;  // needs a tokenizer
  int32_t top_logits = 0;          // record this many (id, raw logit) pairs per step
  bool ignore_eos = false;         // keep going past end-of-generation tokens
  int32_t prefill_chunk = 512;     // prompt tokens per forward call
  // When set, every sampled token keeps the text a valid prefix of the
  // grammar, the text ends once the grammar is complete (finish kStop, no
  // end-of-generation token needed) and, within max_tokens, sampling steers
  // to a complete text (token_constraint.h). Needs a tokenizer whose
  // vocabulary the constraint was built from.
  std::shared_ptr<grammar::TokenConstraint> constraint;
};

struct GeneratedStep {
  int32_t id = 0;
  float logprob = 0.0f;  // log softmax of the raw logits at this step
  float log_z = 0.0f;    // the step's log partition: a raw logit minus log_z is its log-probability
  std::vector<std::pair<int32_t, float>> top;  // highest raw logits, when asked
};

struct GenerateResult {
  std::vector<GeneratedStep> steps;  // every sampled token, an end-of-generation one included
  std::string text;                  // the generated text, without any stop string and what follows
  FinishReason finish = FinishReason::kLength;
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // reused from the cache, not recomputed
};

// Receives each piece of final text (possibly empty for tokens that add no
// text yet) with the step that produced it; returning false cancels.
using StepCallback = std::function<bool(std::string_view text, const GeneratedStep& step)>;

class Generator;

// One sequence in generation, advanced by its owner:
//
//   while (!d.done()) {
//     auto in = d.next_input(limit);            // prompt chunk or last token
//     forward({cache, in}) -> logits row of in's last token
//     if (d.consumed(in.size())) d.accept(row, on_step);
//   }
//
// accept() samples, hands out final text and decides the end. The tokens and
// text are the same whether the forward() batch held this sequence alone or
// beside others, as long as forward() computes each row the same way.
//
// Ownership: borrows the Generator and the KvCache, which must outlive it.
// Thread-safety: none; one thread at a time.
class Decoding {
 public:
  Decoding(Decoding&&) = default;
  Decoding& operator=(Decoding&&) = default;

  // What the next forward() feeds for this sequence, at most `limit` (>= 1)
  // tokens: the rest of the prompt while prefilling, then the last sampled
  // token. Empty once done(). Valid until the next call on this object.
  std::span<const int32_t> next_input(size_t limit) const;
  // forward() appended the first n tokens of next_input() to the cache.
  // Returns true when the logits row of the last of them goes to accept().
  bool consumed(size_t n);
  // Samples the next token from `row` (n_vocab raw logits), hands its final
  // text to on_step (may be empty) and decides whether the sequence is done.
  void accept(std::span<const float> row, const StepCallback& on_step = {});

  bool done() const { return done_; }
  bool prefilling() const { return fed_ < prompt_.size(); }
  KvCache& cache() const { return *cache_; }
  const GenerateResult& result() const { return result_; }
  GenerateResult take_result() { return std::move(result_); }

 private:
  friend class Generator;
  Decoding(const Generator& generator, KvCache& cache, std::vector<int32_t> prompt, const GenerateOptions& options);
  bool emit(size_t n, const GeneratedStep& step, const StepCallback& on_step);
  void finish(FinishReason reason, const StepCallback& on_step);

  const Generator* generator_;
  KvCache* cache_;
  std::vector<int32_t> prompt_;
  GenerateOptions options_;
  Sampler sampler_;
  size_t fed_ = 0;          // prompt tokens in the cache
  GenerateResult result_;
  std::string pending_;     // text not yet handed out (may hold a stop string's start)
  bool done_ = false;
  int32_t grammar_state_ = grammar::TokenConstraint::kDead;  // with options_.constraint
  std::vector<uint32_t> allowed_;                           // the constraint's mask, this step
};

class Generator {
 public:
  // tokenizer may be nullptr: then there is no text, stop strings are
  // refused and end-of-generation is the file's tokenizer.ggml.eos_token_id.
  Generator(const Model& model, const Tokenizer* tokenizer, ThreadPool* pool);

  // Errors: an empty prompt, a prompt longer than the cache's context (the
  // message states both numbers), bad sampling parameters, stop strings
  // without a tokenizer, and forward() failures.
  StatusOr<GenerateResult> generate(KvCache& cache, std::span<const int32_t> prompt, const GenerateOptions& options,
                                    const StepCallback& on_step = {}) const;

  // Checks like generate(), keeps the cache's longest common prefix with the
  // prompt (at least the last prompt token is recomputed) and returns the
  // sequence ready for its first forward().
  StatusOr<Decoding> start(KvCache& cache, std::span<const int32_t> prompt, const GenerateOptions& options) const;

  const Model& model() const { return model_; }

 private:
  friend class Decoding;
  bool is_eog(int32_t id) const;

  const Model& model_;
  const Tokenizer* tokenizer_;
  ThreadPool* pool_;
  int32_t fallback_eos_ = -1;
};

}  // namespace agentd::engine
