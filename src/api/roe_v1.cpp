// Roe-style management routes: /v1/agents/..., every path ending in '/'.
// Errors are {message} (plus `field` for a field problem): 400 bad input,
// 403 an organization_id that is not the key's, 404 unknown agent or
// version (also another organization's agent: its existence is not
// revealed), 409 duplicate name.
//
// engine_config: model, instructions (or Roe's "instruction"), temperature,
// max_tokens, top_p and output_schema (an object) map onto the agent's
// configuration; other keys are kept and returned as given.
// Versions: POST .../versions/ starts from the current configuration, applies
// the body, and becomes current unless "make_current": false. The version
// list is a plain array, oldest first.

#include <boost/json.hpp>

#include "api/agent_fields.h"
#include "api/dialects.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "common/clock.h"

namespace agentd::api {
namespace {

namespace json = boost::json;
constexpr Dialect kDialect = Dialect::kRoe;

constexpr std::string_view kKnownEngineKeys[] = {"model", "instructions", "instruction", "temperature",
                                                  "max_tokens", "top_p", "output_schema"};

std::string roe_field(std::string_view f) {
  if (f == "model" || f == "instructions" || f == "temperature" || f == "max_tokens" || f == "top_p" ||
      f == "output_schema" || f == "engine_config")
    return f == "engine_config" ? std::string(f) : "engine_config." + std::string(f);
  return std::string(f);
}

http::Response fail(const Status& s) { return error_response(kDialect, from_status(s, roe_field)); }

json::object engine_config_json(const store::AgentConfig& c) {
  json::object o = object_from_text(c.engine_config_json);
  o["model"] = c.model;
  o["instructions"] = c.instructions;
  o["temperature"] = c.temperature;
  o["max_tokens"] = c.max_tokens;
  if (c.top_p) o["top_p"] = *c.top_p;
  if (!c.output_schema_json.empty())
    o["output_schema"] = object_from_text(c.output_schema_json);
  else
    o["output_schema"] = nullptr;
  if (!c.demonstrations.empty()) o["demonstrations"] = demonstrations_json(c.demonstrations);
  return o;
}

json::object version_json(const store::AgentVersion& v, const std::string& current_id) {
  return json::object{{"id", v.id},
                      {"agent_id", v.agent_id},
                      {"version_name", v.version_name},
                      {"version_number", v.number},
                      {"description", v.description},
                      {"input_definitions", input_definitions_json(v.config.input_definitions)},
                      {"engine_config", engine_config_json(v.config)},
                      {"created_at", format_iso8601(v.created_ms)},
                      {"is_current", v.id == current_id}};
}

json::object agent_json(const core::AgentView& v) {
  const auto& a = v.agent;
  return json::object{{"id", a.id},
                      {"name", a.name},
                      {"description", a.description},
                      {"organization_id", a.org_id},
                      {"creator", a.creator},
                      {"created_at", format_iso8601(a.created_ms)},
                      {"updated_at", format_iso8601(a.updated_ms)},
                      {"is_active", a.active},
                      {"current_version_id", a.current_version_id},
                      {"version_name", v.version.version_name},
                      {"input_definitions", input_definitions_json(v.version.config.input_definitions)},
                      {"engine_config", engine_config_json(v.version.config)},
                      {"current_version", version_json(v.version, a.current_version_id)}};
}

// Reads engine_config into the spec's configuration fields.
void read_engine_config(FieldReader& r, core::AgentSpec& s) {
  const json::object* ec = r.object("engine_config");
  if (!ec) return;
  FieldReader e(*ec, "engine_config.");
  s.model = e.string("model");
  s.instructions = e.string("instructions");
  if (!s.instructions && e.ok()) s.instructions = e.string("instruction");
  s.temperature = e.number("temperature");
  s.max_tokens = e.integer("max_tokens");
  s.top_p = e.number("top_p");
  s.demonstrations = read_demonstrations(e, "demonstrations");
  if (const json::object* schema = e.object("output_schema")) s.output_schema_json = json::serialize(*schema);
  if (!e.ok()) {
    r.fail(e.error());
    return;
  }
  json::object extras;
  for (const auto& kv : *ec) {
    bool known = kv.key() == "demonstrations";
    for (auto k : kKnownEngineKeys) known = known || kv.key() == k;
    if (!known) extras[kv.key()] = kv.value();
  }
  s.engine_config_json = extras.empty() ? std::string() : json::serialize(extras);
}

class RoeApi {
 public:
  explicit RoeApi(core::Core& core) : core_(core) {}

  // 403 when the request names an organization that is not the key's.
  std::optional<http::Response> check_org(const core::Principal& p, const std::optional<std::string>& org) {
    if (org && !org->empty() && *org != p.org_id)
      return error_response(kDialect, Status::permission_denied(
                                          "you do not have permission to access organization '" + *org + "'"));
    return std::nullopt;
  }

  // Parses the body; nullopt + failure on malformed JSON or a wrong org.
  std::optional<json::object> body(const http::Request& req, const core::Principal& p, http::Response& failure) {
    ApiError err;
    auto obj = parse_object(req.body, err);
    if (!obj) {
      failure = error_response(kDialect, err);
      return std::nullopt;
    }
    FieldReader r(*obj);
    auto org = r.string("organization_id");
    if (!r.ok()) {
      failure = error_response(kDialect, r.error());
      return std::nullopt;
    }
    if (auto denied = check_org(p, org)) {
      failure = *denied;
      return std::nullopt;
    }
    return obj;
  }

  // Checks ?organization_id=; the principal, or nullptr and `failure`.
  const core::Principal* enter(const http::Request& req, const core::Principal& principal,
                               http::Response& failure) {
    if (auto denied = check_org(principal, req.query_param("organization_id"))) {
      failure = *denied;
      return nullptr;
    }
    return &principal;
  }

  std::optional<core::AgentSpec> read_spec(const json::object& obj, bool creating, http::Response& failure) {
    FieldReader r(obj);
    core::AgentSpec s;
    s.name = r.string("name", creating);
    s.description = r.string("description");
    s.input_definitions = read_input_definitions(r, "input_definitions");
    read_engine_config(r, s);
    s.version_name = r.string("version_name");
    if (!creating) s.active = r.boolean("is_active");
    if (!r.ok()) {
      failure = error_response(kDialect, r.error());
      return std::nullopt;
    }
    return s;
  }

  http::Response create(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto obj = body(req, *p, resp);
    if (!obj) return resp;
    auto spec = read_spec(*obj, true, resp);
    if (!spec) return resp;
    auto v = core_.agents().create(p->org_id, p->key_prefix, *spec);
    if (!v.is_ok()) return fail(v.status());
    return json_response(201, agent_json(*v));
  }

  std::string page_url(const http::Request& req, int64_t page, int64_t page_size) const {
    std::string url = core_.options().public_base_url + "/v1/agents/?page=" + std::to_string(page) +
                      "&page_size=" + std::to_string(page_size);
    for (const char* k : {"organization_id", "search"})
      if (auto v = req.query_param(k); v && !v->empty()) url += std::string("&") + k + "=" + url_encode(*v);
    return url;
  }

  http::Response list(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    ApiError err;
    auto page = query_int(req, "page", 1, 1, 1000000, err);
    if (!page) return error_response(kDialect, err);
    auto page_size = query_int(req, "page_size", 20, 1, 100, err);
    if (!page_size) return error_response(kDialect, err);
    store::AgentQuery q;
    q.offset = (*page - 1) * *page_size;
    q.limit = *page_size;
    if (auto s = req.query_param("search")) q.search = *s;
    auto list = core_.agents().list(p->org_id, q);
    if (!list.is_ok()) return fail(list.status());
    json::array results;
    for (const auto& v : list->items) results.push_back(agent_json(v));
    json::object o;
    o["count"] = list->total;
    if (q.offset + *page_size < list->total)
      o["next"] = page_url(req, *page + 1, *page_size);
    else
      o["next"] = nullptr;
    if (*page > 1) {
      // The page before, clamped to the last page that has rows.
      int64_t last = std::max<int64_t>(1, (list->total + *page_size - 1) / *page_size);
      o["previous"] = page_url(req, std::min(*page - 1, last), *page_size);
    } else {
      o["previous"] = nullptr;
    }
    o["results"] = results;
    return json_response(200, o);
  }

  http::Response get(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto v = core_.agents().get(p->org_id, req.path_param("agent_id"));
    if (!v.is_ok()) return fail(v.status());
    return json_response(200, agent_json(*v));
  }

  http::Response update(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto obj = body(req, *p, resp);
    if (!obj) return resp;
    auto spec = read_spec(*obj, false, resp);
    if (!spec) return resp;
    auto v = core_.agents().update(p->org_id, req.path_param("agent_id"), *spec);
    if (!v.is_ok()) return fail(v.status());
    return json_response(200, agent_json(*v));
  }

  http::Response remove(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    Status s = core_.agents().remove(p->org_id, req.path_param("agent_id"));
    if (!s.is_ok()) return fail(s);
    return http::Response::no_content();
  }

  http::Response list_versions(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto v = core_.agents().get(p->org_id, req.path_param("agent_id"));
    if (!v.is_ok()) return fail(v.status());
    auto versions = core_.agents().list_versions(p->org_id, v->agent.id);
    if (!versions.is_ok()) return fail(versions.status());
    json::array a;
    for (const auto& x : *versions) a.push_back(version_json(x, v->agent.current_version_id));
    return json_response(200, a);
  }

  http::Response create_version(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto obj = body(req, *p, resp);
    if (!obj) return resp;
    FieldReader r(*obj);
    core::AgentSpec s;
    s.version_name = r.string("version_name");
    s.version_description = r.string("description");
    s.input_definitions = read_input_definitions(r, "input_definitions");
    read_engine_config(r, s);
    bool make_current = r.boolean("make_current").value_or(true);
    if (!r.ok()) return error_response(kDialect, r.error());
    auto ver = core_.agents().create_version(p->org_id, req.path_param("agent_id"), s, make_current);
    if (!ver.is_ok()) return fail(ver.status());
    return json_response(201, version_json(*ver, make_current ? ver->id : std::string()));
  }

  http::Response current_version(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto v = core_.agents().get(p->org_id, req.path_param("agent_id"));
    if (!v.is_ok()) return fail(v.status());
    return json_response(200, version_json(v->version, v->agent.current_version_id));
  }

  http::Response get_version(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto v = core_.agents().get(p->org_id, req.path_param("agent_id"));
    if (!v.is_ok()) return fail(v.status());
    auto ver = core_.agents().get_version(p->org_id, v->agent.id, req.path_param("version_id"));
    if (!ver.is_ok()) return fail(ver.status());
    return json_response(200, version_json(*ver, v->agent.current_version_id));
  }

 private:
  core::Core& core_;
};

}  // namespace

void register_roe_v1(http::Router& router, core::Core& core) {
  auto api = std::make_shared<RoeApi>(core);
  using Method = http::Response (RoeApi::*)(http::Request&, const core::Principal&);
  auto route = [&](const char* method, const char* pattern, Method fn) {
    router.add(method, pattern,
               authed(core, kDialect, [api, fn](http::Request& r, const core::Principal& p) { return ((*api).*fn)(r, p); }));
  };
  route("POST", "/v1/agents/", &RoeApi::create);
  route("GET", "/v1/agents/", &RoeApi::list);
  route("GET", "/v1/agents/{agent_id}/", &RoeApi::get);
  route("PATCH", "/v1/agents/{agent_id}/", &RoeApi::update);
  route("PUT", "/v1/agents/{agent_id}/", &RoeApi::update);
  route("DELETE", "/v1/agents/{agent_id}/", &RoeApi::remove);
  route("GET", "/v1/agents/{agent_id}/versions/", &RoeApi::list_versions);
  route("POST", "/v1/agents/{agent_id}/versions/", &RoeApi::create_version);
  route("GET", "/v1/agents/{agent_id}/versions/current/", &RoeApi::current_version);
  route("GET", "/v1/agents/{agent_id}/versions/{version_id}/", &RoeApi::get_version);
}

}  // namespace agentd::api
