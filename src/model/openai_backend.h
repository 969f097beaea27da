#pragma once
// OpenAiBackend: an OpenAI-compatible provider over HTTP (libcurl).
//
// Embeddings: POST {base_url}/embeddings (openai_protocol.h). A prompt
// completion (GenerationRequest::prompt) is not sent upstream:
// continues_text() is false.
//
// Every generation is POST {base_url}/chat/completions with stream=true and
// stream_options.include_usage, and logprobs=true; text is passed to on_chunk
// as the provider's chunks arrive. Authorization: Bearer $api_key_env when
// that variable is set; X-Request-ID when the request has an id.
//
// Failures (see openai_protocol.h for the HTTP mapping): unreachable ->
// kUnavailable("upstream unreachable: connection refused (URL)"); timeouts
// (connect_timeout_s to connect, timeout_s for the whole exchange) ->
// kDeadlineExceeded("upstream timed out after 2.0 s"); malformed stream ->
// kInternal. Connection errors, 429
// and 5xx are retried up to max_retries times with exponential backoff,
// waiting Retry-After instead when the provider sends one (capped), and never
// once a chunk has been passed on.
//
// on_chunk returning false ends the exchange; generate() then returns the
// text streamed so far with finish_reason "cancelled" (the chunk refused
// included: the provider sent it, so it bills it) and the provider's usage
// if it came, else estimates (below).
//
// count_prompt_tokens() estimates (openai::estimate_prompt_tokens: characters
// / 4 + 4 per message + 3); Generation carries the provider's own counts, or
// estimates when it sends no usage.
//
// Thread-safety: stateless between calls (one curl handle per call); any
// number of concurrent generate() calls.

#include <memory>
#include <string>

#include "model/answer_check.h"
#include "model/backend.h"

namespace agentd::model {

struct RetryPolicy {
  double initial_backoff_s = 0.5;  // wait before the first retry; doubles each time
  double max_backoff_s = 8.0;
  double max_retry_after_s = 30.0;  // a longer Retry-After is cut to this
};

class OpenAiBackend : public ModelBackend {
 public:
  // kInvalidArgument when base_url is missing or not http(s).
  static StatusOr<std::unique_ptr<OpenAiBackend>> create(const ModelSpec& spec, RetryPolicy retry = {});

  const ModelSpec& spec() const override { return spec_; }
  using ModelBackend::count_prompt_tokens;
  StatusOr<int64_t> count_prompt_tokens(const std::vector<Message>& messages,
                                        const std::vector<ToolSpec>& tools) override;
  StatusOr<Generation> generate(const GenerationRequest& request, const ChunkCallback& on_chunk) override;
  // JSON formats go to the provider as response_format, and its answer is
  // checked against them (answer_check.h): an answer that breaks the promise
  // is asked for once more (when nothing was streamed yet), then kInternal
  // saying what is wrong. A GBNF grammar cannot go upstream
  // (kInvalidArgument), nor a schema the checker cannot check.
  Status check_output(const GenerationParams& params) override;
  // POST {base_url}/embeddings, retried as generations are.
  bool embeds() const override { return true; }
  StatusOr<Embeddings> embed(const EmbeddingRequest& request) override;

 private:
  struct Attempt;
  OpenAiBackend(ModelSpec spec, RetryPolicy retry);
  // Runs `once(attempt)` until it succeeds, fails for good, or max_retries
  // is spent (backoff and Retry-After as above).
  template <typename T, typename Once>
  StatusOr<T> retrying(Once once) const;
  // One POST of `body` to `url` into `attempt`; a transport failure as a
  // Status (attempt.retryable set when worth retrying). The HTTP status,
  // a cancel and a stream error are left in `attempt` for the caller.
  Status perform(const std::string& url, const std::string& body, const char* accept, const std::string& request_id,
                 Attempt& attempt) const;
  // One HTTP exchange; fills `attempt` (status, retry hint, emitted chunks).
  StatusOr<Generation> attempt_once(const GenerationRequest& request, const ChunkCallback& on_chunk,
                                    const std::string& body, Attempt& attempt) const;
  // The Generation of an exchange that ended well or was cancelled: counts
  // the provider did not send are estimated.
  static Generation settle(const GenerationRequest& request, Attempt& attempt);

  const ModelSpec spec_;
  const RetryPolicy retry_;
  std::unique_ptr<AnswerCheck> answers_ = std::make_unique<AnswerCheck>();
  const std::string url_;             // {base_url}/chat/completions
  const std::string embeddings_url_;  // {base_url}/embeddings
};

}  // namespace agentd::model
