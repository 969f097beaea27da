#pragma once
// A context-free grammar over bytes, the form every constraint compiles to
// (JSON Schema, regular expressions, GBNF). A rule is a set of alternatives;
// an alternative is a sequence of elements, each a byte range [lo, hi] or a
// reference to a rule. Code points are not a notion of the grammar: the
// compilers lower a class of code points to the UTF-8 byte sequences that
// spell it (utf8_ranges.h), so any output a grammar accepts is valid UTF-8
// when its classes are.
//
// Expressions are how compilers write rules: literals, code point classes,
// sequences, alternations, bounded or unbounded repetition and references.
// GrammarBuilder lowers them into the flat form the matcher walks, naming
// each helper rule after the rule it came from.
//
// build() refuses grammars the matcher cannot run: an undefined rule, left
// recursion (a rule that can reach itself without consuming a byte) and a
// rule with no finite derivation. It also computes, for every position, the
// fewest bytes that complete it, which lets a generation within a token
// budget always end valid (grammar_matcher.h).
//
// Thread-safety: a built Grammar is immutable and may be shared.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace agentd::engine::grammar {

// A closed range of code points, [first, second].
using CodePointRange = std::pair<uint32_t, uint32_t>;

struct Expr {
  enum class Kind : uint8_t { kEmpty, kBytes, kByteRange, kChars, kSeq, kAlt, kRepeat, kRef };
  Kind kind = Kind::kEmpty;
  std::string bytes;                   // kBytes: a literal
  uint8_t lo = 0, hi = 0;              // kByteRange
  std::vector<CodePointRange> ranges;  // kChars: sorted, disjoint, not empty
  std::vector<Expr> items;             // kSeq, kAlt; kRepeat: one item
  int32_t min = 0, max = -1;           // kRepeat; max -1 is unbounded
  int32_t rule = -1;                   // kRef
};

// Constructors. chars() sorts and merges its ranges (an empty class matches
// nothing: it becomes an alternation with no alternative).
Expr empty();
Expr lit(std::string_view bytes);
Expr byte_range(uint8_t lo, uint8_t hi);
Expr chars(std::vector<CodePointRange> ranges);
Expr not_chars(std::vector<CodePointRange> ranges);  // every code point but these (no surrogates)
Expr seq(std::vector<Expr> items);
Expr alt(std::vector<Expr> items);
Expr repeat(Expr item, int32_t min, int32_t max);  // max -1: unbounded
Expr opt(Expr item);
Expr ref(int32_t rule);

// The flat form. Elements of one alternative are contiguous and end with a
// kEnd element; positions are indices into elements().
struct Element {
  enum Kind : uint8_t { kBytes, kRule, kEnd };
  Kind kind = kEnd;
  uint8_t lo = 0, hi = 0;  // kBytes
  int32_t rule = -1;       // kRule
};

class Grammar {
 public:
  const std::vector<Element>& elements() const { return elements_; }
  // Start positions of a rule's alternatives.
  const std::vector<int32_t>& alternatives(int32_t rule) const { return rules_[static_cast<size_t>(rule)]; }
  const std::string& rule_name(int32_t rule) const { return names_[static_cast<size_t>(rule)]; }
  size_t rule_count() const { return rules_.size(); }
  int32_t root() const { return root_; }
  // Fewest bytes from a position to the end of its alternative.
  int32_t min_bytes_from(int32_t position) const { return suffix_min_[static_cast<size_t>(position)]; }
  // Fewest bytes any derivation of the rule has.
  int32_t min_bytes(int32_t rule) const { return rule_min_[static_cast<size_t>(rule)]; }
  // The rules and their alternatives in a GBNF-like text, for tests and errors.
  std::string to_string() const;

 private:
  friend class GrammarBuilder;
  std::vector<Element> elements_;
  std::vector<std::vector<int32_t>> rules_;
  std::vector<std::string> names_;
  std::vector<int32_t> suffix_min_;
  std::vector<int32_t> rule_min_;
  int32_t root_ = 0;
};

class GrammarBuilder {
 public:
  // A new rule, to be defined once. Names need not be unique; they only
  // appear in messages.
  int32_t declare(std::string name);
  // Defines a declared rule; the top-level alternatives of `body` become the
  // rule's alternatives.
  void define(int32_t rule, Expr body);
  // declare() + define().
  int32_t add(std::string name, Expr body);
  bool defined(int32_t rule) const;
  size_t rule_count() const { return bodies_.size(); }

  // Lowers every rule. Errors: kInvalidArgument naming the rule (undefined,
  // left-recursive, no finite derivation) or the size (more than max_elements).
  StatusOr<std::shared_ptr<const Grammar>> build(int32_t root, size_t max_elements = 4'000'000);

 private:
  struct Body {
    std::string name;
    Expr expr;
    bool defined = false;
  };
  std::vector<Body> bodies_;
};

}  // namespace agentd::engine::grammar
