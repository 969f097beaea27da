#pragma once
// Jinja's binary operators on values, with Python's semantics: int/float
// arithmetic with overflow checks, str and list concatenation and
// repetition, floor division and modulo rounding toward negative infinity,
// `~` string concatenation, and `in`. Sizes of results are checked against
// the interpreter's limits before anything is allocated.

#include <string_view>

#include "common/status.h"
#include "engine/jinja/value.h"

namespace agentd::engine::jinja {

class Interpreter;

// op is one of + - * / // % ** ~
StatusOr<Value> binary_operator(Interpreter& in, std::string_view op, const Value& a, const Value& b);
// Python's `needle in haystack`.
StatusOr<bool> contains(const Value& haystack, const Value& needle);
// Python's printf-style `format % args` (%s %r %d %i %f %x %% with flags).
StatusOr<std::string> percent_format(Interpreter& in, std::string_view format, const Value& args);

}  // namespace agentd::engine::jinja
