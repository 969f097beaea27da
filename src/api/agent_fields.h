#pragma once
// Pieces every dialect shares: authenticating a request in the dialect's
// error shape, and reading the list-valued agent fields (demonstrations,
// input definitions) from JSON. Thread-safe (no state).

#include <boost/json.hpp>

#include <optional>
#include <string_view>
#include <vector>

#include "api/errors.h"
#include "api/json_body.h"
#include "core/core.h"
#include "http/message.h"

namespace agentd::api {

// The request's Principal, or the dialect's 401 response. Also records the
// organization for the access log.
std::optional<core::Principal> authenticate(core::Core& core, const http::Request& req, Dialect dialect,
                                            http::Response& failure);

// Wraps fn(Request&, const Principal&) as a Handler that authenticates first
// (401 in the dialect's shape) and records the organization for the access
// log. `core` must outlive the handler.
template <typename Fn>
http::Handler authed(core::Core& core, Dialect dialect, Fn fn) {
  return [&core, dialect, fn](http::Request& req) {
    http::Response failure;
    auto p = authenticate(core, req, dialect, failure);
    if (!p) return failure;
    http::Response r = fn(req, *p);
    r.log_org = p->org_id;
    return r;
  };
}

// How a dialect writes a demonstration: {input, output} (run-agent.ai, Roe,
// admin) or Nugen's {user_input, model_output}. Reading takes either pair
// in every dialect; errors name the dialect's own keys.
enum class DemonstrationShape { kInputOutput, kNugen };

// [{input, output}, ...] under `key`; nullopt when absent or on error
// (reader.ok() tells which).
std::optional<std::vector<store::Demonstration>> read_demonstrations(
    FieldReader& reader, std::string_view key, DemonstrationShape shape = DemonstrationShape::kInputOutput);
// [{key, data_type, description, example}, ...] under `key`.
std::optional<std::vector<store::InputDefinition>> read_input_definitions(FieldReader& reader, std::string_view key);

boost::json::array demonstrations_json(const std::vector<store::Demonstration>& d,
                                       DemonstrationShape shape = DemonstrationShape::kInputOutput);
boost::json::array input_definitions_json(const std::vector<store::InputDefinition>& d);

}  // namespace agentd::api
