#include "core/agent_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include <boost/json.hpp>

#include "common/ids.h"

namespace agentd::core {
namespace {

// A price in USD per million tokens as integer nano-USD per million tokens.
__int128 price_nanos_per_mtok(double usd_per_mtok) {
  if (!(usd_per_mtok > 0) || !std::isfinite(usd_per_mtok)) return 0;
  return static_cast<__int128>(std::llround(usd_per_mtok * 1e9));
}

class CorePreparedRun final : public PreparedRun {
 public:
  explicit CorePreparedRun(CoreAgentRunner& runner) : runner_(runner) {}
  ~CorePreparedRun() override {
    if (reserved > 0) runner_.refund(request.principal.org_id, reserved);
  }
  const store::Agent& agent() const override { return view.agent; }
  const store::AgentVersion& version() const override { return view.version; }
  int64_t prompt_tokens() const override { return prompt_tokens_; }

  RunRequest request;
  AgentView view;
  const model::ModelSpec* spec = nullptr;
  model::ModelBackend* backend = nullptr;
  std::vector<model::Message> messages;
  std::string raw_prompt;  // a prompt-completion run: messages is empty
  model::GenerationParams params;
  int64_t prompt_tokens_ = 0;
  int64_t truncated = 0;
  std::vector<std::string> sources;
  std::string rate_key;
  store::Nanos reserved = 0;  // still held; execute() takes it over
  RatePermit permit;

 private:
  CoreAgentRunner& runner_;
};


// The version's output schema as the format a run enforces: the schema with
// every declared property required (still valid against the original).
model::OutputFormat output_schema_format(const std::string& schema_json) {
  model::OutputFormat f;
  f.kind = model::OutputFormat::Kind::kJsonSchema;
  f.name = "output";
  f.schema = schema_json;
  boost::system::error_code ec;
  boost::json::value schema = boost::json::parse(schema_json, ec);
  if (ec || !schema.is_object()) return f;
  boost::json::object& o = schema.get_object();
  const boost::json::value* props = o.if_contains("properties");
  if (props == nullptr || !props->is_object()) return f;
  boost::json::array required;
  if (const boost::json::value* r = o.if_contains("required"); r != nullptr && r->is_array()) required = r->get_array();
  for (const auto& kv : props->get_object()) {
    const boost::json::value name(kv.key());
    if (std::find(required.begin(), required.end(), name) == required.end()) required.push_back(name);
  }
  o["required"] = std::move(required);
  f.schema = boost::json::serialize(schema);
  return f;
}

Status check_overrides(const RunOverrides& o, const store::AgentConfig& c, model::GenerationParams& params) {
  params.format = o.format;
  if (params.format.kind == model::OutputFormat::Kind::kText && !c.output_schema_json.empty()) {
    params.format = output_schema_format(c.output_schema_json);
  }
  params.temperature = c.temperature;
  params.max_tokens = c.max_tokens;
  params.top_p = c.top_p;
  if (o.temperature) {
    if (!std::isfinite(*o.temperature) || *o.temperature < 0 || *o.temperature > kMaxTemperature) {
      return Status::invalid_argument("temperature must be between 0 and 2");
    }
    params.temperature = *o.temperature;
  }
  if (o.max_tokens) {
    if (*o.max_tokens < 1) return Status::invalid_argument("max_tokens must be at least 1");
    if (*o.max_tokens > c.max_tokens) {
      return Status::invalid_argument("max_tokens must be at most the agent's max_tokens (" +
                                      std::to_string(c.max_tokens) + ")");
    }
    params.max_tokens = *o.max_tokens;
  }
  if (o.top_p) {
    if (!std::isfinite(*o.top_p) || *o.top_p <= 0 || *o.top_p > 1) {
      return Status::invalid_argument("top_p must be in (0, 1]");
    }
    params.top_p = *o.top_p;
  }
  params.seed = o.seed;
  params.stop = o.stop;
  params.frequency_penalty = o.frequency_penalty;
  params.presence_penalty = o.presence_penalty;
  params.logit_bias = o.logit_bias;
  params.logprobs = o.logprobs;
  params.tools = o.tools;
  params.tool_choice = o.tool_choice;
  params.parallel_tool_calls = o.parallel_tool_calls;
  params.top_logprobs = o.top_logprobs;
  return Status::ok();
}

// The chat prompt: head (system + demonstrations), history, new message,
// with the fewest oldest history messages dropped to fit the context.
Status fit_chat_prompt(CorePreparedRun& run, const RunRequest& request, store::Store& store) {
  const store::AgentConfig& config = run.view.version.config;
  const int64_t context = run.backend->context_tokens();
  std::vector<model::Message> head;
  std::string system = config.instructions;
  auto append_context = [&system](const std::string& text) {
    if (text.empty()) return;
    if (!system.empty()) system += "\n\n";
    system += text;
  };
  if (!config.output_schema_json.empty())
    append_context("Answer with one JSON object only, matching this JSON schema: " + config.output_schema_json);
  append_context(request.context);
  for (const NamedContext& c : request.named_context) {
    if (c.text.empty()) continue;
    append_context(c.name.empty() ? c.text : c.name + ":\n" + c.text);
    run.sources.push_back(c.name);
  }
  if (!system.empty()) head.push_back({"system", system});
  for (const store::Demonstration& d : config.demonstrations) {
    head.push_back({"user", d.input});
    head.push_back({"assistant", d.output});
  }
  std::vector<model::Message> history;
  model::Message next;
  if (!request.messages.empty()) {
    history.assign(request.messages.begin(), request.messages.end() - 1);
    next = request.messages.back();
  } else {
    // An agent asked through OpenAI completions: the prompt is its message.
    const std::string& message = request.message.empty() ? request.prompt : request.message;
    if (message.empty()) return Status::invalid_argument("the message is empty");
    next = {"user", message};
    if (!request.session_id.empty()) {
      AGENTD_ASSIGN_OR_RETURN(std::vector<store::SessionTurn> turns,
                              store.list_turns(request.principal.org_id, run.view.agent.id, request.session_id));
      for (store::SessionTurn& t : turns) history.push_back({t.role, std::move(t.content)});
    }
  }

  auto assemble = [&](size_t drop) {
    std::vector<model::Message> msgs = head;
    // Never start the kept history with an assistant message.
    while (drop < history.size() && drop > 0 && history[drop].role == "assistant") ++drop;
    msgs.insert(msgs.end(), history.begin() + static_cast<std::ptrdiff_t>(drop), history.end());
    msgs.push_back(next);
    return std::make_pair(std::move(msgs), drop);
  };
  // Smallest number of oldest history messages to drop so that prompt +
  // max_tokens fits: a binary search, since the count shrinks as more go.
  size_t lo = 0, hi = history.size();
  int64_t tokens_at_hi = -1;
  {
    auto [msgs, d] = assemble(0);
    AGENTD_ASSIGN_OR_RETURN(int64_t n, run.backend->count_prompt_tokens(msgs, run.params.tools));
    if (n + run.params.max_tokens <= context || history.empty()) {
      hi = 0;
      tokens_at_hi = n;
    }
  }
  if (hi > 0) {
    auto [msgs, d] = assemble(history.size());
    AGENTD_ASSIGN_OR_RETURN(tokens_at_hi, run.backend->count_prompt_tokens(msgs, run.params.tools));
    lo = 1;
    if (tokens_at_hi + run.params.max_tokens <= context) {
      while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        auto [m, dd] = assemble(mid);
        AGENTD_ASSIGN_OR_RETURN(int64_t n, run.backend->count_prompt_tokens(m, run.params.tools));
        if (n + run.params.max_tokens <= context) {
          hi = mid;
          tokens_at_hi = n;
        } else {
          lo = mid + 1;
        }
      }
    }
  }
  auto [final_msgs, dropped] = assemble(hi);
  run.messages = std::move(final_msgs);
  run.truncated = static_cast<int64_t>(dropped);
  run.prompt_tokens_ = tokens_at_hi;
  return Status::ok();
}

}  // namespace

store::Nanos run_cost_nanos(const model::ModelSpec& spec, int64_t input_tokens, int64_t output_tokens) {
  __int128 total = static_cast<__int128>(std::max<int64_t>(input_tokens, 0)) *
                       price_nanos_per_mtok(spec.price_input_per_mtok) +
                   static_cast<__int128>(std::max<int64_t>(output_tokens, 0)) *
                       price_nanos_per_mtok(spec.price_output_per_mtok);
  __int128 nanos = (total + 999999) / 1000000;  // round up
  constexpr __int128 kMax = std::numeric_limits<store::Nanos>::max();
  return static_cast<store::Nanos>(std::min(nanos, kMax));
}

void CoreAgentRunner::refund(const std::string& org_id, store::Nanos amount) {
  if (amount <= 0) return;
  // Best effort: a store that fails here has failed the run already.
  auto r = deps_.store.add_credits(org_id, amount);
  (void)r;
}

std::string CoreAgentRunner::limits_key(const Principal& p) {
  return !p.key_id.empty() ? p.key_id : "org:" + p.org_id;
}

void CoreAgentRunner::count_refusal(const char* reason) {
  deps_.metrics.counter("agentd_refusals_total", "Runs refused before generating, by reason", {{"reason", reason}})
      .inc();
}

StatusOr<std::unique_ptr<PreparedRun>> CoreAgentRunner::prepare(const RunRequest& request, RateLimitInfo* limits) {
  auto run = std::make_unique<CorePreparedRun>(*this);
  run->request = request;
  const Principal& who = request.principal;

  // Rate limits come first: a refused request costs no database work.
  run->rate_key = limits_key(who);
  RateLimits key_limits{who.rpm, who.tpm, who.concurrency};
  auto permit = deps_.limiter.acquire(run->rate_key, key_limits, limits);
  if (!permit.is_ok()) {
    count_refusal("rate_limit");
    return permit.status();
  }
  run->permit = std::move(permit).value();

  // The agent and the version, or for a model run the catalog model.
  StatusOr<AgentView> view = !request.agent_id.empty() ? deps_.agents.get(who.org_id, request.agent_id)
                                                       : deps_.agents.get_by_name(who.org_id, request.agent_name);
  const bool agent_found = view.is_ok() && view->agent.active;
  const bool model_run = !agent_found && request.model_fallback && request.agent_id.empty() &&
                         deps_.models.find(request.agent_name) != nullptr &&
                         (view.is_ok() || view.status().code() == StatusCode::kNotFound ||
                          view.status().code() == StatusCode::kInvalidArgument);
  if (model_run) {
    run->view.version.config.model = request.agent_name;
  } else {
    if (!view.is_ok()) {
      if (view.status().code() == StatusCode::kInvalidArgument) return Status::not_found("agent not found");
      return view.status();
    }
    run->view = std::move(view).value();
    if (!run->view.agent.active) return Status::not_found("agent " + run->view.agent.id + " is not active");
    if (!request.version_id.empty() && request.version_id != run->view.version.id) {
      AGENTD_ASSIGN_OR_RETURN(run->view.version,
                              deps_.agents.get_version(who.org_id, run->view.agent.id, request.version_id));
    }
  }
  store::AgentConfig& config = run->view.version.config;

  // The model.
  run->spec = deps_.models.find(config.model);
  if (run->spec == nullptr) return Status::unavailable("model '" + config.model + "' is not configured");
  run->backend = deps_.backends != nullptr ? deps_.backends->find(config.model) : nullptr;
  if (run->backend == nullptr) return Status::unavailable("model '" + config.model + "' has no backend here");
  if (model_run) {
    // OpenAI's defaults: temperature 1; without max_tokens the answer may
    // take the rest of the context (and the reservation covers that).
    config.temperature = 1.0;
    config.max_tokens = run->backend->context_tokens();
    config.conversation_saving = false;
  }

  AGENTD_RETURN_IF_ERROR(check_overrides(request.overrides, config, run->params));
  if (Status s = run->backend->check_output(run->params); !s.is_ok()) {
    return Status::invalid_argument(run->params.tools.empty() ? "output format: " + s.message() : s.message());
  }

  const int64_t context = run->backend->context_tokens();
  if (model_run && !request.prompt.empty()) {
    if (!run->backend->continues_text())
      return Status::invalid_argument("model '" + config.model +
                                      "' cannot continue a raw prompt (an upstream chat model); use chat completions");
    run->raw_prompt = request.prompt;
    AGENTD_ASSIGN_OR_RETURN(run->prompt_tokens_, run->backend->count_text_tokens(request.prompt));
  } else {
    AGENTD_RETURN_IF_ERROR(fit_chat_prompt(*run, request, deps_.store));
  }
  if (run->prompt_tokens_ >= context) {
    return Status::invalid_argument("the prompt takes " + std::to_string(run->prompt_tokens_) +
                                    " tokens but the model's context is " + std::to_string(context));
  }
  // Without history the prompt may still leave less than max_tokens: then
  // the run may generate only what is left.
  run->params.max_tokens = std::min(run->params.max_tokens, context - run->prompt_tokens_);

  // Credits: reserve the largest possible cost.
  store::Nanos reserve = run_cost_nanos(*run->spec, run->prompt_tokens_, run->params.max_tokens);
  if (reserve > 0) {
    auto debited = deps_.store.try_debit(who.org_id, reserve);
    if (!debited.is_ok()) {
      if (debited.status().code() == StatusCode::kInsufficientCredits) {
        count_refusal("credits");
        return Status::insufficient_credits("insufficient credits: this run may cost up to " +
                                            std::to_string(reserve) + " nano-USD");
      }
      return debited.status();
    }
    run->reserved = reserve;
  }
  return std::unique_ptr<PreparedRun>(std::move(run));
}

StatusOr<RunResult> CoreAgentRunner::execute(std::unique_ptr<PreparedRun> prepared,
                                             const model::ChunkCallback& on_chunk) {
  auto* run = dynamic_cast<CorePreparedRun*>(prepared.get());
  if (run == nullptr) return Status::internal("execute() was given a run this runner did not prepare");
  const RunRequest& req = run->request;
  const std::string& org_id = req.principal.org_id;

  model::GenerationRequest gen_req;
  gen_req.messages = run->messages;
  gen_req.prompt = run->raw_prompt;
  gen_req.params = run->params;
  gen_req.request_id = req.request_id;
  if (!req.session_id.empty()) gen_req.cache_key = org_id + "/" + run->view.agent.id + "/" + req.session_id;

  const auto started = std::chrono::steady_clock::now();
  StatusOr<model::Generation> gen = run->backend->generate(gen_req, on_chunk);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  store::Run record;
  record.id = new_uuid();
  record.org_id = org_id;
  record.agent_id = run->view.agent.id;
  record.version_id = run->view.version.id;
  record.session_id = req.session_id;
  record.request_id = req.request_id;
  record.endpoint = req.endpoint;
  record.model = run->spec->id;
  record.latency_ms = static_cast<int64_t>(std::llround(seconds * 1000));
  record.created_ms = deps_.clock.now_ms();

  const std::string endpoint = req.endpoint.empty() ? "unknown" : req.endpoint;
  deps_.metrics
      .histogram("agentd_run_duration_seconds", "Run latency by endpoint", latency_buckets_s(),
                 {{"endpoint", endpoint}})
      .observe(seconds);

  if (!gen.is_ok()) {
    // A failed run costs nothing: all of the reservation goes back.
    refund(org_id, std::exchange(run->reserved, 0));
    const bool cancelled = gen.status().code() == StatusCode::kCancelled;  // a backend with no counts
    record.input_tokens = run->prompt_tokens_;
    record.status = cancelled ? "cancelled" : "failed";
    record.error = gen.status().to_string();
    (void)deps_.store.record_run(record);
    deps_.metrics
        .counter("agentd_runs_total", "Runs by endpoint and outcome", {{"endpoint", endpoint}, {"outcome", record.status}})
        .inc();
    return gen.status();
  }

  const model::Generation& g = gen.value();
  // Cut short (the client went away, the job was cancelled): the model ran,
  // so what it consumed is charged and recorded like a finished run, but
  // the caller gets kCancelled and the session keeps no turn.
  const bool cancelled = g.finish_reason == "cancelled";
  // The reservation caps the charge, so the balance never goes below zero
  // even when an upstream counts more tokens than we estimated.
  store::Nanos cost = std::min(run_cost_nanos(*run->spec, g.prompt_tokens, g.completion_tokens), run->reserved);
  refund(org_id, std::exchange(run->reserved, 0) - cost);
  deps_.limiter.record_tokens(run->rate_key, g.prompt_tokens + g.completion_tokens);

  record.input_tokens = g.prompt_tokens;
  record.output_tokens = g.completion_tokens;
  record.cost = cost;
  record.status = cancelled ? "cancelled" : "ok";
  if (cancelled) record.error = "generation cancelled after " + std::to_string(g.completion_tokens) + " tokens";
  // The answer is already generated and paid for: a store failure while
  // recording must not turn it into an error.
  (void)deps_.store.record_run(record);
  if (!cancelled && !req.session_id.empty() && !req.message.empty() && run->view.version.config.conversation_saving) {
    std::vector<store::SessionTurn> turns = {
        store::SessionTurn{0, "user", req.message, 0, record.created_ms},
        store::SessionTurn{0, "assistant", g.text, g.completion_tokens, record.created_ms},
    };
    (void)deps_.store.append_turns(org_id, run->view.agent.id, req.session_id, turns, record.created_ms);
  }

  deps_.metrics
      .counter("agentd_runs_total", "Runs by endpoint and outcome", {{"endpoint", endpoint}, {"outcome", record.status}})
      .inc();
  deps_.metrics.counter("agentd_tokens_total", "Tokens by model and direction", {{"model", record.model}, {"direction", "in"}})
      .inc(static_cast<double>(g.prompt_tokens));
  deps_.metrics.counter("agentd_tokens_total", "Tokens by model and direction", {{"model", record.model}, {"direction", "out"}})
      .inc(static_cast<double>(g.completion_tokens));
  deps_.metrics.counter("agentd_run_cost_nanos_total", "Charged cost in nano-USD by model", {{"model", record.model}})
      .inc(static_cast<double>(cost));
  if (cancelled) return Status::cancelled("generation cancelled by the client");

  RunResult result;
  result.run_id = record.id;
  result.agent = run->view.agent;
  result.version = run->view.version;
  result.model_id = record.model;
  result.text = g.text;
  result.input_tokens = g.prompt_tokens;
  result.output_tokens = g.completion_tokens;
  result.cost = cost;
  result.execution_s = seconds;
  if (g.mean_logprob) result.confidence = std::exp(*g.mean_logprob);
  result.logprobs = std::move(g.logprobs);
  result.tool_calls = std::move(g.tool_calls);
  result.sources = run->sources;
  result.truncated_turns = run->truncated;
  result.finish_reason = g.finish_reason;
  result.session_id = req.session_id;
  return result;
}

}  // namespace agentd::core
