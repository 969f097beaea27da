#pragma once
// Pieces every run endpoint shares: the rate-limit and truncation headers,
// a run refusal answered in a dialect's shape (429 with Retry-After, 402, 503
// with Retry-After), server-sent event framing, and a streamed run driven
// from a PreparedRun. Pure functions; thread-safe.

#include <boost/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/errors.h"
#include "core/runner.h"
#include "http/message.h"

namespace agentd::api {

// X-RateLimit-Limit/-Remaining/-Reset when the key has a limit, and
// Retry-After when the run was refused by the limiter.
void add_rate_limit_headers(http::Response& r, const core::RateLimitInfo& limits);

// X-Agentd-Input-Tokens and X-Agentd-Output-Tokens (the run's usage, also
// for dialects whose body has no room for it, e.g. Roe's datum list), and
// X-Agentd-Truncated-Turns when session turns were dropped to fit the context.
void add_result_headers(http::Response& r, const core::RunResult& result);

// A refused or failed run in the dialect's error shape, with the rate-limit
// headers; run-agent.ai 429 bodies carry error.retry_after; 503 answers
// Retry-After: 1 (a full engine queue frees quickly).
http::Response run_error(Dialect dialect, const Status& s, const core::RateLimitInfo& limits);

// "event: NAME\ndata: JSON\n\n" (name omitted when empty).
std::string sse_event(std::string_view name, const boost::json::value& data);

// Seconds since the epoch for OpenAI's `created`.
int64_t unix_seconds();

// A streamed body (Content-Type text/event-stream) that owns `prepared` and
// hands it, the writer and the runner to `body` on the worker thread.
using StreamBody = std::function<void(std::unique_ptr<core::PreparedRun>, http::ChunkWriter&)>;
http::Response sse_response(std::unique_ptr<core::PreparedRun> prepared, StreamBody body);

}  // namespace agentd::api
