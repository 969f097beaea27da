// The forward pass against llama.cpp's own outputs (testdata/models/*.golden.jsonl):
// the golden prompt_ids are prefilled in one batch, then llama.cpp's greedy
// ids are fed back one at a time, and at every step our logits for the ids
// llama.cpp ranked top-5 are compared with its logits.

#include "engine/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/thread_pool.h"

namespace agentd::engine {
namespace {

const std::string kModels = std::string(AGENTD_TESTDATA_DIR) + "/models/";

struct GoldenStep {
  int32_t id = 0;
  std::vector<std::pair<int32_t, float>> top5;
};
struct GoldenPrompt {
  std::string prompt;
  std::vector<int32_t> prompt_ids;
  std::vector<GoldenStep> steps;
};

std::vector<GoldenPrompt> read_golden(const std::string& name) {
  std::ifstream in(kModels + name + ".golden.jsonl");
  std::vector<GoldenPrompt> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const boost::json::object o = boost::json::parse(line).as_object();
    GoldenPrompt g;
    g.prompt = std::string(o.at("prompt").as_string());
    for (const auto& id : o.at("prompt_ids").as_array()) g.prompt_ids.push_back(static_cast<int32_t>(id.to_number<int64_t>()));
    for (const auto& s : o.at("steps").as_array()) {
      GoldenStep st;
      st.id = static_cast<int32_t>(s.at("id").to_number<int64_t>());
      for (const auto& p : s.at("top5").as_array()) {
        st.top5.emplace_back(static_cast<int32_t>(p.as_array()[0].to_number<int64_t>()),
                             static_cast<float>(p.as_array()[1].to_number<double>()));
      }
      g.steps.push_back(std::move(st));
    }
    out.push_back(std::move(g));
  }
  return out;
}

const Model& model(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Model>> cache;
  auto& m = cache[name];
  if (!m) {
    auto loaded = Model::load(kModels + name + ".gguf");
    EXPECT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    if (loaded.is_ok()) m = std::move(loaded).value();
  }
  return *m;
}

ThreadPool& pool() {
  static ThreadPool p(2);
  return p;
}

int32_t argmax(const float* x, int64_t n) { return static_cast<int32_t>(std::max_element(x, x + n) - x); }

// Runs every golden prompt of `name` with teacher forcing. `check_step`
// says which steps to compare; `tol` bounds |ours - llama.cpp| on the top-5
// logits; the argmax must equal llama.cpp's id wherever llama.cpp's own margin
// (top1 - top2) exceeds `margin` (0: always).
void run_golden(const std::string& name, float tol, float margin, bool (*check_step)(size_t)) {
  const auto golden = read_golden(name);
  ASSERT_FALSE(golden.empty()) << name;
  const Model& m = model(name);
  ASSERT_GT(m.config().n_vocab, 0);
  const int64_t nv = m.config().n_vocab;
  int checked = 0;
  float worst = 0.0f;
  for (const GoldenPrompt& g : golden) {
    SCOPED_TRACE(name + " prompt '" + g.prompt + "'");
    auto cache = m.new_cache();
    std::vector<float> logits;
    SequenceBatch sb{cache.get(), g.prompt_ids, false};
    ASSERT_TRUE(m.forward({&sb, 1}, logits, &pool()).is_ok());
    for (size_t s = 0; s < g.steps.size(); ++s) {
      const GoldenStep& st = g.steps[s];
      ASSERT_EQ(logits.size(), static_cast<size_t>(nv));
      if (check_step(s)) {
        for (const auto& [id, want] : st.top5) {
          const float got = logits[static_cast<size_t>(id)];
          worst = std::max(worst, std::abs(got - want));
          EXPECT_NEAR(got, want, tol) << "step " << s << " token " << id;
        }
        const float golden_margin = st.top5[0].second - st.top5[1].second;
        if (golden_margin > margin) {
          EXPECT_EQ(argmax(logits.data(), nv), st.id) << "step " << s << " margin " << golden_margin;
        }
        ++checked;
      }
      const int32_t next = st.id;  // llama.cpp's continuation
      SequenceBatch step{cache.get(), {&next, 1}, false};
      ASSERT_TRUE(m.forward({&step, 1}, logits, &pool()).is_ok());
    }
  }
  EXPECT_GT(checked, 0);
  std::printf("%s: %d steps checked, worst top-5 logit difference %.4f\n", name.c_str(), checked, worst);
}

bool every_step(size_t) { return true; }
bool sparse_steps(size_t s) { return s == 0 || s == 4 || s == 8 || s == 16; }

TEST(ModelGoldenTest, Stories260KMatchesLlamaCpp) { run_golden("stories260K", 0.02f, 0.0f, every_step); }
TEST(ModelGoldenTest, TinyRandomF16MatchesLlamaCpp) { run_golden("tiny-random-F16", 0.02f, 0.0f, every_step); }
TEST(ModelGoldenTest, TinyRandomQ8_0MatchesLlamaCpp) { run_golden("tiny-random-Q8_0", 0.15f, 0.15f, sparse_steps); }
TEST(ModelGoldenTest, TinyRandomQ4_0MatchesLlamaCpp) { run_golden("tiny-random-Q4_0", 0.15f, 0.15f, sparse_steps); }
TEST(ModelGoldenTest, TinyRandomQ4_K_MMatchesLlamaCpp) {
  run_golden("tiny-random-Q4_K_M", 0.15f, 0.15f, sparse_steps);
}

TEST(ModelGoldenTest, ConfigFromMetadata) {
  const ModelConfig& c = model("stories260K").config();
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.n_ff, 172);
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_EQ(c.n_ctx_train, 128);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.rope_style, RopeStyle::kNormal);
  EXPECT_FALSE(c.tied_output);
  EXPECT_NEAR(c.rms_eps, 1e-5f, 1e-9f);
}

// Prefill in one batch, token by token, and two sequences sharing one batch
// all give the same logits.
TEST(ModelGoldenTest, BatchingDoesNotChangeLogits) {
  const Model& m = model("tiny-random-Q8_0");
  const auto golden = read_golden("tiny-random-Q8_0");
  ASSERT_GE(golden.size(), 2u);
  const std::vector<int32_t>& a = golden[0].prompt_ids;
  const std::vector<int32_t>& b = golden[1].prompt_ids;
  const int64_t nv = m.config().n_vocab;

  auto ca = m.new_cache();
  std::vector<float> all_rows;
  SequenceBatch sa{ca.get(), a, true};
  ASSERT_TRUE(m.forward({&sa, 1}, all_rows, &pool()).is_ok());
  ASSERT_EQ(all_rows.size(), a.size() * static_cast<size_t>(nv));

  auto c1 = m.new_cache();
  std::vector<float> one;
  for (size_t i = 0; i < a.size(); ++i) {
    SequenceBatch s{c1.get(), {&a[i], 1}, false};
    ASSERT_TRUE(m.forward({&s, 1}, one, &pool()).is_ok());
    for (int64_t j = 0; j < nv; ++j) {
      ASSERT_NEAR(one[static_cast<size_t>(j)], all_rows[i * static_cast<size_t>(nv) + static_cast<size_t>(j)], 1e-3f)
          << "position " << i << " token " << j;
    }
  }
  EXPECT_EQ(c1->size(), static_cast<int64_t>(a.size()));
  EXPECT_EQ(c1->tokens(), a);

  // Two sequences in one call: a continues from its cache, b starts fresh.
  auto cb = m.new_cache();
  const int32_t next = golden[0].steps[0].id;
  std::vector<float> solo_a, solo_b, both;
  {
    auto ta = m.new_cache();
    SequenceBatch s1{ta.get(), a, false};
    ASSERT_TRUE(m.forward({&s1, 1}, solo_a, nullptr).is_ok());
    SequenceBatch s2{ta.get(), {&next, 1}, false};
    ASSERT_TRUE(m.forward({&s2, 1}, solo_a, nullptr).is_ok());
    auto tb = m.new_cache();
    SequenceBatch s3{tb.get(), b, false};
    ASSERT_TRUE(m.forward({&s3, 1}, solo_b, nullptr).is_ok());
  }
  SequenceBatch pair[2] = {{c1.get(), {&next, 1}, false}, {cb.get(), b, false}};
  ASSERT_TRUE(m.forward(pair, both, &pool()).is_ok());
  ASSERT_EQ(both.size(), 2 * static_cast<size_t>(nv));
  for (int64_t j = 0; j < nv; ++j) {
    ASSERT_NEAR(both[static_cast<size_t>(j)], solo_a[static_cast<size_t>(j)], 1e-3f);
    ASSERT_NEAR(both[static_cast<size_t>(nv + j)], solo_b[static_cast<size_t>(j)], 1e-3f);
  }
}

TEST(ModelGoldenTest, OverflowAndBadTokensAreErrors) {
  const Model& m = model("stories260K");
  auto cache = m.new_cache();
  std::vector<int32_t> long_prompt(200, 1);
  std::vector<float> logits;
  SequenceBatch sb{cache.get(), long_prompt, false};
  Status st = m.forward({&sb, 1}, logits, nullptr);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("200"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("128"), std::string::npos) << st.message();
  EXPECT_EQ(cache->size(), 0);
  const int32_t bad = 512;
  SequenceBatch sb2{cache.get(), {&bad, 1}, false};
  st = m.forward({&sb2, 1}, logits, nullptr);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("512"), std::string::npos);
}

}  // namespace
}  // namespace agentd::engine
