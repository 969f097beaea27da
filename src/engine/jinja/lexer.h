#pragma once
// Splits Jinja source into tokens: literal text, the delimiters of {{ }} and
// {% %}, and the names, literals and operators inside them. Comments are
// dropped and {% raw %} bodies become text. Whitespace control is applied
// here, as Jinja's own lexer does: `-` on a delimiter strips whitespace on
// that side, trim_blocks drops the newline after a block or comment tag,
// lstrip_blocks drops spaces and tabs before one on its line, and `+` turns
// either off for one tag. Line breaks are normalized to "\n" and one trailing
// newline of the source is dropped (keep_trailing_newline=False).
//
// Pure function; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace agentd::engine::jinja {

enum class TokenKind {
  kText,        // literal template text (after whitespace control)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,      // text holds the unescaped value
  kInt,
  kFloat,
  kOperator,    // text holds the operator: "+", "//", "==", "(", ...
  kEnd,         // end of the source
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0.0;
  int line = 1;    // 1-based, of the token's first character
  int column = 1;  // 1-based, in bytes
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Errors (unclosed tags, strings or comments, stray characters) are
// kInvalidArgument and name the line and column.
StatusOr<std::vector<Token>> tokenize(std::string_view source, const LexOptions& options = {});

}  // namespace agentd::engine::jinja
