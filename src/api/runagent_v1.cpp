// run-agent.ai-style management routes: /v1/agents and /v1/agents/{agent_id}
// (no trailing slash; Roe's paths end in '/'). Errors are
// {error: {code, message, status}} with MISSING_REQUIRED_FIELD,
// INVALID_FIELD_TYPE, INVALID_FIELD_VALUE, INVALID_JSON (400),
// INVALID_API_KEY (401), AGENT_NOT_FOUND (404), ALREADY_EXISTS (409).
//
// Agent shape: {id, name, description, model, instructions, status
// ("active"|"inactive"), version, parameters {temperature, max_tokens},
// created_at, updated_at}. The list holds active and inactive agents.

#include <boost/json.hpp>

#include "api/agent_fields.h"
#include "api/dialects.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "common/clock.h"

namespace agentd::api {
namespace {

namespace json = boost::json;
constexpr Dialect kDialect = Dialect::kRunAgent;

std::string runagent_field(std::string_view core_field) {
  if (core_field == "temperature" || core_field == "max_tokens" || core_field == "top_p")
    return "parameters." + std::string(core_field);
  return std::string(core_field);
}

http::Response fail(const Status& s) { return error_response(kDialect, from_status(s, runagent_field)); }

json::object agent_json(const core::AgentView& v) {
  const auto& a = v.agent;
  const auto& c = v.version.config;
  json::object params{{"temperature", c.temperature}, {"max_tokens", c.max_tokens}};
  if (c.top_p) params["top_p"] = *c.top_p;
  return json::object{{"id", a.id},
                      {"name", a.name},
                      {"description", a.description},
                      {"model", c.model},
                      {"instructions", c.instructions},
                      {"status", a.active ? "active" : "inactive"},
                      {"version", v.version.version_name},
                      {"parameters", params},
                      {"created_at", format_iso8601(a.created_ms)},
                      {"updated_at", format_iso8601(a.updated_ms)}};
}

class RunAgentApi {
 public:
  explicit RunAgentApi(core::Core& core) : core_(core) {}

  std::optional<core::AgentSpec> read_spec(const http::Request& req, bool creating, http::Response& failure) {
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) {
      failure = error_response(kDialect, err);
      return std::nullopt;
    }
    FieldReader r(*body);
    core::AgentSpec s;
    s.name = r.string("name", creating);
    s.description = r.string("description");
    s.model = r.string("model");
    s.instructions = r.string("instructions");
    s.demonstrations = read_demonstrations(r, "demonstrations");
    if (const json::object* params = r.object("parameters")) {
      FieldReader pr(*params, "parameters.");
      s.temperature = pr.number("temperature");
      s.max_tokens = pr.integer("max_tokens");
      s.top_p = pr.number("top_p");
      if (!pr.ok()) r.fail(pr.error());
    }
    if (auto status = r.string("status")) {
      if (*status == "active")
        s.active = true;
      else if (*status == "inactive")
        s.active = false;
      else
        r.fail(invalid_value("status", "must be 'active' or 'inactive'"));
    }
    if (!r.ok()) {
      failure = error_response(kDialect, r.error());
      return std::nullopt;
    }
    return s;
  }

  http::Response list(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    ApiError err;
    auto page = query_int(req, "page", 1, 1, 1000000, err);
    if (!page) return error_response(kDialect, err);
    auto limit = query_int(req, "limit", 20, 1, 100, err);
    if (!limit) return error_response(kDialect, err);
    store::AgentQuery q;
    q.offset = (*page - 1) * *limit;
    q.limit = *limit;
    if (auto search = req.query_param("search")) q.search = *search;
    auto list = core_.agents().list(p->org_id, q);
    if (!list.is_ok()) return fail(list.status());
    json::array data;
    for (const auto& v : list->items) data.push_back(agent_json(v));
    int64_t pages = (list->total + *limit - 1) / *limit;
    json::object pagination{{"page", *page}, {"limit", *limit}, {"total", list->total}, {"pages", pages}};
    return json_response(200, json::object{{"data", data}, {"pagination", pagination}});
  }

  http::Response create(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    auto spec = read_spec(req, true, resp);
    if (!spec) return resp;
    auto v = core_.agents().create(p->org_id, p->key_prefix, *spec);
    if (!v.is_ok()) return fail(v.status());
    return json_response(201, agent_json(*v));
  }

  http::Response get(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    auto v = core_.agents().get(p->org_id, req.path_param("agent_id"));
    if (!v.is_ok()) return fail(v.status());
    return json_response(200, agent_json(*v));
  }

  http::Response update(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    auto spec = read_spec(req, false, resp);
    if (!spec) return resp;
    auto v = core_.agents().update(p->org_id, req.path_param("agent_id"), *spec);
    if (!v.is_ok()) return fail(v.status());
    return json_response(200, agent_json(*v));
  }

  http::Response remove(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    std::string id = req.path_param("agent_id");
    Status s = core_.agents().remove(p->org_id, id);
    if (!s.is_ok()) return fail(s);
    return json_response(200, json::object{{"id", id}, {"deleted", true}});
  }

  // Readiness of one agent: its model is configured and the agent active.
  http::Response health(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    auto v = core_.agents().get(p->org_id, req.path_param("agent_id"));
    if (!v.is_ok()) return fail(v.status());
    bool model_ok = core_.models().find(v->version.config.model) != nullptr;
    bool healthy = model_ok && v->agent.active;
    return json_response(healthy ? 200 : 503, json::object{{"status", healthy ? "healthy" : "unhealthy"},
                                                           {"agent_id", v->agent.id},
                                                           {"model", v->version.config.model},
                                                           {"model_available", model_ok},
                                                           {"active", v->agent.active}});
  }

 private:
  core::Core& core_;
};

}  // namespace

void register_runagent_v1(http::Router& router, core::Core& core) {
  auto api = std::make_shared<RunAgentApi>(core);
  using Method = http::Response (RunAgentApi::*)(http::Request&, const core::Principal&);
  auto route = [&](const char* method, const char* pattern, Method fn) {
    router.add(method, pattern,
               authed(core, kDialect, [api, fn](http::Request& r, const core::Principal& p) { return ((*api).*fn)(r, p); }));
  };
  route("GET", "/v1/agents", &RunAgentApi::list);
  route("POST", "/v1/agents", &RunAgentApi::create);
  route("GET", "/v1/agents/{agent_id}", &RunAgentApi::get);
  route("PATCH", "/v1/agents/{agent_id}", &RunAgentApi::update);
  route("DELETE", "/v1/agents/{agent_id}", &RunAgentApi::remove);
  route("GET", "/v1/agents/{agent_id}/health", &RunAgentApi::health);
}

}  // namespace agentd::api
