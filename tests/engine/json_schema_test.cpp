// JSON Schema to grammar: instances a validator accepts or rejects, written
// out by hand per keyword, and the keywords refused with their name.
// (Generated values are checked against a real validator, ajv, in
// tests/e2e/test_structured_output.py.)

#include "engine/grammar/json_schema.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/grammar/automaton.h"

namespace agentd::engine::grammar {
namespace {

struct Case {
  const char* schema;
  std::vector<const char*> valid;
  std::vector<const char*> invalid;  // invalid, or valid but never written
};

bool accepts(Automaton& a, const std::string& text) {
  const int32_t s = a.next(a.start(), text);
  return s != Automaton::kDead && a.accepting(s);
}

TEST(JsonSchema, AcceptsExactlyTheInstances) {
  const std::vector<Case> cases = {
      {R"({"type":"string"})", {R"("")", R"("a\"b\\c\n\u00e9\u20AC")", "\"caf\xC3\xA9\""},
       {R"("\x")", "\"a\nb\"", "1", R"("\ud83d")"}},  // lone surrogate escapes are never written
      {R"({"type":"string","minLength":2,"maxLength":3})", {R"("ab")", R"("a\nc")"}, {R"("a")", R"("abcd")"}},
      {R"({"type":["integer","null"]})", {"0", "-12", "null"}, {"1.5", "\"x\"", "01"}},
      {R"({"type":"number"})", {"0", "-1.25", "3e5", "2.5E-3"}, {".5", "1.", "--1", "1e999"}},
      {R"({"enum":["red","green",3,null]})", {R"("red")", "3", "null"}, {R"("blue")", "4"}},
      {R"({"const":{"a":[1,true]}})", {R"({"a":[1,true]})"}, {R"({"a":[1]})"}},
      {R"({"type":"boolean"})", {"true", "false"}, {"1", "True"}},
      {R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["b"]})",
       {R"({"b":"x"})", R"({"a": 1, "b": "x"})", "{\n  \"a\": 1,\n  \"b\": \"x\"\n}"},
       {R"({"a":1})", R"({"b":"x","a":1})", R"({})", R"({"b":"x","c":1})"}},
      {R"({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":{"type":"boolean"}})",
       {R"({"a":1,"ab":true})", R"({"x":false,"y":true})", R"({})"}, {R"({"a":1,"a":true})", R"({"b":1})"}},
      {R"({"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3})",
       {"[1,2]", "[1, 2, 3]"}, {"[1]", "[1,2,3,4]", "[1,\"a\"]"}},
      {R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false})",
       {R"(["a",1])"}, {R"(["a",1,2])", R"([1,"a"])"}},
      {R"({"type":"array","items":[{"type":"string"}],"additionalItems":{"type":"boolean"}})",
       {R"(["a"])", R"(["a",true,false])"}, {R"(["a",1])"}},
      {R"({"type":"array","items":{"enum":["x","y","z"]},"uniqueItems":true})",
       {"[]", R"(["x","z"])", R"(["x","y","z"])"}, {R"(["x","x"])", R"(["z","x"])"}},
      {R"({"type":"string","pattern":"^[A-Z]{2}-\\d{3}$"})", {R"("AB-123")"}, {R"("AB-12")", R"("ab-123")"}},
      {R"({"type":"string","pattern":"ab"})", {R"("ab")", R"("xxabyy")"}, {R"("a")"}},
      {R"({"type":"string","pattern":"^[a-z]+$","maxLength":3})", {R"("abc")"}, {R"("abcd")", R"("")"}},
      {R"({"type":"string","pattern":"^a\"b$"})", {R"("a\"b")"}, {R"("a"b")"}},
      {R"({"type":"string","format":"date"})", {R"("2024-02-28")", R"("1999-12-31")"}, {R"("2024-02-30")", R"("2024-13-01")"}},
      {R"({"type":"string","format":"date-time"})", {R"("2024-01-05T10:20:30Z")", R"("2024-01-05T23:59:59.5+02:00")"},
       {R"("2024-01-05 10:20:30Z")", R"("2024-01-05T24:00:00Z")"}},
      {R"({"type":"string","format":"uuid"})", {R"("123e4567-e89b-12d3-a456-426614174000")"}, {R"("123e4567")"}},
      {R"({"type":"string","format":"ipv4"})", {R"("192.168.0.255")", R"("0.0.0.0")"}, {R"("256.1.1.1")", R"("01.1.1.1")"}},
      {R"({"type":"integer","minimum":1,"exclusiveMaximum":10})", {"1", "9"}, {"0", "10", "1.0"}},
      {R"({"type":"integer","minimum":0,"exclusiveMinimum":true})", {"1"}, {"0"}},
      {R"({"anyOf":[{"type":"integer"},{"type":"string","maxLength":1}]})", {"5", R"("a")"}, {R"("ab")"}},
      {R"({"oneOf":[{"type":"integer"},{"type":"number"}]})", {"5.5", "0.25"}, {"5", "5.0", "6.10"}},
      {R"({"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
                    {"properties":{"b":{"type":"boolean"}},"required":["b"]}]})",
       {R"({"a":1,"b":true})"}, {R"({"a":1})", R"({"b":true})"}},
      {R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"$ref":"#/$defs/node"}},
                              "required":["v"],"additionalProperties":false}},"$ref":"#/$defs/node"})",
       {R"({"v":1})", R"({"v":1,"next":{"v":2,"next":{"v":3}}})"}, {R"({"v":1,"next":{}})"}},
      {R"({"definitions":{"a":{"type":"string"}},"type":"object","properties":{"x":{"$ref":"#/definitions/a"}},"required":["x"]})",
       {R"({"x":"s"})"}, {R"({"x":1})"}},
      {R"({"allOf":[{"properties":{"a":{"type":"integer"}},"additionalProperties":false},
                    {"properties":{"b":{"type":"integer"}}}]})",
       {R"({"a":1})", "{}"}, {R"({"a":1,"b":2})", R"({"b":2})"}},
      {R"({"$defs":{"b":{"properties":{"id":{"type":"integer"}},"required":["id"]}},"$ref":"#/$defs/b",
           "properties":{"n":{"type":"boolean"}},"required":["n"]})",
       {R"({"id":1,"n":true})"}, {R"({"id":1})", R"({"n":true})"}},
      {R"({"type":"string","nullable":true})", {"null", R"("s")"}, {"1"}},
      {R"({"title":"T","description":"d","examples":[1],"x-custom":5,"type":"integer"})", {"7"}, {"\"7\""}},
      {R"(true)", {"1", R"({"a":[null,{}]})", R"("x")"}, {"nul"}},
  };
  for (const Case& c : cases) {
    auto g = compile_json_schema(boost::json::parse(c.schema));
    ASSERT_TRUE(g.is_ok()) << c.schema << ": " << g.status().to_string();
    Automaton a(*g);
    for (const char* v : c.valid) EXPECT_TRUE(accepts(a, v)) << c.schema << " should accept " << v;
    for (const char* v : c.invalid) EXPECT_FALSE(accepts(a, v)) << c.schema << " should refuse " << v;
  }
}

TEST(JsonSchema, RefusesWhatItCannotEnforceNamingIt) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"({"type":"object","properties":{"a":{"not":{"type":"string"}}}})", "'not'"},
      {R"({"type":"integer","multipleOf":3})", "'multipleOf'"},
      {R"({"type":"object","patternProperties":{"^x":{}}})", "'patternProperties'"},
      {R"({"type":"object","minProperties":1})", "'minProperties'"},
      {R"({"if":{"type":"string"},"then":{"minLength":1}})", "'if'"},
      {R"({"type":"array","contains":{"type":"integer"}})", "'contains'"},
      {R"({"type":"string","format":"ipv6"})", "format 'ipv6'"},
      {R"({"type":"string","pattern":"(a)\\1"})", "backreferences"},
      {R"x({"type":"string","pattern":"a(?=b)"})x", "lookaround"},
      {R"({"$ref":"https://example.com/s.json"})", "not local"},
      {R"({"$ref":"#/$defs/missing"})", "points at nothing"},
      {R"({"type":"array","items":{"type":"object"},"uniqueItems":true})", "uniqueItems"},
      {R"({"type":"integer","minimum":5,"maximum":4})", "no integer"},
      {R"({"type":"strin"})", "unknown type 'strin'"},
      {R"(false)", "accepts no value"},
      {R"({"allOf":[{"properties":{"a":{}},"required":["a"]}],"additionalProperties":false})", "property 'a' is required"},
  };
  for (const auto& [schema, needle] : cases) {
    auto g = compile_json_schema(boost::json::parse(schema));
    ASSERT_FALSE(g.is_ok()) << schema;
    EXPECT_NE(g.status().message().find(needle), std::string::npos) << schema << ": " << g.status().message();
  }
}

TEST(JsonSchema, DeeplyNestedPatternIsRefusedNotACrash) {
  const std::string pattern = std::string(5000, '(') + "a" + std::string(5000, ')');
  boost::json::object schema{{"type", "string"}, {"pattern", pattern}};
  auto g = compile_json_schema(schema);
  ASSERT_FALSE(g.is_ok());
  EXPECT_NE(g.status().message().find("nested too deeply"), std::string::npos) << g.status().message();
}

TEST(JsonSchema, ObjectGrammarAcceptsAnyObjectOnly) {
  Automaton a(json_object_grammar());
  EXPECT_TRUE(accepts(a, R"({"a": [1, {"b": null}], "c": "d"})"));
  EXPECT_TRUE(accepts(a, "{}"));
  EXPECT_FALSE(accepts(a, "[1]"));
  EXPECT_FALSE(accepts(a, "\"s\""));
}

}  // namespace
}  // namespace agentd::engine::grammar
