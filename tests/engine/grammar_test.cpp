// The byte-level grammar and its automaton: UTF-8 range lowering checked
// code point by code point, repetition bounds, tail calls, refusals of
// grammars that cannot run, the fewest bytes to completion, and integer and
// number ranges checked value by value against arithmetic.

#include "engine/grammar/grammar.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "engine/grammar/automaton.h"
#include "engine/grammar/number_range.h"
#include "common/utf8.h"
#include "engine/grammar/utf8_ranges.h"

namespace agentd::engine::grammar {
namespace {

std::shared_ptr<const Grammar> build(GrammarBuilder& b, int32_t root) {
  auto g = b.build(root);
  EXPECT_TRUE(g.is_ok()) << g.status().to_string();
  return g.is_ok() ? *g : nullptr;
}

std::shared_ptr<const Grammar> grammar_of(Expr e) {
  GrammarBuilder b;
  const int32_t root = b.add("root", std::move(e));
  return build(b, root);
}

// Whether the whole of `text` is a sentence of the grammar.
bool accepts(Automaton& a, const std::string& text) {
  const int32_t s = a.next(a.start(), text);
  return s != Automaton::kDead && a.accepting(s);
}

bool is_prefix(Automaton& a, const std::string& text) { return a.next(a.start(), text) != Automaton::kDead; }

TEST(Utf8Ranges, EveryCodePointOfARangeAndNoOther) {
  const std::vector<std::pair<uint32_t, uint32_t>> ranges = {
      {0x41, 0x5A}, {0x70, 0x90}, {0x7FF, 0x801}, {0x3A9, 0x2FFF}, {0xD700, 0xE100}, {0xFFF0, 0x10010}, {0x10FFF0, 0x10FFFF}};
  for (auto [first, last] : ranges) {
    GrammarBuilder b;
    const int32_t root = b.add("root", chars({{first, last}}));
    auto g = build(b, root);
    ASSERT_NE(g, nullptr);
    Automaton a(g);
    for (uint32_t cp = first > 300 ? first - 300 : 0; cp <= std::min<uint32_t>(last + 300, 0x10FFFF); ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // surrogates have no UTF-8
      std::string enc;
      utf8_append(enc, cp);
      EXPECT_EQ(accepts(a, enc), cp >= first && cp <= last) << std::hex << cp;
    }
  }
}

TEST(Utf8Ranges, NegatedClassNeverAcceptsInvalidUtf8) {
  auto g = grammar_of(repeat(not_chars({{'"', '"'}}), 0, -1));
  Automaton a(g);
  EXPECT_TRUE(accepts(a, "caf\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_prefix(a, "\xC3\x28"));      // a lead byte without its continuation
  EXPECT_FALSE(is_prefix(a, "\xED\xA0\x80"));  // a surrogate, encoded
  EXPECT_FALSE(is_prefix(a, "\xC0\xAF"));      // overlong
  EXPECT_FALSE(is_prefix(a, "\xF5\x80\x80\x80"));
  EXPECT_FALSE(is_prefix(a, "\""));
}

TEST(Grammar, RepetitionBounds) {
  auto g = grammar_of(seq({lit("<"), repeat(lit("ab"), 2, 4), lit(">")}));
  Automaton a(g);
  EXPECT_FALSE(accepts(a, "<ab>"));
  EXPECT_TRUE(accepts(a, "<abab>"));
  EXPECT_TRUE(accepts(a, "<abababab>"));
  EXPECT_FALSE(is_prefix(a, "<ababababab"));
  EXPECT_FALSE(accepts(a, "<aba>"));
  EXPECT_EQ(a.min_bytes_to_accept(a.start()), 6);
}

TEST(Grammar, RecursionAndTailCallsStayBounded) {
  // Balanced parentheses (true recursion) and a long right-recursive list.
  GrammarBuilder b;
  const int32_t p = b.declare("p");
  b.define(p, alt({empty(), seq({lit("("), ref(p), lit(")"), ref(p)})}));
  auto g = build(b, p);
  Automaton a(g);
  EXPECT_TRUE(accepts(a, "(()())()"));
  EXPECT_FALSE(accepts(a, "(()"));
  EXPECT_FALSE(is_prefix(a, "())"));
  // x* over 100000 bytes: the states repeat, so the automaton stays small.
  auto list = grammar_of(repeat(lit("x"), 0, -1));
  Automaton l(list);
  EXPECT_TRUE(accepts(l, std::string(100000, 'x')));
  EXPECT_LT(l.state_count(), 4u);
}

TEST(Grammar, RefusesWhatCannotRun) {
  {
    GrammarBuilder b;
    const int32_t r = b.declare("expr");
    b.define(r, alt({seq({ref(r), lit("+"), lit("1")}), lit("1")}));
    auto g = b.build(r);
    ASSERT_FALSE(g.is_ok());
    EXPECT_NE(g.status().message().find("left-recursive"), std::string::npos) << g.status().message();
  }
  {
    GrammarBuilder b;
    const int32_t r = b.declare("forever");
    b.define(r, seq({lit("a"), ref(r)}));
    auto g = b.build(r);
    ASSERT_FALSE(g.is_ok());
    EXPECT_NE(g.status().message().find("never ends"), std::string::npos) << g.status().message();
  }
  {
    GrammarBuilder b;
    const int32_t r = b.declare("root");
    const int32_t undefined = b.declare("missing");
    b.define(r, ref(undefined));
    auto g = b.build(r);
    ASSERT_FALSE(g.is_ok());
    EXPECT_NE(g.status().message().find("missing"), std::string::npos);
  }
}

// Hostile inputs end in errors or a bounded automaton, never a stack overflow.
TEST(Grammar, DeepAndEmptyChainsDoNotOverflowTheStack) {
  // 100000 links of a repetition whose unit can be empty.
  auto g = grammar_of(seq({repeat(opt(lit("a")), 0, 100000), lit("!")}));
  ASSERT_NE(g, nullptr);
  Automaton a(g);
  const int32_t s = a.next(a.start(), "aaa!");
  EXPECT_TRUE(s == Automaton::kDead ? a.overflowed() : a.accepting(s));
}

TEST(Grammar, FewestBytesToCompleteFollowsTheStack) {
  auto g = grammar_of(seq({lit("{\"a\":"), alt({lit("true"), lit("false"), lit("null")}), lit("}")}));
  Automaton a(g);
  EXPECT_EQ(a.min_bytes_to_accept(a.start()), 10);  // {"a":true}
  const int32_t s = a.next(a.start(), "{\"a\":f");
  ASSERT_NE(s, Automaton::kDead);
  EXPECT_EQ(a.min_bytes_to_accept(s), 5);  // alse}
}

// Integer ranges against arithmetic, over every integer near the bounds.
TEST(NumberRange, IntegersExactlyInRange) {
  const std::vector<std::pair<int64_t, int64_t>> ranges = {{0, 0}, {-5, 120}, {7, 1999}, {-1000, -17}, {99, 101}, {-9, 9}};
  for (auto [lo, hi] : ranges) {
    auto e = number_in_range(NumberBound{std::to_string(lo)}, NumberBound{std::to_string(hi)}, true);
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    Automaton a(grammar_of(std::move(*e)));
    for (int64_t x = -2100; x <= 2100; ++x) {
      EXPECT_EQ(accepts(a, std::to_string(x)), x >= lo && x <= hi) << x << " in [" << lo << ", " << hi << "]";
    }
    EXPECT_FALSE(accepts(a, "007"));
    EXPECT_FALSE(accepts(a, "-0"));
  }
}

TEST(NumberRange, OpenAndExclusiveBounds) {
  auto e = number_in_range(NumberBound{"10", true}, std::nullopt, true);
  ASSERT_TRUE(e.is_ok());
  Automaton a(grammar_of(std::move(*e)));
  EXPECT_FALSE(accepts(a, "10"));
  EXPECT_TRUE(accepts(a, "11"));
  EXPECT_TRUE(accepts(a, "123456789012"));
  EXPECT_FALSE(accepts(a, "-3"));
  auto none = number_in_range(NumberBound{"2.5"}, NumberBound{"2.9"}, true);
  EXPECT_FALSE(none.is_ok());
}

// Decimal numbers: every string the grammar accepts (walked at random) is
// a number within the bounds, and in-range values with the bounds'
// precision are accepted.
TEST(NumberRange, DecimalsWithinBounds) {
  struct Case {
    const char* lo;
    bool lo_x;
    const char* hi;
    bool hi_x;
    std::vector<const char*> inside, outside;  // written with the bounds' precision
  };
  const std::vector<Case> cases = {
      {"0", false, "1", false, {"0.0", "0.5", "1.0"}, {"1.1", "-0.1"}},
      {"-2.75", true, "3.5", false, {"-2.74", "3.50", "0.00"}, {"-2.75", "3.51", "-2.76"}},
      {"0.001", false, "0.01", true, {"0.001", "0.009"}, {"0.010", "0.000"}},
      {"-100", false, "-99.5", false, {"-100.0", "-99.5"}, {"-99.4", "-100.1"}},
      {"1e-2", false, "2E1", false, {"0.01", "20.00", "7.25"}, {"0.00", "20.01"}}};
  std::mt19937 rng(7);
  for (const Case& c : cases) {
    auto e = number_in_range(NumberBound{c.lo, c.lo_x}, NumberBound{c.hi, c.hi_x}, false);
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    auto g = grammar_of(std::move(*e));
    Automaton a(g);
    const double lo = std::stod(c.lo), hi = std::stod(c.hi);
    for (int n = 0; n < 300; ++n) {
      std::string text;
      int32_t s = a.start();
      while (!(a.accepting(s) && (a.closed(s) || rng() % 4 == 0))) {
        std::vector<std::pair<uint8_t, int32_t>> next;
        for (int byte = 0; byte < 256; ++byte) {
          const int32_t t = a.next(s, static_cast<uint8_t>(byte));
          if (t != Automaton::kDead) next.emplace_back(static_cast<uint8_t>(byte), t);
        }
        ASSERT_FALSE(next.empty()) << text;
        const auto& [byte, t] = next[rng() % next.size()];
        text += static_cast<char>(byte);
        s = t;
      }
      const double v = std::stod(text);
      EXPECT_TRUE(c.lo_x ? v > lo : v >= lo) << text << " vs " << c.lo;
      EXPECT_TRUE(c.hi_x ? v < hi : v <= hi) << text << " vs " << c.hi;
    }
    for (const char* x : c.inside) EXPECT_TRUE(accepts(a, x)) << x << " in " << c.lo << ".." << c.hi;
    for (const char* x : c.outside) EXPECT_FALSE(accepts(a, x)) << x << " in " << c.lo << ".." << c.hi;
  }
}

}  // namespace
}  // namespace agentd::engine::grammar
