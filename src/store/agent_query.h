#pragma once
// Checks and helpers shared by both backends' list_agents.
// Thread-safety: pure functions.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/records.h"

namespace agentd::store {

// Largest page list_agents returns; a bigger limit is cut to this.
inline constexpr int64_t kMaxAgentPageSize = 1000;

// kInvalidArgument for a negative offset or limit; otherwise `query` with
// the limit capped at kMaxAgentPageSize.
StatusOr<AgentQuery> checked_agent_query(const AgentQuery& query);

// A LIKE pattern matching any text that contains `needle` literally: the
// wildcards % and _ and the escape character \ are escaped (use ESCAPE '\').
std::string like_contains_pattern(std::string_view needle);

}  // namespace agentd::store
