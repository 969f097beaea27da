// JobService: submission limits, results, cancellation and recovery after a
// simulated restart (a new JobService over the same store).
#include "core/jobs.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/ids.h"
#include "core/core.h"

namespace agentd::core {
namespace {

namespace json = boost::json;

// Echoes the message; 2 tokens in per message + 1, 3 out.
class EchoBackend final : public model::ModelBackend {
 public:
  explicit EchoBackend(model::ModelSpec spec) : spec_(std::move(spec)) {}
  const model::ModelSpec& spec() const override { return spec_; }
  using ModelBackend::count_prompt_tokens;
  StatusOr<int64_t> count_prompt_tokens(const std::vector<model::Message>& m,
                                        const std::vector<model::ToolSpec>&) override {
    return static_cast<int64_t>(2 * m.size() + 1);
  }
  StatusOr<model::Generation> generate(const model::GenerationRequest& r, const model::ChunkCallback&) override {
    ++calls;
    model::Generation g;
    g.text = "echo: " + r.messages.back().content;
    g.prompt_tokens = *count_prompt_tokens(r.messages);
    g.completion_tokens = 3;
    g.finish_reason = "stop";
    return g;
  }
  std::atomic<int> calls{0};

 private:
  model::ModelSpec spec_;
};

// Streams "tick" (one token) every 2 ms (for up to 10 s) until the callback
// says stop; then reports the ticks sent, as backends do (model/backend.h).
class DripBackend final : public model::ModelBackend {
 public:
  explicit DripBackend(model::ModelSpec spec) : spec_(std::move(spec)) {}
  const model::ModelSpec& spec() const override { return spec_; }
  using ModelBackend::count_prompt_tokens;
  StatusOr<int64_t> count_prompt_tokens(const std::vector<model::Message>&,
                                        const std::vector<model::ToolSpec>&) override {
    return 3;
  }
  StatusOr<model::Generation> generate(const model::GenerationRequest&, const model::ChunkCallback& on_chunk) override {
    for (int i = 0; i < 5000; ++i) {
      ++chunks;
      if (on_chunk && !on_chunk("tick")) {
        finished = true;
        model::Generation g;
        g.prompt_tokens = 3;
        g.completion_tokens = i + 1;
        g.finish_reason = "cancelled";
        return g;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    finished = true;
    model::Generation g;
    g.text = "ticks";
    g.prompt_tokens = 3;
    g.completion_tokens = 1;
    g.finish_reason = "stop";
    return g;
  }
  std::atomic<int> chunks{0};
  std::atomic<bool> finished{false};

 private:
  model::ModelSpec spec_;
};

class OneRegistry final : public model::BackendRegistry {
 public:
  model::ModelBackend* find(const std::string& id) override {
    if (id == "drip") return drip;
    return id == "echo" ? backend : nullptr;
  }
  EchoBackend* backend = nullptr;
  DripBackend* drip = nullptr;
};

class JobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("agentd-jobs-" + random_hex(8));
    std::filesystem::create_directories(dir_);
    auto s = store::open_store("sqlite://" + (dir_ / "jobs.db").string());
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
    model::ModelSpec spec;
    spec.id = "echo";
    model::ModelSpec drip;
    drip.id = "drip";
    drip.price_input_per_mtok = 0.001;  // 1 nano per token
    drip.price_output_per_mtok = 0.5;   // 500 nanos per token
    models_ = model::ModelCatalog({spec, drip});
    backend_ = std::make_unique<EchoBackend>(spec);
    drip_ = std::make_unique<DripBackend>(drip);
    registry_.backend = backend_.get();
    registry_.drip = drip_.get();
    core_ = std::make_unique<Core>(*store_, models_, clock_, CoreOptions{}, &registry_);
    store::Organization o{new_uuid(), "acme", 1000, clock_.now_ms()};
    ASSERT_TRUE(store_->create_org(o).is_ok());
    who_.org_id = o.id;
    AgentSpec a;
    a.name = "worker";
    auto v = core_->agents().create(o.id, "test", a);
    ASSERT_TRUE(v.is_ok()) << v.status().to_string();
    agent_ = *v;
  }
  void TearDown() override {
    core_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::unique_ptr<JobService> service() {
    return std::make_unique<JobService>(core_->runner(), *store_, clock_, core_->metrics());
  }
  // Polls until the job leaves pending/started (jobs run on worker threads).
  store::Job wait_done(const std::string& id) {
    for (int i = 0; i < 500; ++i) {
      auto j = store_->get_job(who_.org_id, id);
      if (j.is_ok() && j->status != store::kJobPending && j->status != store::kJobStarted) return *j;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "job " << id << " did not finish";
    return {};
  }
  store::Job stored_job(int status, int64_t attempts, const std::string& input) {
    store::Job j;
    j.id = new_uuid();
    j.org_id = who_.org_id;
    j.agent_id = agent_.agent.id;
    j.status = status;
    j.attempts = attempts;
    j.inputs_json = input;
    j.created_ms = j.updated_ms = clock_.now_ms();
    return j;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  model::ModelCatalog models_;
  std::unique_ptr<EchoBackend> backend_;
  std::unique_ptr<DripBackend> drip_;
  OneRegistry registry_;
  ManualClock clock_;
  std::unique_ptr<Core> core_;
  Principal who_;
  AgentView agent_;
};

TEST(JobMessageTest, OneBlockPerInputInOrder) {
  EXPECT_EQ(*job_message(R"({"question":"why?"})"), "question:\nwhy?");
  EXPECT_EQ(*job_message(R"({"b":"x","a":[2,"y"]})"), "b:\nx\n\na:\n[2,\"y\"]");
  EXPECT_EQ(job_message("{}").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(job_message("[1]").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(job_message("{").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(JobsTest, BatchRunsToResults) {
  auto svc = service();
  ASSERT_TRUE(svc->start().is_ok());
  auto jobs = svc->submit(who_, agent_.agent.id, "", {R"({"q":"one"})", R"({"q":"two"})", R"({"q":"three"})"});
  ASSERT_TRUE(jobs.is_ok()) << jobs.status().to_string();
  ASSERT_EQ(jobs->size(), 3u);
  const std::string batch = (*jobs)[0].batch_id;
  ASSERT_FALSE(batch.empty());
  for (const auto& j : *jobs) {
    EXPECT_EQ(j.batch_id, batch);
    store::Job done = wait_done(j.id);
    EXPECT_EQ(done.status, store::kJobSuccess);
    EXPECT_EQ(done.attempts, 1);
  }
  auto listed = svc->batch(who_.org_id, batch);
  ASSERT_TRUE(listed.is_ok());
  ASSERT_EQ(listed->size(), 3u);
  json::object r = json::parse((*listed)[1].result_json).as_object();
  EXPECT_EQ(r.at("agent_id").as_string(), agent_.agent.id);
  EXPECT_EQ(r.at("agent_version_id").as_string(), agent_.version.id);
  EXPECT_EQ(r.at("inputs"), json::parse(R"({"q":"two"})"));
  EXPECT_EQ(r.at("input_tokens").as_int64(), 3);  // one message: 2 + 1
  EXPECT_EQ(r.at("output_tokens").as_int64(), 3);
  EXPECT_EQ(r.at("outputs").as_string(), "echo: q:\ntwo");
  EXPECT_EQ(store_->list_runs(who_.org_id, agent_.agent.id, 10)->size(), 3u);
  // A single input has no batch.
  auto one = svc->submit(who_, agent_.agent.id, "", {R"({"q":"solo"})"});
  ASSERT_TRUE(one.is_ok());
  EXPECT_TRUE((*one)[0].batch_id.empty());
  EXPECT_EQ(wait_done((*one)[0].id).status, store::kJobSuccess);
}

TEST_F(JobsTest, SubmitValidation) {
  auto svc = service();
  EXPECT_EQ(svc->submit(who_, agent_.agent.id, "", {}).status().code(), StatusCode::kInvalidArgument);
  std::vector<std::string> many(1001, "{}");
  EXPECT_EQ(svc->submit(who_, agent_.agent.id, "", many).status().code(), StatusCode::kInvalidArgument);
  many.pop_back();
  auto ok = svc->submit(who_, agent_.agent.id, "", many);  // exactly 1000 is fine
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(store_->list_batch(who_.org_id, (*ok)[0].batch_id)->size(), 1000u);
  EXPECT_EQ(svc->submit(who_, agent_.agent.id, "", {"[]"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(svc->submit(who_, new_uuid(), "", {"{}"}).status().code(), StatusCode::kNotFound);
  Principal stranger;
  stranger.org_id = new_uuid();
  EXPECT_EQ(svc->submit(stranger, agent_.agent.id, "", {"{}"}).status().code(), StatusCode::kNotFound);
}

TEST_F(JobsTest, CancelBeforeItRuns) {
  auto svc = service();  // not started: jobs wait in the store
  auto jobs = svc->submit(who_, agent_.agent.id, "", {R"({"q":"x"})"});
  ASSERT_TRUE(jobs.is_ok());
  auto cancelled = svc->cancel(who_.org_id, (*jobs)[0].id);
  ASSERT_TRUE(cancelled.is_ok());
  EXPECT_EQ(cancelled->status, store::kJobCancelled);
  EXPECT_EQ(svc->cancel(who_.org_id, (*jobs)[0].id).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(svc->cancel(new_uuid(), (*jobs)[0].id).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(svc->start().is_ok());
  svc->stop();
  EXPECT_EQ(backend_->calls.load(), 0);
  EXPECT_EQ(store_->get_job(who_.org_id, (*jobs)[0].id)->status, store::kJobCancelled);
}

TEST_F(JobsTest, CancelWhileRunningStopsTheGenerationAndChargesWhatItConsumed) {
  AgentSpec spec;
  spec.name = "dripper";
  spec.model = "drip";
  spec.max_tokens = 1;
  auto dripper = core_->agents().create(who_.org_id, "test", spec);
  ASSERT_TRUE(dripper.is_ok()) << dripper.status().to_string();
  auto svc = service();
  ASSERT_TRUE(svc->start().is_ok());
  auto jobs = svc->submit(who_, dripper->agent.id, "", {R"({"q":"x"})"});
  ASSERT_TRUE(jobs.is_ok());
  const std::string id = (*jobs)[0].id;
  for (int i = 0; i < 500 && drip_->chunks.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GT(drip_->chunks.load(), 0) << "the job never started generating";
  EXPECT_EQ(store_->get_job(who_.org_id, id)->status, store::kJobStarted);
  // While it generates, the reservation (3 * 1 + 1 * 500 nanos) is held.
  EXPECT_EQ(store_->get_org(who_.org_id)->credits, 1000 - 503);

  auto cancelled = svc->cancel(who_.org_id, id);
  ASSERT_TRUE(cancelled.is_ok()) << cancelled.status().to_string();
  EXPECT_EQ(cancelled->status, store::kJobCancelled);
  svc->stop();  // waits for the worker: the run has ended
  EXPECT_TRUE(drip_->finished.load());
  EXPECT_LT(drip_->chunks.load(), 5000);  // stopped, not run to its end
  EXPECT_EQ(store_->get_job(who_.org_id, id)->status, store::kJobCancelled);
  // At least one tick went out: 3 * 1 + ticks * 500 nanos, capped by the
  // reservation (max_tokens 1): 503.
  EXPECT_EQ(store_->get_org(who_.org_id)->credits, 1000 - 503);
  auto runs = store_->list_runs(who_.org_id, dripper->agent.id, 10);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].status, "cancelled");
  EXPECT_EQ((*runs)[0].cost, 503);
  EXPECT_EQ((*runs)[0].input_tokens, 3);
  EXPECT_GE((*runs)[0].output_tokens, 1);
  EXPECT_NE(core_->metrics().render().find("agentd_jobs_total{outcome=\"cancelled\"} 1"), std::string::npos)
      << core_->metrics().render();
  EXPECT_EQ(svc->cancel(who_.org_id, id).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(JobsTest, RecoveryAfterRestart) {
  // What a crashed process left behind.
  store::Job pending = stored_job(store::kJobPending, 0, R"({"q":"queued"})");
  store::Job once = stored_job(store::kJobStarted, 1, R"({"q":"interrupted once"})");
  store::Job twice = stored_job(store::kJobStarted, 2, R"({"q":"interrupted twice"})");
  store::Job done = stored_job(store::kJobSuccess, 1, R"({"q":"done"})");
  done.result_json = R"({"outputs":"old"})";
  ASSERT_TRUE(store_->create_jobs({pending, once, twice, done}).is_ok());

  auto svc = service();
  ASSERT_TRUE(svc->start().is_ok());
  store::Job p = wait_done(pending.id);
  EXPECT_EQ(p.status, store::kJobSuccess);
  EXPECT_EQ(p.attempts, 1);
  store::Job o = wait_done(once.id);
  EXPECT_EQ(o.status, store::kJobSuccess);
  EXPECT_EQ(o.attempts, 2);
  EXPECT_EQ(json::parse(o.result_json).at("outputs").as_string(), "echo: q:\ninterrupted once");
  store::Job t = wait_done(twice.id);
  EXPECT_EQ(t.status, store::kJobFailure);
  EXPECT_NE(t.error.find("interrupted"), std::string::npos);
  EXPECT_EQ(store_->get_job(who_.org_id, done.id)->result_json, R"({"outputs":"old"})");
  EXPECT_EQ(backend_->calls.load(), 2);
}

}  // namespace
}  // namespace agentd::core
