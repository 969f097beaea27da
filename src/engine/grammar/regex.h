#pragma once
// The regular expressions JSON Schema's `pattern` holds (ECMA-262 syntax) as
// grammar expressions over code points. The subset: literals, `.`, classes
// (ranges, negation, \d \w \s and their negations, escapes), groups
// (capturing, (?:...) and named, all only grouping), alternation, the
// quantifiers ? * + {n} {n,} {n,m} (lazy forms match the same strings), and
// the anchors ^ and $ at the start and end of a top-level alternative. A
// pattern matches anywhere in the string, as JSON Schema says: an
// alternative without ^ may be preceded by any text, without $ followed by
// any. Anything else (backreferences, lookaround, \b, anchors elsewhere) is
// refused with an error naming it, never approximated.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "engine/grammar/grammar.h"

namespace agentd::engine::grammar {

// An expression whose kChars leaves are single code points or classes.
StatusOr<Expr> compile_regex(std::string_view pattern);

// The fewest and most code points an expression matches (second = -1:
// unbounded).
std::pair<int64_t, int64_t> char_length(const Expr& e);

}  // namespace agentd::engine::grammar
