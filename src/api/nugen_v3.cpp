// Nugen-style management API under /api/v3/agents. Field names and shapes as
// in ../shared/seeds/nugen-get-agent.txt; FastAPI-style errors (422 with
// {detail: [{loc, msg, type}]}, else {detail: "..."}).
//
// The same routes under /agents, the base of Nugen's first agents API that
// its published guides still use, answer in that API's shapes: create, get
// and PATCH a flat {agent_name (the normalized name), agent_description,
// model, temperature, max_tokens, instructions, demonstrations, id, status
// ("active"), created_at, updated_at, username}; GET /agents/ the list of
// active agent ids; GET /agents/available_models/ {available_models: [id],
// default_model}; DELETE 204. Runs and usage: runs_nugen.cpp.
//
// Every route answers with and without a trailing slash (nugen.h).
//
// Choices: create answers 200 {data: Agent}; a name taken in the
// organization is 400 {detail: "an agent named 'x' already exists"} (what
// clients test for); DELETE removes the agent for good and answers 204 with
// no body; demonstrations are answered as Nugen writes them, {user_input,
// model_output}; GET /api/v3/agents/available_models lists the configured
// models as [{id, name, base_model}]; an inactive agent (PATCH {"is_active": false}) is 404 on GET and
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
#include "api/nugen.h"
#include "common/clock.h"

namespace agentd::api {
namespace {

namespace json = boost::json;
constexpr Dialect kDialect = Dialect::kNugen;

// The two bases differ only in their answers' shapes.
enum class Base {
  kV3,      // /api/v3/agents: {data: Agent}, {agents: [Agent]}
  kLegacy,  // /agents (the cookbook's first base): flat records, a list of ids
};

class NugenApi {
 public:
  NugenApi(core::Core& core, Base base) : core_(core), base_(base) {}

  // The legacy base's flat record, as Nugen's first agents API answered.
  json::object legacy_json(const core::AgentView& v) const {
    const auto& a = v.agent;
    const auto& c = v.version.config;
    return json::object{{"agent_name", a.name},
                        {"agent_description", a.description},
                        {"model", c.model},
                        {"temperature", c.temperature},
                        {"max_tokens", c.max_tokens},
                        {"instructions", c.instructions},
                        {"demonstrations", demonstrations_json(c.demonstrations, DemonstrationShape::kNugen)},
                        {"id", a.id},
                        {"status", a.active ? "active" : "inactive"},
                        {"created_at", format_iso8601(a.created_ms)},
                        {"updated_at", format_iso8601(a.updated_ms)},
                        {"username", a.creator}};
  }

  http::Response agent_answer(const core::AgentView& v) const {
    if (base_ == Base::kLegacy) return json_response(200, legacy_json(v));
    return json_response(200, json::object{{"data", agent_json(v)}});
  }

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
    o["demonstrations"] = demonstrations_json(c.demonstrations, DemonstrationShape::kNugen);
    o["is_active"] = a.active;
    o["updated_date"] = format_iso8601(a.updated_ms);
    o["version"] = v.version.version_name;
    return o;
  }

  http::Response create(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    auto spec = read_nugen_agent_spec(req, true, resp);
    if (!spec) return resp;
    auto v = core_.agents().create(p->org_id, p->key_prefix, *spec);
    if (!v.is_ok()) return nugen_failure(v.status());
    return agent_answer(*v);
  }

  http::Response list(http::Request& req, const core::Principal& principal) {
    const core::Principal* p = &principal;
    ApiError err;
    auto include_inactive = query_bool(req, "include_inactive", false, err);
    if (!include_inactive) return error_response(kDialect, err);
    json::array agents;
    store::AgentQuery q;
    q.include_inactive = *include_inactive;
    q.limit = 500;
    auto usages = core_.store().agent_usages(p->org_id);
    if (!usages.is_ok()) return nugen_failure(usages.status());
    const store::AgentUsage none;
    for (;;) {
      auto page = core_.agents().list(p->org_id, q);
      if (!page.is_ok()) return nugen_failure(page.status());
      for (const auto& v : page->items) {
        auto it = usages->find(v.agent.id);
        if (base_ == Base::kLegacy)
          agents.push_back(json::string(v.agent.id));
        else
          agents.push_back(agent_json(v, it != usages->end() ? &it->second : &none));
      }
      q.offset += static_cast<int64_t>(page->items.size());
      if (page->items.empty() || q.offset >= page->total) break;
    }
    if (base_ == Base::kLegacy) return json_response(200, agents);
    return json_response(200, json::object{{"agents", agents}});
  }

  http::Response get(http::Request& req, const core::Principal& principal) {
    const core::Principal* p = &principal;
    auto v = core_.agents().get(p->org_id, req.path_param("agent_id"));
    if (!v.is_ok()) return nugen_failure(v.status());
    if (!v->agent.active) return nugen_failure(Status::not_found("agent '" + v->agent.id + "' is inactive"));
    return agent_answer(*v);
  }

  http::Response update(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = &principal;
    auto spec = read_nugen_agent_spec(req, false, resp);
    if (!spec) return resp;
    auto v = core_.agents().update(p->org_id, req.path_param("agent_id"), *spec);
    if (!v.is_ok()) return nugen_failure(v.status());
    return agent_answer(*v);
  }

  http::Response remove(http::Request& req, const core::Principal& principal) {
    const core::Principal* p = &principal;
    std::string id = req.path_param("agent_id");
    Status s = core_.agents().remove(p->org_id, id);
    if (!s.is_ok()) return nugen_failure(s);
    return http::Response::no_content();  // the cookbook treats anything else as a failure
  }

  // The models agents may name: the configuration's [[models]], in order;
  // the legacy base names them {available_models: [id], default_model}.
  http::Response available_models(http::Request&, const core::Principal&) {
    json::array models;
    for (const model::ModelSpec& m : core_.models().all()) {
      if (base_ == Base::kLegacy)
        models.push_back(json::string(m.id));
      else
        models.push_back(
            json::object{{"id", m.id}, {"name", core_.agents().model_display_name(m.id)}, {"base_model", m.id}});
    }
    if (base_ == Base::kV3) return json_response(200, models);
    json::value default_model = nullptr;  // what a create without `model` takes
    if (!core_.models().all().empty()) default_model = core_.models().all().front().id;
    return json_response(200, json::object{{"available_models", models}, {"default_model", default_model}});
  }

 private:
  core::Core& core_;
  const Base base_;
};

void register_base(http::Router& router, core::Core& core, Base base, const std::string& prefix) {
  auto api = std::make_shared<NugenApi>(core, base);
  using Method = http::Response (NugenApi::*)(http::Request&, const core::Principal&);
  auto route = [&](const char* method, const std::string& pattern, Method fn) {
    add_nugen_route(router, core, method, prefix + pattern,
                    [api, fn](http::Request& r, const core::Principal& p) { return ((*api).*fn)(r, p); });
  };
  route("POST", "/create", &NugenApi::create);
  route("GET", "", &NugenApi::list);
  route("GET", "/available_models", &NugenApi::available_models);
  route("GET", "/{agent_id}", &NugenApi::get);
  route("PATCH", "/{agent_id}", &NugenApi::update);
  route("DELETE", "/{agent_id}", &NugenApi::remove);
}

}  // namespace

void register_nugen_v3(http::Router& router, core::Core& core) {
  register_base(router, core, Base::kV3, "/api/v3/agents");
  register_base(router, core, Base::kLegacy, "/agents");
}

}  // namespace agentd::api
