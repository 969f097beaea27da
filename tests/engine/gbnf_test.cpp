// GBNF (llama.cpp's grammar text): a JSON grammar in llama.cpp's file style
// and an arithmetic one accept and refuse what they should; errors name the
// rule or the line and column.

#include "engine/grammar/gbnf.h"

#include <gtest/gtest.h>

#include "engine/grammar/automaton.h"

namespace agentd::engine::grammar {
namespace {

bool accepts(Automaton& a, const std::string& text) {
  const int32_t s = a.next(a.start(), text);
  return s != Automaton::kDead && a.accepting(s);
}

// Written in the style of llama.cpp's grammars/json.gbnf (bodies across
// lines, comments, escapes, classes, repetition).
const char* kJson = R"g(# a JSON value
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

ws ::= | " " | "\n" [ \t]{0,20}
)g";

TEST(Gbnf, JsonGrammarInLlamaCppStyle) {
  auto g = compile_gbnf(kJson);
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  Automaton a(*g);
  EXPECT_TRUE(accepts(a, R"({"a": [1, 2.5, "x\n", {"b": null}], "c": true})"));
  EXPECT_TRUE(accepts(a, "{}"));
  EXPECT_TRUE(accepts(a, "{\n  \"k\": \"caf\xC3\xA9\"\n}"));
  EXPECT_FALSE(accepts(a, "[1]"));
  EXPECT_FALSE(accepts(a, R"({"a": tru})"));
  EXPECT_FALSE(accepts(a, R"({"a": "\q"})"));
}

TEST(Gbnf, ArithmeticWithRepetitionAndUnicode) {
  auto g = compile_gbnf(R"g(
root ::= expr
expr ::= term (("+" | "-") term)*
term ::= factor ("*" factor)*
factor ::= num | "(" expr ")" | "\u03C0"
num ::= [0-9]{1,3}
)g");
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  Automaton a(*g);
  EXPECT_TRUE(accepts(a, "1+2*(3-45)"));
  EXPECT_TRUE(accepts(a, "2*\xCF\x80"));
  EXPECT_FALSE(accepts(a, "1234"));
  EXPECT_FALSE(accepts(a, "1+"));
  EXPECT_FALSE(accepts(a, "(1"));
}

TEST(Gbnf, ErrorsNameTheProblem) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"root ::= a\n", "rule 'a' is used but not defined"},
      {"start ::= \"x\"\n", "no rule named 'root'"},
      {"root ::= root \"x\" | \"y\"\n", "left-recursive"},
      {"root ::= \"x\"\nroot ::= \"y\"\n", "defined twice"},
      {"root ::= \"x\n", "unterminated string"},
      {"root ::= [a-z", "missing ']'"},
      {"root ::= \"\\uD800\"\n", "surrogate"},
      {"root ::= \"a\" <|im_end|>\n", "token references"},
      {"root ::= \"a\"{3,1}\n", "n < m"},
      {"root ::= (\"a\"\n", "missing ')'"},
      {"root ::= \"\\q\"\n", "unknown escape"},
  };
  for (const auto& [text, needle] : cases) {
    auto g = compile_gbnf(text);
    ASSERT_FALSE(g.is_ok()) << text;
    EXPECT_NE(g.status().message().find(needle), std::string::npos) << text << ": " << g.status().message();
  }
  const std::string deep = "root ::= " + std::string(5000, '(') + "\"a\"" + std::string(5000, ')') + "\n";
  auto d = compile_gbnf(deep);
  ASSERT_FALSE(d.is_ok());
  EXPECT_NE(d.status().message().find("nested too deeply"), std::string::npos) << d.status().message();
  auto g = compile_gbnf("root ::= \"a\"\nother ::= \"b\" ?? %\n");
  ASSERT_FALSE(g.is_ok());
  EXPECT_NE(g.status().message().find("line 2"), std::string::npos) << g.status().message();
}

}  // namespace
}  // namespace agentd::engine::grammar
