// register_routes: every dialect's routes, and the fallback that answers an
// unknown route in the dialect its path implies:
//   /api/v3/..., /agents/...    Nugen   {detail}
//   /v1/agents/... ending '/'   Roe     {message}
//   /admin/...                  admin   {error {code, message, status}}
//   anything else               run-agent.ai shape {error {code, message, status}}

#include <string_view>

#include "api/api.h"
#include "api/dialects.h"
#include "api/errors.h"

namespace agentd::api {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

Dialect dialect_for_path(std::string_view path) {
  if (path == "/api/v3" || starts_with(path, "/api/v3/")) return Dialect::kNugen;
  if (path == "/agents" || starts_with(path, "/agents/")) return Dialect::kNugen;  // Nugen's first base
  if (path == "/admin" || starts_with(path, "/admin/")) return Dialect::kAdmin;
  if (starts_with(path, "/v1/agents/") && path.back() == '/') return Dialect::kRoe;
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
    return unrouted_response(dialect_for_path(req.path), status, req.method, req.path);
  };
}

}  // namespace agentd::api
