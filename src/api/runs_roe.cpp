// Roe-style runs:
//   POST /v1/agents/run/{agent_id}/                        (current version)
//   POST /v1/agents/run/{agent_id}/versions/{version_id}/
// Each declared input (input_definitions[].key) is a top-level field of a
// JSON body, a form field (application/x-www-form-urlencoded) or a part of
// a multipart/form-data body (a file part is read as text; binary files are
// refused). A missing input is 400 naming it; `metadata` is accepted.
// The prompt's message lists the inputs as "key:\nvalue" blocks in the order
// they are declared. The answer is a list of {key, description, data_type,
// value, cost}: one `output` text/plain datum without an output schema; with
// engine_config.output_schema (the core asks the model for a matching JSON
// object, core/agent_runner.h), one datum per top-level property, values as
// strings (JSON text for non-strings), and a model answer that is not a JSON
// object is a 500 that says so. `cost` is the run's cost in USD, carried by
// the first datum (the others carry 0) so summing gives the run's cost.
//
// Async (core/jobs.h runs them; jobs survive a restart):
//   POST .../run/{agent_id}/async/ (and .../versions/{version_id}/async/),
//     inputs as above -> 202 {job_id, status: 0}
//   POST .../run/{agent_id}/async/many/ {inputs: [{...}, ...]} (1..1000)
//     -> 202 {batch_id, job_ids: [...]}
//   GET /v1/agents/jobs/{job_id}/status/ -> {job_id, status} (0 pending,
//     1 started, 3 success, 4 failure, 5 cancelled)
//   GET /v1/agents/jobs/{job_id}/result/ -> {agent_id, agent_version_id,
//     inputs, input_tokens, output_tokens, outputs}; 409 {message, status}
//     while unfinished or cancelled; a failed job is 500 {message, status}.
//   POST /v1/agents/jobs/{job_id}/cancel/ (ours: Roe documents no cancel
//     route) -> 200 {job_id, status: 5}. A pending job never runs; a started
//     one stops at its next generated chunk and is charged what it consumed
//     (core/jobs.h). A job that already ended is 409 {message, status};
//     another organization's job is 404.

#include <boost/json.hpp>

#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "api/agent_fields.h"
#include "api/dialects.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "api/run_common.h"
#include "core/jobs.h"

namespace agentd::api {
namespace {

namespace json = boost::json;
constexpr Dialect kDialect = Dialect::kRoe;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded component: '+' is a space, %XX a byte.
std::string form_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_form(std::string_view body) {
  std::map<std::string, std::string> out;
  while (!body.empty()) {
    size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    size_t eq = pair.find('=');
    if (!pair.empty())
      out.emplace(form_decode(pair.substr(0, eq)), eq == std::string_view::npos ? "" : form_decode(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    body.remove_prefix(amp + 1);
  }
  return out;
}

// A parameter of a header value: name="value" or name=value.
std::string header_param(std::string_view value, std::string_view name) {
  std::string lv = lower(value);
  std::string key = std::string(name) + "=";
  size_t pos = 0;
  while ((pos = lv.find(key, pos)) != std::string::npos) {
    if (pos == 0 || lv[pos - 1] == ';' || lv[pos - 1] == ' ') break;
    pos += key.size();
  }
  if (pos == std::string::npos) return "";
  std::string_view rest = value.substr(pos + key.size());
  if (!rest.empty() && rest[0] == '"') {
    size_t end = rest.find('"', 1);
    return std::string(rest.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
  }
  size_t end = rest.find(';');
  std::string_view v = rest.substr(0, end);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return std::string(v);
}

struct Part {
  std::string name;
  std::string filename;
  std::string content;
};

// multipart/form-data (RFC 7578). nullopt when the body is not well formed.
std::optional<std::vector<Part>> parse_multipart(std::string_view body, const std::string& boundary) {
  if (boundary.empty()) return std::nullopt;
  std::string delim = "--" + boundary;
  std::vector<Part> parts;
  size_t pos = body.find(delim);
  if (pos == std::string_view::npos) return std::nullopt;
  for (;;) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
    if (body.substr(pos, 2) != "\r\n") return std::nullopt;
    pos += 2;
    size_t header_end = body.find("\r\n\r\n", pos);
    if (header_end == std::string_view::npos) return std::nullopt;
    Part part;
    std::string_view headers = body.substr(pos, header_end - pos);
    while (!headers.empty()) {
      size_t eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      size_t colon = line.find(':');
      if (colon != std::string_view::npos && lower(line.substr(0, colon)) == "content-disposition") {
        std::string_view v = line.substr(colon + 1);
        part.name = header_param(v, "name");
        part.filename = header_param(v, "filename");
      }
      if (eol == std::string_view::npos) break;
      headers.remove_prefix(eol + 2);
    }
    size_t content_start = header_end + 4;
    size_t next = body.find("\r\n" + delim, content_start);
    if (next == std::string_view::npos) return std::nullopt;
    part.content = std::string(body.substr(content_start, next - content_start));
    parts.push_back(std::move(part));
    if (parts.size() > 1000) return std::nullopt;
    pos = next + 2;
  }
}

class RoeRuns {
 public:
  explicit RoeRuns(core::Core& core) : core_(core) {}

  http::Response run_current(http::Request& req, const core::Principal& p) { return run(req, p, ""); }
  http::Response async_current(http::Request& req, const core::Principal& p) { return submit_one(req, p, ""); }
  http::Response async_version(http::Request& req, const core::Principal& p) {
    return submit_one(req, p, req.path_param("version_id"));
  }

  http::Response async_many(http::Request& req, const core::Principal& p) {
    std::string agent_id = req.path_param("agent_id");
    auto view = core_.agents().get(p.org_id, agent_id);
    if (!view.is_ok()) return error_response(kDialect, view.status());
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) return error_response(kDialect, err);
    FieldReader r(*body);
    const json::array* inputs = r.array("inputs", true);
    if (!r.ok()) return error_response(kDialect, r.error());
    if (inputs->empty() || inputs->size() > core::kMaxJobsPerSubmit)
      return error_response(kDialect, invalid_value("inputs", "must hold 1 to 1000 input objects"));
    std::vector<std::string> texts;
    for (size_t i = 0; i < inputs->size(); ++i) {
      std::string field = "inputs[" + std::to_string(i) + "]";
      if (!(*inputs)[i].is_object()) return error_response(kDialect, wrong_type(field, "object"));
      for (const auto& def : view->version.config.input_definitions)
        if (!(*inputs)[i].as_object().contains(def.key)) return error_response(kDialect, missing_field(field + "." + def.key));
      texts.push_back(to_json_text((*inputs)[i]));
    }
    auto jobs = core_.jobs().submit(p, agent_id, "", texts);
    if (!jobs.is_ok()) return error_response(kDialect, jobs.status());
    json::array ids;
    for (const auto& j : *jobs) ids.emplace_back(j.id);
    return json_response(202, json::object{{"batch_id", jobs->empty() ? "" : (*jobs)[0].batch_id}, {"job_ids", ids}});
  }

  http::Response job_status(http::Request& req, const core::Principal& p) {
    auto job = core_.jobs().get(p.org_id, req.path_param("job_id"));
    if (!job.is_ok()) return error_response(kDialect, job.status());
    return json_response(200, json::object{{"job_id", job->id}, {"status", job->status}});
  }

  http::Response job_result(http::Request& req, const core::Principal& p) {
    auto job = core_.jobs().get(p.org_id, req.path_param("job_id"));
    if (!job.is_ok()) return error_response(kDialect, job.status());
    if (job->status == store::kJobSuccess) {
      boost::system::error_code ec;
      json::value v = json::parse(job->result_json, ec);
      if (ec) return error_response(kDialect, Status::internal("the job's stored result is not JSON"));
      return json_response(200, v);
    }
    if (job->status == store::kJobFailure)
      return json_response(500, json::object{{"message", "the job failed: " + job->error}, {"status", job->status}});
    const char* what = job->status == store::kJobCancelled ? "the job was cancelled" : "the job has not finished";
    return json_response(409, json::object{{"message", what}, {"status", job->status}});
  }
  http::Response job_cancel(http::Request& req, const core::Principal& p) {
    auto job = core_.jobs().cancel(p.org_id, req.path_param("job_id"));
    if (job.is_ok()) return json_response(200, json::object{{"job_id", job->id}, {"status", job->status}});
    if (job.status().code() != StatusCode::kFailedPrecondition) return error_response(kDialect, job.status());
    auto ended = core_.jobs().get(p.org_id, req.path_param("job_id"));
    if (!ended.is_ok()) return error_response(kDialect, ended.status());
    return json_response(409, json::object{{"message", "the job has already ended; it cannot be cancelled"},
                                           {"status", ended->status}});
  }

  http::Response run_version(http::Request& req, const core::Principal& p) {
    return run(req, p, req.path_param("version_id"));
  }

 private:
  // The request's fields by name, whatever the body's encoding.
  std::optional<std::map<std::string, std::string>> read_fields(const http::Request& req, http::Response& failure) {
    std::string ctype = req.header("content-type").value_or("application/json");
    std::string lc = lower(ctype);
    std::map<std::string, std::string> fields;
    if (lc.rfind("application/x-www-form-urlencoded", 0) == 0) return parse_form(req.body);
    if (lc.rfind("multipart/form-data", 0) == 0) {
      auto parts = parse_multipart(req.body, header_param(ctype, "boundary"));
      if (!parts) {
        failure = error_response(kDialect, Status::invalid_argument("the multipart/form-data body is malformed"));
        return std::nullopt;
      }
      for (auto& part : *parts) {
        if (part.content.find('\0') != std::string::npos) {
          failure = error_response(
              kDialect, invalid_value(part.name, "file '" + part.filename + "' is binary; only text files are read"));
          return std::nullopt;
        }
        fields[part.name] = std::move(part.content);
      }
      return fields;
    }
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) {
      failure = error_response(kDialect, err);
      return std::nullopt;
    }
    for (const auto& kv : *body) {
      if (kv.value().is_null()) continue;
      fields[std::string(kv.key())] =
          kv.value().is_string() ? std::string(kv.value().as_string()) : to_json_text(kv.value());
    }
    return fields;
  }

  // The version a run or job uses: the agent's current one, or `version_id`.
  StatusOr<store::AgentVersion> run_version(const core::Principal& p, const std::string& agent_id,
                                            const std::string& version_id) {
    auto view = core_.agents().get(p.org_id, agent_id);
    if (!view.is_ok()) return view.status();
    if (version_id.empty()) return std::move(view->version);
    return core_.agents().get_version(p.org_id, agent_id, version_id);
  }

  http::Response submit_one(http::Request& req, const core::Principal& p, const std::string& version_id) {
    std::string agent_id = req.path_param("agent_id");
    auto loaded = run_version(p, agent_id, version_id);
    if (!loaded.is_ok()) return error_response(kDialect, loaded.status());
    const store::AgentVersion& version = *loaded;
    http::Response failure;
    auto fields = read_fields(req, failure);
    if (!fields) return failure;
    json::object inputs;
    for (const auto& def : version.config.input_definitions) {
      auto it = fields->find(def.key);
      if (it == fields->end()) return error_response(kDialect, missing_field(def.key));
      inputs[def.key] = it->second;
    }
    if (version.config.input_definitions.empty())
      for (const auto& [k, v] : *fields)
        if (k != "metadata") inputs[k] = v;
    if (inputs.empty()) return error_response(kDialect, missing_field("input"));
    auto jobs = core_.jobs().submit(p, agent_id, version_id, {to_json_text(inputs)});
    if (!jobs.is_ok()) return error_response(kDialect, jobs.status());
    return json_response(202, json::object{{"job_id", jobs->at(0).id}, {"status", jobs->at(0).status}});
  }

  http::Response run(http::Request& req, const core::Principal& p, const std::string& version_id) {
    std::string agent_id = req.path_param("agent_id");
    auto loaded = run_version(p, agent_id, version_id);
    if (!loaded.is_ok()) return error_response(kDialect, loaded.status());
    const store::AgentVersion& version = *loaded;
    http::Response failure;
    auto fields = read_fields(req, failure);
    if (!fields) return failure;
    const auto& config = version.config;
    std::string message;
    for (const auto& def : config.input_definitions) {
      auto it = fields->find(def.key);
      if (it == fields->end()) return error_response(kDialect, missing_field(def.key));
      if (!message.empty()) message += "\n\n";
      message += def.key + ":\n" + it->second;
    }
    if (config.input_definitions.empty()) {
      // No declared inputs: the whole body (less metadata) is the message.
      for (const auto& [k, v] : *fields) {
        if (k == "metadata") continue;
        if (!message.empty()) message += "\n\n";
        message += k + ":\n" + v;
      }
      if (message.empty()) return error_response(kDialect, missing_field("input"));
    }
    json::object schema;
    const json::object* properties = nullptr;
    if (!config.output_schema_json.empty()) {
      schema = object_from_text(config.output_schema_json);
      if (auto* pr = schema.if_contains("properties"); pr && pr->is_object()) properties = &pr->as_object();
    }
    core::RunRequest rr;
    rr.principal = p;
    rr.agent_id = agent_id;
    rr.version_id = version.id;
    rr.message = message;
    rr.request_id = req.request_id;
    rr.endpoint = "roe.run";
    core::RateLimitInfo limits;
    auto result = core_.runner().run(rr, &limits);
    if (!result.is_ok()) return run_error(kDialect, result.status(), limits);
    double cost = static_cast<double>(result->cost) / 1e9;
    json::array out;
    if (!properties) {
      out.push_back(json::object{{"key", "output"},
                                 {"description", "The agent's answer"},
                                 {"data_type", "text/plain"},
                                 {"value", result->text},
                                 {"cost", cost}});
    } else {
      auto answer = parse_answer(result->text);
      if (!answer) {
        http::Response r = error_response(
            kDialect, Status::internal("the model's answer is not a JSON object matching the agent's output_schema"));
        return r;
      }
      bool first = true;
      for (const auto& kv : *properties) {
        json::object datum{{"key", kv.key()}};
        std::string description, type = "text/plain";
        if (kv.value().is_object()) {
          const auto& prop = kv.value().as_object();
          if (auto* d = prop.if_contains("description"); d && d->is_string()) description = d->as_string();
          if (auto* t = prop.if_contains("type"); t && t->is_string() && t->as_string() != "string")
            type = "application/json";
        }
        datum["description"] = description;
        datum["data_type"] = type;
        const json::value* v = answer->if_contains(kv.key());
        if (!v || v->is_null())
          datum["value"] = nullptr;
        else
          datum["value"] = v->is_string() ? std::string(v->as_string()) : to_json_text(*v);
        datum["cost"] = first ? cost : 0.0;
        first = false;
        out.push_back(std::move(datum));
      }
    }
    http::Response resp = json_response(200, out);
    add_rate_limit_headers(resp, limits);
    add_result_headers(resp, *result);
    return resp;
  }

  // The JSON object in a model's answer (models often wrap it in prose or a
  // code fence): the text from the first '{' to the last '}'.
  static std::optional<json::object> parse_answer(const std::string& text) {
    size_t open = text.find('{');
    size_t close = text.rfind('}');
    if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
    boost::system::error_code ec;
    json::value v = json::parse(std::string_view(text).substr(open, close - open + 1), ec);
    if (ec || !v.is_object()) return std::nullopt;
    return v.as_object();
  }

  core::Core& core_;
};

}  // namespace

void register_roe_runs(http::Router& router, core::Core& core) {
  auto api = std::make_shared<RoeRuns>(core);
  using Method = http::Response (RoeRuns::*)(http::Request&, const core::Principal&);
  auto route = [&](const char* method, const char* pattern, Method fn) {
    router.add(method, pattern,
               authed(core, kDialect, [api, fn](http::Request& r, const core::Principal& p) { return ((*api).*fn)(r, p); }));
  };
  route("POST", "/v1/agents/run/{agent_id}/", &RoeRuns::run_current);
  route("POST", "/v1/agents/run/{agent_id}/versions/{version_id}/", &RoeRuns::run_version);
  route("POST", "/v1/agents/run/{agent_id}/async/", &RoeRuns::async_current);
  route("POST", "/v1/agents/run/{agent_id}/versions/{version_id}/async/", &RoeRuns::async_version);
  route("POST", "/v1/agents/run/{agent_id}/async/many/", &RoeRuns::async_many);
  route("GET", "/v1/agents/jobs/{job_id}/status/", &RoeRuns::job_status);
  route("GET", "/v1/agents/jobs/{job_id}/result/", &RoeRuns::job_result);
  route("POST", "/v1/agents/jobs/{job_id}/cancel/", &RoeRuns::job_cancel);
}

}  // namespace agentd::api
