#pragma once
// ModelBackend: how the core runs a model, wherever it runs. Two kinds:
// the local engine (a GGUF file in this process; local_backend.h) and an
// OpenAI-compatible upstream provider over HTTP (openai_backend.h). The core
// never sees tokens, templates or HTTP: it hands over chat messages and
// parameters and gets text and counts back.
//
// Thread-safety: every method may be called from any number of threads at
// once; a backend queues or batches work as it needs.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "model/catalog.h"

namespace agentd::model {

// A call of a function tool, as the model asked for it.
struct ToolCall {
  std::string id;         // "call_..." (unique within the run)
  std::string name;
  std::string arguments;  // a JSON object, as text
  bool operator==(const ToolCall&) const = default;
};

struct Message {
  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
  std::vector<ToolCall> tool_calls{};  // an assistant's calls (content may be empty)
  std::string tool_call_id{};          // a "tool" message: the call it answers
  bool operator==(const Message&) const = default;
};

// A function the model may call (OpenAI `tools`, type function).
struct ToolSpec {
  std::string name;
  std::string description;
  std::string parameters;  // a JSON Schema object, as text ("{}" when none was given)
  bool operator==(const ToolSpec&) const = default;
};

// OpenAI `tool_choice`: the model decides (auto), may not call (none), must
// call some tool (required) or the named one.
struct ToolChoice {
  enum class Kind { kAuto, kNone, kRequired, kNamed };
  Kind kind = Kind::kAuto;
  std::string name;  // kNamed
  bool operator==(const ToolChoice&) const = default;
};

// What the answer must be (OpenAI's response_format; Roe's output_schema;
// llama-server's GBNF `grammar`). A local model enforces it token by token
// with a grammar (engine/grammar); an upstream provider is asked for JSON
// (a GBNF grammar only runs locally).
struct OutputFormat {
  enum class Kind { kText, kJsonObject, kJsonSchema, kGrammar };
  Kind kind = Kind::kText;
  std::string schema;  // kJsonSchema: the JSON Schema, as JSON text; kGrammar: the GBNF text
  std::string name;    // OpenAI's json_schema.name (for upstreams)
  bool strict = false;  // OpenAI's json_schema.strict (for upstreams)
  bool operator==(const OutputFormat&) const = default;
};

// One generated token's log-probability (OpenAI's logprobs.content[]).
struct TokenLogprob {
  std::string token;  // its bytes (a piece of a UTF-8 character, possibly)
  double logprob = 0.0;
  std::vector<std::pair<std::string, double>> top;  // most likely tokens at that step, best first
  bool operator==(const TokenLogprob&) const = default;
};

struct GenerationParams {
  int64_t max_tokens = 256;
  double temperature = 0.7;
  std::optional<double> top_p;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;  // never part of the text returned
  std::optional<double> frequency_penalty;  // OpenAI's, -2..2
  std::optional<double> presence_penalty;
  std::vector<std::pair<int32_t, double>> logit_bias;  // OpenAI's: token id -> -100..100
  // Tools the model may call; the calls come back in Generation::tool_calls.
  std::vector<ToolSpec> tools;
  ToolChoice tool_choice;
  bool parallel_tool_calls = true;  // false: at most one call
  bool logprobs = false;     // fill Generation::logprobs
  int32_t top_logprobs = 0;  // and this many alternatives per token (0..20)
  OutputFormat format;
};

struct GenerationRequest {
  std::vector<Message> messages;
  // A prompt-completion run (OpenAI `completions`): when set, `messages` is
  // empty and the model continues this text as is, without a chat template
  // (see ModelBackend::continues_text()).
  std::string prompt;
  GenerationParams params;
  // Identity of the conversation (organization, agent, session) when there is
  // one: a local backend keeps that sequence's KV cache between turns so the
  // next turn only processes its new tokens. "" = no reuse.
  std::string cache_key;
  std::string request_id;  // for logs and upstream X-Request-ID
};

struct Generation {
  std::string text;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt tokens reused from a kept cache
  // "stop" (EOS or a stop string), "length", or "cancelled": on_chunk
  // returned false (see ModelBackend::generate).
  std::string finish_reason;
  // Mean log-probability of the generated tokens, when the backend knows it
  // (local engine always; upstream when it returns logprobs). exp() of it is
  // the geometric-mean probability run-agent.ai reports as `confidence`.
  std::optional<double> mean_logprob;
  // Per generated token, when GenerationParams::logprobs asked for them.
  std::vector<TokenLogprob> logprobs;
  // The tools the model called (finish_reason "tool_calls"); `text` is then
  // what it wrote besides the calls.
  std::vector<ToolCall> tool_calls;
};

struct EmbeddingRequest {
  std::vector<std::string> inputs;
  std::optional<int64_t> dimensions;  // the provider's own truncation, when asked
  std::string request_id;
};

struct Embeddings {
  std::vector<std::vector<double>> vectors;  // one per input, in order
  int64_t prompt_tokens = 0;                 // the provider's count, else an estimate
};

// Receives each piece of final text as it is generated; returning false
// cancels the generation (the client went away, the job was cancelled).
using ChunkCallback = std::function<bool(std::string_view text)>;

class ModelBackend {
 public:
  virtual ~ModelBackend() = default;
  virtual const ModelSpec& spec() const = 0;

  // Tokens a prompt plus its generation may take on this backend: the
  // configured context, or less when the model itself cannot hold that many
  // (a local model trained for fewer positions). The core fits prompts and
  // max_tokens into this.
  virtual int64_t context_tokens() const { return spec().context; }

  // How many tokens `messages` take as a prompt (with the chat template, the
  // tools the model is offered and the generation prompt), for context
  // truncation and credit reservation. Upstream backends estimate; the real
  // count comes back in Generation.
  virtual StatusOr<int64_t> count_prompt_tokens(const std::vector<Message>& messages,
                                                const std::vector<ToolSpec>& tools) = 0;
  StatusOr<int64_t> count_prompt_tokens(const std::vector<Message>& messages) {
    return count_prompt_tokens(messages, {});
  }

  // Tokens of plain text as a prompt-completion run or an embedding feeds it
  // (a local model adds BOS when it wants one). This default estimates, as
  // for providers: 4 characters a token, rounded up.
  virtual StatusOr<int64_t> count_text_tokens(std::string_view text) {
    return static_cast<int64_t>((text.size() + 3) / 4);
  }

  // Whether generate() takes GenerationRequest::prompt (raw continuation).
  virtual bool continues_text() const { return false; }

  // Whether embed() works: an upstream with an embeddings endpoint.
  virtual bool embeds() const { return false; }
  // One vector per input. Errors as generate(); kInvalidArgument when the
  // model cannot embed (embeds() is false).
  virtual StatusOr<Embeddings> embed(const EmbeddingRequest& request) {
    (void)request;
    return Status::invalid_argument("model '" + spec().id + "' cannot embed text");
  }

  // Checks what the answer must be (format, tools) before anything is
  // spent on it: a schema the backend cannot enforce is kInvalidArgument
  // naming the keyword.
  virtual Status check_output(const GenerationParams& params) {
    (void)params;
    return Status::ok();
  }

  // Runs one generation. Errors: kInvalidArgument (prompt longer than the
  // context: the message states both numbers; bad parameters, a schema it
  // cannot enforce), kUnavailable
  // (queue full, upstream unreachable: retryable), kDeadlineExceeded,
  // kInternal.
  //
  // Cancelling is not an error: once on_chunk returns false, generate()
  // stops and returns what the generation consumed, with finish_reason
  // "cancelled": prompt_tokens, completion_tokens generated so far (at least
  // the tokens of every chunk handed out; a local engine may have run a few
  // more before it saw the cancel) and their text. The caller bills those.
  // Upstream counts are the provider's when its usage arrived, else
  // estimates as for a finished run.
  virtual StatusOr<Generation> generate(const GenerationRequest& request, const ChunkCallback& on_chunk) = 0;
};

// Owns one backend per model in the catalog. Local models are loaded at
// start (a file that cannot be loaded is an error naming it).
class BackendRegistry {
 public:
  virtual ~BackendRegistry() = default;
  // nullptr when the catalog has no such model.
  virtual ModelBackend* find(const std::string& model_id) = 0;
};

}  // namespace agentd::model
