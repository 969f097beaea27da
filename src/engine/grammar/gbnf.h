#pragma once
// llama.cpp's GBNF grammar text (what llama-server takes as `grammar`) to a
// grammar:
//
//   root  ::= answer ws          # `root` is where the text starts
//   answer ::= "yes" | "no" | [0-9]+ ("." [0-9]{1,3})?
//   ws    ::= [ \t\n]*
//
// Rules are `name ::= alternatives`; names are letters, digits, '-' and '_'.
// Terminals: "literals" and [classes] (ranges, ^ negation) with the escapes
// \n \r \t \\ \" \[ \] \- \xHH \uHHHH \UHHHHHHHH, and `.` for any character.
// Grouping ( ), alternation |, repetition * + ? {m} {m,} {m,n}, # comments.
// A rule ends at a newline that is followed by the next `name ::=` (or the
// end), so a body may span lines as in llama.cpp's grammar files. Token
// references (<|...|>, <[id]>) are refused. Errors name the line and column.
//
// Thread-safety: pure function.

#include <memory>
#include <string_view>

#include "common/status.h"
#include "engine/grammar/grammar.h"

namespace agentd::engine::grammar {

StatusOr<std::shared_ptr<const Grammar>> compile_gbnf(std::string_view text);

}  // namespace agentd::engine::grammar
