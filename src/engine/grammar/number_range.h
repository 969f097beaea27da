#pragma once
// Grammars for JSON numbers within bounds, built on decimal digit strings so
// bounds of any size stay exact.
//
// A bounded number is written with a fixed count of fraction digits F (at
// least one, and as many as the bounds have): the digits, read as one
// integer, are the number times 10^F, and a range of such integers is a
// classic digit-by-digit grammar (per length, then per first differing
// digit). An integer is the same with F = 0. Every number the grammar
// produces satisfies the bounds; not every number that satisfies them is
// produced (e.g. no exponents), which is what a generator needs.
//
// Thread-safety: pure functions.

#include <optional>
#include <string>

#include "common/status.h"
#include "engine/grammar/grammar.h"

namespace agentd::engine::grammar {

struct NumberBound {
  std::string decimal;  // as JSON writes it: -12.5, 3, 1e-05, 2.5E+20
  bool exclusive = false;
};

// Integers (integer = true) or numbers in [lower, upper]; a missing bound is
// open. kInvalidArgument when no number fits (the message says why) or a bound
// is not a number.
StatusOr<Expr> number_in_range(const std::optional<NumberBound>& lower, const std::optional<NumberBound>& upper,
                               bool integer);

}  // namespace agentd::engine::grammar
