// KvCache::assign_prefix: a cache started from a donor's first n positions
// continues exactly as the cache that computed them.

#include "engine/kv_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/tokenizer.h"

namespace agentd::engine {
namespace {

const std::string kStories = std::string(AGENTD_TESTDATA_DIR) + "/models/stories260K.gguf";

// Every stored key and value bit of a cache's first size() positions.
std::vector<Half> contents(const KvCache& c) {
  std::vector<Half> out;
  const int64_t blocks = (c.size() + kKeyBlock - 1) / kKeyBlock;
  for (int64_t l = 0; l < c.n_layer(); ++l) {
    for (int64_t b = 0; b < blocks; ++b) {
      const Half* kb = c.key_block(l, b);
      for (int64_t i = 0; i < c.kv_dim(); ++i) {
        for (int64_t j = 0; j < kKeyBlock && b * kKeyBlock + j < c.size(); ++j) out.push_back(kb[i * kKeyBlock + j]);
      }
    }
    for (int64_t p = 0; p < c.size(); ++p) out.insert(out.end(), c.value(l, p), c.value(l, p) + c.kv_dim());
  }
  return out;
}

TEST(KvCache, PrefixCopyContinuesBitIdenticallyAndLeavesDonorAlone) {
  auto model = Model::load(kStories);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  auto tok = Tokenizer::from_gguf((*model)->gguf());
  ASSERT_TRUE(tok.is_ok());
  const std::vector<int32_t> ids = (*tok)->encode(
      "Once upon a time there was a little girl named Lily. She liked to play in the park with her big dog.", true,
      false);
  const std::vector<int32_t> other = (*tok)->encode(" Tom had a red ball and a small cat who was sad.", false, false);
  ASSERT_GT(ids.size(), 40u);
  const auto n_vocab = static_cast<size_t>((*model)->config().n_vocab);

  for (const int64_t n : {int64_t{16}, int64_t{21}, int64_t{33}}) {
    SCOPED_TRACE(n);
    const std::span<const int32_t> prefix(ids.data(), static_cast<size_t>(n));
    const std::span<const int32_t> rest(ids.data() + n, ids.size() - static_cast<size_t>(n));
    std::vector<float> logits;

    // Reference: the prefix, then the rest, in one cache.
    auto ref = (*model)->new_cache();
    ASSERT_TRUE((*model)->forward(std::vector<SequenceBatch>{{ref.get(), prefix, false}}, logits, nullptr).is_ok());
    ASSERT_TRUE((*model)->forward(std::vector<SequenceBatch>{{ref.get(), rest, true}}, logits, nullptr).is_ok());
    const std::vector<float> want = logits;
    ASSERT_EQ(want.size(), rest.size() * n_vocab);

    // Donor: the same prefix, then other tokens past it.
    auto donor = (*model)->new_cache();
    ASSERT_TRUE((*model)->forward(std::vector<SequenceBatch>{{donor.get(), prefix, false}}, logits, nullptr).is_ok());
    ASSERT_TRUE((*model)->forward(std::vector<SequenceBatch>{{donor.get(), other, false}}, logits, nullptr).is_ok());
    const std::vector<int32_t> donor_tokens = donor->tokens();
    const std::vector<Half> donor_bits = contents(*donor);

    // A cache that held something else starts from the donor's prefix.
    auto copy = (*model)->new_cache();
    ASSERT_TRUE((*model)->forward(std::vector<SequenceBatch>{{copy.get(), other, false}}, logits, nullptr).is_ok());
    copy->assign_prefix(*donor, n);
    EXPECT_EQ(copy->size(), n);
    EXPECT_EQ(copy->tokens(), std::vector<int32_t>(prefix.begin(), prefix.end()));
    ASSERT_TRUE((*model)->forward(std::vector<SequenceBatch>{{copy.get(), rest, true}}, logits, nullptr).is_ok());
    ASSERT_EQ(logits.size(), want.size());
    EXPECT_EQ(0, std::memcmp(logits.data(), want.data(), want.size() * sizeof(float)));
    EXPECT_EQ(copy->tokens(), ref->tokens());
    EXPECT_EQ(contents(*copy), contents(*ref));

    EXPECT_EQ(donor->tokens(), donor_tokens);
    EXPECT_EQ(contents(*donor), donor_bits);
  }
}

}  // namespace
}  // namespace agentd::engine
