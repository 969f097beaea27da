#pragma once
// AgentRunner: the one run path every dialect uses (Nugen run, run-agent.ai
// invoke/stream, Roe run/async, OpenAI chat completions). Adapters translate
// their JSON into a RunRequest and a RunResult back; everything else happens
// here, for every endpoint alike, streamed or not:
//
//   rate limits (per key: requests/min, tokens/min, concurrent runs)
//   -> agent + version (by id or name; 404 unknown or inactive)
//   -> prompt: instructions (system; plus a request for JSON matching the
//      version's output schema), demonstrations (user/assistant pairs),
//      session history, context, the new message; oldest turns dropped when
//      the model's context would overflow (never instructions,
//      demonstrations or the new message)
//   -> credits: reserve the largest possible cost (prompt tokens + max_tokens
//      at the model's prices) before generating; 402 when the balance cannot
//      cover it; settle the real cost after (a failed run costs nothing)
//   -> generate on the agent's model backend, streaming chunks
//   -> record the run (tokens, cost, latency, outcome), the session turn,
//      the agent's usage, metrics.
//
// prepare() does every check that can refuse a run, so a streaming endpoint
// can answer an error with a proper status before it sends its headers;
// execute() generates. A PreparedRun that is dropped unexecuted releases its
// reservation and its concurrency slot.
//
// Thread-safety: AgentRunner is thread-safe; a PreparedRun belongs to one
// thread at a time. The runner borrows the Core's store, clock and the
// backend registry (they outlive it).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/auth.h"
#include "model/backend.h"
#include "store/records.h"

namespace agentd::core {

struct RunOverrides {
  std::optional<double> temperature;  // within the agent's limits (0..2)
  std::optional<int64_t> max_tokens;  // at most the agent's max_tokens
  std::optional<double> top_p;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  std::optional<double> frequency_penalty;  // -2..2 (OpenAI)
  std::optional<double> presence_penalty;   // -2..2 (OpenAI)
  std::vector<std::pair<int32_t, double>> logit_bias;  // token id -> -100..100 (OpenAI)
  // OpenAI function tools (the calls come back in RunResult::tool_calls).
  std::vector<model::ToolSpec> tools;
  model::ToolChoice tool_choice;
  bool parallel_tool_calls = true;
  bool logprobs = false;                    // OpenAI: return per-token logprobs
  int32_t top_logprobs = 0;                 // 0..20
  // OpenAI's response_format. kText (the default) leaves the version's own:
  // its output schema when it has one, enforced with every property
  // required (so a Roe run has one datum per property).
  model::OutputFormat format;
};

struct NamedContext {
  std::string name;  // listed in run-agent.ai `sources` when used
  std::string text;
};

struct RunRequest {
  Principal principal;
  // The agent: by id, or by normalized name (Nugen run-by-name, OpenAI model).
  std::string agent_id;
  std::string agent_name;
  std::string version_id;  // "" = the current version
  // The new user message. For OpenAI, `messages` holds the client's whole
  // conversation instead (it follows the agent's instructions and
  // demonstrations) and `message` is "".
  std::string message;
  std::vector<model::Message> messages;
  // OpenAI `completions`: with a model id (a model run) the model continues
  // this text as is, no chat template (kInvalidArgument for a backend that
  // cannot, ModelBackend::continues_text()); with an agent it is the new
  // message.
  std::string prompt;
  std::string context;                // free text joined to the prompt
  std::vector<NamedContext> named_context;
  RunOverrides overrides;
  std::string session_id;  // "" = no session
  // OpenAI `model`: when no active agent of the organization has agent_name,
  // run the catalog model with that id directly (a "model run": the client's
  // messages only, no instructions or demonstrations; see agent_runner.h).
  bool model_fallback = false;
  std::string request_id;
  std::string endpoint;  // e.g. "nugen.run", "runagent.invoke": for run records and metrics
};

// What the rate limiter says about a key, for X-RateLimit-* and Retry-After.
struct RateLimitInfo {
  int64_t limit = 0;         // requests per minute; 0 = unlimited (no headers)
  int64_t remaining = 0;
  int64_t reset_s = 0;       // seconds until the window frees a request
  int64_t retry_after_s = 0; // set when refused with kRateLimited
};

struct RunResult {
  std::string run_id;
  store::Agent agent;           // empty (id "") for a model run
  store::AgentVersion version;  // a model run: the synthesized config only
  std::string model_id;
  std::string text;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  store::Nanos cost = 0;
  double execution_s = 0;
  std::optional<double> confidence;  // geometric-mean token probability, when known
  std::vector<std::string> sources;  // names of named_context that went into the prompt
  int64_t truncated_turns = 0;       // session turns dropped to fit the context
  std::string finish_reason;         // "stop" | "length"
  std::vector<model::TokenLogprob> logprobs;  // when RunOverrides::logprobs
  std::vector<model::ToolCall> tool_calls;    // finish_reason "tool_calls"
  std::string session_id;
};

// Embeddings of texts by a catalog model (Nugen /api/v3/inference/embeddings,
// OpenAI /v1/embeddings). Accounted as a run of no agent: rate limits,
// credits (input tokens at the model's input price), a run record, metrics.
struct EmbedRequest {
  Principal principal;
  std::string model;  // a model id of the catalog
  std::vector<std::string> inputs;
  std::optional<int64_t> dimensions;
  std::string request_id;
  std::string endpoint;  // e.g. "nugen.embeddings": for run records and metrics
};

struct EmbedResult {
  std::string model_id;
  std::vector<std::vector<double>> vectors;  // one per input, in order
  int64_t input_tokens = 0;
  store::Nanos cost = 0;
};

class PreparedRun;

class AgentRunner {
 public:
  virtual ~AgentRunner() = default;

  // Every check that can refuse the run. Errors: kRateLimited (limits has
  // retry_after_s), kNotFound, kInvalidArgument (bad overrides, prompt longer
  // than the context), kInsufficientCredits, kUnavailable (engine queue full).
  // `limits` is filled in every case when the key has limits.
  virtual StatusOr<std::unique_ptr<PreparedRun>> prepare(const RunRequest& request, RateLimitInfo* limits) = 0;

  // Generates, streaming final text to on_chunk (may be empty), then settles
  // and records. A failure is recorded as a failed run and costs nothing; a
  // run cancelled by on_chunk is charged what it consumed and returns
  // kCancelled (agent_runner.h).
  virtual StatusOr<RunResult> execute(std::unique_ptr<PreparedRun> run, const model::ChunkCallback& on_chunk) = 0;

  // Errors: kRateLimited, kNotFound (no such model), kInvalidArgument (the
  // model cannot embed: the message names it; bad inputs),
  // kInsufficientCredits, the backend's failures (nothing charged).
  virtual StatusOr<EmbedResult> embed(const EmbedRequest& request, RateLimitInfo* limits) = 0;

  // prepare + execute.
  StatusOr<RunResult> run(const RunRequest& request, RateLimitInfo* limits, const model::ChunkCallback& on_chunk = {}) {
    auto prepared = prepare(request, limits);
    if (!prepared.is_ok()) return prepared.status();
    return execute(std::move(prepared).value(), on_chunk);
  }
};

// The state a prepared run carries to execute(): defined by the implementation.
class PreparedRun {
 public:
  virtual ~PreparedRun() = default;
  // The agent and version the run resolved to (for adapters that answer
  // before generating, e.g. the stream's `start` event).
  virtual const store::Agent& agent() const = 0;
  virtual const store::AgentVersion& version() const = 0;
  virtual int64_t prompt_tokens() const = 0;
};

}  // namespace agentd::core
