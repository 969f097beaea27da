// Nugen-style management API under /api/v3/agents. Field names and shapes as
// in ../shared/seeds/nugen-get-agent.txt; FastAPI-style errors (422 with
// {detail: [{loc, msg, type}]}, else {detail: "..."}).
//
// Choices: create answers 200 {data: Agent}; DELETE removes the agent for
// good; an inactive agent (PATCH {"is_active": false}) is 404 on GET and
// hidden from the list unless include_inactive=true. usage_count, last_used
// and performance_metrics {total_requests, average_response_time (ms),
// success_rate (0..1)} come from the agent's runs, failed ones included;
// before any run they are 0, null and {0, 0, 0.0}.

#include <boost/json.hpp>

#include <cmath>

#include "api/agent_fields.h"
#include "api/dialects.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "common/clock.h"

namespace agentd::api {
namespace {

namespace json = boost::json;
constexpr Dialect kDialect = Dialect::kNugen;

// Core field names -> Nugen request field names.
std::string nugen_field(std::string_view core_field) {
  if (core_field == "name") return "agent_name";
  if (core_field == "description") return "agent_description";
  if (core_field == "conversation_saving") return "conversation_saving_enabled";
  return std::string(core_field);
}

http::Response fail(const Status& s) { return error_response(kDialect, from_status(s, nugen_field)); }

class NugenApi {
 public:
  explicit NugenApi(core::Core& core) : core_(core) {}

  // `usage`: the agent's figures when the caller has them (a list), else
  // they are read here.
  json::object agent_json(const core::AgentView& v, const store::AgentUsage* usage = nullptr) const {
    const auto& a = v.agent;
    const auto& c = v.version.config;
    json::object o;
    o["id"] = a.id;
    o["name"] = a.name;
    o["description"] = a.description;
    o["base_model"] = c.model;
    o["base_model_name"] = core_.agents().model_display_name(c.model);
    o["created_date"] = format_iso8601(a.created_ms);
    o["status"] = a.active ? "Active" : "Inactive";
    o["creator"] = a.creator;
    o["endpoint"] = core_.options().public_base_url + "/api/v3/agents/run-agents/" + a.name + "/run";
    // From the agent's runs (failed ones count as requests); zeros when the
    // store cannot say, rather than failing the whole answer.
    store::AgentUsage u;
    if (usage != nullptr) {
      u = *usage;
    } else if (auto read = core_.store().agent_usage(a.org_id, a.id); read.is_ok()) {
      u = *read;
    }
    o["usage_count"] = u.usage_count;
    if (u.last_used_ms > 0)
      o["last_used"] = format_iso8601(u.last_used_ms);
    else
      o["last_used"] = nullptr;
    o["performance_metrics"] = json::object{{"total_requests", u.total_requests},
                                            {"average_response_time", std::llround(u.average_latency_ms)},
                                            {"success_rate", u.success_rate}};
    o["system_prompt"] = c.instructions;
    o["uncertainty_threshold"] = c.temperature;
    o["conversation_saving_enabled"] = c.conversation_saving;
    // Beyond the seed page: the rest of the configuration.
    o["max_tokens"] = c.max_tokens;
    o["temperature"] = c.temperature;
    o["demonstrations"] = demonstrations_json(c.demonstrations);
    o["is_active"] = a.active;
    o["updated_date"] = format_iso8601(a.updated_ms);
    o["version"] = v.version.version_name;
    return o;
  }

  // Reads the create/PATCH body into a spec. nullopt + `failure` on error.
  std::optional<core::AgentSpec> read_spec(const http::Request& req, bool creating, http::Response& failure) {
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) {
      failure = error_response(kDialect, err);
      return std::nullopt;
    }
    FieldReader r(*body);
    core::AgentSpec s;
    s.name = r.string("agent_name", creating);
    s.description = r.string("agent_description");
    s.model = r.string("model");
    s.max_tokens = r.integer("max_tokens");
    if (!s.max_tokens && r.ok()) s.max_tokens = r.integer("max_token");
    s.temperature = r.number("temperature");
    s.top_p = r.number("top_p");
    s.instructions = r.string("instructions");
    s.demonstrations = read_demonstrations(r, "demonstrations");
    s.conversation_saving = r.boolean("conversation_saving_enabled");
    if (!creating) s.active = r.boolean("is_active");
    if (!r.ok()) {
      failure = error_response(kDialect, r.error());
      return std::nullopt;
    }
    return s;
  }

  http::Response create(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    auto spec = read_spec(req, true, resp);
    if (!spec) return resp;
    auto v = core_.agents().create(p->org_id, p->key_prefix, *spec);
    if (!v.is_ok()) return fail(v.status());
    return json_response(200, json::object{{"data", agent_json(*v)}});
  }

  http::Response list(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    ApiError err;
    auto include_inactive = query_bool(req, "include_inactive", false, err);
    if (!include_inactive) return error_response(kDialect, err);
    json::array agents;
    store::AgentQuery q;
    q.include_inactive = *include_inactive;
    q.limit = 500;
    auto usages = core_.store().agent_usages(p->org_id);
    if (!usages.is_ok()) return fail(usages.status());
    const store::AgentUsage none;
    for (;;) {
      auto page = core_.agents().list(p->org_id, q);
      if (!page.is_ok()) return fail(page.status());
      for (const auto& v : page->items) {
        auto it = usages->find(v.agent.id);
        agents.push_back(agent_json(v, it != usages->end() ? &it->second : &none));
      }
      q.offset += static_cast<int64_t>(page->items.size());
      if (page->items.empty() || q.offset >= page->total) break;
    }
    return json_response(200, json::object{{"agents", agents}});
  }

  http::Response get(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    auto v = core_.agents().get(p->org_id, req.path_param("agent_id"));
    if (!v.is_ok()) return fail(v.status());
    if (!v->agent.active) return fail(Status::not_found("agent '" + v->agent.id + "' is inactive"));
    return json_response(200, json::object{{"data", agent_json(*v)}});
  }

  http::Response update(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    auto spec = read_spec(req, false, resp);
    if (!spec) return resp;
    auto v = core_.agents().update(p->org_id, req.path_param("agent_id"), *spec);
    if (!v.is_ok()) return fail(v.status());
    return json_response(200, json::object{{"data", agent_json(*v)}});
  }

  http::Response remove(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    std::string id = req.path_param("agent_id");
    Status s = core_.agents().remove(p->org_id, id);
    if (!s.is_ok()) return fail(s);
    return json_response(200, json::object{{"agent_id", id}, {"message", "Agent deleted successfully"}});
  }

 private:
  core::Core& core_;
};

}  // namespace

void register_nugen_v3(http::Router& router, core::Core& core) {
  auto api = std::make_shared<NugenApi>(core);
  using Method = http::Response (NugenApi::*)(http::Request&, const core::Principal&);
  auto route = [&](const char* method, const char* pattern, Method fn) {
    router.add(method, pattern,
               authed(core, kDialect, [api, fn](http::Request& r, const core::Principal& p) { return ((*api).*fn)(r, p); }));
  };
  route("POST", "/api/v3/agents/create", &NugenApi::create);
  route("GET", "/api/v3/agents", &NugenApi::list);
  route("GET", "/api/v3/agents/", &NugenApi::list);
  route("GET", "/api/v3/agents/{agent_id}", &NugenApi::get);
  route("PATCH", "/api/v3/agents/{agent_id}", &NugenApi::update);
  route("DELETE", "/api/v3/agents/{agent_id}", &NugenApi::remove);
}

}  // namespace agentd::api
