#include "api/run_common.h"

#include <chrono>

#include "api/json_body.h"

namespace agentd::api {

namespace json = boost::json;

void add_rate_limit_headers(http::Response& r, const core::RateLimitInfo& limits) {
  if (limits.limit > 0) {
    r.set_header("X-RateLimit-Limit", std::to_string(limits.limit));
    r.set_header("X-RateLimit-Remaining", std::to_string(limits.remaining));
    r.set_header("X-RateLimit-Reset", std::to_string(limits.reset_s));
  }
  if (limits.retry_after_s > 0) r.set_header("Retry-After", std::to_string(limits.retry_after_s));
}

void add_result_headers(http::Response& r, const core::RunResult& result) {
  if (result.truncated_turns > 0) r.set_header("X-Agentd-Truncated-Turns", std::to_string(result.truncated_turns));
  r.set_header("X-Agentd-Input-Tokens", std::to_string(result.input_tokens));
  r.set_header("X-Agentd-Output-Tokens", std::to_string(result.output_tokens));
}

http::Response run_error(Dialect dialect, const Status& s, const core::RateLimitInfo& limits) {
  http::Response r = error_response(dialect, s);
  if (s.code() == StatusCode::kRateLimited) {
    int64_t retry = limits.retry_after_s > 0 ? limits.retry_after_s : 1;
    if (dialect == Dialect::kRunAgent) {
      boost::system::error_code ec;
      json::value v = json::parse(r.body, ec);
      if (!ec && v.is_object() && v.as_object().contains("error") && v.as_object()["error"].is_object()) {
        v.as_object()["error"].as_object()["retry_after"] = retry;
        r.body = to_json_text(v);
      }
    }
    add_rate_limit_headers(r, limits);
    if (limits.retry_after_s <= 0) r.set_header("Retry-After", std::to_string(retry));
    return r;
  }
  add_rate_limit_headers(r, limits);
  if (s.code() == StatusCode::kUnavailable) r.set_header("Retry-After", "1");
  return r;
}

std::string sse_event(std::string_view name, const json::value& data) {
  std::string out;
  if (!name.empty()) {
    out += "event: ";
    out += name;
    out += "\n";
  }
  out += "data: ";
  out += to_json_text(data);
  out += "\n\n";
  return out;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

http::Response sse_response(std::unique_ptr<core::PreparedRun> prepared, StreamBody body) {
  http::Response r;
  r.status = 200;
  r.content_type = "text/event-stream";
  r.set_header("Cache-Control", "no-cache");
  // std::function must be copyable: the prepared run travels in a shared_ptr
  // and is moved out exactly once, when the stream runs.
  auto holder = std::make_shared<std::unique_ptr<core::PreparedRun>>(std::move(prepared));
  r.stream = [holder, body = std::move(body)](http::ChunkWriter& w) { body(std::move(*holder), w); };
  return r;
}

}  // namespace agentd::api
