#include <gtest/gtest.h>

#include "common/ids.h"
#include "core_fixture_util.h"

namespace agentd::core {
namespace {

using testing::CoreFixture;
using OrgsTest = CoreFixture;

TEST_F(OrgsTest, CreateShowCredit) {
  auto o = core_->orgs().create_org("acme", 12.5);
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  EXPECT_TRUE(looks_like_uuid(o->id));
  EXPECT_EQ(o->credits, 12'500'000'000);
  auto dup = core_->orgs().create_org("acme", 0);
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(core_->orgs().create_org("bad name", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(core_->orgs().create_org("neg", -1).status().code(), StatusCode::kInvalidArgument);

  auto after = core_->orgs().add_credits(o->id, 0.25);
  ASSERT_TRUE(after.is_ok()) << after.status().to_string();
  EXPECT_EQ(after->credits, 12'750'000'000);
  EXPECT_DOUBLE_EQ(nanos_to_usd(after->credits), 12.75);
  EXPECT_EQ(core_->orgs().add_credits(o->id, 0).status().code(), StatusCode::kInvalidArgument);
  auto shown = core_->orgs().get_org_by_name("acme");
  ASSERT_TRUE(shown.is_ok());
  EXPECT_EQ(shown->credits, 12'750'000'000);
  EXPECT_EQ(core_->orgs().get_org_by_name("nope").status().code(), StatusCode::kNotFound);
}

TEST_F(OrgsTest, KeysStoreOnlyAHashAndAuthenticate) {
  auto o = core_->orgs().create_org("acme", 0);
  ASSERT_TRUE(o.is_ok());
  KeyOptions opts;
  opts.rpm = 60;
  opts.tpm = 1000;
  opts.concurrency = 2;
  auto k = core_->orgs().create_key(o->id, opts);
  ASSERT_TRUE(k.is_ok()) << k.status().to_string();
  const std::string& secret = k->secret;
  EXPECT_EQ(secret.size(), 52u);
  EXPECT_EQ(secret.substr(0, 4), "agd_");
  EXPECT_EQ(secret.find_first_not_of("0123456789abcdef", 4), std::string::npos);
  EXPECT_EQ(k->key.prefix, secret.substr(0, kKeyPrefixLength));
  // The stored hash is SHA-256 of the secret; the secret is nowhere stored.
  EXPECT_EQ(k->key.hash, sha256_hex(secret));
  auto keys = core_->orgs().list_keys(o->id);
  ASSERT_TRUE(keys.is_ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].hash, sha256_hex(secret));
  EXPECT_EQ((*keys)[0].hash.find(secret.substr(4)), std::string::npos);

  auto p = core_->auth().authenticate("Bearer " + secret);
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p->org_id, o->id);
  EXPECT_EQ(p->rpm, 60);
  EXPECT_EQ(p->tpm, 1000);
  EXPECT_EQ(p->concurrency, 2);
  EXPECT_FALSE(p->admin);
  EXPECT_TRUE(core_->auth().authenticate("bearer  " + secret + " ").is_ok());

  for (const std::optional<std::string>& bad :
       {std::optional<std::string>(), std::optional<std::string>(""), std::optional<std::string>("Bearer"),
        std::optional<std::string>("Basic " + secret), std::optional<std::string>("Bearer " + secret + "0"),
        std::optional<std::string>("Bearer agd_0000")}) {
    auto r = core_->auth().authenticate(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << bad.value_or("<none>");
    EXPECT_EQ(r.status().message().find(secret), std::string::npos);
  }
  KeyOptions neg;
  neg.rpm = -1;
  EXPECT_EQ(core_->orgs().create_key(o->id, neg).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(OrgsTest, RevokedKeysNoLongerAuthenticate) {
  auto o = core_->orgs().create_org("acme", 0);
  ASSERT_TRUE(o.is_ok());
  auto k1 = core_->orgs().create_key(o->id, {});
  auto k2 = core_->orgs().create_key(o->id, {});
  ASSERT_TRUE(k1.is_ok() && k2.is_ok());
  EXPECT_EQ(core_->orgs().revoke_keys("agd_").status().code(), StatusCode::kInvalidArgument);
  auto n = core_->orgs().revoke_keys(k1->key.prefix);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(core_->auth().authenticate("Bearer " + k1->secret).status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(core_->auth().authenticate("Bearer " + k2->secret).is_ok());
  EXPECT_EQ(core_->orgs().revoke_keys("agd_ffffffffff").status().code(), StatusCode::kNotFound);
}

TEST_F(OrgsTest, OnlyTheAdminOrganizationsAdminKeysAreServerAdmins) {
  auto root = core_->orgs().create_org("root", 0);  // the fixture's admin_org
  auto acme = core_->orgs().create_org("acme", 0);
  ASSERT_TRUE(root.is_ok() && acme.is_ok());
  KeyOptions admin;
  admin.admin = true;
  auto root_admin = core_->orgs().create_key(root->id, admin);
  auto acme_admin = core_->orgs().create_key(acme->id, admin);
  auto root_user = core_->orgs().create_key(root->id, {});
  ASSERT_TRUE(root_admin.is_ok() && acme_admin.is_ok() && root_user.is_ok());
  auto p1 = core_->auth().authenticate_secret(root_admin->secret);
  auto p2 = core_->auth().authenticate_secret(acme_admin->secret);
  auto p3 = core_->auth().authenticate_secret(root_user->secret);
  ASSERT_TRUE(p1.is_ok() && p2.is_ok() && p3.is_ok());
  EXPECT_TRUE(p1->admin && p1->server_admin);
  EXPECT_TRUE(p2->admin);
  EXPECT_FALSE(p2->server_admin);
  EXPECT_FALSE(p3->admin || p3->server_admin);
  // An organization's admin revokes only its own keys.
  EXPECT_EQ(core_->orgs().revoke_org_key(acme->id, root_user->key.prefix).code(), StatusCode::kNotFound);
  EXPECT_TRUE(core_->auth().authenticate_secret(root_user->secret).is_ok());
  EXPECT_TRUE(core_->orgs().revoke_org_key(root->id, root_user->key.prefix).is_ok());
  EXPECT_FALSE(core_->auth().authenticate_secret(root_user->secret).is_ok());
}

}  // namespace
}  // namespace agentd::core
