#include "engine/generator.h"

#include <algorithm>

#include "engine/tokenizer/tokenizer.h"

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

StatusOr<Decoding> Generator::start(KvCache& cache, std::span<const int32_t> prompt,
                                    const GenerateOptions& options) const {
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
  if (options.constraint != nullptr &&
      (tokenizer_ == nullptr || options.constraint->vocabulary().size() != tokenizer_->n_vocab())) {
    return Status::invalid_argument("a grammar needs the vocabulary of the model's tokenizer");
  }
  return Decoding(*this, cache, std::vector<int32_t>(prompt.begin(), prompt.end()), options);
}

StatusOr<GenerateResult> Generator::generate(KvCache& cache, std::span<const int32_t> prompt,
                                             const GenerateOptions& options, const StepCallback& on_step) const {
  AGENTD_ASSIGN_OR_RETURN(Decoding d, start(cache, prompt, options));
  const size_t chunk = static_cast<size_t>(std::max(1, options.prefill_chunk));
  const auto n_vocab = static_cast<size_t>(model_.config().n_vocab);
  std::vector<float> logits;
  while (!d.done()) {
    const std::span<const int32_t> in = d.next_input(chunk);
    SequenceBatch sb{&cache, in, false};
    AGENTD_RETURN_IF_ERROR(model_.forward({&sb, 1}, logits, pool_));
    if (d.consumed(in.size())) d.accept({logits.data(), n_vocab}, on_step);
  }
  return d.take_result();
}

// ---------------------------------------------------------------- Decoding

Decoding::Decoding(const Generator& generator, KvCache& cache, std::vector<int32_t> prompt,
                   const GenerateOptions& options)
    : generator_(&generator), cache_(&cache), prompt_(std::move(prompt)), options_(options),
      sampler_(options.sampling) {
  result_.prompt_tokens = static_cast<int64_t>(prompt_.size());
  // Reuse the cached prefix; at least the last prompt token is recomputed so
  // there are logits to sample from.
  const int64_t common = reusable_prefix(cache.tokens(), prompt_);
  cache.truncate(common);
  cache.reserve(static_cast<int64_t>(prompt_.size()) + options.max_tokens);
  result_.cached_prompt_tokens = common;
  fed_ = static_cast<size_t>(common);
  for (int32_t id : prompt_) sampler_.accept(id);
  result_.finish = FinishReason::kLength;
  if (options_.constraint != nullptr) grammar_state_ = options_.constraint->start();
}

std::span<const int32_t> Decoding::next_input(size_t limit) const {
  if (done_) return {};
  if (prefilling()) return std::span<const int32_t>(prompt_).subspan(fed_, std::min(limit, prompt_.size() - fed_));
  return {&result_.steps.back().id, 1};
}

bool Decoding::consumed(size_t n) {
  if (!prefilling()) return true;  // the last sampled token
  fed_ += std::min(n, prompt_.size() - fed_);
  return !prefilling();
}

bool Decoding::emit(size_t n, const GeneratedStep& step, const StepCallback& on_step) {
  const std::string_view out(pending_.data(), n);
  result_.text.append(out);
  const bool go_on = !on_step || on_step(out, step);
  pending_.erase(0, n);
  return go_on;
}

void Decoding::finish(FinishReason reason, const StepCallback& on_step) {
  result_.finish = reason;
  done_ = true;
  if (reason == FinishReason::kLength && !pending_.empty()) {
    // Nothing more will come: what was held back is text after all.
    const GeneratedStep last = result_.steps.empty() ? GeneratedStep{} : result_.steps.back();
    result_.text.append(pending_);
    if (on_step) on_step(pending_, last);
    pending_.clear();
  }
}

void Decoding::accept(std::span<const float> row, const StepCallback& on_step) {
  if (done_) return;
  const Tokenizer* tokenizer = generator_->tokenizer_;
  if (static_cast<int64_t>(result_.steps.size()) >= options_.max_tokens) return finish(FinishReason::kLength, on_step);

  GeneratedStep step;
  if (options_.top_logits > 0) step.top = top_logits(row, options_.top_logits);
  grammar::TokenConstraint* constraint = options_.constraint.get();
  if (constraint != nullptr) {
    // Tokens this sequence may still sample: max_tokens, or the context.
    const int64_t left = std::min<int64_t>(options_.max_tokens - static_cast<int64_t>(result_.steps.size()),
                                           cache_->max_tokens() - cache_->size());
    if (constraint->allowed(grammar_state_, left, allowed_) == 0) return finish(FinishReason::kLength, on_step);
    step.id = sampler_.sample(row, allowed_.data());
    grammar_state_ = constraint->advance(grammar_state_, step.id);
    // Only a grammar too large for the automaton's state budget gets here.
    if (grammar_state_ == grammar::TokenConstraint::kDead) return finish(FinishReason::kLength, on_step);
  } else {
    step.id = sampler_.sample(row);
  }
  step.logprob = token_logprob(row, step.id);
  step.log_z = row[static_cast<size_t>(step.id)] - step.logprob;
  sampler_.accept(step.id);
  result_.steps.push_back(step);

  if (!options_.ignore_eos && generator_->is_eog(step.id)) {
    const bool go_on = emit(pending_.size(), step, on_step);
    return finish(go_on ? FinishReason::kEndOfGeneration : FinishReason::kCancelled, on_step);
  }
  if (tokenizer != nullptr) pending_ += tokenizer->token_to_piece(step.id);
  // A stop string ends the text where it starts.
  size_t stop_at = std::string::npos;
  for (const std::string& s : options_.stop) stop_at = std::min(stop_at, pending_.find(s));
  if (stop_at != std::string::npos) {
    pending_.resize(stop_at);
    const bool go_on = emit(pending_.size(), step, on_step);
    return finish(go_on ? FinishReason::kStop : FinishReason::kCancelled, on_step);
  }
  if (constraint != nullptr && constraint->closed(grammar_state_)) {
    // The grammar is complete and nothing can follow: the answer is whole.
    const bool go_on = emit(pending_.size(), step, on_step);
    return finish(go_on ? FinishReason::kStop : FinishReason::kCancelled, on_step);
  }
  const size_t hold = std::max(held_for_stop(pending_, options_.stop), incomplete_utf8_tail(pending_));
  if (!emit(pending_.size() - hold, step, on_step)) return finish(FinishReason::kCancelled, on_step);
  if (static_cast<int64_t>(result_.steps.size()) >= options_.max_tokens) return finish(FinishReason::kLength, on_step);
  if (cache_->size() >= cache_->max_tokens()) return finish(FinishReason::kLength, on_step);  // context full
}

}  // namespace agentd::engine
