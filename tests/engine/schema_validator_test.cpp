// The validator of answers agentd did not generate: what the specification
// accepts whatever its spelling (property order, whitespace, capitals in
// e-mail addresses, unique items in any order), what it refuses and where,
// and the generator's refusals.

#include "engine/grammar/schema_validator.h"

#include <gtest/gtest.h>

namespace agentd::engine::grammar {
namespace {

struct Case {
  const char* schema;
  std::vector<const char*> valid;
  std::vector<std::pair<const char*, const char*>> invalid;  // instance, words of the message
};

TEST(SchemaValidator, AcceptsWhatTheSpecificationAccepts) {
  const std::vector<Case> cases = {
      {R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string","maxLength":3}},"required":["a"],
           "additionalProperties":false})",
       {R"({"b":"xyz","a":1})", R"({ "a" : 2.0 })"},
       {{R"({"b":"x"})", "'a' is missing"}, {R"({"a":1,"c":0})", "'c' is not allowed"}, {R"({"a":1,"b":"long"})", "at /b"}}},
      {R"({"type":"string","format":"email"})", {R"("John.Doe@Example.COM")"}, {{R"("not an address")", "valid email"}}},
      {R"({"type":"string","format":"date-time"})", {R"("2024-02-29t10:00:00z")", R"("2024-01-01T00:00:00.123+05:30")"},
       {{R"("2023-02-29T10:00:00Z")", "date-time"}}},
      {R"({"type":"string","pattern":"^[A-Z]{2}\\d$"})", {R"("AB1")"}, {{R"("ab1")", "pattern"}}},
      {R"({"type":"array","items":{"enum":[1,2,3]},"uniqueItems":true})", {"[3, 1]"}, {{"[2, 1, 2.0]", "are equal"}}},
      {R"({"oneOf":[{"type":"integer"},{"type":"number"}]})", {"1.5"}, {{"3", "2 oneOf branches"}}},
      {R"({"$defs":{"n":{"type":"number","exclusiveMinimum":0}},"type":"array","items":{"$ref":"#/$defs/n"}})",
       {"[0.5, 3]"}, {{"[1, 0]", "at /1"}}},
      {R"({"anyOf":[{"type":"null"},{"type":"string","minLength":2}]})", {"null", R"("ab")"}, {{R"("a")", "anyOf"}}},
  };
  for (const Case& c : cases) {
    auto v = SchemaValidator::create(boost::json::parse(c.schema));
    ASSERT_TRUE(v.is_ok()) << c.schema << ": " << v.status().to_string();
    for (const char* ok : c.valid) EXPECT_EQ((*v)->check(boost::json::parse(ok)), "") << c.schema << " / " << ok;
    for (const auto& [bad, words] : c.invalid) {
      const std::string why = (*v)->check(boost::json::parse(bad));
      EXPECT_NE(why.find(words), std::string::npos) << c.schema << " / " << bad << ": '" << why << "'";
    }
  }
}

TEST(SchemaValidator, RefusesWhatTheGeneratorRefuses) {
  auto v = SchemaValidator::create(boost::json::parse(R"({"type":"integer","multipleOf":2})"));
  ASSERT_FALSE(v.is_ok());
  EXPECT_NE(v.status().message().find("multipleOf"), std::string::npos);
}

}  // namespace
}  // namespace agentd::engine::grammar
