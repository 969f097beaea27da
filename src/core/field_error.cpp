#include "core/field_error.h"

namespace agentd::core {

Status field_error(std::string_view field, std::string_view message) {
  std::string m(field);
  m += ": ";
  m += message;
  return Status::invalid_argument(std::move(m));
}

std::optional<FieldViolation> field_violation(const Status& status) {
  if (status.code() != StatusCode::kInvalidArgument) return std::nullopt;
  const std::string& m = status.message();
  size_t colon = m.find(": ");
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  // A field name has no spaces; anything else is a free-form message.
  for (size_t i = 0; i < colon; ++i)
    if (m[i] == ' ') return std::nullopt;
  return FieldViolation{m.substr(0, colon), m.substr(colon + 2)};
}

}  // namespace agentd::core
