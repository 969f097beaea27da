// Nugen-style run routes under /api/v3/agents (each with and without a
// trailing slash):
//   POST /api/v3/agents/run-agents/{agent_name}/run   {message, stream?}, X-Session-ID
//   POST /api/v3/agents/{agent_id}/run
//     -> {agent_id, model, response, usage {input_tokens, output_tokens, total_tokens}}
//     With "stream": true in the body (or ?stream=true when the body does
//     not say), text/event-stream instead, as the cookbook reads it:
//       data: {"agent_id", "model", "choices": [{"index": 0, "delta": {"text": "..."}, "finish_reason": null}]}
//       ... then one chunk with an empty delta, finish_reason ("stop" |
//       "length") and usage {input_tokens, output_tokens, total_tokens};
//       data: [DONE]
//     A failure after the headers is one event {"detail": "..."} before
//     [DONE]. Streamed runs are accounted as any run; a client that goes
//     away is charged what was generated (core/agent_runner.h).
//   GET  /api/v3/agents/usage/ -> {data: {totalUsage (requests), totalTokens,
//        averageTokensPerRequest, mostUsedModel, usageByModel {model: {...}},
//        totalCost (USD, beyond the seed)}}
//   The first base's POST /agents/{agent_id}/run (same answers) and
//   GET /agents/usage -> {total_active_agents, total_deleted_agents (deleted
//        agents that had runs), agent_usage_summary {agent_id: {agent_name,
//        total_tokens, input_tokens, output_tokens}}, most_used_agent
//        {agent_id, agent_name, total_tokens} (by tokens; null without agents)}
//   GET    /api/v3/agents/{agent_id}/sessions               -> {sessions: [...]}
//   GET    /api/v3/agents/{agent_id}/sessions/{session_id}  -> {data: {..., messages}}
//   DELETE /api/v3/agents/{agent_id}/sessions/{session_id}  -> {session_id, message}

#include <boost/json.hpp>

#include "api/agent_fields.h"
#include "api/dialects.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "api/nugen.h"
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
    return nugen_run(core_, req, p, "", req.path_param("agent_name"), "nugen.run");
  }
  http::Response run_by_id(http::Request& req, const core::Principal& p) {
    return nugen_run(core_, req, p, req.path_param("agent_id"), "", "nugen.run");
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

  // The legacy base's usage: per agent, by tokens.
  http::Response legacy_usage(http::Request&, const core::Principal& p) {
    auto usages = core_.store().agent_usages(p.org_id);
    if (!usages.is_ok()) return nugen_failure(usages.status());
    json::object summary;
    json::value most_used = nullptr;
    int64_t most = -1, active = 0, existing_with_runs = 0;
    store::AgentQuery q;
    q.include_inactive = true;
    q.limit = 500;
    for (;;) {
      auto page = core_.agents().list(p.org_id, q);
      if (!page.is_ok()) return nugen_failure(page.status());
      for (const auto& v : page->items) {
        if (v.agent.active) ++active;
        auto it = usages->find(v.agent.id);
        const store::AgentUsage u = it != usages->end() ? it->second : store::AgentUsage{};
        if (it != usages->end()) ++existing_with_runs;
        const int64_t total = u.input_tokens + u.output_tokens;
        summary[v.agent.id] = json::object{{"agent_name", v.agent.name},
                                           {"total_tokens", total},
                                           {"input_tokens", u.input_tokens},
                                           {"output_tokens", u.output_tokens}};
        if (total > most) {
          most = total;
          most_used = json::object{{"agent_id", v.agent.id}, {"agent_name", v.agent.name}, {"total_tokens", total}};
        }
      }
      q.offset += static_cast<int64_t>(page->items.size());
      if (page->items.empty() || q.offset >= page->total) break;
    }
    // Deleted agents are gone but their runs stay: those that ran are counted.
    const auto deleted = static_cast<int64_t>(usages->size()) - existing_with_runs;
    return json_response(200, json::object{{"total_active_agents", active},
                                           {"total_deleted_agents", deleted},
                                           {"agent_usage_summary", summary},
                                           {"most_used_agent", most_used}});
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

  core::Core& core_;
};

json::object usage_json(const core::RunResult& r) {
  return json::object{{"input_tokens", r.input_tokens},
                      {"output_tokens", r.output_tokens},
                      {"total_tokens", r.input_tokens + r.output_tokens}};
}

// One event of a streamed run: `delta` text (or none) and the finish.
std::string stream_chunk(const std::string& agent_id, const std::string& model, std::optional<std::string_view> text,
                         const core::RunResult* done) {
  json::object delta;
  if (text) delta["text"] = *text;
  json::object choice{{"index", 0}, {"delta", std::move(delta)}};
  if (done != nullptr)
    choice["finish_reason"] = done->finish_reason;
  else
    choice["finish_reason"] = nullptr;
  json::object o{{"agent_id", agent_id}, {"model", model}, {"choices", json::array{std::move(choice)}}};
  if (done != nullptr) o["usage"] = usage_json(*done);
  return sse_event("", o);
}

}  // namespace

http::Response nugen_run(core::Core& core, http::Request& req, const core::Principal& p, std::string agent_id,
                         std::string agent_name, std::string_view endpoint) {
  ApiError err;
  auto body = parse_object(req.body, err);
  if (!body) return error_response(kDialect, err);
  FieldReader r(*body);
  auto message = r.string("message", true);
  auto stream = r.boolean("stream");
  if (!r.ok()) return error_response(kDialect, r.error());
  if (!stream) {
    auto from_query = query_bool(req, "stream", false, err);
    if (!from_query) return error_response(kDialect, err);
    stream = *from_query;
  }
  core::RunRequest rr;
  rr.principal = p;
  rr.agent_id = std::move(agent_id);
  rr.agent_name = std::move(agent_name);
  rr.message = *message;
  rr.session_id = req.header("x-session-id").value_or("");
  rr.request_id = req.request_id;
  rr.endpoint = std::string(endpoint);
  core::RateLimitInfo limits;
  http::Response resp;
  if (!*stream) {
    auto result = core.runner().run(rr, &limits);
    if (!result.is_ok()) return run_error(kDialect, result.status(), limits);
    resp = json_response(200, json::object{{"agent_id", result->agent.id},
                                           {"model", result->model_id},
                                           {"response", result->text},
                                           {"usage", usage_json(*result)}});
    add_result_headers(resp, *result);
  } else {
    auto prepared = core.runner().prepare(rr, &limits);
    if (!prepared.is_ok()) return run_error(kDialect, prepared.status(), limits);
    core::AgentRunner& runner = core.runner();
    const std::string id = (*prepared)->agent().id;
    const std::string model = (*prepared)->version().config.model;
    resp = sse_response(std::move(prepared).value(),
                        [&runner, id, model](std::unique_ptr<core::PreparedRun> run, http::ChunkWriter& w) {
                          auto result = runner.execute(std::move(run), [&](std::string_view text) {
                            return w.write(stream_chunk(id, model, text, nullptr));
                          });
                          if (result.is_ok())
                            w.write(stream_chunk(id, model, std::nullopt, &*result));
                          else if (result.status().code() != StatusCode::kCancelled)
                            w.write(sse_event("", json::object{{"detail", result.status().message()}}));
                          w.write("data: [DONE]\n\n");
                        });
  }
  if (!rr.session_id.empty()) resp.set_header("X-Session-ID", rr.session_id);
  add_rate_limit_headers(resp, limits);
  return resp;
}

void register_nugen_runs(http::Router& router, core::Core& core) {
  auto api = std::make_shared<NugenRuns>(core);
  using Method = http::Response (NugenRuns::*)(http::Request&, const core::Principal&);
  auto route = [&](const char* method, const char* pattern, Method fn) {
    add_nugen_route(router, core, method, pattern,
                    [api, fn](http::Request& r, const core::Principal& p) { return ((*api).*fn)(r, p); });
  };
  route("POST", "/api/v3/agents/run-agents/{agent_name}/run", &NugenRuns::run_by_name);
  route("POST", "/api/v3/agents/{agent_id}/run", &NugenRuns::run_by_id);
  route("GET", "/api/v3/agents/usage", &NugenRuns::usage);
  route("POST", "/agents/{agent_id}/run", &NugenRuns::run_by_id);  // Nugen's first base
  route("GET", "/agents/usage", &NugenRuns::legacy_usage);
  route("GET", "/api/v3/agents/{agent_id}/sessions", &NugenRuns::list_sessions);
  route("GET", "/api/v3/agents/{agent_id}/sessions/{session_id}", &NugenRuns::get_session);
  route("DELETE", "/api/v3/agents/{agent_id}/sessions/{session_id}", &NugenRuns::delete_session);
}

}  // namespace agentd::api
