#pragma once
// Builds the syntax tree from tokens, following Jinja2's grammar and operator
// precedence. Nesting of expressions and blocks is bounded so that hostile
// templates cannot exhaust the stack. Pure function; thread-safe.

#include <string_view>

#include "common/status.h"
#include "engine/jinja/ast.h"
#include "engine/jinja/lexer.h"

namespace agentd::engine::jinja {

// Errors are kInvalidArgument: "template syntax error at line L, column C: ...".
StatusOr<Body> parse(std::string_view source, const LexOptions& options = {});

}  // namespace agentd::engine::jinja
