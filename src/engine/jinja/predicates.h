#pragma once
// Jinja's built-in tests (`value is name(args)`): defined, none, string,
// mapping, iterable, divisibleby, equalto, ... with Jinja2 3.1's semantics.

#include <string_view>

#include "common/status.h"
#include "engine/jinja/value.h"

namespace agentd::engine::jinja {

class Interpreter;

StatusOr<bool> apply_test(Interpreter& in, std::string_view name, const Value& subject, CallArgs& args);
bool has_test(std::string_view name);

}  // namespace agentd::engine::jinja
