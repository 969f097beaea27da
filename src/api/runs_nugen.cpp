// Nugen-style run routes under /api/v3/agents:
//   POST /api/v3/agents/run-agents/{agent_name}/run   {message}, X-Session-ID
//   POST /api/v3/agents/{agent_id}/run/ (and without the slash)
//     -> {agent_id, model, response, usage {input_tokens, output_tokens, total_tokens}}
//   GET  /api/v3/agents/usage/ -> {data: {totalUsage (requests), totalTokens,
//        averageTokensPerRequest, mostUsedModel, usageByModel {model: {...}},
//        totalCost (USD, beyond the seed)}}
//   GET    /api/v3/agents/{agent_id}/sessions               -> {sessions: [...]}
//   GET    /api/v3/agents/{agent_id}/sessions/{session_id}  -> {data: {..., messages}}
//   DELETE /api/v3/agents/{agent_id}/sessions/{session_id}  -> {session_id, message}

#include <boost/json.hpp>

#include "api/agent_fields.h"
#include "api/dialects.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "api/run_common.h"
#include "common/clock.h"

namespace agentd::api {
namespace {

namespace json = boost::json;
constexpr Dialect kDialect = Dialect::kNugen;

double usd(store::Nanos n) { return static_cast<double>(n) / 1e9; }

class NugenRuns {
 public:
  explicit NugenRuns(core::Core& core) : core_(core) {}

  http::Response run_by_name(http::Request& req, const core::Principal& p) {
    return run(req, p, "", req.path_param("agent_name"));
  }
  http::Response run_by_id(http::Request& req, const core::Principal& p) {
    return run(req, p, req.path_param("agent_id"), "");
  }

  http::Response usage(http::Request&, const core::Principal& p) {
    auto u = core_.store().org_usage(p.org_id);
    if (!u.is_ok()) return error_response(kDialect, u.status());
    int64_t total_tokens = u->input_tokens + u->output_tokens;
    json::object by_model;
    std::string most_used;
    int64_t most = -1;
    for (const auto& m : u->by_model) {
      by_model[m.model] = json::object{{"requests", m.requests},
                                       {"input_tokens", m.input_tokens},
                                       {"output_tokens", m.output_tokens},
                                       {"total_tokens", m.input_tokens + m.output_tokens},
                                       {"cost", usd(m.cost)}};
      if (m.requests > most) {
        most = m.requests;
        most_used = m.model;
      }
    }
    json::object data{{"totalUsage", u->requests},
                      {"totalTokens", total_tokens},
                      {"averageTokensPerRequest",
                       u->requests > 0 ? static_cast<double>(total_tokens) / static_cast<double>(u->requests) : 0.0},
                      {"usageByModel", by_model},
                      {"totalCost", usd(u->cost)}};
    if (most_used.empty())
      data["mostUsedModel"] = nullptr;
    else
      data["mostUsedModel"] = most_used;
    return json_response(200, json::object{{"data", data}});
  }

  http::Response list_sessions(http::Request& req, const core::Principal& p) {
    std::string agent_id = req.path_param("agent_id");
    auto agent = core_.agents().get(p.org_id, agent_id);
    if (!agent.is_ok()) return error_response(kDialect, agent.status());
    auto sessions = core_.store().list_sessions(p.org_id, agent_id, 1000);
    if (!sessions.is_ok()) return error_response(kDialect, sessions.status());
    json::array out;
    for (const auto& s : *sessions) out.push_back(session_json(s));
    return json_response(200, json::object{{"sessions", out}});
  }

  http::Response get_session(http::Request& req, const core::Principal& p) {
    std::string agent_id = req.path_param("agent_id");
    std::string session_id = req.path_param("session_id");
    auto s = core_.store().get_session(p.org_id, agent_id, session_id);
    if (!s.is_ok()) return error_response(kDialect, s.status());
    auto turns = core_.store().list_turns(p.org_id, agent_id, session_id);
    if (!turns.is_ok()) return error_response(kDialect, turns.status());
    json::object data = session_json(*s);
    json::array messages;
    for (const auto& t : *turns)
      messages.push_back(json::object{{"role", t.role},
                                      {"content", t.content},
                                      {"tokens", t.tokens},
                                      {"created_at", format_iso8601(t.created_ms)}});
    data["messages"] = messages;
    return json_response(200, json::object{{"data", data}});
  }

  http::Response delete_session(http::Request& req, const core::Principal& p) {
    std::string session_id = req.path_param("session_id");
    Status s = core_.store().delete_session(p.org_id, req.path_param("agent_id"), session_id);
    if (!s.is_ok()) return error_response(kDialect, s);
    return json_response(200, json::object{{"session_id", session_id}, {"message", "Session deleted successfully"}});
  }

 private:
  static json::object session_json(const store::Session& s) {
    return json::object{{"session_id", s.session_id},
                        {"agent_id", s.agent_id},
                        {"turn_count", s.turn_count},
                        {"created_at", format_iso8601(s.created_ms)},
                        {"updated_at", format_iso8601(s.updated_ms)}};
  }

  http::Response run(http::Request& req, const core::Principal& p, std::string agent_id, std::string agent_name) {
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) return error_response(kDialect, err);
    FieldReader r(*body);
    auto message = r.string("message", true);
    if (!r.ok()) return error_response(kDialect, r.error());
    core::RunRequest rr;
    rr.principal = p;
    rr.agent_id = std::move(agent_id);
    rr.agent_name = std::move(agent_name);
    rr.message = *message;
    rr.session_id = req.header("x-session-id").value_or("");
    rr.request_id = req.request_id;
    rr.endpoint = "nugen.run";
    core::RateLimitInfo limits;
    auto result = core_.runner().run(rr, &limits);
    if (!result.is_ok()) return run_error(kDialect, result.status(), limits);
    json::object usage{{"input_tokens", result->input_tokens},
                       {"output_tokens", result->output_tokens},
                       {"total_tokens", result->input_tokens + result->output_tokens}};
    http::Response resp = json_response(200, json::object{{"agent_id", result->agent.id},
                                                          {"model", result->model_id},
                                                          {"response", result->text},
                                                          {"usage", usage}});
    if (!result->session_id.empty()) resp.set_header("X-Session-ID", result->session_id);
    add_rate_limit_headers(resp, limits);
    add_result_headers(resp, *result);
    return resp;
  }

  core::Core& core_;
};

}  // namespace

void register_nugen_runs(http::Router& router, core::Core& core) {
  auto api = std::make_shared<NugenRuns>(core);
  using Method = http::Response (NugenRuns::*)(http::Request&, const core::Principal&);
  auto route = [&](const char* method, const char* pattern, Method fn) {
    router.add(method, pattern,
               authed(core, kDialect, [api, fn](http::Request& r, const core::Principal& p) { return ((*api).*fn)(r, p); }));
  };
  route("POST", "/api/v3/agents/run-agents/{agent_name}/run", &NugenRuns::run_by_name);
  route("POST", "/api/v3/agents/{agent_id}/run/", &NugenRuns::run_by_id);
  route("POST", "/api/v3/agents/{agent_id}/run", &NugenRuns::run_by_id);
  route("GET", "/api/v3/agents/usage/", &NugenRuns::usage);
  route("GET", "/api/v3/agents/usage", &NugenRuns::usage);
  route("GET", "/api/v3/agents/{agent_id}/sessions", &NugenRuns::list_sessions);
  route("GET", "/api/v3/agents/{agent_id}/sessions/{session_id}", &NugenRuns::get_session);
  route("DELETE", "/api/v3/agents/{agent_id}/sessions/{session_id}", &NugenRuns::delete_session);
}

}  // namespace agentd::api
