// CoreAgentRunner::embed: an embedding request, accounted as a run of no
// agent (agent_runner.h).

#include <chrono>
#include <cmath>
#include <utility>

#include "common/ids.h"
#include "core/agent_runner.h"

namespace agentd::core {

namespace {
constexpr size_t kMaxEmbeddingInputs = 2048;  // OpenAI's own limit per request
}  // namespace

StatusOr<EmbedResult> CoreAgentRunner::embed(const EmbedRequest& request, RateLimitInfo* limits) {
  if (request.inputs.empty()) return Status::invalid_argument("input must hold at least one text");
  if (request.inputs.size() > kMaxEmbeddingInputs)
    return Status::invalid_argument("input holds more than " + std::to_string(kMaxEmbeddingInputs) + " texts");
  if (request.dimensions && *request.dimensions < 1) return Status::invalid_argument("dimensions must be at least 1");
  const Principal& who = request.principal;
  const std::string rate_key = limits_key(who);
  auto permit = deps_.limiter.acquire(rate_key, RateLimits{who.rpm, who.tpm, who.concurrency}, limits);
  if (!permit.is_ok()) {
    count_refusal("rate_limit");
    return permit.status();
  }

  const model::ModelSpec* spec = deps_.models.find(request.model);
  if (spec == nullptr) return Status::not_found("model '" + request.model + "' not found");
  model::ModelBackend* backend = deps_.backends != nullptr ? deps_.backends->find(spec->id) : nullptr;
  if (backend == nullptr) return Status::unavailable("model '" + spec->id + "' has no backend here");
  if (!backend->embeds())
    return Status::invalid_argument("model '" + spec->id +
                                    "' cannot embed text (it is a chat model); name a model served by an upstream "
                                    "with an embeddings endpoint");

  int64_t estimate = 0;
  for (const std::string& text : request.inputs) {
    AGENTD_ASSIGN_OR_RETURN(int64_t n, backend->count_text_tokens(text));
    estimate += n;
  }
  const store::Nanos reserve = run_cost_nanos(*spec, estimate, 0);
  if (reserve > 0) {
    auto debited = deps_.store.try_debit(who.org_id, reserve);
    if (!debited.is_ok()) {
      if (debited.status().code() != StatusCode::kInsufficientCredits) return debited.status();
      count_refusal("credits");
      return Status::insufficient_credits("insufficient credits: these embeddings may cost up to " +
                                          std::to_string(reserve) + " nano-USD");
    }
  }

  model::EmbeddingRequest er{request.inputs, request.dimensions, request.request_id};
  const auto started = std::chrono::steady_clock::now();
  StatusOr<model::Embeddings> out = backend->embed(er);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  store::Run record;
  record.id = new_uuid();
  record.org_id = who.org_id;
  record.request_id = request.request_id;
  record.endpoint = request.endpoint;
  record.model = spec->id;
  record.latency_ms = static_cast<int64_t>(std::llround(seconds * 1000));
  record.created_ms = deps_.clock.now_ms();
  const std::string endpoint = request.endpoint.empty() ? "unknown" : request.endpoint;
  auto count_run = [&](const char* outcome) {
    deps_.metrics
        .counter("agentd_runs_total", "Runs by endpoint and outcome", {{"endpoint", endpoint}, {"outcome", outcome}})
        .inc();
  };
  if (!out.is_ok()) {
    refund(who.org_id, reserve);  // a failed request costs nothing
    record.input_tokens = estimate;
    record.status = "failed";
    record.error = out.status().to_string();
    (void)deps_.store.record_run(record);
    count_run("failed");
    return out.status();
  }
  if (out->vectors.size() != request.inputs.size()) {
    refund(who.org_id, reserve);
    return Status::internal("model '" + spec->id + "' answered " + std::to_string(out->vectors.size()) +
                            " embeddings for " + std::to_string(request.inputs.size()) + " inputs");
  }
  const int64_t tokens = out->prompt_tokens > 0 ? out->prompt_tokens : estimate;
  const store::Nanos cost = std::min(run_cost_nanos(*spec, tokens, 0), reserve);
  refund(who.org_id, reserve - cost);
  deps_.limiter.record_tokens(rate_key, tokens);
  record.input_tokens = tokens;
  record.cost = cost;
  record.status = "ok";
  (void)deps_.store.record_run(record);  // paid for: a store failure here is not the client's
  count_run("ok");
  deps_.metrics.counter("agentd_tokens_total", "Tokens by model and direction", {{"model", spec->id}, {"direction", "in"}})
      .inc(static_cast<double>(tokens));
  deps_.metrics.counter("agentd_run_cost_nanos_total", "Charged cost in nano-USD by model", {{"model", spec->id}})
      .inc(static_cast<double>(cost));

  EmbedResult result;
  result.model_id = spec->id;
  result.vectors = std::move(out->vectors);
  result.input_tokens = tokens;
  result.cost = cost;
  return result;
}

}  // namespace agentd::core
