#pragma once
// JSON Schema (draft 2020-12, with the draft-07 spellings) to a grammar of
// the JSON texts it accepts.
//
// Enforced: type (also lists, and null), properties, required,
// additionalProperties (false, true or a schema; absent: no properties
// beyond the declared ones are written, which is valid either way), enum,
// const, anyOf, oneOf (branches taken as alternatives; a value matching an
// integer branch is never written by a number branch), allOf (merged into one
// schema), local $ref with $defs / definitions (recursion allowed), items,
// prefixItems (and draft-07 array items with additionalItems), minItems,
// maxItems, uniqueItems (for items that are enums, consts or booleans: each
// value at most once), minLength, maxLength, pattern (regex.h), format (date,
// time, date-time, duration, uuid, email, hostname, ipv4, uri), minimum,
// maximum, exclusiveMinimum, exclusiveMaximum (integers and numbers), and
// OpenAPI's nullable. Annotations (title, description, default, examples,
// $schema, $id, $comment, deprecated, readOnly, writeOnly, discriminator, ...)
// are ignored as the specification says; so are keywords no vocabulary
// defines. A validation keyword the grammar cannot enforce (not, if/then/else,
// patternProperties, multipleOf, minProperties, contains, ...) is refused
// with kInvalidArgument naming it and where it is, never ignored.
//
// The text has no whitespace beyond one space or a newline with up to 20
// spaces between tokens, numbers have at most 16 integer and 15 fraction
// digits, so every answer is short enough to end within a token budget.
//
// Thread-safety: pure functions.

#include <memory>
#include <string>

#include <boost/json/fwd.hpp>

#include "common/status.h"
#include "engine/grammar/grammar.h"

namespace agentd::engine::grammar {

StatusOr<std::shared_ptr<const Grammar>> compile_json_schema(const boost::json::value& schema);

// The same as a rule of a larger grammar (a tool's arguments inside a tool
// call): returns the rule's id in `builder`.
StatusOr<int32_t> add_json_schema(GrammarBuilder& builder, const boost::json::value& schema, const std::string& name);
// A rule for any JSON object.
int32_t add_json_object(GrammarBuilder& builder, const std::string& name);

// Any JSON object (OpenAI's response_format json_object).
std::shared_ptr<const Grammar> json_object_grammar();

}  // namespace agentd::engine::grammar
