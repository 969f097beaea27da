#pragma once
// The OpenAI chat-completions wire format, as pure functions over bytes so it
// is testable without a network: the streamed request body, one parsed
// "chat.completion.chunk", a whole non-streamed "chat.completion", and the
// mapping of upstream failures to Status codes and messages.
//
// Thread-safety: pure functions; safe from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/backend.h"

namespace agentd::model::openai {

// POST body: model, messages (with tool_calls and tool_call_id), stream=true
// with stream_options.include_usage, logprobs=true, max_tokens, temperature,
// and top_p/seed/stop/penalties/response_format/tools/tool_choice/
// parallel_tool_calls when given.
std::string request_body(const std::string& model, const GenerationRequest& request);

// A piece of a streamed tool call (choices[0].delta.tool_calls[]): the
// first piece of a call has its id and name, the rest add to its arguments.
struct ToolCallDelta {
  int64_t index = 0;
  std::string id;
  std::string name;
  std::string arguments;
};

// What one chunk (or a whole completion) contributes.
struct ChunkDelta {
  std::string content;                 // choices[0].delta.content (message.content when whole)
  std::vector<ToolCallDelta> tool_calls;  // delta.tool_calls (message.tool_calls when whole)
  std::vector<TokenLogprob> logprobs;  // choices[0].logprobs.content[]
  std::optional<std::string> finish_reason;
  std::optional<int64_t> prompt_tokens;      // usage, usually only in the last chunk
  std::optional<int64_t> completion_tokens;
  std::optional<int64_t> cached_tokens;      // usage.prompt_tokens_details.cached_tokens
};

// Parses the data of one SSE event (not "[DONE]"). kInternal when it is not
// a JSON object or a field has the wrong type; an "error" object in the
// stream is kUnavailable with its message.
StatusOr<ChunkDelta> parse_chunk(std::string_view data);
// Parses a non-streamed chat.completion (a provider that ignored stream=true).
StatusOr<ChunkDelta> parse_completion(std::string_view body);

// POST body of {base_url}/embeddings: model, input (the texts), and
// dimensions when asked; encoding_format "float".
std::string embeddings_request_body(const std::string& model, const EmbeddingRequest& request);
// {data: [{index, embedding: [numbers]}], usage {prompt_tokens}}: one vector
// per index 0..n-1 (`n` inputs were sent), in index order. kInternal when
// the shape is wrong or an index is missing.
StatusOr<Embeddings> parse_embeddings(std::string_view body, size_t n);

// The message a provider put in an error body ({"error": {"message": ...}},
// {"error": "..."}, {"message": ...} or {"detail": ...}), else the body itself
// cut to 300 bytes; "" for an empty body.
std::string error_message(std::string_view body);

// A non-2xx answer: 400/413/422 -> kInvalidArgument, 429 and 5xx ->
// kUnavailable, 408/504 -> kDeadlineExceeded, anything else -> kInternal.
// Message: "upstream URL answered CODE: MESSAGE".
Status http_error(const std::string& url, long http_status, std::string_view body);
// Whether an HTTP status may be retried (429, 5xx).
bool retryable_http(long http_status);

// A Retry-After header value in seconds: delta-seconds (possibly
// fractional), or an HTTP date (RFC 9110 section 5.6.7: IMF-fixdate, and the
// obsolete RFC 850 and asctime forms recipients must accept) as the seconds
// from now_unix_s until it, 0 for a date in the past. nullopt for anything
// else. The caller caps the result (RetryPolicy::max_retry_after_s).
std::optional<double> parse_retry_after(std::string_view value, int64_t now_unix_s);

// An HTTP date as seconds since the Unix epoch (UTC); nullopt when it is not
// one of the three forms above. now_unix_s places RFC 850's two-digit year.
std::optional<int64_t> parse_http_date(std::string_view value, int64_t now_unix_s);

// Prompt size estimate for providers: 4 characters per token plus 4 tokens per
// message for the role and the template's markers, plus 3 for the reply
// priming (OpenAI's published accounting for chat messages).
int64_t estimate_prompt_tokens(const std::vector<Message>& messages);
// Completion size estimate when the provider sends no usage: characters / 4,
// rounded up.
int64_t estimate_text_tokens(std::string_view text);

}  // namespace agentd::model::openai
