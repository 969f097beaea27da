#pragma once
// The JSON shapes of Roe's public OpenAPI document (openapi/openapi.yml of
// roe-ai/roe-python) that more than one Roe route answers with: UserInfo,
// BaseAgent, AgentVersion, AgentDatum, and the job shapes. Pure functions;
// thread-safe.
//
// agentd has API keys, not users: a "user" is the key (or "cli") that
// created something. Its UserInfo id is a stable 31-bit number derived from
// that name, so the same key is the same user everywhere (current_user,
// agents' creator).

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "core/agents.h"
#include "store/records.h"

namespace agentd::api::roe {

// Stable id of a creator name (FNV-1a folded to 31 bits, never 0).
int64_t user_id(std::string_view creator);
// UserInfo {id, email, first_name, last_name, display_name}; null for "".
boost::json::value user_info(std::string_view creator);

// BaseAgent. `stats` null: job_count and most_recent_job are null (stats
// not asked for); a stats of count 0: 0 and null.
boost::json::object base_agent(const core::AgentView& v, const store::JobStats* stats);
// AgentVersion of `ver`, whose agent is `owner` (its current version may be
// another one).
boost::json::object agent_version(const store::AgentVersion& ver, const core::AgentView& owner,
                                  const store::JobStats* stats);

// The answer of a run as Roe's AgentDatum list: one text/plain "output"
// datum without an output schema; with one, a datum per top-level property
// (values as strings, JSON text for non-strings), nullopt when the answer
// holds no JSON object. `cost_usd` goes on the first datum, 0 on the others.
std::optional<boost::json::array> datums(const std::string& text, const std::string& output_schema_json,
                                         double cost_usd);

// A job's inputs (a JSON object of key -> value) as Roe's JobInput list,
// described by the version's input definitions where they declare the key.
boost::json::array job_inputs(const std::string& inputs_json, const store::AgentVersion* version);

// Unix seconds (fractional) of a time in ms.
double unix_seconds(int64_t ms);

}  // namespace agentd::api::roe
