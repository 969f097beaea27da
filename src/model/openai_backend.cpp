#include "model/openai_backend.h"

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>

#include "common/ids.h"
#include "model/openai_protocol.h"
#include "model/sse_parser.h"

namespace agentd::model {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;        // kept of a non-2xx answer
constexpr size_t kMaxWholeBody = 16 * 1024 * 1024;  // a non-streamed completion
constexpr size_t kMaxSseBuffer = 4 * 1024 * 1024;   // one unfinished event

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

}  // namespace

// The state of one HTTP exchange, shared with curl's callbacks.
struct OpenAiBackend::Attempt {
  const ChunkCallback* on_chunk = nullptr;
  long http_status = 0;
  bool headers_seen = false;
  bool event_stream = false;  // Content-Type text/event-stream
  std::optional<double> retry_after;
  std::string raw;  // error body or a whole (non-streamed) completion
  SseParser sse;
  bool done = false;  // [DONE] seen
  bool emitted = false;  // a chunk went to on_chunk: no retry from here on
  bool cancelled = false;
  std::optional<Status> stream_error;
  Generation out;
  double logprob_sum = 0.0;
  int64_t logprob_count = 0;
  bool want_logprobs = false;  // the request asked for per-token logprobs
  bool retryable = false;
  CURL* curl = nullptr;

  // Status line and headers of the (final) response.
  void on_header(std::string_view line) {
    if (starts_with_ci(line, "HTTP/")) {  // a new response (after 100 Continue or a redirect)
      retry_after.reset();
      event_stream = false;
      return;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    const std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name.size() == 11 && starts_with_ci(name, "retry-after")) retry_after = openai::parse_retry_after(
          value, std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                     .count());
    if (name.size() == 12 && starts_with_ci(name, "content-type"))
      event_stream = starts_with_ci(value, "text/event-stream");
  }

  // false aborts the transfer.
  bool on_event(const std::string& data) {
    if (data == "[DONE]") {
      done = true;
      return true;
    }
    auto delta = openai::parse_chunk(data);
    if (!delta.is_ok()) {
      stream_error = delta.status();
      return false;
    }
    return apply(*delta);
  }

  bool apply(const openai::ChunkDelta& d) {
    if (d.prompt_tokens) out.prompt_tokens = *d.prompt_tokens;
    if (d.completion_tokens) out.completion_tokens = *d.completion_tokens;
    if (d.cached_tokens) out.cached_prompt_tokens = *d.cached_tokens;
    if (d.finish_reason) out.finish_reason = *d.finish_reason;
    for (const TokenLogprob& lp : d.logprobs) logprob_sum += lp.logprob;
    logprob_count += static_cast<int64_t>(d.logprobs.size());
    if (want_logprobs) out.logprobs.insert(out.logprobs.end(), d.logprobs.begin(), d.logprobs.end());
    for (const openai::ToolCallDelta& t : d.tool_calls) {
      if (static_cast<size_t>(t.index) >= out.tool_calls.size()) out.tool_calls.resize(static_cast<size_t>(t.index) + 1);
      ToolCall& call = out.tool_calls[static_cast<size_t>(t.index)];
      if (!t.id.empty()) call.id = t.id;
      if (!t.name.empty()) call.name = t.name;
      call.arguments += t.arguments;
      emitted = true;  // a call went to the caller's answer: no retry from here on
    }
    if (!d.content.empty()) {
      out.text += d.content;
      emitted = true;
      if (*on_chunk && !(*on_chunk)(d.content)) {
        cancelled = true;
        return false;
      }
    }
    return true;
  }

  bool on_body(std::string_view bytes) {
    if (!headers_seen) {
      headers_seen = true;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
    }
    if (http_status < 200 || http_status > 299) {
      raw.append(bytes.substr(0, kMaxErrorBody - std::min(raw.size(), kMaxErrorBody)));
      return true;
    }
    if (!event_stream) {
      if (raw.size() + bytes.size() > kMaxWholeBody) {
        stream_error = Status::internal("upstream answer larger than " + std::to_string(kMaxWholeBody) + " bytes");
        return false;
      }
      raw.append(bytes);
      return true;
    }
    for (const std::string& event : sse.feed(bytes))
      if (!on_event(event)) return false;
    if (sse.buffered() > kMaxSseBuffer) {
      stream_error = Status::internal("upstream sent an event larger than " + std::to_string(kMaxSseBuffer) + " bytes");
      return false;
    }
    return true;
  }

  static size_t write_cb(char* data, size_t size, size_t n, void* self) {
    auto* a = static_cast<Attempt*>(self);
    return a->on_body(std::string_view(data, size * n)) ? size * n : 0;
  }
  static size_t header_cb(char* data, size_t size, size_t n, void* self) {
    std::string_view line(data, size * n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    static_cast<Attempt*>(self)->on_header(line);
    return size * n;
  }
};

StatusOr<std::unique_ptr<OpenAiBackend>> OpenAiBackend::create(const ModelSpec& spec, RetryPolicy retry) {
  if (spec.base_url.rfind("http://", 0) != 0 && spec.base_url.rfind("https://", 0) != 0)
    return Status::invalid_argument("model '" + spec.id + "': base_url must start with http:// or https://, got '" +
                                    spec.base_url + "'");
  if (!(spec.timeout_s > 0) || !(spec.connect_timeout_s > 0) || spec.max_retries < 0)
    return Status::invalid_argument("model '" + spec.id + "': timeouts must be positive and max_retries >= 0");
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::unique_ptr<OpenAiBackend>(new OpenAiBackend(spec, retry));
}

namespace {
std::string without_trailing_slashes(std::string base) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}
}  // namespace

OpenAiBackend::OpenAiBackend(ModelSpec spec, RetryPolicy retry)
    : spec_(std::move(spec)),
      retry_(retry),
      url_(without_trailing_slashes(spec_.base_url) + "/chat/completions"),
      embeddings_url_(without_trailing_slashes(spec_.base_url) + "/embeddings") {}

StatusOr<int64_t> OpenAiBackend::count_prompt_tokens(const std::vector<Message>& messages,
                                                     const std::vector<ToolSpec>& tools) {
  (void)tools;  // refused by check_output()
  return openai::estimate_prompt_tokens(messages);
}

template <typename T, typename Once>
StatusOr<T> OpenAiBackend::retrying(Once once) const {
  for (int n = 0;; ++n) {
    Attempt attempt;
    StatusOr<T> result = once(attempt);
    if (result.is_ok() || !attempt.retryable || attempt.emitted || n >= spec_.max_retries) {
      if (!result.is_ok() && n > 0)
        return Status(result.status().code(),
                      result.status().message() + " (after " + std::to_string(n + 1) + " attempts)");
      return result;
    }
    double wait = std::min(retry_.max_backoff_s, retry_.initial_backoff_s * std::ldexp(1.0, n));
    if (attempt.retry_after) wait = std::min(*attempt.retry_after, retry_.max_retry_after_s);
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  }
}

StatusOr<Generation> OpenAiBackend::generate(const GenerationRequest& request, const ChunkCallback& on_chunk) {
  if (request.params.max_tokens < 1) return Status::invalid_argument("max_tokens must be at least 1");
  if (!request.prompt.empty())
    return Status::invalid_argument("model '" + spec_.id + "' cannot continue a raw prompt (an upstream chat model)");
  const std::string model = spec_.upstream_model.empty() ? spec_.id : spec_.upstream_model;
  const std::string body = openai::request_body(model, request);
  auto exchange = [&] {
    return retrying<Generation>([&](Attempt& a) { return attempt_once(request, on_chunk, body, a); });
  };
  AGENTD_ASSIGN_OR_RETURN(Generation g, exchange());
  const OutputFormat& format = request.params.format;
  if (g.finish_reason == "cancelled" || !g.tool_calls.empty()) return g;
  std::string problem = answers_->problem(format, g.text);
  if (problem.empty()) return g;
  if (on_chunk) {
    return Status::internal("upstream " + url_ + " answered outside the response format: " + problem);
  }
  // Not streamed: ask once more.
  AGENTD_ASSIGN_OR_RETURN(Generation again, exchange());
  problem = answers_->problem(format, again.text);
  if (!problem.empty()) {
    return Status::internal("upstream " + url_ + " answered outside the response format twice: " + problem);
  }
  again.prompt_tokens += g.prompt_tokens;  // both exchanges were billed
  again.completion_tokens += g.completion_tokens;
  return again;
}

Status OpenAiBackend::check_output(const GenerationParams& params) {
  if (params.format.kind == OutputFormat::Kind::kGrammar) {
    return Status::invalid_argument("a GBNF grammar runs only on local models; '" + spec_.id +
                                    "' is an upstream provider");
  }
  return answers_->accepts(params.format);
}

StatusOr<Embeddings> OpenAiBackend::embed(const EmbeddingRequest& request) {
  const std::string model = spec_.upstream_model.empty() ? spec_.id : spec_.upstream_model;
  const std::string body = openai::embeddings_request_body(model, request);
  return retrying<Embeddings>([&](Attempt& a) -> StatusOr<Embeddings> {
    const ChunkCallback none;
    a.on_chunk = &none;
    Status transport = perform(embeddings_url_, body, "application/json", request.request_id, a);
    if (a.stream_error) return *a.stream_error;
    AGENTD_RETURN_IF_ERROR(transport);
    if (a.http_status < 200 || a.http_status > 299) {
      a.retryable = openai::retryable_http(a.http_status);
      return openai::http_error(embeddings_url_, a.http_status, a.raw);
    }
    AGENTD_ASSIGN_OR_RETURN(Embeddings e, openai::parse_embeddings(a.raw, request.inputs.size()));
    if (e.prompt_tokens == 0)
      for (const std::string& text : request.inputs) e.prompt_tokens += openai::estimate_text_tokens(text);
    return e;
  });
}

StatusOr<Generation> OpenAiBackend::attempt_once(const GenerationRequest& request, const ChunkCallback& on_chunk,
                                                 const std::string& body, Attempt& a) const {
  a.on_chunk = &on_chunk;
  a.want_logprobs = request.params.logprobs;
  Status transport = perform(url_, body, "text/event-stream", request.request_id, a);
  if (a.cancelled) return settle(request, a);
  if (a.stream_error) return *a.stream_error;
  AGENTD_RETURN_IF_ERROR(transport);
  if (a.http_status < 200 || a.http_status > 299) {
    a.retryable = openai::retryable_http(a.http_status);
    return openai::http_error(url_, a.http_status, a.raw);
  }
  if (a.event_stream) {
    const std::string last = a.sse.finish();
    if (!last.empty() && !a.on_event(last)) {
      if (a.cancelled) return settle(request, a);
      return *a.stream_error;
    }
    if (!a.done && a.out.finish_reason.empty()) {
      a.retryable = true;
      return Status::unavailable("upstream " + url_ + " closed the stream before it finished");
    }
  } else {
    auto whole = openai::parse_completion(a.raw);
    if (!whole.is_ok()) return whole.status();
    a.apply(*whole);  // false: cancelled, settle() says so
  }
  return settle(request, a);
}

Status OpenAiBackend::perform(const std::string& url, const std::string& body, const char* accept,
                              const std::string& request_id, Attempt& a) const {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Status::internal("curl_easy_init failed");
  a.curl = curl.get();

  curl_slist* raw_headers = nullptr;
  auto add_header = [&](const std::string& h) {
    curl_slist* next = curl_slist_append(raw_headers, h.c_str());
    if (next) raw_headers = next;
  };
  add_header("Content-Type: application/json");
  add_header(std::string("Accept: ") + accept);
  if (!spec_.api_key_env.empty()) {
    const char* key = std::getenv(spec_.api_key_env.c_str());
    if (key && *key) add_header(std::string("Authorization: Bearer ") + key);
  }
  if (!request_id.empty() && request_id.find_first_of("\r\n") == std::string::npos)
    add_header("X-Request-ID: " + request_id);
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);

  char errbuf[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Attempt::write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Attempt::header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::ceil(spec_.connect_timeout_s * 1000)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(std::ceil(spec_.timeout_s * 1000)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "agentd");

  const CURLcode rc = curl_easy_perform(c);
  if (!a.headers_seen) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.http_status);

  if (a.cancelled || a.stream_error) return Status::ok();  // the caller's to report
  if (rc != CURLE_OK) {
    const std::string detail = errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      if (a.http_status == 0) {
        double connect_time = 0;
        curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &connect_time);
        if (connect_time <= 0)
          return Status::deadline_exceeded("upstream " + url + " timed out after " +
                                           seconds_text(spec_.connect_timeout_s) + " s (connecting)");
      }
      return Status::deadline_exceeded("upstream timed out after " + seconds_text(spec_.timeout_s) + " s (" + url +
                                       ")");
    }
    if (rc == CURLE_COULDNT_CONNECT) {
      long os_errno = 0;
      curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
      a.retryable = true;
      return Status::unavailable("upstream unreachable: " +
                                 (os_errno == ECONNREFUSED ? std::string("connection refused") : detail) + " (" +
                                 url + ")");
    }
    if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_SEND_ERROR ||
        rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE || rc == CURLE_SSL_CONNECT_ERROR) {
      a.retryable = true;
      return Status::unavailable("upstream unreachable: " + detail + " (" + url + ")");
    }
    return Status::unavailable("upstream request failed: " + detail + " (" + url + ")");
  }
  return Status::ok();
}

Generation OpenAiBackend::settle(const GenerationRequest& request, Attempt& a) {
  Generation g = std::move(a.out);
  for (ToolCall& c : g.tool_calls) {
    if (c.id.empty()) c.id = "call_" + random_hex(12);  // a provider that numbers none
  }
  if (a.cancelled) g.finish_reason = "cancelled";
  else if (!g.tool_calls.empty()) g.finish_reason = "tool_calls";
  else if (g.finish_reason != "length") g.finish_reason = "stop";
  // The provider's usage comes last, so a cancelled stream rarely has it:
  // then what it streamed is estimated as for a provider that sends none.
  if (g.prompt_tokens == 0) g.prompt_tokens = openai::estimate_prompt_tokens(request.messages);
  if (g.completion_tokens == 0 && !g.text.empty()) g.completion_tokens = openai::estimate_text_tokens(g.text);
  if (a.logprob_count > 0) g.mean_logprob = a.logprob_sum / static_cast<double>(a.logprob_count);
  return g;
}

}  // namespace agentd::model
