// Admin API under /admin/, for admin keys (`agentd key create --admin`).
// Errors: {error: {code, message, status}}; a key that is not an admin key
// gets 403 PERMISSION_DENIED on every route.
//
// Who manages what: an admin key manages its own organization (show it, its
// keys, its agents). Admin keys of the organization named by config
// [server] admin_org (core::CoreOptions::admin_org) are server admins: they
// manage every organization, and only they create organizations and add
// credits (an organization must not top up its own balance).
//
//   POST   /admin/orgs                 {name, credits?}                  -> 201 org      (server admin)
//   GET    /admin/orgs                                                   -> {data: [org]} (own org unless server admin)
//   GET    /admin/orgs/{name}                                            -> org
//   POST   /admin/orgs/{name}/credits  {usd}                             -> org          (server admin)
//   POST   /admin/orgs/{name}/keys     {admin?, rpm?, tpm?, concurrency?} -> 201 {key..., secret}
//   GET    /admin/orgs/{name}/keys                                       -> {data: [key]}
//   DELETE /admin/orgs/{name}/keys/{prefix}                              -> {revoked: 1}
//   POST   /admin/orgs/{name}/agents   {name, model, instructions?, description?, temperature?, max_tokens?}
//                                                                        -> 201 {id, name, model, ...}
// org = {id, name, credits (USD), created_at}; key = {id, prefix, admin, rpm, tpm, concurrency, created_at, revoked}.

#include <boost/json.hpp>

#include "api/agent_fields.h"
#include "api/dialects.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "common/clock.h"

namespace agentd::api {
namespace {

namespace json = boost::json;
constexpr Dialect kDialect = Dialect::kAdmin;

http::Response fail(const Status& s) { return error_response(kDialect, s); }

json::object org_json(const store::Organization& o) {
  return json::object{{"id", o.id},
                      {"name", o.name},
                      {"credits", core::nanos_to_usd(o.credits)},
                      {"created_at", format_iso8601(o.created_ms)}};
}

json::object key_json(const store::ApiKey& k) {
  return json::object{{"id", k.id},
                      {"org_id", k.org_id},
                      {"prefix", k.prefix},
                      {"admin", k.admin},
                      {"rpm", k.rpm},
                      {"tpm", k.tpm},
                      {"concurrency", k.concurrency},
                      {"created_at", format_iso8601(k.created_ms)},
                      {"revoked", k.revoked}};
}

class AdminApi {
 public:
  explicit AdminApi(core::Core& core) : core_(core) {}

  // The principal if it holds an admin key; else nullptr and `failure`.
  const core::Principal* enter(const core::Principal& principal, http::Response& failure) {
    if (!principal.admin) {
      failure = fail(Status::permission_denied("this route needs an admin key"));
      return nullptr;
    }
    return &principal;
  }

  // The organization named in the path, if the principal may manage it.
  // Others' organizations are 404 to an organization admin, as if absent.
  StatusOr<store::Organization> target_org(const core::Principal& p, const http::Request& req) {
    std::string name = req.path_param("name");
    auto org = core_.orgs().get_org_by_name(name);
    if (!org.is_ok()) return org.status();
    if (!p.server_admin && org->id != p.org_id) return Status::not_found("organization '" + name + "' not found");
    return org;
  }

  http::Response create_org(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(principal, resp);
    if (!p) return resp;
    if (!p->server_admin) return fail(Status::permission_denied("only server admins create organizations"));
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) return error_response(kDialect, err);
    FieldReader r(*body);
    auto name = r.string("name", true);
    auto credits = r.number("credits");
    if (!r.ok()) return error_response(kDialect, r.error());
    auto org = core_.orgs().create_org(*name, credits.value_or(0.0));
    if (!org.is_ok()) return fail(org.status());
    return json_response(201, org_json(*org));
  }

  http::Response list_orgs(http::Request&, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(principal, resp);
    if (!p) return resp;
    json::array data;
    if (p->server_admin) {
      auto orgs = core_.orgs().list_orgs();
      if (!orgs.is_ok()) return fail(orgs.status());
      for (const auto& o : *orgs) data.push_back(org_json(o));
    } else {
      auto o = core_.orgs().get_org(p->org_id);
      if (!o.is_ok()) return fail(o.status());
      data.push_back(org_json(*o));
    }
    return json_response(200, json::object{{"data", data}});
  }

  http::Response get_org(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(principal, resp);
    if (!p) return resp;
    auto org = target_org(*p, req);
    if (!org.is_ok()) return fail(org.status());
    return json_response(200, org_json(*org));
  }

  http::Response add_credits(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(principal, resp);
    if (!p) return resp;
    if (!p->server_admin) return fail(Status::permission_denied("only server admins add credits"));
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) return error_response(kDialect, err);
    FieldReader r(*body);
    auto usd = r.number("usd", true);
    if (!r.ok()) return error_response(kDialect, r.error());
    auto org = target_org(*p, req);
    if (!org.is_ok()) return fail(org.status());
    auto after = core_.orgs().add_credits(org->id, *usd);
    if (!after.is_ok()) return fail(after.status());
    return json_response(200, org_json(*after));
  }

  http::Response create_key(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(principal, resp);
    if (!p) return resp;
    ApiError err;
    auto body = parse_object(req.body.empty() ? std::string_view("{}") : std::string_view(req.body), err);
    if (!body) return error_response(kDialect, err);
    FieldReader r(*body);
    core::KeyOptions opts;
    opts.admin = r.boolean("admin").value_or(false);
    opts.rpm = r.integer("rpm").value_or(0);
    opts.tpm = r.integer("tpm").value_or(0);
    opts.concurrency = r.integer("concurrency").value_or(0);
    if (!r.ok()) return error_response(kDialect, r.error());
    auto org = target_org(*p, req);
    if (!org.is_ok()) return fail(org.status());
    auto k = core_.orgs().create_key(org->id, opts);
    if (!k.is_ok()) return fail(k.status());
    json::object o = key_json(k->key);
    o["secret"] = k->secret;
    return json_response(201, o);
  }

  http::Response list_keys(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(principal, resp);
    if (!p) return resp;
    auto org = target_org(*p, req);
    if (!org.is_ok()) return fail(org.status());
    auto keys = core_.orgs().list_keys(org->id);
    if (!keys.is_ok()) return fail(keys.status());
    json::array data;
    for (const auto& k : *keys) data.push_back(key_json(k));
    return json_response(200, json::object{{"data", data}});
  }

  http::Response revoke_key(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(principal, resp);
    if (!p) return resp;
    auto org = target_org(*p, req);
    if (!org.is_ok()) return fail(org.status());
    Status s = core_.orgs().revoke_org_key(org->id, req.path_param("prefix"));
    if (!s.is_ok()) return fail(s);
    return json_response(200, json::object{{"revoked", 1}});
  }

  http::Response create_agent(http::Request& req, const core::Principal& principal) {
    http::Response resp;
    const core::Principal* p = enter(principal, resp);
    if (!p) return resp;
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) return error_response(kDialect, err);
    FieldReader r(*body);
    core::AgentSpec s;
    s.name = r.string("name", true);
    s.model = r.string("model");
    s.instructions = r.string("instructions");
    s.description = r.string("description");
    s.temperature = r.number("temperature");
    s.max_tokens = r.integer("max_tokens");
    s.demonstrations = read_demonstrations(r, "demonstrations");
    if (!r.ok()) return error_response(kDialect, r.error());
    auto org = target_org(*p, req);
    if (!org.is_ok()) return fail(org.status());
    auto v = core_.agents().create(org->id, p->key_prefix, s);
    if (!v.is_ok()) return fail(v.status());
    return json_response(201, json::object{{"id", v->agent.id},
                                           {"name", v->agent.name},
                                           {"organization_id", v->agent.org_id},
                                           {"model", v->version.config.model},
                                           {"description", v->agent.description},
                                           {"created_at", format_iso8601(v->agent.created_ms)}});
  }

 private:
  core::Core& core_;
};

}  // namespace

void register_admin(http::Router& router, core::Core& core) {
  auto api = std::make_shared<AdminApi>(core);
  using Method = http::Response (AdminApi::*)(http::Request&, const core::Principal&);
  auto route = [&](const char* method, const char* pattern, Method fn) {
    router.add(method, pattern,
               authed(core, kDialect, [api, fn](http::Request& r, const core::Principal& p) { return ((*api).*fn)(r, p); }));
  };
  route("POST", "/admin/orgs", &AdminApi::create_org);
  route("GET", "/admin/orgs", &AdminApi::list_orgs);
  route("GET", "/admin/orgs/{name}", &AdminApi::get_org);
  route("POST", "/admin/orgs/{name}/credits", &AdminApi::add_credits);
  route("POST", "/admin/orgs/{name}/keys", &AdminApi::create_key);
  route("GET", "/admin/orgs/{name}/keys", &AdminApi::list_keys);
  route("DELETE", "/admin/orgs/{name}/keys/{prefix}", &AdminApi::revoke_key);
  route("POST", "/admin/orgs/{name}/agents", &AdminApi::create_agent);
}

}  // namespace agentd::api
