#include <gtest/gtest.h>

#include "core/agents.h"
#include "core/field_error.h"

namespace agentd::core {
namespace {

std::string norm(std::string_view s) {
  auto r = normalize_agent_name(s);
  if (r.is_ok()) return *r;
  std::string out = "<error ";
  out += r.status().to_string();
  out += '>';
  return out;
}

TEST(AgentNames, LowercaseWithUnderscores) {
  EXPECT_EQ(norm("Customer Support Bot"), "customer_support_bot");
  EXPECT_EQ(norm("customer_support_bot"), "customer_support_bot");
  EXPECT_EQ(norm("My Agent.v2"), "my_agent_v2");
  // Nugen's rule: trimmed, lowercased, spaces to underscores, hyphens kept.
  EXPECT_EQ(norm("Your First Agent "), "your_first_agent");
  EXPECT_EQ(norm("aetherpact-negotiation-domain-advisor"), "aetherpact-negotiation-domain-advisor");
  EXPECT_EQ(norm("My-Agent.v2"), "my-agent_v2");
  EXPECT_EQ(norm("a - b"), "a_-_b");
  EXPECT_EQ(norm("  Lead   Scorer  "), "lead_scorer");
  EXPECT_EQ(norm("__a__b__"), "a_b");
  EXPECT_EQ(norm("ABC123"), "abc123");
  // Non-ASCII bytes separate words like punctuation does.
  EXPECT_EQ(norm("caf\xc3\xa9 bot"), "caf_bot");
}

TEST(AgentNames, EmptyOrTooLongIsAFieldError) {
  for (std::string_view bad : {"", "   ", "---", "\xc3\xa9"}) {
    auto r = normalize_agent_name(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    auto v = field_violation(r.status());
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->field, "name");
  }
  EXPECT_TRUE(normalize_agent_name(std::string(kMaxAgentNameLength, 'a')).is_ok());
  EXPECT_FALSE(normalize_agent_name(std::string(kMaxAgentNameLength + 1, 'a')).is_ok());
}

TEST(FieldErrors, RoundTrip) {
  Status s = field_error("demonstrations[1].input", "must not be empty");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  auto v = field_violation(s);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->field, "demonstrations[1].input");
  EXPECT_EQ(v->message, "must not be empty");
  EXPECT_FALSE(field_violation(Status::invalid_argument("free text: with a colon")).has_value());
  EXPECT_FALSE(field_violation(Status::not_found("x: y")).has_value());
}

}  // namespace
}  // namespace agentd::core
