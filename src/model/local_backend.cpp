#include "model/local_backend.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <random>
#include <span>
#include <sstream>
#include <utility>

#include "common/utf8.h"
#include "engine/generator.h"
#include "model/tool_calls.h"

namespace agentd::model {

StatusOr<std::unique_ptr<LocalBackend>> LocalBackend::create(const ModelSpec& spec) {
  auto named = [&](const Status& s) {
    const std::string& m = s.message();
    if (m.find(spec.path) != std::string::npos) return Status(s.code(), "model '" + spec.id + "': " + m);
    return Status(s.code(), "model '" + spec.id + "' (" + spec.path + "): " + m);
  };
  if (spec.parallel < 1) return Status::invalid_argument("model '" + spec.id + "': parallel must be at least 1");
  if (spec.queue_depth < 0) return Status::invalid_argument("model '" + spec.id + "': queue_depth must be >= 0");
  if (spec.context < 1) return Status::invalid_argument("model '" + spec.id + "': context must be at least 1");

  auto model = engine::Model::load(spec.path);
  if (!model.is_ok()) return named(model.status());
  auto tokenizer = engine::Tokenizer::from_gguf((*model)->gguf());
  if (!tokenizer.is_ok()) return named(tokenizer.status());

  bool own = false;
  std::vector<std::string> warnings;
  std::optional<engine::ChatTemplate> tmpl;
  if (!spec.chat_template_file.empty()) {
    // The operator's template wins over the file's (llama-server's --chat-template-file).
    std::ifstream in(spec.chat_template_file, std::ios::binary);
    if (!in) return Status::not_found("model '" + spec.id + "': cannot read chat_template_file " + spec.chat_template_file);
    std::ostringstream text;
    text << in.rdbuf();
    auto parsed = engine::ChatTemplate::parse(text.str());
    if (!parsed.is_ok()) {
      return Status::invalid_argument("model '" + spec.id + "': chat_template_file " + spec.chat_template_file + ": " +
                                      parsed.status().message());
    }
    tmpl = std::move(parsed).value();
    own = true;
  } else if (auto source = (*model)->gguf().get_string("tokenizer.chat_template")) {
    auto parsed = engine::ChatTemplate::parse(*source);
    if (parsed.is_ok()) {
      tmpl = std::move(parsed).value();
      own = true;
    } else {
      warnings.push_back("model '" + spec.id + "' (" + spec.path + "): tokenizer.chat_template does not parse (" +
                         parsed.status().message() + "); using ChatML");
    }
  } else {
    warnings.push_back("model '" + spec.id + "' (" + spec.path + "): no tokenizer.chat_template; using ChatML");
  }
  if (!tmpl) {
    auto chatml = engine::ChatTemplate::parse(engine::ChatTemplate::chatml_source());
    if (!chatml.is_ok()) return named(chatml.status());
    tmpl = std::move(chatml).value();
  }
  std::unique_ptr<LocalBackend> backend(
      new LocalBackend(spec, std::move(model).value(), std::move(tokenizer).value(), std::move(*tmpl), own));
  warnings.insert(warnings.end(), backend->warnings_.begin(), backend->warnings_.end());
  backend->warnings_ = std::move(warnings);
  return backend;
}

LocalBackend::LocalBackend(ModelSpec spec, std::unique_ptr<engine::Model> model,
                           std::unique_ptr<engine::Tokenizer> tokenizer, engine::ChatTemplate chat_template,
                           bool own_template)
    : spec_(std::move(spec)),
      model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      template_(std::move(chat_template)),
      own_template_(own_template),
      reasoning_(template_.source().find("<think>") != std::string::npos),
      caches_(spec_.cache_bytes),
      template_tools_(tool_syntax_of(template_.source())) {
  // The engine's caches stop at the trained context: the smaller one rules.
  context_ = spec_.context;
  const int64_t trained = model_->config().n_ctx_train;
  if (trained > 0 && trained < context_) {
    warnings_.push_back("model '" + spec_.id + "' (" + spec_.path + "): context " + std::to_string(spec_.context) +
                        " is beyond the trained context; using " + std::to_string(trained));
    context_ = trained;
  }
  if (tokenizer_->bos_id() >= 0) bos_text_ = tokenizer_->token_text(tokenizer_->bos_id());
  if (tokenizer_->eos_id() >= 0) eos_text_ = tokenizer_->token_text(tokenizer_->eos_id());
  const int threads =
      spec_.threads > 0 ? spec_.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  pool_ = std::make_unique<engine::ThreadPool>(threads);
  generator_ = std::make_unique<engine::Generator>(*model_, tokenizer_.get(), pool_.get());
  constraints_ = std::make_unique<OutputConstraints>(engine::grammar::TokenVocabulary::from_tokenizer(*tokenizer_),
                                                     template_tools_.value_or(ToolSyntax::kHermes));
  engine_thread_ = std::thread([this] { engine_loop(); });
}

LocalBackend::~LocalBackend() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (Job* job : waiting_) {
      job->result = Status::unavailable("model '" + spec_.id + "' is shutting down");
      job->finished = true;
      job->cv.notify_all();
    }
    waiting_.clear();
  }
  work_cv_.notify_all();
  engine_thread_.join();
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] { return in_flight_ == 0; });
}

void LocalBackend::set_metrics(MetricsRegistry* registry) {
  Metrics m;
  if (registry != nullptr) {
    const MetricLabels model{{"model", spec_.id}};
    m.hits = &registry->counter("agentd_kv_cache_hits_total",
                                "Turns with a cache key that found a kept KV cache with a reusable prefix", model);
    m.misses = &registry->counter("agentd_kv_cache_misses_total",
                                  "Turns with a cache key that found no reusable kept KV cache", model);
    m.reused_tokens = &registry->counter("agentd_kv_cache_reused_tokens_total",
                                         "Prompt tokens taken from kept KV caches instead of being computed", model);
    m.prefix_hits = &registry->counter("agentd_kv_cache_prefix_hits_total",
                                       "Requests that started from a prompt prefix copied from another cache", model);
    m.cache_bytes = &registry->gauge("agentd_kv_cache_bytes", "Bytes held by kept KV caches", model);
    m.running = &registry->gauge("agentd_engine_running_sequences", "Sequences in the engine's batch", model);
    m.queued = &registry->gauge("agentd_engine_queued_requests",
                                "Requests waiting for a free sequence, not yet admitted", model);
    static const std::vector<double> kTokenBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
    m.batch_tokens = &registry->histogram("agentd_engine_batch_tokens", "Tokens fed per batched forward step",
                                          kTokenBuckets, model);
    m.cache_bytes->set(static_cast<double>(caches_.bytes()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  metrics_ = m;
  if (metrics_.queued != nullptr) metrics_.queued->set(static_cast<double>(waiting_.size()));
}

int64_t LocalBackend::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(waiting_.size());
}

int64_t LocalBackend::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

StatusOr<std::vector<int32_t>> LocalBackend::tokenize_prompt(const std::vector<Message>& messages,
                                                             const std::vector<ToolSpec>& tools) const {
  namespace json = boost::json;
  auto parsed = [](const std::string& text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    return ec ? json::value(json::object{}) : v;
  };
  const bool has_tool_turns = std::any_of(messages.begin(), messages.end(), [](const Message& m) {
    return m.role == "tool" || !m.tool_calls.empty();
  });
  std::vector<engine::ChatMessage> chat;
  std::optional<json::array> tool_list;
  if (template_tools_ || (tools.empty() && !has_tool_turns)) {
    // The template's own way, with the fields Hugging Face passes.
    for (const auto& m : messages) {
      engine::ChatMessage c{m.role, m.content, {}};
      if (!m.tool_calls.empty()) {
        json::array calls;
        for (const ToolCall& call : m.tool_calls) {
          calls.push_back(json::object{{"id", call.id}, {"type", "function"},
                                       {"function", json::object{{"name", call.name},
                                                                 {"arguments", parsed(call.arguments)}}}});
        }
        c.extra["tool_calls"] = std::move(calls);
      }
      if (!m.tool_call_id.empty()) c.extra["tool_call_id"] = m.tool_call_id;
      chat.push_back(std::move(c));
    }
    if (!tools.empty()) {
      tool_list.emplace();
      for (const ToolSpec& t : tools) {
        tool_list->push_back(json::object{{"type", "function"},
                                          {"function", json::object{{"name", t.name}, {"description", t.description},
                                                                    {"parameters", parsed(t.parameters)}}}});
      }
    }
  } else {
    for (const Message& m : as_plain_messages(messages, tools.empty() ? std::string() : describe_tools(tools, true))) {
      chat.push_back({m.role, m.content, {}});
    }
  }
  auto text = template_.apply_with_system(chat, /*add_generation_prompt=*/true, bos_text_, eos_text_,
                                          tool_list ? &*tool_list : nullptr);
  if (!text.is_ok())
    return Status(text.status().code(), "model '" + spec_.id + "': chat template: " + text.status().message());
  std::vector<int32_t> ids = tokenizer_->encode(*text, /*add_special=*/false, /*parse_special=*/true);
  // One BOS: the template may already have written it (then it was parsed
  // into the BOS id above).
  const int32_t bos = tokenizer_->bos_id();
  if (tokenizer_->add_bos() && bos >= 0 && (ids.empty() || ids.front() != bos)) ids.insert(ids.begin(), bos);
  return ids;
}

std::vector<int32_t> LocalBackend::tokenize_text(std::string_view text) const {
  std::vector<int32_t> ids = tokenizer_->encode(text, /*add_special=*/false, /*parse_special=*/false);
  const int32_t bos = tokenizer_->bos_id();
  if (tokenizer_->add_bos() && bos >= 0) ids.insert(ids.begin(), bos);
  return ids;
}

StatusOr<int64_t> LocalBackend::count_text_tokens(std::string_view text) {
  return static_cast<int64_t>(tokenize_text(text).size());
}

StatusOr<int64_t> LocalBackend::count_prompt_tokens(const std::vector<Message>& messages,
                                                  const std::vector<ToolSpec>& tools) {
  AGENTD_ASSIGN_OR_RETURN(auto ids, tokenize_prompt(messages, tools));
  if (tools.empty()) counted_.put(messages, ids);
  return static_cast<int64_t>(ids.size());
}

Status LocalBackend::check_output(const GenerationParams& params) {
  for (const auto& [id, bias] : params.logit_bias) {
    if (id < 0 || id >= tokenizer_->n_vocab()) {
      return Status::invalid_argument("logit_bias: token " + std::to_string(id) + " is not in the vocabulary of model '" +
                                      spec_.id + "' (" + std::to_string(tokenizer_->n_vocab()) + " tokens)");
    }
  }
  return constraints_->get(params).status();
}

StatusOr<Generation> LocalBackend::generate(const GenerationRequest& request, const ChunkCallback& on_chunk) {
  const GenerationParams& p = request.params;
  if (p.max_tokens < 1) return Status::invalid_argument("max_tokens must be at least 1");
  AGENTD_ASSIGN_OR_RETURN(std::shared_ptr<engine::grammar::TokenConstraint> constraint, constraints_->get(p));
  const bool calls = !p.tools.empty() && p.tool_choice.kind != ToolChoice::Kind::kNone;
  std::vector<int32_t> prompt;
  if (!request.prompt.empty()) {
    prompt = tokenize_text(request.prompt);
  } else if (auto counted = p.tools.empty() ? counted_.take(request.messages) : std::nullopt) {
    prompt = std::move(*counted);
  } else {
    AGENTD_ASSIGN_OR_RETURN(prompt, tokenize_prompt(request.messages, p.tools));
  }
  const auto n_prompt = static_cast<int64_t>(prompt.size());
  // (max_tokens is compared alone first: the sum cannot overflow)
  if (p.max_tokens > context_ || n_prompt + p.max_tokens > context_) {
    return Status::invalid_argument("prompt (" + std::to_string(n_prompt) + " tokens) + max_tokens (" +
                                    std::to_string(p.max_tokens) + ") exceeds the context of model '" + spec_.id +
                                    "' (" + std::to_string(context_) + " tokens)");
  }

  Job job;
  job.request = &request;
  job.prompt = std::move(prompt);
  job.constraint = std::move(constraint);
  job.stream = static_cast<bool>(on_chunk);
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return Status::unavailable("model '" + spec_.id + "' is shutting down");
  const size_t capacity = static_cast<size_t>(spec_.parallel) + static_cast<size_t>(spec_.queue_depth);
  if (static_cast<size_t>(in_flight_) + waiting_.size() >= capacity) return Status::unavailable("engine queue full");
  waiting_.push_back(&job);
  if (metrics_.queued != nullptr) metrics_.queued->set(static_cast<double>(waiting_.size()));
  work_cv_.notify_one();
  bool cancelled = false;
  ThinkFilter think;  // reasoning models: the client sees the answer without <think>...</think>
  const ToolSyntax syntax = template_tools_.value_or(ToolSyntax::kHermes);
  ToolCallStream tool_stream(syntax);  // with tools: the client sees the text before the calls
  for (;;) {
    job.cv.wait(lock, [&] { return job.finished || !job.text.empty(); });
    if (job.text.empty()) break;  // finished, everything handed out
    std::string piece = valid_utf8(job.text);
    job.text.clear();
    if (cancelled) continue;
    if (reasoning_) piece = think.feed(piece);
    if (calls) piece = tool_stream.push(piece);
    if (piece.empty()) continue;
    lock.unlock();
    const bool go_on = on_chunk(piece);
    lock.lock();
    if (!go_on) {
      cancelled = true;
      job.cancel = true;
    }
  }
  if (job.admitted) {
    --in_flight_;
    work_cv_.notify_one();  // a slot is free
    if (in_flight_ == 0) idle_cv_.notify_all();
  }
  if (job.result.is_ok() && (reasoning_ || calls)) {
    std::string held;
    if (reasoning_) {
      job.result->text = ThinkFilter::strip(job.result->text);
      held = think.finish();
    }
    if (calls) {
      held = tool_stream.push(held) + tool_stream.finish();
      SplitAnswer split = split_tool_calls(job.result->text, syntax);
      job.result->text = std::move(split.content);
      job.result->tool_calls = std::move(split.calls);
      if (!job.result->tool_calls.empty() && job.result->finish_reason != "cancelled") {
        job.result->finish_reason = "tool_calls";
      }
    }
    if (!held.empty() && job.stream && !cancelled) {
      lock.unlock();
      on_chunk(held);
      lock.lock();
    }
  }
  // Cancelled: what the engine consumed until it saw the cancel (it may
  // have finished meanwhile: the client did not take all of that either).
  if (cancelled && job.result.is_ok()) job.result->finish_reason = "cancelled";
  return std::move(job.result);
}

void LocalBackend::engine_loop() {
  std::vector<Sequence> seqs;     // running, in admission order
  std::vector<Sequence> holding;  // admitted, waiting for a shared prefix (should_wait)
  std::vector<float> logits;
  for (;;) {
    std::vector<Sequence> admitted;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] {
        return stopping_ || !seqs.empty() || !holding.empty() || (!waiting_.empty() && in_flight_ < spec_.parallel);
      });
      if (stopping_ && seqs.empty() && holding.empty()) return;  // the destructor failed the waiting jobs
      admitted = std::exchange(holding, {});
      while (!stopping_ && !waiting_.empty() && in_flight_ < spec_.parallel) {
        Job* job = waiting_.front();
        waiting_.pop_front();
        job->admitted = true;
        ++in_flight_;
        admitted.push_back(Sequence{});
        admitted.back().job = job;
      }
      if (!admitted.empty() && metrics_.queued != nullptr)
        metrics_.queued->set(static_cast<double>(waiting_.size()));
      for (Sequence& s : seqs) s.cancelled = s.job->cancel;
    }
    StartCounts counts;
    std::vector<Sequence> failed;  // could not start: result already set
    for (Sequence& s : admitted) {
      if (should_wait(s, seqs)) holding.push_back(std::move(s));
      else if (start(s, seqs, counts)) seqs.push_back(std::move(s));
      else failed.push_back(std::move(s));
    }
    size_t fed = 0;
    if (std::any_of(seqs.begin(), seqs.end(), [](const Sequence& s) { return !s.cancelled; })) {
      fed = step(seqs, logits);
    }
    // Finished and cancelled sequences leave; their results are made (and
    // their caches kept) outside the lock.
    std::vector<Sequence> ended;
    std::vector<StatusOr<Generation>> results;
    for (auto it = seqs.begin(); it != seqs.end();) {
      if (it->cancelled || it->error || it->decoding->done()) {
        results.push_back(finish(*it));
        ended.push_back(std::move(*it));
        it = seqs.erase(it);
      } else {
        ++it;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (Sequence& s : seqs) {
      if (s.text.empty()) continue;
      s.job->text += s.text;
      s.text.clear();
      s.job->cv.notify_one();
    }
    for (size_t i = 0; i < ended.size(); ++i) {
      Job* job = ended[i].job;
      job->text += ended[i].text;
      job->result = std::move(results[i]);
      job->finished = true;
      job->cv.notify_one();
    }
    for (Sequence& s : failed) {
      s.job->finished = true;
      s.job->cv.notify_one();
    }
    if (metrics_.hits != nullptr) {
      metrics_.hits->inc(static_cast<double>(counts.hits));
      metrics_.misses->inc(static_cast<double>(counts.misses));
      metrics_.prefix_hits->inc(static_cast<double>(counts.prefix_hits));
      metrics_.reused_tokens->inc(static_cast<double>(counts.reused));
      metrics_.running->set(static_cast<double>(seqs.size()));
      if (fed > 0) metrics_.batch_tokens->observe(static_cast<double>(fed));
      if (!ended.empty()) metrics_.cache_bytes->set(static_cast<double>(caches_.bytes()));
    }
  }
}

bool LocalBackend::should_wait(const Sequence& seq, const std::vector<Sequence>& running) const {
  if (!spec_.share_prefixes) return false;
  const std::vector<int32_t>& prompt = seq.job->prompt;
  int64_t coming = 0;  // the longest prefix a running sequence has yet to commit
  for (const Sequence& r : running) {
    if (r.cancelled || r.error || !r.decoding->prefilling()) continue;
    const int64_t n = reusable_prefix(r.job->prompt, prompt);
    if (n > static_cast<int64_t>(r.cache->tokens().size())) coming = std::max(coming, n);
  }
  if (coming < kMinSharedToWait) return false;
  // Not when a kept cache (the session's own, or a donor) offers nearly as much
  // now; a running sequence's committed positions are compared in start().
  int64_t now = caches_.longest_prefix(prompt);
  for (const Sequence& r : running) now = std::max(now, reusable_prefix(r.cache->tokens(), prompt));
  return coming - now >= kMinSharedToWait;
}

bool LocalBackend::start(Sequence& seq, const std::vector<Sequence>& running, StartCounts& counts) {
  const GenerationRequest& request = *seq.job->request;
  const GenerationParams& p = request.params;
  engine::GenerateOptions options;
  options.max_tokens = static_cast<int32_t>(std::min<int64_t>(p.max_tokens, std::numeric_limits<int32_t>::max()));
  options.sampling.temperature = static_cast<float>(p.temperature);
  if (p.top_p) options.sampling.top_p = static_cast<float>(*p.top_p);
  options.sampling.seed = p.seed ? *p.seed : std::random_device{}();
  options.stop = p.stop;
  options.constraint = seq.job->constraint;
  if (p.logprobs) options.top_logits = p.top_logprobs;
  // OpenAI's penalties, as llama.cpp's server applies them (over the last 64 tokens).
  if (p.frequency_penalty) options.sampling.frequency_penalty = static_cast<float>(*p.frequency_penalty);
  if (p.presence_penalty) options.sampling.presence_penalty = static_cast<float>(*p.presence_penalty);
  for (const auto& [id, bias] : p.logit_bias) options.sampling.logit_bias.emplace_back(id, static_cast<float>(bias));

  if (!request.cache_key.empty()) seq.cache = caches_.take(request.cache_key);
  if (!seq.cache || seq.cache->max_tokens() < context_) seq.cache = model_->new_cache(context_);
  const std::vector<int32_t>& prompt = seq.job->prompt;
  const int64_t own = reusable_prefix(seq.cache->tokens(), prompt);
  if (!request.cache_key.empty()) ++(own > 0 ? counts.hits : counts.misses);
  // A longer prefix from a running sequence (only the engine thread touches
  // those caches, and no forward() runs now) or a kept cache.
  const engine::KvCache* from_running = nullptr;
  int64_t best = own;
  const std::span<const Sequence> donors = spec_.share_prefixes ? std::span<const Sequence>(running)
                                                                 : std::span<const Sequence>();
  for (const Sequence& r : donors) {
    const int64_t n = reusable_prefix(r.cache->tokens(), prompt);
    if (n > best) {
      best = n;
      from_running = r.cache.get();
    }
  }
  if (spec_.share_prefixes && caches_.copy_longest_prefix(prompt, best, *seq.cache) > 0) {
    ++counts.prefix_hits;
  } else if (from_running != nullptr) {
    seq.cache->assign_prefix(*from_running, best);
    ++counts.prefix_hits;
  }
  auto decoding = generator_->start(*seq.cache, seq.job->prompt, options);
  if (!decoding.is_ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    seq.job->result = Status(decoding.status().code(), "model '" + spec_.id + "': " + decoding.status().message());
    return false;
  }
  seq.decoding.emplace(std::move(decoding).value());
  counts.reused += seq.decoding->result().cached_prompt_tokens;
  return true;
}

size_t LocalBackend::step(std::vector<Sequence>& seqs, std::vector<float>& logits) {
  // Decode tokens first, then prompt chunks within the step's budget.
  std::vector<engine::SequenceBatch> batch;
  std::vector<Sequence*> order;
  size_t fed = 0;
  for (Sequence& s : seqs) {
    if (s.cancelled || s.decoding->prefilling()) continue;
    batch.push_back({s.cache.get(), s.decoding->next_input(1), false});
    order.push_back(&s);
    ++fed;
  }
  size_t budget = kPrefillTokensPerStep;
  for (Sequence& s : seqs) {
    if (s.cancelled || !s.decoding->prefilling() || budget == 0) continue;
    const std::span<const int32_t> in = s.decoding->next_input(budget);
    budget -= in.size();
    fed += in.size();
    batch.push_back({s.cache.get(), in, false});
    order.push_back(&s);
  }
  if (batch.empty()) return 0;
  Status st = model_->forward(batch, logits, pool_.get());
  if (!st.is_ok()) {
    // Not expected (inputs were checked at start): end every sequence fed.
    for (Sequence* s : order) s->error = Status(st.code(), "model '" + spec_.id + "': " + st.message());
    return 0;
  }
  const auto n_vocab = static_cast<size_t>(model_->config().n_vocab);
  for (size_t k = 0; k < order.size(); ++k) {
    Sequence& s = *order[k];
    if (!s.decoding->consumed(batch[k].tokens.size())) continue;
    const std::span<const float> row(logits.data() + k * n_vocab, n_vocab);
    if (s.job->stream) {
      s.decoding->accept(row, [&s](std::string_view text, const engine::GeneratedStep&) {
        s.text.append(text);
        return true;
      });
    } else {
      s.decoding->accept(row);
    }
  }
  return fed;
}

StatusOr<Generation> LocalBackend::finish(Sequence& seq) {
  const GenerationRequest& request = *seq.job->request;
  if (!request.cache_key.empty()) caches_.put(request.cache_key, std::move(seq.cache));
  else if (!seq.error && spec_.share_prefixes) caches_.put_donor(std::move(seq.cache));
  if (seq.error) return *seq.error;
  // A cancelled sequence reports what it consumed so far (backend.h).
  const engine::GenerateResult result = seq.decoding->take_result();

  Generation g;
  g.text = valid_utf8(result.text);
  g.prompt_tokens = result.prompt_tokens;
  g.cached_prompt_tokens = result.cached_prompt_tokens;
  if (seq.cancelled || result.finish == engine::FinishReason::kCancelled)
    g.finish_reason = "cancelled";
  else
    g.finish_reason = result.finish == engine::FinishReason::kLength ? "length" : "stop";
  double sum = 0.0;
  int64_t n = 0;
  for (const auto& step : result.steps) {
    if (tokenizer_->is_end_of_generation(step.id)) continue;
    sum += step.logprob;
    ++n;
    if (!request.params.logprobs) continue;
    TokenLogprob t{tokenizer_->token_to_piece(step.id), step.logprob, {}};
    for (const auto& [id, logit] : step.top) t.top.emplace_back(tokenizer_->token_to_piece(id), logit - step.log_z);
    g.logprobs.push_back(std::move(t));
  }
  g.completion_tokens = n;
  if (n > 0) g.mean_logprob = sum / static_cast<double>(n);
  return g;
}

}  // namespace agentd::model
