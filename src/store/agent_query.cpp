#include "store/agent_query.h"

#include <algorithm>

namespace agentd::store {

StatusOr<AgentQuery> checked_agent_query(const AgentQuery& query) {
  if (query.offset < 0) return Status::invalid_argument("offset must not be negative");
  if (query.limit < 0) return Status::invalid_argument("limit must not be negative");
  AgentQuery q = query;
  q.limit = std::min(q.limit, kMaxAgentPageSize);
  return q;
}

std::string like_contains_pattern(std::string_view needle) {
  std::string out = "%";
  for (char c : needle) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('%');
  return out;
}

}  // namespace agentd::store
