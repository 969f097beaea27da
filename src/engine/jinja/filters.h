#pragma once
// Jinja's built-in filters (`value | name(args)`), with Jinja2 3.1's
// arguments and defaults, plus `tojson` as Hugging Face defines it
// (json.dumps without ASCII escaping, keys in insertion order). Filters that
// build lists or strings check the interpreter's limits.

#include <string_view>

#include "common/status.h"
#include "engine/jinja/value.h"

namespace agentd::engine::jinja {

class Interpreter;

StatusOr<Value> apply_filter(Interpreter& in, std::string_view name, const Value& subject, CallArgs& args);
bool has_filter(std::string_view name);

}  // namespace agentd::engine::jinja
