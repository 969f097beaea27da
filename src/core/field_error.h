#pragma once
// Validation errors that name the offending field. The core reports them as
// kInvalidArgument Statuses whose message reads "<field>: <what is wrong>",
// where <field> is the core's own name for it (name, description, model,
// instructions, temperature, max_tokens, top_p, demonstrations[2].input,
// input_definitions[0].key, version_name, ...). Dialect adapters split the
// message back apart and rename the field into their own vocabulary.
// Pure functions; thread-safe.

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace agentd::core {

struct FieldViolation {
  std::string field;
  std::string message;
};

// kInvalidArgument "<field>: <message>".
Status field_error(std::string_view field, std::string_view message);

// The field and message of a Status made by field_error(); nullopt for any
// other Status.
std::optional<FieldViolation> field_violation(const Status& status);

}  // namespace agentd::core
