// register_routes: every dialect's routes, and the fallback that answers an
// unknown route in the dialect its path implies:
//   /api/v3/..., /agents/...    Nugen   {detail}
//   /v1/agents/..., /v1/users/... ending '/'   Roe   {detail, message}
//   Roe's connections, connectors, knowledge bases, policies, tables and
//   skill sets (ending '/')   Roe 501, saying agentd does not offer them
//   /admin/...                  admin   {error {code, message, status}}
//   anything else               run-agent.ai shape {error {code, message, status}}

#include <string_view>

#include "api/api.h"
#include "api/dialects.h"
#include "api/errors.h"

namespace agentd::api {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Parts of Roe's API that a self-hosted agentd does not have: answered with
// 501 in Roe's shape and a message saying so, not a bare "no route".
struct RoeMissing {
  std::string_view prefix;
  std::string_view what;
};
constexpr RoeMissing kRoeMissing[] = {
    {"/v1/connections/", "connections (links to outside systems)"},
    {"/v1/connectors/", "connectors"},
    {"/v1/knowledge-base/", "knowledge bases"},
    {"/v1/policies/", "policies"},
    {"/v1/tables/", "tables"},
    {"/v1/skill-sets/", "skill sets"},
};

const RoeMissing* roe_missing(std::string_view path) {
  if (path.empty() || path.back() != '/') return nullptr;
  for (const RoeMissing& m : kRoeMissing)
    if (path == m.prefix || starts_with(path, m.prefix)) return &m;
  return nullptr;
}

Dialect dialect_for_path(std::string_view path) {
  if (path == "/api/v3" || starts_with(path, "/api/v3/")) return Dialect::kNugen;
  if (path == "/agents" || starts_with(path, "/agents/")) return Dialect::kNugen;  // Nugen's first base
  if (path == "/admin" || starts_with(path, "/admin/")) return Dialect::kAdmin;
  if ((starts_with(path, "/v1/agents/") || starts_with(path, "/v1/users/")) && path.back() == '/')
    return Dialect::kRoe;
  if (roe_missing(path)) return Dialect::kRoe;
  return Dialect::kRunAgent;
}

}  // namespace

void register_routes(http::Router& router, core::Core& core) {
  register_nugen_v3(router, core);
  register_runagent_v1(router, core);
  register_roe_v1(router, core);
  register_admin(router, core);
  register_nugen_runs(router, core);
  register_runagent_runs(router, core);
  register_roe_runs(router, core);
  register_openai_v1(router, core);
  register_nugen_inference(router, core);
  router.fallback = [](const http::Request& req, int status) {
    if (const RoeMissing* m = roe_missing(req.path))
      return error_response(Dialect::kRoe, Status::unimplemented("agentd does not offer Roe's " + std::string(m->what) +
                                                                 ": a self-hosted agentd runs agents, their "
                                                                 "versions and jobs only"));
    return unrouted_response(dialect_for_path(req.path), status, req.method, req.path);
  };
}

}  // namespace agentd::api
