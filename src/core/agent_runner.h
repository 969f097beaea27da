#pragma once
// CoreAgentRunner: the AgentRunner of core/runner.h over the Store, the
// model backends, the rate limiter and the metrics registry.
//
// Prompt, in order: the agent's instructions (with, appended, a request for
// one JSON object matching the version's output schema when it has one, the
// request's context and its named context) as the system message; each demonstration as
// a user/assistant pair; the history (the session's stored turns, or for
// OpenAI the client's messages before its last); the new message. When
// prompt + max_tokens would exceed the model's context, the fewest oldest
// history messages are dropped (an assistant message left first is dropped
// with them, so the history still starts with a user turn); if even no
// history is too long, max_tokens shrinks to what is left, and a prompt
// that leaves nothing is kInvalidArgument.
//
// Model runs (RunRequest::model_fallback, OpenAI `model` = a catalog model
// id that no active agent of the organization is named): the client's
// messages alone, temperature 1 and max_tokens up to the rest of the context
// unless the request says otherwise, no session. Accounted as any run
// (rate limits, credits, metrics); the run record has agent_id "" and
// version_id "" and names the model, so it counts in the organization's
// usage but in no agent's.
//
// Money: cost = ceil((in * price_in + out * price_out) / 1e6 USD) in nanos.
// prepare() reserves the cost of prompt tokens + max_tokens with
// Store::try_debit; execute() gives back the difference to the real cost
// (which the reservation caps), or all of it when generation fails. A
// PreparedRun dropped unexecuted gives back all of it.
//
// Cancelled runs (on_chunk returned false: the client went away, the async
// job was cancelled) are charged what the model consumed: the backend's
// prompt tokens and the completion tokens generated until it stopped, at
// the same prices and cap; the tokens count for the rate limiter; the run is
// recorded with status "cancelled", its tokens and cost; no session turn is
// kept; execute() returns kCancelled. Other errors (upstream down or timed
// out, invalid argument) charge nothing, even when an upstream had streamed
// part of an answer: the client gets an error, not an answer, and the loss
// is bounded by the upstream timeout.
//
// Sessions: with a session id and the version's conversation_saving on, the
// new user message and the reply are appended as two turns after a
// successful run (user turn tokens = 0: its tokens are part of the prompt;
// assistant turn tokens = completion tokens).
//
// Embeddings (embedding_run.cpp): the model must be a catalog model whose
// backend embeds; the reservation is the inputs' estimated tokens at the
// input price, settled to the provider's count (capped by the reservation);
// the run is recorded with no agent, endpoint as given, output tokens 0.
//
// Metrics (in the registry given): agentd_runs_total{endpoint,outcome}
// (outcome: ok, failed, cancelled),
// agentd_tokens_total{model,direction}, agentd_run_cost_nanos_total{model},
// agentd_run_duration_seconds{endpoint}, agentd_refusals_total{reason}
// (reason: rate_limit, credits).
//
// Thread-safety: thread-safe; borrows everything in RunnerDeps.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "core/agents.h"
#include "core/rate_limiter.h"
#include "core/runner.h"
#include "model/backend.h"
#include "model/catalog.h"
#include "store/store.h"

namespace agentd::core {

struct RunnerDeps {
  store::Store& store;
  const model::ModelCatalog& models;
  AgentService& agents;
  model::BackendRegistry* backends;  // null: every run is kUnavailable
  const Clock& clock;
  RateLimiter& limiter;
  MetricsRegistry& metrics;
};

// Nano-dollars for a run's tokens at a model's prices, rounded up.
store::Nanos run_cost_nanos(const model::ModelSpec& spec, int64_t input_tokens, int64_t output_tokens);

class CoreAgentRunner final : public AgentRunner {
 public:
  explicit CoreAgentRunner(RunnerDeps deps) : deps_(deps) {}

  StatusOr<std::unique_ptr<PreparedRun>> prepare(const RunRequest& request, RateLimitInfo* limits) override;
  StatusOr<RunResult> execute(std::unique_ptr<PreparedRun> run, const model::ChunkCallback& on_chunk) override;
  // embedding_run.cpp
  StatusOr<EmbedResult> embed(const EmbedRequest& request, RateLimitInfo* limits) override;

  // Gives a reservation back (a dropped PreparedRun calls this).
  void refund(const std::string& org_id, store::Nanos amount);

 private:
  void count_refusal(const char* reason);
  // The rate limiter's key for a principal: its API key, else its organization.
  static std::string limits_key(const Principal& p);

  RunnerDeps deps_;
};

}  // namespace agentd::core
