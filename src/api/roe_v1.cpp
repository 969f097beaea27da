// Roe-style management routes: /v1/agents/..., every path ending in '/',
// with the shapes of Roe's OpenAPI document (api/roe_shapes.h):
//   POST/GET          /v1/agents/                      201 BaseAgent / PaginatedBaseAgentList
//   GET/PATCH/PUT     /v1/agents/{id}/                 BaseAgent
//   DELETE            /v1/agents/{id}/                 204
//   POST              /v1/agents/{id}/duplicate/       201 AgentVersion (of the copy)
//   GET/POST          /v1/agents/{id}/versions/        [AgentVersion] / 201 AgentVersion
//   GET               /v1/agents/{id}/versions/current/
//   GET               /v1/agents/{id}/versions/{vid}/  AgentVersion
//   PATCH/PUT         /v1/agents/{id}/versions/{vid}/  {message} (version_name, description)
//   DELETE            /v1/agents/{id}/versions/{vid}/  204 (not the current version: 409)
//   GET               /v1/agents/models/               SupportedLLMModelList (the catalog)
//   GET               /v1/agents/types/                AgentEngineTypeList
//   GET               /v1/users/current_user/          User (the API key)
// Errors are Roe's ErrorDetailResponse {detail} with {message} beside it
// (plus `field` for a field problem): 400 bad input, 403 an organization_id
// that is not the key's, 404 unknown agent or version (also another
// organization's agent: its existence is not revealed), 409 duplicate name.
//
// Request bodies: a field neither Roe nor agentd defines is a 400 naming it,
// never ignored. engine_config: model, instruction (Roe) or instructions,
// temperature, max_tokens, top_p (numbers, or numeric strings as Roe's
// "dictionary of string key-value pairs" sends them) and output_schema (an
// object, or its JSON text) map onto the agent's configuration; other keys
// are kept and returned as given. `description` on create describes the
// agent and its first version. Versions: POST .../versions/ starts from the
// current configuration, applies the body, and becomes current unless
// "make_current": false.

#include <boost/json.hpp>

#include <cmath>
#include <cstdlib>
#include <set>

#include "api/agent_fields.h"
#include "api/dialects.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "api/roe_shapes.h"
#include "common/clock.h"

namespace agentd::api {
namespace {

namespace json = boost::json;
constexpr Dialect kDialect = Dialect::kRoe;

constexpr std::string_view kKnownEngineKeys[] = {"model",      "instructions", "instruction", "temperature",
                                                  "max_tokens", "top_p",        "output_schema", "demonstrations"};

std::string roe_field(std::string_view f) {
  if (f == "model" || f == "instructions" || f == "temperature" || f == "max_tokens" || f == "top_p" ||
      f == "output_schema")
    return "engine_config." + std::string(f);
  if (f == "version_description") return "description";  // Roe's create names the first version's so
  return std::string(f);
}

http::Response fail(const Status& s) { return error_response(kDialect, from_status(s, roe_field)); }

// The first key of `obj` not in `allowed`, as a 400 naming it.
std::optional<ApiError> unknown_field(const json::object& obj, std::initializer_list<std::string_view> allowed,
                                      std::string_view what) {
  for (const auto& kv : obj) {
    bool known = false;
    for (auto a : allowed) known = known || kv.key() == a;
    if (!known)
      return invalid_value(std::string(kv.key()), "is not a field of " + std::string(what) + " (agentd does not "
                                                      "ignore fields it does not know)");
  }
  return std::nullopt;
}

// A number that Roe clients may send as a string ("0.7").
std::optional<double> lenient_number(FieldReader& e, const json::object& ec, std::string_view key) {
  const json::value* v = ec.if_contains(key);
  if (v && v->is_string()) {
    std::string s(v->as_string());
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(d)) {
      e.fail(wrong_type(e.field_name(key), "number"));
      return std::nullopt;
    }
    return d;
  }
  return e.number(key);
}

// Reads engine_config into the spec's configuration fields.
void read_engine_config(FieldReader& r, core::AgentSpec& s) {
  const json::object* ec = r.object("engine_config");
  if (!ec) return;
  FieldReader e(*ec, "engine_config.");
  s.model = e.string("model");
  s.instructions = e.string("instructions");
  if (!s.instructions && e.ok()) s.instructions = e.string("instruction");
  s.temperature = lenient_number(e, *ec, "temperature");
  if (auto t = lenient_number(e, *ec, "max_tokens")) {
    if (*t != std::floor(*t) || std::fabs(*t) > 1e15)
      e.fail(wrong_type("engine_config.max_tokens", "integer"));
    else
      s.max_tokens = static_cast<int64_t>(*t);
  }
  s.top_p = lenient_number(e, *ec, "top_p");
  s.demonstrations = read_demonstrations(e, "demonstrations");
  if (const json::value* schema = ec->if_contains("output_schema"); schema && !schema->is_null()) {
    if (schema->is_object()) {
      s.output_schema_json = json::serialize(schema->as_object());
    } else if (schema->is_string()) {
      // Roe writes the schema as JSON text too.
      json::object parsed = object_from_text(std::string(schema->as_string()));
      if (parsed.empty())
        e.fail(invalid_value("engine_config.output_schema", "must be a JSON schema object (or its JSON text)"));
      else
        s.output_schema_json = json::serialize(parsed);
    } else {
      e.fail(wrong_type("engine_config.output_schema", "object"));
    }
  }
  if (!e.ok()) {
    r.fail(e.error());
    return;
  }
  json::object extras;
  for (const auto& kv : *ec) {
    bool known = false;
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
    auto obj = parse_object(req.body.empty() ? std::string_view("{}") : std::string_view(req.body), err);
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

  // The job stats of one agent (count 0 when it has no jobs).
  std::optional<store::JobStats> stats_of(const std::string& org_id, const std::string& agent_id, Status& s) {
    auto all = core_.jobs().stats(org_id);
    if (!all.is_ok()) {
      s = all.status();
      return std::nullopt;
    }
    auto it = all->find(agent_id);
    return it == all->end() ? store::JobStats{} : it->second;
  }

  http::Response agent_response(int status, const std::string& org_id, const core::AgentView& v) {
    Status s;
    auto stats = stats_of(org_id, v.agent.id, s);
    if (!stats) return fail(s);
    return json_response(status, roe::base_agent(v, &*stats));
  }

  http::Response version_response(int status, const std::string& org_id, const store::AgentVersion& ver,
                                  const core::AgentView& owner) {
    Status s;
    auto stats = stats_of(org_id, owner.agent.id, s);
    if (!stats) return fail(s);
    return json_response(status, roe::agent_version(ver, owner, &*stats));
  }

  std::optional<core::AgentSpec> read_spec(const json::object& obj, bool creating, http::Response& failure) {
    std::optional<ApiError> unknown =
        creating ? unknown_field(obj,
                                 {"name", "organization_id", "description", "input_definitions", "engine_config",
                                  "version_name", "engine_class_id", "disable_cache", "cache_failed_jobs"},
                                 "an agent")
                 : unknown_field(obj,
                                 {"name", "organization_id", "description", "input_definitions", "engine_config",
                                  "version_name", "engine_class_id", "disable_cache", "cache_failed_jobs",
                                  "is_active"},
                                 "an agent update");
    if (unknown) {
      failure = error_response(kDialect, *unknown);
      return std::nullopt;
    }
    FieldReader r(obj);
    core::AgentSpec s;
    s.name = r.string("name", creating);
    s.description = r.string("description");
    if (creating) s.version_description = s.description;
    s.input_definitions = read_input_definitions(r, "input_definitions");
    read_engine_config(r, s);
    s.version_name = r.string("version_name");
    s.engine_class_id = r.string("engine_class_id");
    s.disable_cache = r.boolean("disable_cache");
    s.cache_failed_jobs = r.boolean("cache_failed_jobs");
    if (!creating) s.active = r.boolean("is_active");
    if (r.ok() && !creating && s.name && s.name->find_first_not_of(" \t\r\n") == std::string::npos)
      r.fail(invalid_value("name", "must not be blank"));
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
    return agent_response(201, p->org_id, *v);
  }

  std::string page_url(const http::Request& req, int64_t page, int64_t page_size) const {
    std::string url = core_.options().public_base_url + "/v1/agents/?page=" + std::to_string(page) +
                      "&page_size=" + std::to_string(page_size);
    for (const char* k : {"organization_id", "search", "include_job_stats"})
      if (auto v = req.query_param(k); v && !v->empty()) url += std::string("&") + k + "=" + url_encode(*v);
    return url;
  }

  http::Response list(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    // Roe's other list filters (creator, engine, tags, dates, job counts,
    // ordering) are not offered: refused by name rather than ignored.
    static const std::set<std::string, std::less<>> kSupported = {"organization_id", "page", "page_size", "search",
                                                                  "include_job_stats"};
    for (const auto& [k, v] : req.query) {
      if (!kSupported.contains(k))
        return error_response(kDialect, invalid_value(k, "is not a filter agentd supports on agent lists (it offers: "
                                                         "page, page_size, search, include_job_stats)",
                                                      "query"));
    }
    ApiError err;
    auto page = query_int(req, "page", 1, 1, 1000000, err);
    if (!page) return error_response(kDialect, err);
    auto page_size = query_int(req, "page_size", 20, 1, 100, err);
    if (!page_size) return error_response(kDialect, err);
    auto with_stats = query_bool(req, "include_job_stats", true, err);
    if (!with_stats) return error_response(kDialect, err);
    store::AgentQuery q;
    q.offset = (*page - 1) * *page_size;
    q.limit = *page_size;
    if (auto search = req.query_param("search")) q.search = *search;
    auto list = core_.agents().list(p->org_id, q);
    if (!list.is_ok()) return fail(list.status());
    std::map<std::string, store::JobStats> stats;
    if (*with_stats) {
      auto s = core_.jobs().stats(p->org_id);
      if (!s.is_ok()) return fail(s.status());
      stats = std::move(s).value();
    }
    json::array results;
    for (const auto& v : list->items) {
      store::JobStats none;
      const store::JobStats* st = nullptr;
      if (*with_stats) {
        auto it = stats.find(v.agent.id);
        st = it == stats.end() ? &none : &it->second;
      }
      results.push_back(roe::base_agent(v, st));
    }
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
    return agent_response(200, p->org_id, *v);
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
    return agent_response(200, p->org_id, *v);
  }

  http::Response remove(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    Status s = core_.agents().remove(p->org_id, req.path_param("agent_id"));
    if (!s.is_ok()) return fail(s);
    return http::Response::no_content();
  }

  http::Response duplicate(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto obj = body(req, *p, resp);
    if (!obj) return resp;
    if (auto unknown = unknown_field(*obj, {"organization_id"}, "a duplicate request"))
      return error_response(kDialect, *unknown);
    auto v = core_.agents().duplicate(p->org_id, p->key_prefix, req.path_param("agent_id"));
    if (!v.is_ok()) return fail(v.status());
    return version_response(201, p->org_id, v->version, *v);
  }

  http::Response list_versions(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto v = core_.agents().get(p->org_id, req.path_param("agent_id"));
    if (!v.is_ok()) return fail(v.status());
    auto versions = core_.agents().list_versions(p->org_id, v->agent.id);
    if (!versions.is_ok()) return fail(versions.status());
    Status s;
    auto stats = stats_of(p->org_id, v->agent.id, s);
    if (!stats) return fail(s);
    json::array a;
    for (const auto& x : *versions) a.push_back(roe::agent_version(x, *v, &*stats));
    return json_response(200, a);
  }

  http::Response create_version(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto obj = body(req, *p, resp);
    if (!obj) return resp;
    if (auto unknown = unknown_field(*obj,
                                     {"organization_id", "version_name", "description", "input_definitions",
                                      "engine_config", "make_current"},
                                     "a version"))
      return error_response(kDialect, *unknown);
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
    auto owner = core_.agents().get(p->org_id, req.path_param("agent_id"));
    if (!owner.is_ok()) return fail(owner.status());
    return version_response(201, p->org_id, *ver, *owner);
  }

  http::Response current_version(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto v = core_.agents().get(p->org_id, req.path_param("agent_id"));
    if (!v.is_ok()) return fail(v.status());
    return version_response(200, p->org_id, v->version, *v);
  }

  http::Response get_version(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto v = core_.agents().get(p->org_id, req.path_param("agent_id"));
    if (!v.is_ok()) return fail(v.status());
    auto ver = core_.agents().get_version(p->org_id, v->agent.id, req.path_param("version_id"));
    if (!ver.is_ok()) return fail(ver.status());
    return version_response(200, p->org_id, *ver, *v);
  }

  // PATCH and PUT: Roe changes only a version's name and description.
  http::Response update_version(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    auto obj = body(req, *p, resp);
    if (!obj) return resp;
    for (const auto& kv : *obj) {
      if (kv.key() == "input_definitions" || kv.key() == "engine_config")
        return error_response(kDialect, invalid_value(std::string(kv.key()),
                                                      "a version's configuration does not change; create a new "
                                                      "version (POST .../versions/) instead"));
    }
    if (auto unknown = unknown_field(*obj, {"organization_id", "version_name", "description"}, "a version update"))
      return error_response(kDialect, *unknown);
    FieldReader r(*obj);
    auto name = r.string("version_name");
    auto description = r.string("description");
    if (!r.ok()) return error_response(kDialect, r.error());
    auto ver = core_.agents().rename_version(p->org_id, req.path_param("agent_id"), req.path_param("version_id"),
                                             name, description);
    if (!ver.is_ok()) return fail(ver.status());
    return json_response(200, json::object{{"message", "Agent version updated successfully."}});
  }

  http::Response delete_version(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(req, principal, resp);
    if (!p) return resp;
    Status s = core_.agents().delete_version(p->org_id, req.path_param("agent_id"), req.path_param("version_id"));
    if (!s.is_ok()) return fail(s);
    return http::Response::no_content();
  }

  // SupportedLLMModelList: the catalog's models.
  http::Response models(http::Request& req, const core::Principal&) {
    auto capability = req.query_param("capability");
    if (capability && *capability != "image" && *capability != "audio" && *capability != "video")
      return error_response(kDialect, invalid_value("capability", "must be image, audio or video", "query"));
    json::array out;
    if (!capability) {  // every catalog model reads text only
      for (const auto& m : core_.models().all()) {
        out.push_back(json::object{
            {"id", m.id},
            {"providers", json::array{m.backend == "local" ? "agentd-local" : "openai-compatible"}},
            {"capabilities", json::array{"text"}},
            {"context_window", m.context},
            {"max_output_tokens", std::min<int64_t>(m.context, core::kMaxMaxTokens)},
            {"supports_system_message", true},
            {"supports_temperature", true},
            {"supports_reasoning_effort", false},
            {"supports_json_output", true},
            {"supports_json_schema", true},
            {"name", m.name}});
      }
    }
    return json_response(200, json::object{{"models", out},
                                           {"total_count", static_cast<int64_t>(out.size())},
                                           {"tenant_scope", "all"}});
  }

  // AgentEngineTypeList: the engine classes agents may name.
  http::Response types(http::Request&, const core::Principal&) {
    json::array ids, engines;
    for (const auto& e : core::engine_classes()) {
      ids.emplace_back(e.id);
      engines.push_back(json::object{
          {"engine_class_id", e.id},
          {"name", e.name},
          {"description", e.description},
          {"input_schema", json::object{{"type", "object"},
                                        {"properties", json::object{
                                                           {"model", json::object{{"type", "string"}}},
                                                           {"instruction", json::object{{"type", "string"}}},
                                                           {"temperature", json::object{{"type", "number"}}},
                                                           {"max_tokens", json::object{{"type", "integer"}}},
                                                           {"top_p", json::object{{"type", "number"}}},
                                                           {"output_schema", json::object{{"type", "object"}}},
                                                       }}}},
          {"default_engine_config", json::object{{"temperature", 0.7}, {"max_tokens", 256}}}});
    }
    return json_response(200, json::object{{"engine_types", ids},
                                           {"total_count", static_cast<int64_t>(ids.size())},
                                           {"engines", engines}});
  }

  // User: the API key the request is made with.
  http::Response current_user(http::Request&, const core::Principal& p) {
    json::value info = roe::user_info(p.key_prefix);
    json::object o = info.as_object();
    int64_t joined_ms = 0;
    if (auto keys = core_.store().list_keys(p.org_id); keys.is_ok())
      for (const auto& k : *keys)
        if (k.id == p.key_id) joined_ms = k.created_ms;
    o["is_staff"] = p.admin;
    o["is_superuser"] = p.server_admin;
    o["is_active"] = true;
    o["date_joined"] = format_iso8601(joined_ms);
    o["is_first_login"] = false;
    o["is_email_verified"] = false;
    o["is_mfa_enabled"] = false;
    o["organization_id"] = p.org_id;
    return json_response(200, o);
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
  route("GET", "/v1/agents/models/", &RoeApi::models);
  route("GET", "/v1/agents/types/", &RoeApi::types);
  route("GET", "/v1/users/current_user/", &RoeApi::current_user);
  route("GET", "/v1/agents/{agent_id}/", &RoeApi::get);
  route("PATCH", "/v1/agents/{agent_id}/", &RoeApi::update);
  route("PUT", "/v1/agents/{agent_id}/", &RoeApi::update);
  route("DELETE", "/v1/agents/{agent_id}/", &RoeApi::remove);
  route("POST", "/v1/agents/{agent_id}/duplicate/", &RoeApi::duplicate);
  route("GET", "/v1/agents/{agent_id}/versions/", &RoeApi::list_versions);
  route("POST", "/v1/agents/{agent_id}/versions/", &RoeApi::create_version);
  route("GET", "/v1/agents/{agent_id}/versions/current/", &RoeApi::current_version);
  route("GET", "/v1/agents/{agent_id}/versions/{version_id}/", &RoeApi::get_version);
  route("PATCH", "/v1/agents/{agent_id}/versions/{version_id}/", &RoeApi::update_version);
  route("PUT", "/v1/agents/{agent_id}/versions/{version_id}/", &RoeApi::update_version);
  route("DELETE", "/v1/agents/{agent_id}/versions/{version_id}/", &RoeApi::delete_version);
}

}  // namespace agentd::api
