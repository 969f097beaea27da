// Token masks on every tokenizer family of the shared vocabularies: the mask
// a trie walk computes equals the brute-force answer (each token's bytes run
// through the automaton), end-of-generation tokens come only with a complete
// text, and random sampling within a tight budget always ends complete.

#include "engine/grammar/token_constraint.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <random>

#include "engine/gguf/gguf.h"
#include "engine/grammar/json_schema.h"
#include "engine/tokenizer/tokenizer.h"

namespace agentd::engine::grammar {
namespace {

const std::string kVocab = std::string(AGENTD_TESTDATA_DIR) + "/vocab/";

std::shared_ptr<const TokenVocabulary> vocabulary(const std::string& file) {
  auto f = GgufFile::open(kVocab + file);
  EXPECT_TRUE(f.is_ok()) << f.status().to_string();
  auto t = Tokenizer::from_gguf(**f);
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  return TokenVocabulary::from_tokenizer(**t);
}

std::shared_ptr<const Grammar> schema_grammar(const char* schema) {
  auto g = compile_json_schema(boost::json::parse(schema));
  EXPECT_TRUE(g.is_ok()) << g.status().to_string();
  return *g;
}

const char* kSchema = R"({"type":"object","properties":{
  "name":{"type":"string","maxLength":12},
  "age":{"type":"integer","minimum":0,"maximum":150},
  "tags":{"type":"array","items":{"enum":["a","b","c"]},"maxItems":3}},
  "required":["name","age"],"additionalProperties":false})";

bool bit(const std::vector<uint32_t>& bits, int32_t id) { return (bits[static_cast<size_t>(id) >> 5] >> (id & 31)) & 1u; }

class TokenConstraintTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenConstraintTest, MaskEqualsBruteForce) {
  auto vocab = vocabulary(GetParam());
  auto g = schema_grammar(kSchema);
  TokenConstraint c(g, vocab);
  Automaton brute(g);
  // A few states along a valid text.
  const std::string text = R"({"name": "Ann\n", "age": 42, "tags": ["a","c"]})";
  std::vector<int32_t> byte_token(256, -1);
  for (int32_t id = 0; id < vocab->size(); ++id) {
    const std::string& p = vocab->piece(id);
    if (p.size() == 1 && byte_token[static_cast<uint8_t>(p[0])] < 0) byte_token[static_cast<uint8_t>(p[0])] = id;
  }
  int32_t s = c.start();
  int32_t bs = brute.start();
  std::vector<uint32_t> bits;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i % 3 == 0 || i == text.size()) {
      c.allowed(s, TokenConstraint::kNoBudget, bits);
      for (int32_t id = 0; id < vocab->size(); ++id) {
        bool want;
        if (vocab->is_end(id)) {
          want = brute.accepting(bs);
        } else {
          want = !vocab->piece(id).empty() && brute.next(bs, vocab->piece(id)) != Automaton::kDead;
        }
        ASSERT_EQ(bit(bits, id), want) << "token " << id << " '" << vocab->piece(id) << "' after '"
                                       << text.substr(0, i) << "'";
      }
    }
    if (i == text.size()) break;
    // Advance both by one byte: the brute automaton by the byte, the
    // constraint by the vocabulary's single-byte token for it.
    bs = brute.next(bs, static_cast<uint8_t>(text[i]));
    ASSERT_NE(bs, Automaton::kDead) << text.substr(0, i + 1);
    const int32_t tok = byte_token[static_cast<uint8_t>(text[i])];
    ASSERT_GE(tok, 0) << "no token for byte " << static_cast<int>(static_cast<uint8_t>(text[i]));
    s = c.advance(s, tok);
    ASSERT_NE(s, TokenConstraint::kDead);
  }
  EXPECT_TRUE(c.accepting(s));
}

TEST_P(TokenConstraintTest, TightBudgetAlwaysEndsComplete) {
  auto vocab = vocabulary(GetParam());
  auto g = schema_grammar(kSchema);
  TokenConstraint c(g, vocab);
  std::mt19937 rng(11);
  std::vector<uint32_t> bits;
  for (int64_t budget : {24, 40, 80}) {
    for (int run = 0; run < 8; ++run) {
      int32_t s = c.start();
      std::string text;
      bool ended = false;
      for (int64_t used = 0; used < budget; ++used) {
        const int64_t n = c.allowed(s, budget - used, bits);
        ASSERT_GT(n, 0) << text;
        std::vector<int32_t> allowed;
        for (int32_t id = 0; id < vocab->size(); ++id) {
          if (bit(bits, id)) allowed.push_back(id);
        }
        const int32_t tok = allowed[rng() % allowed.size()];
        if (vocab->is_end(tok)) {
          ended = true;
          break;
        }
        text += vocab->piece(tok);
        s = c.advance(s, tok);
        ASSERT_NE(s, TokenConstraint::kDead);
        if (c.closed(s)) {
          ended = true;
          break;
        }
      }
      EXPECT_TRUE(ended || c.accepting(s)) << "budget " << budget << ": " << text;
      EXPECT_NO_THROW(boost::json::parse(text)) << text;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, TokenConstraintTest,
                         ::testing::Values("ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                                           "ggml-vocab-phi-3.gguf", "ggml-vocab-falcon.gguf",
                                           "ggml-vocab-starcoder.gguf", "ggml-vocab-deepseek-coder.gguf"),
                         [](const auto& info) {
                           std::string n = info.param.substr(11, info.param.size() - 16);
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace agentd::engine::grammar
