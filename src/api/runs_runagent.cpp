// run-agent.ai-style runs:
//   POST /v1/agents/{agent_id}/invoke {query, parameters {temperature,
//     max_tokens, top_p, ...}, context, session_id}
//     -> {result {answer, confidence, sources}, usage {prompt_tokens,
//        completion_tokens, total_tokens}, metadata {execution_time (s),
//        agent_version, request_id}}
//   POST /v1/agents/{agent_id}/stream: the same body; server-sent events
//     start {message, session_id}, chunk {content, index}*, then
//     done {usage, execution_time} or error {error, code, retry_after}.
// `context` is a string (joined to the prompt), an object (each member is
// named context, listed in `sources`) or an array of strings. Parameters
// other than temperature, max_tokens and top_p (e.g. "style") are accepted
// and ignored, as the platform does with unknown parameters.

#include <boost/json.hpp>

#include "api/agent_fields.h"
#include "api/dialects.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "api/run_common.h"

namespace agentd::api {
namespace {

namespace json = boost::json;
constexpr Dialect kDialect = Dialect::kRunAgent;

json::object usage_json(const core::RunResult& r) {
  return json::object{{"prompt_tokens", r.input_tokens},
                      {"completion_tokens", r.output_tokens},
                      {"total_tokens", r.input_tokens + r.output_tokens}};
}

class RunAgentRuns {
 public:
  explicit RunAgentRuns(core::Core& core) : core_(core) {}

  http::Response invoke(http::Request& req, const core::Principal& p) {
    core::RunRequest rr;
    http::Response failure;
    if (!read_request(req, p, "runagent.invoke", rr, failure)) return failure;
    core::RateLimitInfo limits;
    auto result = core_.runner().run(rr, &limits);
    if (!result.is_ok()) return run_error(kDialect, result.status(), limits);
    json::array sources;
    for (const auto& s : result->sources) sources.emplace_back(s);
    json::object res{{"answer", result->text}, {"sources", sources}};
    if (result->confidence)
      res["confidence"] = *result->confidence;
    else
      res["confidence"] = nullptr;
    json::object metadata{{"execution_time", result->execution_s},
                          {"agent_version", result->version.version_name},
                          {"request_id", req.request_id}};
    if (!result->session_id.empty()) metadata["session_id"] = result->session_id;
    http::Response resp =
        json_response(200, json::object{{"result", res}, {"usage", usage_json(*result)}, {"metadata", metadata}});
    add_rate_limit_headers(resp, limits);
    add_result_headers(resp, *result);
    return resp;
  }

  http::Response stream(http::Request& req, const core::Principal& p) {
    auto rr = std::make_shared<core::RunRequest>();
    http::Response failure;
    if (!read_request(req, p, "runagent.stream", *rr, failure)) return failure;
    core::RateLimitInfo limits;
    auto prepared = core_.runner().prepare(*rr, &limits);
    if (!prepared.is_ok()) return run_error(kDialect, prepared.status(), limits);
    core::AgentRunner& runner = core_.runner();
    http::Response resp = sse_response(
        std::move(prepared).value(), [&runner, rr](std::unique_ptr<core::PreparedRun> run, http::ChunkWriter& w) {
          json::object start{{"message", "Agent started"}, {"agent_id", run->agent().id}};
          if (rr->session_id.empty())
            start["session_id"] = nullptr;
          else
            start["session_id"] = rr->session_id;
          if (!w.write(sse_event("start", start))) return;
          int64_t index = 0;
          auto result = runner.execute(std::move(run), [&](std::string_view text) {
            return w.write(sse_event("chunk", json::object{{"content", text}, {"index", index++}}));
          });
          if (!result.is_ok()) {
            const Status& s = result.status();
            json::object e{{"error", s.message()}, {"code", error_code(from_status(s))}};
            e["retry_after"] = nullptr;
            if (s.code() == StatusCode::kRateLimited || s.code() == StatusCode::kUnavailable) e["retry_after"] = 1;
            w.write(sse_event("error", e));
            return;
          }
          w.write(sse_event("done", json::object{{"usage", usage_json(*result)},
                                                 {"execution_time", result->execution_s}}));
        });
    add_rate_limit_headers(resp, limits);
    return resp;
  }

 private:
  bool read_request(const http::Request& req, const core::Principal& p, const char* endpoint, core::RunRequest& rr,
                    http::Response& failure) {
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) {
      failure = error_response(kDialect, err);
      return false;
    }
    FieldReader r(*body);
    auto query = r.string("query", true);
    auto session_id = r.string("session_id");
    if (const json::object* params = r.object("parameters")) {
      FieldReader pr(*params, "parameters.");
      rr.overrides.temperature = pr.number("temperature");
      rr.overrides.max_tokens = pr.integer("max_tokens");
      rr.overrides.top_p = pr.number("top_p");
      if (!pr.ok()) r.fail(pr.error());
    }
    if (r.ok() && r.has("context")) {
      const json::value& c = body->at("context");
      if (c.is_string()) {
        rr.context = std::string(c.as_string());
      } else if (c.is_object()) {
        for (const auto& kv : c.as_object()) {
          core::NamedContext nc;
          nc.name = std::string(kv.key());
          nc.text = kv.value().is_string() ? std::string(kv.value().as_string()) : to_json_text(kv.value());
          rr.named_context.push_back(std::move(nc));
        }
      } else if (c.is_array()) {
        for (const auto& item : c.as_array()) {
          if (!item.is_string()) {
            r.fail(wrong_type("context", "string"));
            break;
          }
          if (!rr.context.empty()) rr.context += "\n";
          rr.context += std::string(item.as_string());
        }
      } else {
        r.fail(wrong_type("context", "string"));
      }
    }
    if (!r.ok()) {
      failure = error_response(kDialect, r.error());
      return false;
    }
    rr.principal = p;
    rr.agent_id = req.path_param("agent_id");
    rr.message = *query;
    rr.session_id = session_id.value_or("");
    rr.request_id = req.request_id;
    rr.endpoint = endpoint;
    return true;
  }

  core::Core& core_;
};

}  // namespace

void register_runagent_runs(http::Router& router, core::Core& core) {
  auto api = std::make_shared<RunAgentRuns>(core);
  using Method = http::Response (RunAgentRuns::*)(http::Request&, const core::Principal&);
  auto route = [&](const char* method, const char* pattern, Method fn) {
    router.add(method, pattern,
               authed(core, kDialect, [api, fn](http::Request& r, const core::Principal& p) { return ((*api).*fn)(r, p); }));
  };
  route("POST", "/v1/agents/{agent_id}/invoke", &RunAgentRuns::invoke);
  route("POST", "/v1/agents/{agent_id}/stream", &RunAgentRuns::stream);
}

}  // namespace agentd::api
