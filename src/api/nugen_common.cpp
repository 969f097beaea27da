#include "api/nugen.h"

#include "api/agent_fields.h"
#include "api/errors.h"
#include "api/json_body.h"

namespace agentd::api {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Core field names -> Nugen request field names.
std::string nugen_field(std::string_view core_field) {
  if (core_field == "name") return "agent_name";
  if (core_field == "description") return "agent_description";
  if (core_field == "conversation_saving") return "conversation_saving_enabled";
  std::string f(core_field);
  if (f.rfind("demonstrations[", 0) == 0) {
    if (ends_with(f, ".input")) return f.substr(0, f.size() - 5) + "user_input";
    if (ends_with(f, ".output")) return f.substr(0, f.size() - 6) + "model_output";
  }
  return f;
}

}  // namespace

void add_nugen_route(http::Router& router, core::Core& core, const std::string& method, const std::string& pattern,
                     NugenHandler handler) {
  http::Handler h = authed(core, Dialect::kNugen, std::move(handler));
  const bool slash = !pattern.empty() && pattern.back() == '/';
  router.add(method, pattern, h);
  router.add(method, slash ? pattern.substr(0, pattern.size() - 1) : pattern + "/", h);
}

http::Response nugen_failure(const Status& s) { return error_response(Dialect::kNugen, from_status(s, nugen_field)); }

std::optional<core::AgentSpec> read_nugen_agent_spec(const http::Request& req, bool creating,
                                                     http::Response& failure) {
  ApiError err;
  auto body = parse_object(req.body, err);
  if (!body) {
    failure = error_response(Dialect::kNugen, err);
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
  s.demonstrations = read_demonstrations(r, "demonstrations", DemonstrationShape::kNugen);
  s.conversation_saving = r.boolean("conversation_saving_enabled");
  if (!creating) s.active = r.boolean("is_active");
  if (!r.ok()) {
    failure = error_response(Dialect::kNugen, r.error());
    return std::nullopt;
  }
  return s;
}

}  // namespace agentd::api
