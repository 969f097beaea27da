// A run cut short (on_chunk returns false: the client went away) on the real
// local engine with the tiny test model: the runner charges what the model
// consumed, records the run as cancelled and keeps no session turn.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/ids.h"
#include "core/core.h"
#include "core_fixture_util.h"
#include "model/registry.h"

namespace agentd::core {
namespace {

const std::string kTinyQ8 = std::string(AGENTD_TESTDATA_DIR) + "/models/tiny-random-Q8_0.gguf";

class CancelledRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("agentd-cancel-" + random_hex(8));
    std::filesystem::create_directories(dir_);
    auto s = store::open_store("sqlite://" + (dir_ / "runs.db").string());
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
    model::ModelSpec spec;
    spec.id = "tiny-q8";
    spec.path = kTinyQ8;
    spec.context = 128;  // the model's trained context
    spec.threads = 2;
    spec.price_input_per_mtok = 1.0;   // 1000 nanos per input token
    spec.price_output_per_mtok = 2.0;  // 2000 nanos per output token
    models_ = model::ModelCatalog({spec});
    auto reg = model::make_backend_registry(models_);
    ASSERT_TRUE(reg.is_ok()) << reg.status().to_string();
    backends_ = std::move(reg).value();
    core_ = std::make_unique<Core>(*store_, models_, clock_, CoreOptions{}, backends_.get());
    org_ = new_uuid();
    ASSERT_TRUE(store_->create_org({org_, "acme", 1000000000, clock_.now_ms()}).is_ok());
  }
  void TearDown() override {
    core_.reset();
    backends_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  store::Nanos balance() { return store_->get_org(org_)->credits; }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  model::ModelCatalog models_;
  std::unique_ptr<model::BackendRegistry> backends_;
  testing::FixedClock clock_;
  std::unique_ptr<Core> core_;
  std::string org_;
};

TEST_F(CancelledRunTest, ChargesWhatTheModelConsumed) {
  AgentSpec spec;
  spec.name = "talker";
  spec.model = "tiny-q8";
  spec.instructions = "Tell a long story.";
  spec.temperature = 0.0;
  spec.max_tokens = 60;
  spec.conversation_saving = true;
  auto agent = core_->agents().create(org_, "test", spec);
  ASSERT_TRUE(agent.is_ok()) << agent.status().to_string();

  RunRequest req;
  req.principal.org_id = org_;
  req.agent_id = agent->agent.id;
  req.message = "Once upon a time";
  req.session_id = "s1";
  req.endpoint = "test";
  const store::Nanos before = balance();
  auto prepared = core_->runner().prepare(req, nullptr);
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().to_string();
  const int64_t prompt_tokens = (*prepared)->prompt_tokens();
  ASSERT_GT(prompt_tokens, 0);

  constexpr int k = 3;
  int chunks = 0;
  auto r = core_->runner().execute(std::move(prepared).value(), [&](std::string_view) { return ++chunks <= k; });
  ASSERT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().to_string();

  auto runs = store_->list_runs(org_, agent->agent.id, 10);
  ASSERT_TRUE(runs.is_ok());
  ASSERT_EQ(runs->size(), 1u);
  const store::Run& run = (*runs)[0];
  EXPECT_EQ(run.status, "cancelled");
  EXPECT_EQ(run.input_tokens, prompt_tokens);
  EXPECT_GE(run.output_tokens, k + 1);  // every chunk handed out, the refused one too
  EXPECT_LE(run.output_tokens, 60);  // how many more than k + 1 depends on thread timing
  const model::ModelSpec& m = *models_.find("tiny-q8");
  EXPECT_EQ(run.cost, run_cost_nanos(m, run.input_tokens, run.output_tokens));
  EXPECT_EQ(run.cost, run.input_tokens * 1000 + run.output_tokens * 2000);
  EXPECT_EQ(balance(), before - run.cost);  // the rest of the reservation came back

  // The client never got the answer: the session keeps no turn.
  auto turns = store_->list_turns(org_, agent->agent.id, "s1");
  ASSERT_TRUE(turns.is_ok());
  EXPECT_TRUE(turns->empty());
  const std::string text = core_->metrics().render();
  EXPECT_NE(text.find("agentd_runs_total{endpoint=\"test\",outcome=\"cancelled\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("agentd_tokens_total{direction=\"out\",model=\"tiny-q8\"} " +
                      std::to_string(run.output_tokens) + "\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace agentd::core
