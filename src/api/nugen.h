#pragma once
// Internal to api/: what the Nugen-style files share (nugen_v3.cpp,
// runs_nugen.cpp, nugen_legacy.cpp, nugen_inference.cpp). Errors are Nugen's
// (FastAPI) shapes: 422 {detail: [{loc, msg, type}]} for validation, else
// {detail: "..."}. Handlers borrow `core`, which must outlive the router.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/core.h"
#include "http/router.h"

namespace agentd::api {

using NugenHandler = std::function<http::Response(http::Request&, const core::Principal&)>;

// Registers `pattern` both with and without a trailing slash (real clients
// call both, and some do not follow redirects), authenticated in Nugen's
// error shape.
void add_nugen_route(http::Router& router, core::Core& core, const std::string& method, const std::string& pattern,
                     NugenHandler handler);

// A core Status in Nugen's shape, core field names in Nugen's words
// ("name" -> "agent_name", "demonstrations[0].input" -> "...user_input").
http::Response nugen_failure(const Status& s);

// The create (creating = true) or PATCH body of an agent: agent_name,
// agent_description, model, max_tokens (or max_token), temperature, top_p,
// instructions, demonstrations [{user_input, model_output} or {input,
// output}], conversation_saving_enabled, and on PATCH is_active. nullopt with
// `failure` set when the body is bad.
std::optional<core::AgentSpec> read_nugen_agent_spec(const http::Request& req, bool creating,
                                                     http::Response& failure);

// One Nugen agent run ({message, stream?} body, `?stream=`, X-Session-ID) by
// id or by name, answered as {agent_id, model, response, usage
// {input_tokens, output_tokens, total_tokens}}, or with stream true as
// server-sent events (runs_nugen.cpp). `endpoint` labels the run record.
http::Response nugen_run(core::Core& core, http::Request& req, const core::Principal& p, std::string agent_id,
                         std::string agent_name, std::string_view endpoint);

}  // namespace agentd::api
