// Roe-style runs and jobs, in the shapes of Roe's OpenAPI document
// (api/roe_shapes.h):
//   POST /v1/agents/run/{agent_id}/                        (current version)
//   POST /v1/agents/run/{agent_id}/versions/{version_id}/
// Each declared input (input_definitions[].key) is a top-level field of a
// JSON body, a form field (application/x-www-form-urlencoded) or a part of
// a multipart/form-data body (a file part is read as text; binary files are
// refused). A missing input is 400 naming it, and so is a field that is no
// declared input (agentd ignores nothing); `metadata` (an object or its JSON
// text) is kept on the job. The prompt's message lists the inputs as
// "key:\nvalue" blocks in the order they are declared. The answer is a list
// of AgentDatum {key, description, data_type, value, cost}: one `output`
// text/plain datum without an output schema; with engine_config.output_schema
// (the core asks the model for a matching JSON object, core/agent_runner.h),
// one datum per top-level property, values as strings (JSON text for
// non-strings), and a model answer that is not a JSON object is a 500 that
// says so. `cost` is the run's cost in USD, carried by the first datum (the
// others carry 0) so summing gives the run's cost.
//
// Jobs (core/jobs.h runs them; they survive a restart). Status codes are
// Roe's: 0 pending, 1 started, 3 success, 4 failure, 5 cancelled.
//   POST .../run/{agent_id}/async/ (and .../versions/{version_id}/async/)
//     -> 200 "job id" (a bare JSON string)
//   POST .../run/{agent_id}/async/many/ {inputs: [{...}, ...] (1..1000),
//     metadata?} -> 200 ["job id", ...]
//   GET  /v1/agents/jobs/{job_id}/status/ -> {status, timestamp (Unix
//     seconds of the last change), error_message (failed or cancelled)}
//   GET  /v1/agents/jobs/{job_id}/result/ -> {agent_id, agent_version_id,
//     inputs [JobInput], input_tokens, output_tokens, outputs [AgentDatum],
//     status, error_message}; outputs is [] until the job succeeds
//   POST /v1/agents/jobs/statuses/ and /results/ {job_ids} -> one item per
//     id, in order; ids that name no job of the organization have null fields
//   POST /v1/agents/jobs/{job_id}/cancel/ -> 204. A pending job never runs;
//     a started one stops at its next generated chunk and is charged what it
//     consumed. A job that already ended is 409; another organization's 404.
//   POST /v1/agents/{agent_id}/jobs/cancel-all/ -> {task_id, targeted_count, note}
//   POST /v1/agents/jobs/{job_id}/delete-data/ -> AgentJobDeleteDataResponse
//   GET  /v1/agents/{agent_id}/jobs/?page=&page_size=&status_code= ->
//     PaginatedListAgentJobList, newest first

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
#include "api/roe_shapes.h"
#include "common/clock.h"
#include "common/ids.h"
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

// Fields of a run request that are not inputs.
constexpr std::string_view kMetadata = "metadata";

// The inputs of one run (or one job) from `fields`, checked against the
// version's declared inputs: each is required, and with declared inputs a
// field that is none of them (nor metadata) is a 400 naming it. Without
// declared inputs every field but metadata is an input. `where` prefixes
// field names ("inputs[2].").
std::optional<json::object> run_inputs(const std::map<std::string, std::string>& fields,
                                       const store::AgentVersion& version, const std::string& where, ApiError& err) {
  json::object inputs;
  const auto& defs = version.config.input_definitions;
  for (const auto& def : defs) {
    auto it = fields.find(def.key);
    if (it == fields.end()) {
      err = missing_field(where + def.key);
      return std::nullopt;
    }
    inputs[def.key] = it->second;
  }
  for (const auto& [k, v] : fields) {
    if (k == kMetadata) continue;
    bool declared = defs.empty();
    for (const auto& def : defs) declared = declared || def.key == k;
    if (!declared) {
      err = invalid_value(where + k, "is not an input of this agent version (its inputs: " + [&] {
        std::string keys;
        for (const auto& def : defs) keys += (keys.empty() ? "" : ", ") + def.key;
        return keys;
      }() + ")");
      return std::nullopt;
    }
    if (defs.empty()) inputs[k] = v;
  }
  if (inputs.empty()) {
    err = missing_field(where + "input");
    return std::nullopt;
  }
  return inputs;
}

// The metadata object of a run: absent or null is {}; an object, or its
// JSON text (Roe accepts both), is kept as given.
std::optional<std::string> run_metadata(const std::map<std::string, std::string>& fields, const std::string& where,
                                        ApiError& err) {
  auto it = fields.find(std::string(kMetadata));
  if (it == fields.end() || it->second.empty() || it->second == "null") return std::string("{}");
  boost::system::error_code ec;
  json::value v = json::parse(it->second, ec);
  if (ec || !v.is_object()) {
    err = invalid_value(where + "metadata", "must be a JSON object (or its JSON text)");
    return std::nullopt;
  }
  return to_json_text(v);
}

// A JSON object's members as run fields: strings as they are, other values
// as JSON text; null members are absent.
std::map<std::string, std::string> object_fields(const json::object& o) {
  std::map<std::string, std::string> fields;
  for (const auto& kv : o) {
    if (kv.value().is_null()) continue;
    fields[std::string(kv.key())] =
        kv.value().is_string() ? std::string(kv.value().as_string()) : to_json_text(kv.value());
  }
  return fields;
}

// The core's stored job result (core/jobs.h).
struct StoredResult {
  std::string agent_version_id;
  std::optional<int64_t> input_tokens, output_tokens;
  store::Nanos cost = 0;
  std::string text;
  bool present = false;
};

StoredResult stored_result(const store::Job& job) {
  StoredResult r;
  if (job.result_json.empty()) return r;
  json::object o = object_from_text(job.result_json);
  r.present = !o.empty();
  if (auto* v = o.if_contains("agent_version_id"); v && v->is_string()) r.agent_version_id = v->as_string();
  if (auto* v = o.if_contains("input_tokens"); v && v->is_int64()) r.input_tokens = v->as_int64();
  if (auto* v = o.if_contains("output_tokens"); v && v->is_int64()) r.output_tokens = v->as_int64();
  if (auto* v = o.if_contains("cost"); v && v->is_int64()) r.cost = v->as_int64();
  if (auto* v = o.if_contains("outputs"); v && v->is_string()) r.text = v->as_string();
  return r;
}

class RoeRuns {
 public:
  explicit RoeRuns(core::Core& core) : core_(core) {}

  http::Response run_current(http::Request& req, const core::Principal& p) { return run(req, p, ""); }
  http::Response run_version(http::Request& req, const core::Principal& p) {
    return run(req, p, req.path_param("version_id"));
  }
  http::Response async_current(http::Request& req, const core::Principal& p) { return submit_one(req, p, ""); }
  http::Response async_version(http::Request& req, const core::Principal& p) {
    return submit_one(req, p, req.path_param("version_id"));
  }

  // 200 [job id, ...] in the order of `inputs`.
  http::Response async_many(http::Request& req, const core::Principal& p) {
    std::string agent_id = req.path_param("agent_id");
    auto version = run_version_of(p, agent_id, "");
    if (!version.is_ok()) return error_response(kDialect, version.status());
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) return error_response(kDialect, err);
    for (const auto& kv : *body) {
      if (kv.key() != "inputs" && kv.key() != kMetadata && kv.key() != "organization_id")
        return error_response(kDialect, invalid_value(std::string(kv.key()), "is not a field of an async/many request"));
    }
    FieldReader r(*body);
    const json::array* inputs = r.array("inputs", true);
    if (!r.ok()) return error_response(kDialect, r.error());
    if (inputs->empty() || inputs->size() > core::kMaxJobsPerSubmit)
      return error_response(kDialect, invalid_value("inputs", "must hold 1 to 1000 input objects"));
    auto shared_metadata = run_metadata(object_fields(*body), "", err);
    if (!shared_metadata) return error_response(kDialect, err);
    std::vector<std::string> texts, metadata;
    for (size_t i = 0; i < inputs->size(); ++i) {
      std::string field = "inputs[" + std::to_string(i) + "]";
      if (!(*inputs)[i].is_object()) return error_response(kDialect, wrong_type(field, "object"));
      auto fields = object_fields((*inputs)[i].as_object());
      auto in = run_inputs(fields, *version, field + ".", err);
      if (!in) return error_response(kDialect, err);
      // An item's own metadata, else the request's.
      std::optional<std::string> own = fields.count(std::string(kMetadata)) ? run_metadata(fields, field + ".", err)
                                                                            : shared_metadata;
      if (!own) return error_response(kDialect, err);
      texts.push_back(to_json_text(*in));
      metadata.push_back(*own);
    }
    auto jobs = core_.jobs().submit(p, agent_id, "", texts, metadata);
    if (!jobs.is_ok()) return error_response(kDialect, jobs.status());
    json::array ids;
    for (const auto& j : *jobs) ids.emplace_back(j.id);
    return json_response(200, ids);
  }

  // AgentJobSingleStatus {status, timestamp, error_message (failed or cancelled jobs)}.
  http::Response job_status(http::Request& req, const core::Principal& p) {
    auto job = core_.jobs().get(p.org_id, req.path_param("job_id"));
    if (!job.is_ok()) return error_response(kDialect, job_not_found(job.status(), req.path_param("job_id")));
    json::object o{{"status", job->status}, {"timestamp", roe::unix_seconds(job->updated_ms)}};
    if (auto m = error_message(*job)) o["error_message"] = *m;
    return json_response(200, o);
  }

  // AgentJobResultResponse, with the job's status and error_message beside
  // it; an unfinished or failed job has no outputs yet ([]).
  http::Response job_result(http::Request& req, const core::Principal& p) {
    auto job = core_.jobs().get(p.org_id, req.path_param("job_id"));
    if (!job.is_ok()) return error_response(kDialect, job_not_found(job.status(), req.path_param("job_id")));
    json::object o = result_json(*job);
    o.erase("id");
    o.erase("result");
    o.erase("cost");
    o.erase("corrected_outputs");
    return json_response(200, o);
  }

  // POST /v1/agents/jobs/statuses/ {job_ids} -> [AgentJobStatus] in order;
  // an id that names no job of the organization has null fields.
  http::Response job_statuses(http::Request& req, const core::Principal& p) {
    ApiError err;
    auto ids = job_ids(req, p, err);
    if (!ids) return error_response(kDialect, err);
    json::array out;
    for (const auto& id : *ids) {
      auto job = core_.jobs().get(p.org_id, id);
      if (!job.is_ok() && job.status().code() != StatusCode::kNotFound) return error_response(kDialect, job.status());
      if (!job.is_ok()) {
        out.push_back(json::object{{"id", id},
                                   {"status", nullptr},
                                   {"created_at", nullptr},
                                   {"last_updated_at", nullptr},
                                   {"timestamp", nullptr},
                                   {"error_message", nullptr}});
        continue;
      }
      auto m = error_message(*job);
      out.push_back(json::object{{"id", id},
                                 {"status", job->status},
                                 {"created_at", format_iso8601(job->created_ms)},
                                 {"last_updated_at", format_iso8601(job->updated_ms)},
                                 {"timestamp", roe::unix_seconds(job->updated_ms)},
                                 {"error_message", m ? json::value(*m) : nullptr}});
    }
    return json_response(200, out);
  }

  // POST /v1/agents/jobs/results/ {job_ids} -> [AgentJobResultItem] in order;
  // an id that names no job of the organization has null fields.
  http::Response job_results(http::Request& req, const core::Principal& p) {
    ApiError err;
    auto ids = job_ids(req, p, err);
    if (!ids) return error_response(kDialect, err);
    json::array out;
    for (const auto& id : *ids) {
      auto job = core_.jobs().get(p.org_id, id);
      if (!job.is_ok() && job.status().code() != StatusCode::kNotFound) return error_response(kDialect, job.status());
      if (!job.is_ok()) {
        out.push_back(json::object{{"id", id},
                                   {"status", nullptr},
                                   {"result", nullptr},
                                   {"corrected_outputs", nullptr},
                                   {"agent_id", nullptr},
                                   {"agent_version_id", nullptr},
                                   {"cost", nullptr},
                                   {"inputs", nullptr},
                                   {"input_tokens", nullptr},
                                   {"output_tokens", nullptr}});
        continue;
      }
      json::object o = result_json(*job);
      o.erase("outputs");
      out.push_back(std::move(o));
    }
    return json_response(200, out);
  }

  // 204; a job that already ended is 409 with its status.
  http::Response job_cancel(http::Request& req, const core::Principal& p) {
    auto job = core_.jobs().cancel(p.org_id, req.path_param("job_id"));
    if (job.is_ok()) return http::Response::no_content();
    if (job.status().code() != StatusCode::kFailedPrecondition)
      return error_response(kDialect, job_not_found(job.status(), req.path_param("job_id")));
    auto ended = core_.jobs().get(p.org_id, req.path_param("job_id"));
    if (!ended.is_ok()) return error_response(kDialect, ended.status());
    const std::string msg = "the job has already ended; it cannot be cancelled";
    return json_response(409, json::object{{"detail", msg}, {"message", msg}, {"status", ended->status}});
  }

  // AgentJobCancelAllResponse: every pending or running job of the agent.
  http::Response job_cancel_all(http::Request& req, const core::Principal& p) {
    auto agent = core_.agents().get(p.org_id, req.path_param("agent_id"));
    if (!agent.is_ok()) return error_response(kDialect, agent.status());
    auto n = core_.jobs().cancel_all(p.org_id, agent->agent.id);
    if (!n.is_ok()) return error_response(kDialect, n.status());
    return json_response(200, json::object{{"task_id", nullptr},
                                           {"targeted_count", *n},
                                           {"note", "cancelled " + std::to_string(*n) +
                                                        " pending or running job(s) at once"}});
  }

  // AgentJobDeleteDataResponse: an ended job's inputs, metadata and result
  // are emptied; its status and times stay. 400 {error} while it runs.
  http::Response job_delete_data(http::Request& req, const core::Principal& p) {
    Status s = core_.jobs().clear_data(p.org_id, req.path_param("job_id"));
    if (s.code() == StatusCode::kFailedPrecondition) {
      const std::string msg = "the job is not in a final state; its data can be deleted once it has ended";
      return json_response(400, json::object{{"error", msg}, {"detail", msg}, {"message", msg}});
    }
    if (!s.is_ok()) return error_response(kDialect, job_not_found(s, req.path_param("job_id")));
    return json_response(200, json::object{{"status", "success"},
                                           {"deleted_count", 0},
                                           {"failed_count", 0},
                                           {"blob_sanitized", true},
                                           {"artifacts_deleted_count", 0},
                                           {"artifacts_failed_count", 0},
                                           {"errors", nullptr}});
  }

  // GET /v1/agents/{agent_id}/jobs/ -> PaginatedListAgentJobList, newest first.
  http::Response job_list(http::Request& req, const core::Principal& p) {
    auto agent = core_.agents().get(p.org_id, req.path_param("agent_id"));
    if (!agent.is_ok()) return error_response(kDialect, agent.status());
    // Roe's other filters (dates, metadata, search, verdicts, ordering...)
    // are refused by name rather than ignored. `limit` (the SDK always sends
    // 100000) caps nothing beyond page_size.
    for (const auto& [k, v] : req.query) {
      if (k != "organization_id" && k != "page" && k != "page_size" && k != "status_code" && k != "limit")
        return error_response(kDialect, invalid_value(k, "is not a filter agentd supports on job lists (it offers: "
                                                         "page, page_size, status_code)",
                                                      "query"));
    }
    ApiError err;
    auto page = query_int(req, "page", 1, 1, 1000000, err);
    if (!page) return error_response(kDialect, err);
    auto page_size = query_int(req, "page_size", 20, 1, 100, err);
    if (!page_size) return error_response(kDialect, err);
    auto limit = query_int(req, "limit", 100000, 1, 1000000000, err);
    if (!limit) return error_response(kDialect, err);
    auto status = query_int(req, "status_code", -1, 0, 6, err);
    if (!status) return error_response(kDialect, err);
    store::JobQuery q;
    q.status = static_cast<int>(*status);
    q.offset = (*page - 1) * *page_size;
    q.limit = *page_size;
    auto jobs = core_.jobs().list(p.org_id, agent->agent.id, q);
    if (!jobs.is_ok()) return error_response(kDialect, jobs.status());
    auto versions = core_.agents().list_versions(p.org_id, agent->agent.id);
    if (!versions.is_ok()) return error_response(kDialect, versions.status());
    auto version_of = [&](const std::string& id) -> const store::AgentVersion* {
      for (const auto& v : *versions)
        if (v.id == id) return &v;
      return nullptr;
    };
    json::array results;
    for (const auto& j : jobs->items) {
      StoredResult r = stored_result(j);
      std::string vid = !r.agent_version_id.empty() ? r.agent_version_id
                        : !j.version_id.empty()      ? j.version_id
                                                     : agent->agent.current_version_id;
      const store::AgentVersion* ver = version_of(vid);
      json::array events{json::object{{"timestamp", format_iso8601(j.created_ms)}, {"status_code", 0}}};
      if (j.status != store::kJobPending) {
        json::object e{{"timestamp", format_iso8601(j.updated_ms)}, {"status_code", j.status}};
        if (auto m = error_message(j)) e["error_message"] = *m;
        events.push_back(std::move(e));
      }
      const bool ended = j.status >= store::kJobSuccess;
      json::object o;
      o["id"] = j.id;
      o["agent_version_name"] = ver ? json::value(ver->version_name) : nullptr;
      o["status_events"] = events;
      o["status_code"] = j.status;
      o["created_at"] = format_iso8601(j.created_ms);
      o["last_updated_at"] = format_iso8601(j.updated_ms);
      o["duration_ms"] = ended ? json::value(j.updated_ms - j.created_ms) : nullptr;
      o["ui_fields"] = json::object();
      o["evaluation"] = nullptr;
      o["feedback_review"] = nullptr;
      o["creator"] = nullptr;
      o["job_inputs"] = roe::job_inputs(j.inputs_json, ver);
      o["metadata"] = object_from_text(j.metadata_json);
      results.push_back(std::move(o));
    }
    json::object out;
    out["count"] = jobs->total;
    auto url = [&](int64_t n) {
      return core_.options().public_base_url + "/v1/agents/" + agent->agent.id + "/jobs/?page=" +
             std::to_string(n) + "&page_size=" + std::to_string(*page_size) +
             (*status >= 0 ? "&status_code=" + std::to_string(*status) : "");
    };
    out["next"] = q.offset + *page_size < jobs->total ? json::value(url(*page + 1)) : nullptr;
    out["previous"] = *page > 1 ? json::value(url(*page - 1)) : nullptr;
    out["results"] = results;
    return json_response(200, out);
  }

 private:
  // A 404 for an id that is not a job of the organization (also a malformed one).
  static Status job_not_found(const Status& s, const std::string& job_id) {
    if (s.code() == StatusCode::kNotFound) return Status::not_found("agent job '" + job_id + "' not found");
    return s;
  }

  static std::optional<std::string> error_message(const store::Job& j) {
    if (j.status == store::kJobFailure) return j.error.empty() ? std::string("the job failed") : j.error;
    if (j.status == store::kJobCancelled) return std::string("the job was cancelled");
    return std::nullopt;
  }

  // {job_ids: [uuid, ...]} (1..1000) of a batch request.
  std::optional<std::vector<std::string>> job_ids(const http::Request& req, const core::Principal& p,
                                                  ApiError& err) {
    auto body = parse_object(req.body, err);
    if (!body) return std::nullopt;
    for (const auto& kv : *body) {
      if (kv.key() != "job_ids" && kv.key() != "organization_id") {
        err = invalid_value(std::string(kv.key()), "is not a field of this request (it takes job_ids)");
        return std::nullopt;
      }
    }
    FieldReader r(*body);
    auto org = r.string("organization_id");
    const json::array* ids = r.array("job_ids", true);
    if (!r.ok()) {
      err = r.error();
      return std::nullopt;
    }
    if (org && !org->empty() && *org != p.org_id) {
      err.status = Status::permission_denied("you do not have permission to access organization '" + *org + "'");
      return std::nullopt;
    }
    if (ids->empty() || ids->size() > core::kMaxJobsPerSubmit) {
      err = invalid_value("job_ids", "must hold 1 to 1000 job ids");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < ids->size(); ++i) {
      const json::value& v = (*ids)[i];
      if (!v.is_string() || !looks_like_uuid(v.as_string())) {
        err = invalid_value("job_ids[" + std::to_string(i) + "]", "must be a job id (a UUID)");
        return std::nullopt;
      }
      out.emplace_back(v.as_string());
    }
    return out;
  }

  // A job as Roe's AgentJobResultItem (id, status, result, corrected_outputs,
  // agent_id, agent_version_id, cost, inputs, input_tokens, output_tokens)
  // plus `outputs` (= result, or [] while there is none) and error_message.
  json::object result_json(const store::Job& job) {
    StoredResult r = stored_result(job);
    std::string vid = !r.agent_version_id.empty() ? r.agent_version_id : job.version_id;
    std::optional<store::AgentVersion> version;
    if (vid.empty()) {
      if (auto v = core_.agents().get(job.org_id, job.agent_id); v.is_ok()) version = v->version;
    } else if (auto v = core_.agents().get_version(job.org_id, job.agent_id, vid); v.is_ok()) {
      version = *v;
    }
    if (vid.empty() && version) vid = version->id;
    std::optional<json::array> outputs;
    std::optional<std::string> error = error_message(job);
    if (job.status == store::kJobSuccess && r.present) {
      outputs = roe::datums(r.text, version ? version->config.output_schema_json : "",
                            static_cast<double>(r.cost) / 1e9);
      if (!outputs) error = "the model's answer is not a JSON object matching the agent's output_schema";
    }
    json::object o;
    o["id"] = job.id;
    o["status"] = job.status;
    o["result"] = outputs ? json::value(*outputs) : nullptr;
    o["corrected_outputs"] = nullptr;
    o["agent_id"] = job.agent_id;
    o["agent_version_id"] = vid.empty() ? json::value(nullptr) : json::value(vid);
    o["cost"] = r.present ? json::value(static_cast<double>(r.cost) / 1e9) : nullptr;
    o["inputs"] = roe::job_inputs(job.inputs_json, version ? &*version : nullptr);
    o["input_tokens"] = r.input_tokens ? json::value(*r.input_tokens) : nullptr;
    o["output_tokens"] = r.output_tokens ? json::value(*r.output_tokens) : nullptr;
    o["outputs"] = outputs ? *outputs : json::array();
    o["error_message"] = error ? json::value(*error) : nullptr;
    return o;
  }

  // The request's fields by name, whatever the body's encoding.
  std::optional<std::map<std::string, std::string>> read_fields(const http::Request& req, http::Response& failure) {
    std::string ctype = req.header("content-type").value_or("application/json");
    std::string lc = lower(ctype);
    if (lc.rfind("application/x-www-form-urlencoded", 0) == 0) return parse_form(req.body);
    if (lc.rfind("multipart/form-data", 0) == 0) {
      std::map<std::string, std::string> fields;
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
    return object_fields(*body);
  }

  // The version a run or job uses: the agent's current one, or `version_id`.
  StatusOr<store::AgentVersion> run_version_of(const core::Principal& p, const std::string& agent_id,
                                               const std::string& version_id) {
    auto view = core_.agents().get(p.org_id, agent_id);
    if (!view.is_ok()) return view.status();
    if (!view->agent.active) return Status::not_found("agent " + agent_id + " is not active");
    if (version_id.empty()) return std::move(view->version);
    return core_.agents().get_version(p.org_id, agent_id, version_id);
  }

  // 200 with the job id as a bare JSON string.
  http::Response submit_one(http::Request& req, const core::Principal& p, const std::string& version_id) {
    std::string agent_id = req.path_param("agent_id");
    auto loaded = run_version_of(p, agent_id, version_id);
    if (!loaded.is_ok()) return error_response(kDialect, loaded.status());
    http::Response failure;
    auto fields = read_fields(req, failure);
    if (!fields) return failure;
    ApiError err;
    auto inputs = run_inputs(*fields, *loaded, "", err);
    if (!inputs) return error_response(kDialect, err);
    auto metadata = run_metadata(*fields, "", err);
    if (!metadata) return error_response(kDialect, err);
    auto jobs = core_.jobs().submit(p, agent_id, version_id, {to_json_text(*inputs)}, {*metadata});
    if (!jobs.is_ok()) return error_response(kDialect, jobs.status());
    return json_response(200, json::value(jobs->at(0).id));
  }

  http::Response run(http::Request& req, const core::Principal& p, const std::string& version_id) {
    std::string agent_id = req.path_param("agent_id");
    auto loaded = run_version_of(p, agent_id, version_id);
    if (!loaded.is_ok()) return error_response(kDialect, loaded.status());
    const store::AgentVersion& version = *loaded;
    http::Response failure;
    auto fields = read_fields(req, failure);
    if (!fields) return failure;
    ApiError err;
    auto inputs = run_inputs(*fields, version, "", err);
    if (!inputs) return error_response(kDialect, err);
    // Checked like a job's; a synchronous run makes no job to keep it on.
    if (!run_metadata(*fields, "", err)) return error_response(kDialect, err);
    auto message = core::job_message(to_json_text(*inputs));
    if (!message.is_ok()) return error_response(kDialect, message.status());
    core::RunRequest rr;
    rr.principal = p;
    rr.agent_id = agent_id;
    rr.version_id = version.id;
    rr.message = *message;
    rr.request_id = req.request_id;
    rr.endpoint = "roe.run";
    core::RateLimitInfo limits;
    auto result = core_.runner().run(rr, &limits);
    if (!result.is_ok()) return run_error(kDialect, result.status(), limits);
    auto out = roe::datums(result->text, version.config.output_schema_json, static_cast<double>(result->cost) / 1e9);
    if (!out)
      return error_response(
          kDialect, Status::internal("the model's answer is not a JSON object matching the agent's output_schema"));
    http::Response resp = json_response(200, *out);
    add_rate_limit_headers(resp, limits);
    add_result_headers(resp, *result);
    return resp;
  }

  core::Core& core_;
};

}  // namespace

void register_roe_runs(http::Router& router, core::Core& core) {
  auto api = std::make_shared<RoeRuns>(core);
  using Method = http::Response (RoeRuns::*)(http::Request&, const core::Principal&);
  auto route = [&](const char* method, const char* pattern, Method fn) {
    router.add(method, pattern, authed(core, kDialect, [api, fn](http::Request& r, const core::Principal& p) {
                 // The SDK names the organization on every call: another one's is 403.
                 if (auto org = r.query_param("organization_id"); org && !org->empty() && *org != p.org_id)
                   return error_response(kDialect, Status::permission_denied(
                                                       "you do not have permission to access organization '" +
                                                       *org + "'"));
                 return ((*api).*fn)(r, p);
               }));
  };
  route("POST", "/v1/agents/run/{agent_id}/", &RoeRuns::run_current);
  route("POST", "/v1/agents/run/{agent_id}/versions/{version_id}/", &RoeRuns::run_version);
  route("POST", "/v1/agents/run/{agent_id}/async/", &RoeRuns::async_current);
  route("POST", "/v1/agents/run/{agent_id}/versions/{version_id}/async/", &RoeRuns::async_version);
  route("POST", "/v1/agents/run/{agent_id}/async/many/", &RoeRuns::async_many);
  route("GET", "/v1/agents/jobs/{job_id}/status/", &RoeRuns::job_status);
  route("GET", "/v1/agents/jobs/{job_id}/result/", &RoeRuns::job_result);
  route("POST", "/v1/agents/jobs/{job_id}/cancel/", &RoeRuns::job_cancel);
  route("POST", "/v1/agents/jobs/{job_id}/delete-data/", &RoeRuns::job_delete_data);
  route("POST", "/v1/agents/jobs/statuses/", &RoeRuns::job_statuses);
  route("POST", "/v1/agents/jobs/results/", &RoeRuns::job_results);
  route("GET", "/v1/agents/{agent_id}/jobs/", &RoeRuns::job_list);
  route("POST", "/v1/agents/{agent_id}/jobs/cancel-all/", &RoeRuns::job_cancel_all);
}

}  // namespace agentd::api
