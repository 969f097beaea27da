#include "engine/generator.h"

#include <algorithm>

#include "engine/tokenizer.h"

namespace agentd::engine {

namespace {

// Length of the longest suffix of `text` that is a proper prefix of one of
// the stop strings: those bytes may still become a stop string.
size_t held_for_stop(std::string_view text, const std::vector<std::string>& stops) {
  size_t held = 0;
  for (const std::string& s : stops) {
    const size_t max_len = std::min(text.size(), s.size() - 1);
    for (size_t len = max_len; len > held; --len) {
      if (text.substr(text.size() - len) == std::string_view(s).substr(0, len)) {
        held = len;
        break;
      }
    }
  }
  return held;
}

// Bytes at the end of `text` that start a UTF-8 sequence not yet complete.
size_t incomplete_utf8_tail(std::string_view text) {
  const size_t n = text.size();
  for (size_t back = 1; back <= std::min<size_t>(n, 3); ++back) {
    const auto c = static_cast<unsigned char>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    size_t need = 1;
    if ((c & 0xE0) == 0xC0) need = 2;
    else if ((c & 0xF0) == 0xE0) need = 3;
    else if ((c & 0xF8) == 0xF0) need = 4;
    return need > back ? back : 0;
  }
  return 0;
}

}  // namespace

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kLength: return "length";
    case FinishReason::kStop: return "stop";
    case FinishReason::kEndOfGeneration: return "eog";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "unknown";
}

Generator::Generator(const Model& model, const Tokenizer* tokenizer, ThreadPool* pool)
    : model_(model), tokenizer_(tokenizer), pool_(pool) {
  if (auto eos = model.gguf().get_int("tokenizer.ggml.eos_token_id")) {
    if (*eos >= 0 && *eos < model.config().n_vocab) fallback_eos_ = static_cast<int32_t>(*eos);
  }
}

bool Generator::is_eog(int32_t id) const {
  if (tokenizer_ != nullptr) return tokenizer_->is_end_of_generation(id);
  return id == fallback_eos_;
}

StatusOr<GenerateResult> Generator::generate(KvCache& cache, std::span<const int32_t> prompt,
                                             const GenerateOptions& options, const StepCallback& on_step) const {
  if (prompt.empty()) return Status::invalid_argument("the prompt has no tokens");
  if (static_cast<int64_t>(prompt.size()) > cache.max_tokens()) {
    return Status::invalid_argument("the prompt has " + std::to_string(prompt.size()) +
                                    " tokens but the context holds only " + std::to_string(cache.max_tokens()));
  }
  if (options.max_tokens < 0) return Status::invalid_argument("max_tokens must not be negative");
  AGENTD_RETURN_IF_ERROR(validate_sampling(options.sampling));
  for (const std::string& s : options.stop) {
    if (s.empty()) return Status::invalid_argument("a stop string is empty");
  }
  if (!options.stop.empty() && tokenizer_ == nullptr) {
    return Status::invalid_argument("stop strings need a tokenizer");
  }
  const int64_t n_vocab = model_.config().n_vocab;

  GenerateResult result;
  result.prompt_tokens = static_cast<int64_t>(prompt.size());

  // Reuse the cached prefix; at least the last prompt token is recomputed so
  // there are logits to sample from.
  const std::vector<int32_t>& cached = cache.tokens();
  size_t common = 0;
  while (common < cached.size() && common < prompt.size() && cached[common] == prompt[common]) ++common;
  common = std::min(common, prompt.size() - 1);
  cache.truncate(static_cast<int64_t>(common));
  result.cached_prompt_tokens = static_cast<int64_t>(common);

  std::vector<float> logits;
  const size_t chunk = static_cast<size_t>(std::max(1, options.prefill_chunk));
  for (size_t at = common; at < prompt.size(); at += chunk) {
    const size_t n = std::min(chunk, prompt.size() - at);
    SequenceBatch sb{&cache, prompt.subspan(at, n), false};
    AGENTD_RETURN_IF_ERROR(model_.forward({&sb, 1}, logits, pool_));
  }

  Sampler sampler(options.sampling);
  for (int32_t id : prompt) sampler.accept(id);

  std::string pending;  // text not yet handed out (may hold a stop string's start)
  auto emit = [&](size_t n, const GeneratedStep& step) -> bool {
    const std::string_view out(pending.data(), n);
    result.text.append(out);
    const bool go_on = !on_step || on_step(out, step);
    pending.erase(0, n);
    return go_on;
  };

  result.finish = FinishReason::kLength;
  for (int32_t i = 0; i < options.max_tokens; ++i) {
    const std::span<const float> row(logits.data(), static_cast<size_t>(n_vocab));
    GeneratedStep step;
    if (options.top_logits > 0) step.top = top_logits(row, options.top_logits);
    step.id = sampler.sample(row);
    step.logprob = token_logprob(row, step.id);
    sampler.accept(step.id);
    result.steps.push_back(step);

    if (!options.ignore_eos && is_eog(step.id)) {
      result.finish = FinishReason::kEndOfGeneration;
      if (!emit(pending.size(), step)) result.finish = FinishReason::kCancelled;
      break;
    }
    if (tokenizer_ != nullptr) pending += tokenizer_->token_to_piece(step.id);
    // A stop string ends the text where it starts.
    size_t stop_at = std::string::npos;
    for (const std::string& s : options.stop) stop_at = std::min(stop_at, pending.find(s));
    if (stop_at != std::string::npos) {
      result.finish = FinishReason::kStop;
      pending.resize(stop_at);
      if (!emit(pending.size(), step)) result.finish = FinishReason::kCancelled;
      break;
    }
    const size_t hold = std::max(held_for_stop(pending, options.stop), incomplete_utf8_tail(pending));
    if (!emit(pending.size() - hold, step)) {
      result.finish = FinishReason::kCancelled;
      break;
    }
    if (i + 1 == options.max_tokens) break;
    if (cache.size() >= cache.max_tokens()) break;  // context full: kLength
    SequenceBatch sb{&cache, {&result.steps.back().id, 1}, false};
    AGENTD_RETURN_IF_ERROR(model_.forward({&sb, 1}, logits, pool_));
  }
  if (result.finish == FinishReason::kLength && !pending.empty()) {
    // Nothing more will come: what was held back is text after all.
    const GeneratedStep last = result.steps.empty() ? GeneratedStep{} : result.steps.back();
    result.text.append(pending);
    if (on_step) on_step(pending, last);
    pending.clear();
  }
  return result;
}

}  // namespace agentd::engine
