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
// Ownership: a Generator borrows the model, the tokenizer and the pool, which
// must outlive it. Thread-safety: generate() is const and may run on several
// threads at once with different caches.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
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
};

struct GeneratedStep {
  int32_t id = 0;
  float logprob = 0.0f;  // log softmax of the raw logits at this step
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

 private:
  bool is_eog(int32_t id) const;

  const Model& model_;
  const Tokenizer* tokenizer_;
  ThreadPool* pool_;
  int32_t fallback_eos_ = -1;
};

}  // namespace agentd::engine
