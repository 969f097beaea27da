#include <gtest/gtest.h>

#include "common/ids.h"
#include "core/field_error.h"
#include "core_fixture_util.h"

namespace agentd::core {
namespace {

using testing::CoreFixture;

class AgentsTest : public CoreFixture {
 protected:
  void SetUp() override {
    CoreFixture::SetUp();
    auto a = core_->orgs().create_org("acme", 5);
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    org_a_ = a->id;
    auto b = core_->orgs().create_org("globex", 0);
    ASSERT_TRUE(b.is_ok());
    org_b_ = b->id;
  }

  AgentSpec spec(std::string name) {
    AgentSpec s;
    s.name = std::move(name);
    s.model = "tiny-q8";
    s.instructions = "Be brief.";
    return s;
  }

  std::string field_of(const Status& s) {
    auto v = field_violation(s);
    if (v) return v->field;
    std::string out = "<error ";
    out += s.to_string();
    out += '>';
    return out;
  }

  std::string org_a_, org_b_;
};

TEST_F(AgentsTest, CreateNormalizesAndStoresEverything) {
  AgentSpec s = spec("Customer Support Bot");
  s.description = "Handles inquiries";
  s.temperature = 0.3;
  s.max_tokens = 99;
  s.demonstrations = std::vector<store::Demonstration>{{"hi", "hello"}};
  auto v = core_->agents().create(org_a_, "agd_12345678", s);
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  EXPECT_EQ(v->agent.name, "customer_support_bot");
  EXPECT_TRUE(looks_like_uuid(v->agent.id));
  EXPECT_EQ(v->agent.created_ms, clock_.now);
  EXPECT_EQ(v->agent.creator, "agd_12345678");

  auto got = core_->agents().get(org_a_, v->agent.id);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->agent.name, "customer_support_bot");
  EXPECT_EQ(got->agent.description, "Handles inquiries");
  EXPECT_EQ(got->version.config.model, "tiny-q8");
  EXPECT_EQ(got->version.config.instructions, "Be brief.");
  EXPECT_DOUBLE_EQ(got->version.config.temperature, 0.3);
  EXPECT_EQ(got->version.config.max_tokens, 99);
  ASSERT_EQ(got->version.config.demonstrations.size(), 1u);
  EXPECT_EQ(got->version.config.demonstrations[0].output, "hello");
  EXPECT_EQ(got->version.number, 1);
  EXPECT_EQ(got->version.version_name, "v1");

  auto by_name = core_->agents().get_by_name(org_a_, "Customer Support Bot");
  ASSERT_TRUE(by_name.is_ok());
  EXPECT_EQ(by_name->agent.id, v->agent.id);
}

TEST_F(AgentsTest, DefaultsToTheFirstModel) {
  AgentSpec s;
  s.name = "plain";
  auto v = core_->agents().create(org_a_, "cli", s);
  ASSERT_TRUE(v.is_ok()) << v.status().to_string();
  EXPECT_EQ(v->version.config.model, "tiny-q8");
}

TEST_F(AgentsTest, ValidationNamesTheFieldAndStoresNothing) {
  struct Case {
    std::function<void(AgentSpec&)> mutate;
    std::string field;
  };
  std::vector<Case> cases = {
      {[](AgentSpec& s) { s.name.reset(); }, "name"},
      {[](AgentSpec& s) { s.name = "!!!"; }, "name"},
      {[](AgentSpec& s) { s.model = "gpt-99"; }, "model"},
      {[](AgentSpec& s) { s.temperature = 2.5; }, "temperature"},
      {[](AgentSpec& s) { s.temperature = -0.1; }, "temperature"},
      {[](AgentSpec& s) { s.max_tokens = 0; }, "max_tokens"},
      {[](AgentSpec& s) { s.top_p = 0.0; }, "top_p"},
      {[](AgentSpec& s) { s.description = std::string(kMaxDescriptionLength + 1, 'x'); }, "description"},
      {[](AgentSpec& s) { s.instructions = std::string("a\0b", 3); }, "instructions"},
      {[](AgentSpec& s) { s.demonstrations = std::vector<store::Demonstration>{{"a", "b"}, {"", "c"}}; },
       "demonstrations[1].input"},
      {[](AgentSpec& s) {
         s.input_definitions = std::vector<store::InputDefinition>{{"text", "text/plain", "", ""},
                                                                   {"text", "text/plain", "", ""}};
       },
       "input_definitions[1].key"},
      {[](AgentSpec& s) { s.input_definitions = std::vector<store::InputDefinition>{{"doc", "pdf", "", ""}}; },
       "input_definitions[0].data_type"},
  };
  for (const auto& c : cases) {
    AgentSpec s = spec("agent");
    c.mutate(s);
    auto v = core_->agents().create(org_a_, "cli", s);
    ASSERT_FALSE(v.is_ok()) << c.field;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(field_of(v.status()), c.field);
  }
  auto all = core_->agents().list(org_a_, {});
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->total, 0);
}

TEST_F(AgentsTest, NamesAreUniquePerOrganization) {
  ASSERT_TRUE(core_->agents().create(org_a_, "cli", spec("Lead Scorer")).is_ok());
  auto dup = core_->agents().create(org_a_, "cli", spec(" LEAD  scorer "));
  ASSERT_FALSE(dup.is_ok());
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  // Another organization may use the same name.
  EXPECT_TRUE(core_->agents().create(org_b_, "cli", spec("lead_scorer")).is_ok());
  // Renaming onto a taken name is refused too, and changes nothing.
  auto other = core_->agents().create(org_a_, "cli", spec("other"));
  ASSERT_TRUE(other.is_ok());
  AgentSpec rename;
  rename.name = "LEAD SCORER";
  rename.instructions = "changed";
  auto r = core_->agents().update(org_a_, other->agent.id, rename);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  auto again = core_->agents().get(org_a_, other->agent.id);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->agent.name, "other");
  EXPECT_EQ(again->version.config.instructions, "Be brief.");
}

TEST_F(AgentsTest, TenancyHidesOtherOrganizations) {
  auto v = core_->agents().create(org_a_, "cli", spec("secret agent"));
  ASSERT_TRUE(v.is_ok());
  const std::string id = v->agent.id;
  EXPECT_EQ(core_->agents().get(org_b_, id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(core_->agents().get_by_name(org_b_, "secret_agent").status().code(), StatusCode::kNotFound);
  AgentSpec patch;
  patch.description = "pwned";
  EXPECT_EQ(core_->agents().update(org_b_, id, patch).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(core_->agents().remove(org_b_, id).code(), StatusCode::kNotFound);
  EXPECT_EQ(core_->agents().list_versions(org_b_, id).status().code(), StatusCode::kNotFound);
  auto list_b = core_->agents().list(org_b_, {});
  ASSERT_TRUE(list_b.is_ok());
  EXPECT_EQ(list_b->total, 0);
  // Still intact for its owner.
  auto mine = core_->agents().get(org_a_, id);
  ASSERT_TRUE(mine.is_ok());
  EXPECT_EQ(mine->agent.description, "");
  // Ids that are not UUIDs are simply not found.
  EXPECT_EQ(core_->agents().get(org_a_, "'; DROP TABLE agents; --").status().code(), StatusCode::kNotFound);
}

TEST_F(AgentsTest, UpdateIsAllOrNothing) {
  auto v = core_->agents().create(org_a_, "cli", spec("writer"));
  ASSERT_TRUE(v.is_ok());
  AgentSpec bad;
  bad.description = "new description";
  bad.temperature = 9.0;
  auto r = core_->agents().update(org_a_, v->agent.id, bad);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(field_of(r.status()), "temperature");
  auto same = core_->agents().get(org_a_, v->agent.id);
  ASSERT_TRUE(same.is_ok());
  EXPECT_EQ(same->agent.description, "");

  clock_.now += 5000;
  AgentSpec good;
  good.description = "new description";
  good.temperature = 1.5;
  good.model = "stories";
  auto ok = core_->agents().update(org_a_, v->agent.id, good);
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  auto after = core_->agents().get(org_a_, v->agent.id);
  ASSERT_TRUE(after.is_ok());
  EXPECT_EQ(after->agent.description, "new description");
  EXPECT_DOUBLE_EQ(after->version.config.temperature, 1.5);
  EXPECT_EQ(after->version.config.model, "stories");
  EXPECT_EQ(after->version.config.instructions, "Be brief.");  // untouched
  EXPECT_EQ(after->agent.updated_ms, clock_.now);
  EXPECT_EQ(after->agent.created_ms, clock_.now - 5000);
}

TEST_F(AgentsTest, VersionsStartFromTheCurrentConfiguration) {
  auto v = core_->agents().create(org_a_, "cli", spec("versioned"));
  ASSERT_TRUE(v.is_ok());
  AgentSpec s;
  s.instructions = "Version two.";
  s.version_name = "2.0.0";
  auto v2 = core_->agents().create_version(org_a_, v->agent.id, s, true);
  ASSERT_TRUE(v2.is_ok()) << v2.status().to_string();
  EXPECT_EQ(v2->number, 2);
  EXPECT_EQ(v2->config.model, "tiny-q8");
  AgentSpec s3;
  s3.temperature = 0.1;
  auto v3 = core_->agents().create_version(org_a_, v->agent.id, s3, false);
  ASSERT_TRUE(v3.is_ok());
  EXPECT_EQ(v3->version_name, "v3");
  EXPECT_EQ(v3->config.instructions, "Version two.");

  auto cur = core_->agents().get(org_a_, v->agent.id);
  ASSERT_TRUE(cur.is_ok());
  EXPECT_EQ(cur->version.id, v2->id);  // v3 was not made current
  EXPECT_EQ(cur->version.version_name, "2.0.0");
  auto all = core_->agents().list_versions(org_a_, v->agent.id);
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].number, 1);
  EXPECT_EQ((*all)[2].number, 3);
  auto one = core_->agents().get_version(org_a_, v->agent.id, v3->id);
  ASSERT_TRUE(one.is_ok());
  EXPECT_DOUBLE_EQ(one->config.temperature, 0.1);
  EXPECT_EQ(core_->agents().get_version(org_b_, v->agent.id, v3->id).status().code(), StatusCode::kNotFound);
}

TEST_F(AgentsTest, ListPagesAndSearches) {
  for (const char* n : {"alpha", "beta", "gamma", "delta", "alphabet"})
    ASSERT_TRUE(core_->agents().create(org_a_, "cli", spec(n)).is_ok());
  store::AgentQuery q;
  q.limit = 2;
  auto p1 = core_->agents().list(org_a_, q);
  ASSERT_TRUE(p1.is_ok());
  EXPECT_EQ(p1->total, 5);
  EXPECT_EQ(p1->items.size(), 2u);
  q.offset = 4;
  auto p3 = core_->agents().list(org_a_, q);
  ASSERT_TRUE(p3.is_ok());
  EXPECT_EQ(p3->items.size(), 1u);
  store::AgentQuery s;
  s.search = "ALPHA";
  auto found = core_->agents().list(org_a_, s);
  ASSERT_TRUE(found.is_ok());
  EXPECT_EQ(found->total, 2);
}

TEST_F(AgentsTest, DeleteRemovesTheAgent) {
  auto v = core_->agents().create(org_a_, "cli", spec("temp"));
  ASSERT_TRUE(v.is_ok());
  ASSERT_TRUE(core_->agents().remove(org_a_, v->agent.id).is_ok());
  EXPECT_EQ(core_->agents().get(org_a_, v->agent.id).status().code(), StatusCode::kNotFound);
  // The name is free again.
  EXPECT_TRUE(core_->agents().create(org_a_, "cli", spec("temp")).is_ok());
}

}  // namespace
}  // namespace agentd::core
