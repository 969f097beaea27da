// KvCache::assign_prefix: a cache started from a donor's first n positions
// continues exactly as the cache that computed them; KvCache::reserve: room
// set aside up front is grown into without moving.

#include "engine/kv_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/tokenizer/tokenizer.h"

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

// reserve(): growing up to the reserved positions keeps the buffers where
// they are (no copy) and the contents intact; beyond max_tokens it is capped.
TEST(KvCache, ReserveLetsTheCacheGrowWithoutMoving) {
  KvCache c(2, 8, 100);
  c.reserve(1000);  // capped at 100
  std::vector<float> k(8), v(8);
  const Half* first_keys = nullptr;
  const Half* first_values = nullptr;
  for (int64_t pos = 0; pos < 100; ++pos) {
    c.reserve_more(1);
    for (int64_t l = 0; l < 2; ++l) {
      for (int i = 0; i < 8; ++i) k[static_cast<size_t>(i)] = v[static_cast<size_t>(i)] = static_cast<float>(pos + l + i);
      c.store_keys(l, pos, k.data(), 0, 8);
      c.store_values(l, pos, v.data(), 0, 8);
    }
    const int32_t id = static_cast<int32_t>(pos);
    c.commit(std::span<const int32_t>(&id, 1));
    if (pos == 0) {
      first_keys = c.key_block(1, 0);
      first_values = c.value(1, 0);
    }
    ASSERT_EQ(c.key_block(1, 0), first_keys) << pos;
    ASSERT_EQ(c.value(1, 0), first_values) << pos;
  }
  // Position 37 of layer 1, element 5: 37 + 1 + 5.
  EXPECT_EQ(c.key_block(1, 37 / kKeyBlock)[5 * kKeyBlock + 37 % kKeyBlock], fp32_to_fp16(43.0f));
  EXPECT_EQ(c.value(1, 37)[5], fp32_to_fp16(43.0f));
}

}  // namespace
}  // namespace agentd::engine
