#include "model/openai_protocol.h"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

namespace agentd::model::openai {
namespace json = boost::json;

std::string request_body(const std::string& model, const GenerationRequest& request) {
  const GenerationParams& p = request.params;
  json::object body;
  body["model"] = model;
  json::array messages;
  for (const auto& m : request.messages) {
    json::object o{{"role", m.role}, {"content", m.content}};
    if (!m.tool_calls.empty()) {
      json::array calls;
      for (const ToolCall& c : m.tool_calls) {
        calls.push_back(json::object{{"id", c.id}, {"type", "function"},
                                     {"function", json::object{{"name", c.name}, {"arguments", c.arguments}}}});
      }
      o["tool_calls"] = std::move(calls);
      if (m.content.empty()) o["content"] = nullptr;
    }
    if (!m.tool_call_id.empty()) o["tool_call_id"] = m.tool_call_id;
    messages.push_back(std::move(o));
  }
  body["messages"] = std::move(messages);
  if (!p.tools.empty()) {
    json::array tools;
    for (const ToolSpec& t : p.tools) {
      boost::system::error_code ec;
      json::value parameters = json::parse(t.parameters, ec);
      if (ec) parameters = json::object{};
      tools.push_back(json::object{{"type", "function"},
                                   {"function", json::object{{"name", t.name}, {"description", t.description},
                                                             {"parameters", std::move(parameters)}}}});
    }
    body["tools"] = std::move(tools);
    switch (p.tool_choice.kind) {
      case ToolChoice::Kind::kAuto: body["tool_choice"] = "auto"; break;
      case ToolChoice::Kind::kNone: body["tool_choice"] = "none"; break;
      case ToolChoice::Kind::kRequired: body["tool_choice"] = "required"; break;
      case ToolChoice::Kind::kNamed:
        body["tool_choice"] = json::object{{"type", "function"}, {"function", json::object{{"name", p.tool_choice.name}}}};
        break;
    }
    if (!p.parallel_tool_calls) body["parallel_tool_calls"] = false;
  }
  body["stream"] = true;
  body["stream_options"] = json::object{{"include_usage", true}};
  body["logprobs"] = true;
  if (p.logprobs && p.top_logprobs > 0) body["top_logprobs"] = p.top_logprobs;
  body["max_tokens"] = p.max_tokens;
  body["temperature"] = p.temperature;
  if (p.top_p) body["top_p"] = *p.top_p;
  if (p.seed) body["seed"] = *p.seed;
  if (p.frequency_penalty) body["frequency_penalty"] = *p.frequency_penalty;
  if (p.presence_penalty) body["presence_penalty"] = *p.presence_penalty;
  if (!p.logit_bias.empty()) {
    json::object bias;
    for (const auto& [id, b] : p.logit_bias) bias[std::to_string(id)] = b;
    body["logit_bias"] = std::move(bias);
  }
  if (!p.stop.empty()) {
    json::array stop;
    for (const auto& s : p.stop) stop.push_back(json::string(s));
    body["stop"] = std::move(stop);
  }
  switch (p.format.kind) {
    case OutputFormat::Kind::kText:
    case OutputFormat::Kind::kGrammar:  // refused by OpenAiBackend::check_format
      break;
    case OutputFormat::Kind::kJsonObject:
      body["response_format"] = json::object{{"type", "json_object"}};
      break;
    case OutputFormat::Kind::kJsonSchema: {
      boost::system::error_code ec_unused;  // the API checked the schema is JSON
      json::object schema{{"name", p.format.name.empty() ? std::string("answer") : p.format.name},
                          {"schema", json::parse(p.format.schema, ec_unused)}};
      if (p.format.strict) schema["strict"] = true;
      body["response_format"] = json::object{{"type", "json_schema"}, {"json_schema", std::move(schema)}};
      break;
    }
  }
  return json::serialize(body);
}

namespace {

Status malformed(const std::string& what, std::string_view data) {
  std::string shown(data.substr(0, 200));
  return Status::internal("upstream sent a malformed answer (" + what + "): " + shown);
}

StatusOr<std::optional<int64_t>> read_count(const json::object& o, std::string_view key, std::string_view data) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64() && v->as_int64() >= 0) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64()) return std::optional<int64_t>(static_cast<int64_t>(v->as_uint64() & 0x7fffffffffffffffULL));
  return malformed(std::string(key) + " is not a count", data);
}

// Fills usage, logprobs and finish_reason common to chunks and completions.
Status read_common(const json::object& root, const json::object* choice, std::string_view data, ChunkDelta& d) {
  if (auto* usage = root.if_contains("usage"); usage && !usage->is_null()) {
    if (!usage->is_object()) return malformed("usage is not an object", data);
    const json::object& u = usage->get_object();
    AGENTD_ASSIGN_OR_RETURN(d.prompt_tokens, read_count(u, "prompt_tokens", data));
    AGENTD_ASSIGN_OR_RETURN(d.completion_tokens, read_count(u, "completion_tokens", data));
    if (auto* details = u.if_contains("prompt_tokens_details"); details && details->is_object()) {
      AGENTD_ASSIGN_OR_RETURN(d.cached_tokens, read_count(details->get_object(), "cached_tokens", data));
    }
  }
  if (!choice) return Status::ok();
  if (auto* fr = choice->if_contains("finish_reason"); fr && !fr->is_null()) {
    if (!fr->is_string()) return malformed("finish_reason is not a string", data);
    d.finish_reason = std::string(fr->get_string());
  }
  if (auto* lp = choice->if_contains("logprobs"); lp && lp->is_object()) {
    if (auto* content = lp->get_object().if_contains("content"); content && content->is_array()) {
      for (const auto& item : content->get_array()) {
        const json::value* v = item.is_object() ? item.get_object().if_contains("logprob") : nullptr;
        if (!v || !v->is_number()) return malformed("logprobs.content[].logprob is not a number", data);
        TokenLogprob t;
        t.logprob = v->to_number<double>();
        const json::object& io = item.get_object();
        if (auto* tok = io.if_contains("token"); tok && tok->is_string()) t.token = std::string(tok->get_string());
        if (auto* top = io.if_contains("top_logprobs"); top && top->is_array()) {
          for (const auto& alt : top->get_array()) {
            if (!alt.is_object()) continue;
            const json::value* at = alt.get_object().if_contains("token");
            const json::value* al = alt.get_object().if_contains("logprob");
            if (at && at->is_string() && al && al->is_number()) {
              t.top.emplace_back(std::string(at->get_string()), al->to_number<double>());
            }
          }
        }
        d.logprobs.push_back(std::move(t));
      }
    }
  }
  return Status::ok();
}

StatusOr<json::object> parse_object(std::string_view data) {
  boost::system::error_code ec;
  json::value v = json::parse(data, ec);
  if (ec) return malformed("not JSON: " + ec.message(), data);
  if (!v.is_object()) return malformed("not a JSON object", data);
  json::object o = std::move(v.get_object());
  if (auto* err = o.if_contains("error"); err && !err->is_null())
    return Status::unavailable("upstream reported an error: " + error_message(data));
  return o;
}

// choices[0] as an object, nullptr when there are no choices (a usage-only chunk).
StatusOr<const json::object*> first_choice(const json::object& o, std::string_view data) {
  auto* choices = o.if_contains("choices");
  if (!choices || choices->is_null()) return static_cast<const json::object*>(nullptr);
  if (!choices->is_array()) return malformed("choices is not an array", data);
  if (choices->get_array().empty()) return static_cast<const json::object*>(nullptr);
  const json::value& c = choices->get_array()[0];
  if (!c.is_object()) return malformed("choices[0] is not an object", data);
  return &c.get_object();
}

Status read_content(const json::object& holder, std::string_view data, std::string& out) {
  auto* content = holder.if_contains("content");
  if (!content || content->is_null()) return Status::ok();
  if (!content->is_string()) return malformed("content is not a string", data);
  out = std::string(content->get_string());
  return Status::ok();
}

// holder.tool_calls: pieces of calls (a delta) or whole calls (a message).
Status read_tool_calls(const json::object& holder, std::string_view data, std::vector<ToolCallDelta>& out) {
  auto* calls = holder.if_contains("tool_calls");
  if (!calls || calls->is_null()) return Status::ok();
  if (!calls->is_array()) return malformed("tool_calls is not an array", data);
  int64_t position = 0;
  for (const json::value& item : calls->get_array()) {
    if (!item.is_object()) return malformed("tool_calls[] is not an object", data);
    const json::object& c = item.get_object();
    ToolCallDelta d;
    d.index = position++;
    if (auto* index = c.if_contains("index"); index && !index->is_null()) {
      if (!index->is_int64() || index->get_int64() < 0 || index->get_int64() > 1024) {
        return malformed("tool_calls[].index is not an index", data);
      }
      d.index = index->get_int64();
    }
    if (auto* id = c.if_contains("id"); id && id->is_string()) d.id = std::string(id->get_string());
    if (auto* fn = c.if_contains("function"); fn && fn->is_object()) {
      if (auto* name = fn->get_object().if_contains("name"); name && name->is_string()) {
        d.name = std::string(name->get_string());
      }
      if (auto* args = fn->get_object().if_contains("arguments"); args && !args->is_null()) {
        if (!args->is_string()) return malformed("tool_calls[].function.arguments is not a string", data);
        d.arguments = std::string(args->get_string());
      }
    }
    out.push_back(std::move(d));
  }
  return Status::ok();
}

}  // namespace

StatusOr<ChunkDelta> parse_chunk(std::string_view data) {
  AGENTD_ASSIGN_OR_RETURN(json::object o, parse_object(data));
  AGENTD_ASSIGN_OR_RETURN(const json::object* choice, first_choice(o, data));
  ChunkDelta d;
  if (choice) {
    if (auto* delta = choice->if_contains("delta"); delta && !delta->is_null()) {
      if (!delta->is_object()) return malformed("delta is not an object", data);
      AGENTD_RETURN_IF_ERROR(read_content(delta->get_object(), data, d.content));
      AGENTD_RETURN_IF_ERROR(read_tool_calls(delta->get_object(), data, d.tool_calls));
    }
  }
  AGENTD_RETURN_IF_ERROR(read_common(o, choice, data, d));
  return d;
}

StatusOr<ChunkDelta> parse_completion(std::string_view body) {
  AGENTD_ASSIGN_OR_RETURN(json::object o, parse_object(body));
  AGENTD_ASSIGN_OR_RETURN(const json::object* choice, first_choice(o, body));
  if (!choice) return malformed("no choices", body);
  ChunkDelta d;
  auto* message = choice->if_contains("message");
  if (!message || !message->is_object()) return malformed("choices[0].message is missing", body);
  AGENTD_RETURN_IF_ERROR(read_content(message->get_object(), body, d.content));
  AGENTD_RETURN_IF_ERROR(read_tool_calls(message->get_object(), body, d.tool_calls));
  AGENTD_RETURN_IF_ERROR(read_common(o, choice, body, d));
  return d;
}

std::string embeddings_request_body(const std::string& model, const EmbeddingRequest& request) {
  json::array input;
  for (const auto& text : request.inputs) input.push_back(json::string(text));
  json::object body{{"model", model}, {"input", std::move(input)}, {"encoding_format", "float"}};
  if (request.dimensions) body["dimensions"] = *request.dimensions;
  return json::serialize(body);
}

StatusOr<Embeddings> parse_embeddings(std::string_view body, size_t n) {
  AGENTD_ASSIGN_OR_RETURN(json::object o, parse_object(body));
  auto* data = o.if_contains("data");
  if (!data || !data->is_array()) return malformed("data is not an array", body);
  Embeddings out;
  out.vectors.resize(n);
  std::vector<bool> seen(n, false);
  for (const json::value& item : data->get_array()) {
    const json::object* e = item.if_object();
    if (!e) return malformed("data[] is not an object", body);
    auto* index = e->if_contains("index");
    auto* vec = e->if_contains("embedding");
    if (!index || !index->is_int64() || index->get_int64() < 0 || static_cast<size_t>(index->get_int64()) >= n)
      return malformed("data[].index is not an index of the inputs", body);
    if (!vec || !vec->is_array()) return malformed("data[].embedding is not an array", body);
    const auto i = static_cast<size_t>(index->get_int64());
    for (const json::value& x : vec->get_array()) {
      if (!x.is_number()) return malformed("data[].embedding holds a non-number", body);
      out.vectors[i].push_back(x.to_number<double>());
    }
    seen[i] = true;
  }
  for (size_t i = 0; i < n; ++i)
    if (!seen[i]) return malformed("no embedding for input " + std::to_string(i), body);
  if (auto* usage = o.if_contains("usage"); usage && usage->is_object()) {
    AGENTD_ASSIGN_OR_RETURN(auto tokens, read_count(usage->get_object(), "prompt_tokens", body));
    out.prompt_tokens = tokens.value_or(0);
  }
  return out;
}

std::string error_message(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const json::object& o = v.get_object();
    for (const char* key : {"error", "message", "detail"}) {
      const json::value* f = o.if_contains(key);
      if (!f) continue;
      if (f->is_string()) return std::string(f->get_string());
      if (f->is_object()) {
        if (auto* m = f->get_object().if_contains("message"); m && m->is_string()) return std::string(m->get_string());
      }
      return json::serialize(*f).substr(0, 300);
    }
  }
  std::string s(body.substr(0, 300));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Status http_error(const std::string& url, long http_status, std::string_view body) {
  std::string message = "upstream " + url + " answered " + std::to_string(http_status);
  const std::string detail = error_message(body);
  if (!detail.empty()) message += ": " + detail;
  if (http_status == 400 || http_status == 413 || http_status == 422) return Status::invalid_argument(message);
  if (http_status == 408 || http_status == 504) return Status::deadline_exceeded(message);
  if (retryable_http(http_status)) return Status::unavailable(message);
  return Status::internal(message);
}

bool retryable_http(long http_status) { return http_status == 429 || (http_status >= 500 && http_status <= 599); }

namespace {

// Reads a fixed-width run of decimal digits.
std::optional<int> digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// "Jan".."Dec" (case-sensitive, as RFC 9110 writes them) -> 1..12.
std::optional<int> month_number(std::string_view s, size_t pos) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (pos + 3 > s.size()) return std::nullopt;
  for (int i = 0; i < 12; ++i)
    if (s.substr(pos, 3) == kMonths[i]) return i + 1;
  return std::nullopt;
}

bool is_day_name(std::string_view s, bool long_form) {
  static constexpr std::string_view kShort[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view kLong[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                               "Friday", "Saturday", "Sunday"};
  for (int i = 0; i < 7; ++i)
    if (s == (long_form ? kLong[i] : kShort[i])) return true;
  return false;
}

// "HH:MM:SS" at pos -> seconds into the day.
std::optional<int> time_of_day(std::string_view s, size_t pos) {
  auto h = digits(s, pos, 2), m = digits(s, pos + 3, 2), sec = digits(s, pos + 6, 2);
  if (!h || !m || !sec || s[pos + 2] != ':' || s[pos + 5] != ':') return std::nullopt;
  if (*h > 23 || *m > 59 || *sec > 60) return std::nullopt;  // 60: a leap second
  return *h * 3600 + *m * 60 + *sec;
}

std::optional<int64_t> to_unix(int year, int month, int day, int seconds) {
  using namespace std::chrono;
  const year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                           std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  return static_cast<int64_t>(sys_days{ymd}.time_since_epoch().count()) * 86400 + seconds;
}

}  // namespace

std::optional<int64_t> parse_http_date(std::string_view v, int64_t now_unix_s) {
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (v.size() == 29 && v[3] == ',' && is_day_name(v.substr(0, 3), false)) {
    auto day = digits(v, 5, 2), month = month_number(v, 8), year = digits(v, 12, 4), t = time_of_day(v, 17);
    if (v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' || v.substr(25) != " GMT" || !day || !month ||
        !year || !t)
      return std::nullopt;
    return to_unix(*year, *month, *day, *t);
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  if (v.size() == 24 && v[3] == ' ' && is_day_name(v.substr(0, 3), false)) {
    auto month = month_number(v, 4), t = time_of_day(v, 11), year = digits(v, 20, 4);
    auto day = v[8] == ' ' ? digits(v, 9, 1) : digits(v, 8, 2);
    if (v[7] != ' ' || v[10] != ' ' || v[19] != ' ' || !month || !day || !t || !year) return std::nullopt;
    return to_unix(*year, *month, *day, *t);
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
  const size_t comma = v.find(',');
  if (comma != std::string_view::npos && is_day_name(v.substr(0, comma), true) && v.size() == comma + 24) {
    const size_t p = comma + 2;
    auto day = digits(v, p, 2), month = month_number(v, p + 3), yy = digits(v, p + 7, 2), t = time_of_day(v, p + 10);
    if (v[comma + 1] != ' ' || v[p + 2] != '-' || v[p + 6] != '-' || v[p + 9] != ' ' || v.substr(p + 18) != " GMT" ||
        !day || !month || !yy || !t)
      return std::nullopt;
    // A two-digit year more than 50 years ahead is the latest past one.
    using namespace std::chrono;
    const int now_year = static_cast<int>(year_month_day{floor<days>(sys_seconds{seconds{now_unix_s}})}.year());
    int year = now_year / 100 * 100 + *yy;
    if (year > now_year + 50) year -= 100;
    return to_unix(year, *month, *day, *t);
  }
  return std::nullopt;
}

std::optional<double> parse_retry_after(std::string_view value, int64_t now_unix_s) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r' || value.back() == '\n'))
    value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (auto date = parse_http_date(value, now_unix_s))
    return static_cast<double>(std::max<int64_t>(*date - now_unix_s, 0));
  double seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || !std::isfinite(seconds) || seconds < 0)
    return std::nullopt;
  return seconds;
}

int64_t estimate_prompt_tokens(const std::vector<Message>& messages) {
  int64_t n = 3;
  for (const auto& m : messages) n += 4 + estimate_text_tokens(m.content);
  return n;
}

int64_t estimate_text_tokens(std::string_view text) { return static_cast<int64_t>((text.size() + 3) / 4); }

}  // namespace agentd::model::openai
