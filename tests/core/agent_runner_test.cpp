// The run path's rules with a scripted model backend: prompt order, session
// history and truncation, credit reservation / settlement / refunds, 402,
// failed runs, rate limits and usage records. The engine itself is tested
// in tests/engine; here the backend's token counts are a simple formula so
// every expected number can be worked out by hand.

#include "core/agent_runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/ids.h"
#include "core/core.h"

namespace agentd::core {
namespace {

// Tokens of a prompt: per message 3 + its words; plus 1 for the generation
// prompt. Replies are `reply` with `completion_tokens` tokens.
class FakeBackend final : public model::ModelBackend {
 public:
  explicit FakeBackend(model::ModelSpec spec) : spec_(std::move(spec)) {}
  const model::ModelSpec& spec() const override { return spec_; }

  static int64_t words(const std::string& s) {
    std::istringstream in(s);
    std::string w;
    int64_t n = 0;
    while (in >> w) ++n;
    return n;
  }
  using ModelBackend::count_prompt_tokens;
  StatusOr<int64_t> count_prompt_tokens(const std::vector<model::Message>& messages,
                                        const std::vector<model::ToolSpec>&) override {
    int64_t n = 1;
    for (const auto& m : messages) n += 3 + words(m.content);
    return n;
  }
  StatusOr<model::Generation> generate(const model::GenerationRequest& request,
                                       const model::ChunkCallback& on_chunk) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_ = request;
      ++calls_;
    }
    if (during_generate) during_generate();
    if (fail) return Status::internal("the engine broke");
    if (cancel_without_counts) return Status::cancelled("cut short");
    if (on_chunk) on_chunk(reply);
    model::Generation g;
    g.text = reply;
    g.prompt_tokens = *count_prompt_tokens(request.messages);
    g.completion_tokens = completion_tokens < 0 ? request.params.max_tokens : completion_tokens;
    g.finish_reason = "stop";
    g.mean_logprob = -0.5;
    return g;
  }
  model::GenerationRequest last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

  std::string reply = "ok";
  int64_t completion_tokens = 5;  // < 0: always max_tokens
  bool fail = false;
  bool cancel_without_counts = false;  // kCancelled, as no backend of ours answers
  std::function<void()> during_generate;

 private:
  model::ModelSpec spec_;
  std::mutex mu_;
  model::GenerationRequest last_;
  int calls_ = 0;
};

class FakeRegistry final : public model::BackendRegistry {
 public:
  model::ModelBackend* find(const std::string& id) override { return id == backend->spec().id ? backend : nullptr; }
  FakeBackend* backend = nullptr;
};

class AgentRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("agentd-runner-" + random_hex(8));
    std::filesystem::create_directories(dir_);
    auto s = store::open_store("sqlite://" + (dir_ / "runner.db").string());
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
    model::ModelSpec spec;
    spec.id = "fake";
    spec.context = 200;
    spec.price_input_per_mtok = 1.0;   // 1000 nanos per input token
    spec.price_output_per_mtok = 2.0;  // 2000 nanos per output token
    models_ = model::ModelCatalog({spec});
    backend_ = std::make_unique<FakeBackend>(spec);
    registry_.backend = backend_.get();
    core_ = std::make_unique<Core>(*store_, models_, clock_, CoreOptions{}, &registry_);
    org_ = add_org("acme", 1000000000);
  }
  void TearDown() override {
    core_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string add_org(const std::string& name, store::Nanos credits) {
    store::Organization o{new_uuid(), name, credits, clock_.now_ms()};
    EXPECT_TRUE(store_->create_org(o).is_ok());
    return o.id;
  }
  AgentView add_agent(const std::string& org, const std::string& name, AgentSpec spec = {}) {
    spec.name = name;
    if (!spec.max_tokens) spec.max_tokens = 10;
    auto v = core_->agents().create(org, "test", spec);
    EXPECT_TRUE(v.is_ok()) << v.status().to_string();
    return *v;
  }
  RunRequest request(const std::string& agent_id, const std::string& message, const std::string& org = "") {
    RunRequest r;
    r.principal.org_id = org.empty() ? org_ : org;
    r.principal.key_id = "key-1";
    r.agent_id = agent_id;
    r.message = message;
    r.endpoint = "test";
    return r;
  }
  store::Nanos balance(const std::string& org) { return store_->get_org(org)->credits; }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  model::ModelCatalog models_;
  std::unique_ptr<FakeBackend> backend_;
  FakeRegistry registry_;
  ManualClock clock_;
  std::unique_ptr<Core> core_;
  std::string org_;
};

// "w w w ..." with n words.
std::string words_of(int n) {
  std::ostringstream out;
  for (int i = 0; i < n; ++i) out << "w ";
  return out.str();
}

using Msgs = std::vector<std::pair<std::string, std::string>>;
Msgs roles(const std::vector<model::Message>& m) {
  Msgs out;
  for (const auto& x : m) out.emplace_back(x.role, x.content);
  return out;
}

TEST(RunCostTest, RoundsUpToWholeNanos) {
  model::ModelSpec s;
  s.price_input_per_mtok = 0.15;
  s.price_output_per_mtok = 0.6;
  EXPECT_EQ(run_cost_nanos(s, 3, 0), 450);  // 3 * 0.15e-6 USD exactly, no float residue
  EXPECT_EQ(run_cost_nanos(s, 1000, 100), 150000 + 60000);
  s.price_input_per_mtok = 0.0001;  // 0.1 nanos per token
  EXPECT_EQ(run_cost_nanos(s, 1, 0), 1);
  EXPECT_EQ(run_cost_nanos(s, 10, 0), 1);
  EXPECT_EQ(run_cost_nanos(s, 11, 0), 2);
  s.price_input_per_mtok = 0;
  s.price_output_per_mtok = 0;
  EXPECT_EQ(run_cost_nanos(s, 1000000, 1000000), 0);
}

TEST_F(AgentRunnerTest, PromptOrderInstructionsDemonstrationsHistoryMessage) {
  AgentSpec spec;
  spec.instructions = "Be brief";
  spec.demonstrations = std::vector<store::Demonstration>{{"hi", "hello"}, {"bye", "ciao"}};
  AgentView a = add_agent(org_, "greeter", spec);
  RunRequest r = request(a.agent.id, "first question");
  r.session_id = "s1";
  r.context = "Today is Monday";
  r.named_context = {{"doc", "Paris is in France"}, {"empty", ""}};
  backend_->reply = "first answer";
  auto first = core_->runner().run(r, nullptr);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(first->sources, std::vector<std::string>{"doc"});
  EXPECT_EQ(roles(backend_->last().messages),
            (Msgs{{"system", "Be brief\n\nToday is Monday\n\ndoc:\nParis is in France"},
                  {"user", "hi"},
                  {"assistant", "hello"},
                  {"user", "bye"},
                  {"assistant", "ciao"},
                  {"user", "first question"}}));

  r.message = "second question";
  r.context.clear();
  r.named_context.clear();
  backend_->reply = "second answer";
  ASSERT_TRUE(core_->runner().run(r, nullptr).is_ok());
  EXPECT_EQ(roles(backend_->last().messages),
            (Msgs{{"system", "Be brief"},
                  {"user", "hi"},
                  {"assistant", "hello"},
                  {"user", "bye"},
                  {"assistant", "ciao"},
                  {"user", "first question"},
                  {"assistant", "first answer"},
                  {"user", "second question"}}));
  EXPECT_EQ(backend_->last().cache_key, org_ + "/" + a.agent.id + "/s1");

  auto turns = store_->list_turns(org_, a.agent.id, "s1");
  ASSERT_TRUE(turns.is_ok());
  ASSERT_EQ(turns->size(), 4u);
  EXPECT_EQ((*turns)[3].role, "assistant");
  EXPECT_EQ((*turns)[3].content, "second answer");
  EXPECT_EQ((*turns)[3].tokens, 5);

  // The same session id in another organization is another session.
  std::string other = add_org("other", 1000000000);
  AgentView b = add_agent(other, "greeter", spec);
  RunRequest r2 = request(b.agent.id, "hello there", other);
  r2.session_id = "s1";
  ASSERT_TRUE(core_->runner().run(r2, nullptr).is_ok());
  EXPECT_EQ(backend_->last().messages.size(), 6u);  // system, 2 demos, new message
}

TEST_F(AgentRunnerTest, OutputSchemaAsksForOneJsonObject) {
  AgentSpec spec;
  spec.instructions = "Extract";
  spec.output_schema_json = R"({"type":"object","properties":{"total":{"type":"number"}}})";
  AgentView a = add_agent(org_, "extractor", spec);
  RunRequest r = request(a.agent.id, "Invoice 42");
  r.context = "EUR";
  ASSERT_TRUE(core_->runner().run(r, nullptr).is_ok());
  EXPECT_EQ(roles(backend_->last().messages),
            (Msgs{{"system", "Extract\n\nAnswer with one JSON object only, matching this JSON schema: "
                             R"({"type":"object","properties":{"total":{"type":"number"}}})"
                             "\n\nEUR"},
                  {"user", "Invoice 42"}}));
}

TEST_F(AgentRunnerTest, ConversationSavingOffStoresNoTurns) {
  AgentSpec spec;
  spec.conversation_saving = false;
  AgentView a = add_agent(org_, "forgetful", spec);
  RunRequest r = request(a.agent.id, "remember this");
  r.session_id = "s";
  ASSERT_TRUE(core_->runner().run(r, nullptr).is_ok());
  ASSERT_TRUE(core_->runner().run(r, nullptr).is_ok());
  EXPECT_EQ(backend_->last().messages.size(), 1u);  // no instructions, no history: the message alone
  EXPECT_TRUE(store_->list_turns(org_, a.agent.id, "s")->empty());
}

TEST_F(AgentRunnerTest, OldestTurnsAreDroppedToFitTheContext) {
  // Context 200, max_tokens 10: prompt may take 190. System "sys" = 4,
  // each one-word message = 4, new message = 4, +1: 9 + 4k <= 190 -> k <= 45.
  AgentSpec spec;
  spec.instructions = "sys";
  AgentView a = add_agent(org_, "chatty", spec);
  std::vector<store::SessionTurn> turns;
  for (int i = 0; i < 25; ++i) {
    std::ostringstream q, ans;
    q << 'q' << i;
    ans << 'a' << i;
    turns.push_back({0, "user", q.str(), 0, 0});
    turns.push_back({0, "assistant", ans.str(), 0, 0});
  }
  ASSERT_TRUE(store_->append_turns(org_, a.agent.id, "long", turns, clock_.now_ms()).is_ok());
  RunRequest r = request(a.agent.id, "now");
  r.session_id = "long";
  auto res = core_->runner().run(r, nullptr);
  ASSERT_TRUE(res.is_ok()) << res.status().to_string();
  // 50 stored, 45 fit; dropping 5 would start on an assistant turn, so 6 go.
  EXPECT_EQ(res->truncated_turns, 6);
  auto msgs = backend_->last().messages;
  ASSERT_EQ(msgs.size(), 1u + 44u + 1u);
  EXPECT_EQ(msgs[0].content, "sys");
  EXPECT_EQ(msgs[1].content, "q3");
  EXPECT_EQ(msgs.back().content, "now");
  EXPECT_EQ(res->input_tokens, 9 + 4 * 44);

  // Without a session nothing is dropped.
  auto plain = core_->runner().run(request(a.agent.id, "now"), nullptr);
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ(plain->truncated_turns, 0);
}

TEST_F(AgentRunnerTest, PromptLongerThanContextIsRefusedAndMaxTokensShrinks) {
  AgentView a = add_agent(org_, "small");
  std::string huge = words_of(300);
  store::Nanos before = balance(org_);
  auto r = core_->runner().run(request(a.agent.id, huge), nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("200"), std::string::npos);
  EXPECT_EQ(backend_->calls(), 0);
  EXPECT_EQ(balance(org_), before);

  // 195 words + 3 + 1 = 199 tokens: 1 token left to generate.
  std::string near = words_of(195);
  backend_->completion_tokens = -1;
  auto ok = core_->runner().run(request(a.agent.id, near), nullptr);
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(backend_->last().params.max_tokens, 1);
}

TEST_F(AgentRunnerTest, ReservesMaximumThenSettlesRealCost) {
  AgentView a = add_agent(org_, "biller");  // max_tokens 10
  store::Nanos start = balance(org_);
  // Prompt "one two three": 3 + 3 + 1 = 7 tokens. Reservation:
  // 7 * 1000 + 10 * 2000 = 27000. Real: 7 * 1000 + 5 * 2000 = 17000.
  store::Nanos seen_during = -1;
  backend_->during_generate = [&] { seen_during = balance(org_); };
  auto r = core_->runner().run(request(a.agent.id, "one two three"), nullptr);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(seen_during, start - 27000);
  EXPECT_EQ(r->cost, 17000);
  EXPECT_EQ(r->input_tokens, 7);
  EXPECT_EQ(r->output_tokens, 5);
  EXPECT_NEAR(*r->confidence, std::exp(-0.5), 1e-12);
  EXPECT_EQ(balance(org_), start - 17000);
  auto runs = store_->list_runs(org_, a.agent.id, 10);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].cost, 17000);
  EXPECT_EQ((*runs)[0].status, "ok");
  EXPECT_EQ((*runs)[0].endpoint, "test");
  EXPECT_EQ((*runs)[0].model, "fake");

  // A smaller max_tokens override reserves less.
  RunRequest req = request(a.agent.id, "one two three");
  req.overrides.max_tokens = 2;
  backend_->during_generate = [&] { seen_during = balance(org_); };
  backend_->completion_tokens = 2;
  store::Nanos mid = balance(org_);
  ASSERT_TRUE(core_->runner().run(req, nullptr).is_ok());
  EXPECT_EQ(seen_during, mid - (7000 + 4000));
  EXPECT_EQ(balance(org_), mid - 11000);
  req.overrides.max_tokens = 11;  // above the agent's max_tokens
  EXPECT_EQ(core_->runner().run(req, nullptr).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(AgentRunnerTest, InsufficientCreditsGenerateAndChargeNothing) {
  std::string poor = add_org("poor", 26999);  // one nano short of 27000
  AgentView a = add_agent(poor, "biller");
  auto r = core_->runner().run(request(a.agent.id, "one two three", poor), nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInsufficientCredits);
  EXPECT_EQ(backend_->calls(), 0);
  EXPECT_EQ(balance(poor), 26999);
  EXPECT_TRUE(store_->list_runs(poor, "", 10)->empty());
  EXPECT_EQ(core_->metrics().counter("agentd_refusals_total", "", {{"reason", "credits"}}).value(), 1);
  ASSERT_TRUE(store_->add_credits(poor, 1).is_ok());
  EXPECT_TRUE(core_->runner().run(request(a.agent.id, "one two three", poor), nullptr).is_ok());
  EXPECT_EQ(balance(poor), 27000 - 17000);
}

TEST_F(AgentRunnerTest, FailedRunIsRecordedAndCostsNothing) {
  AgentView a = add_agent(org_, "broken");
  store::Nanos start = balance(org_);
  backend_->fail = true;
  auto r = core_->runner().run(request(a.agent.id, "hello"), nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_EQ(balance(org_), start);
  auto runs = store_->list_runs(org_, a.agent.id, 10);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].status, "failed");
  EXPECT_EQ((*runs)[0].cost, 0);
  EXPECT_NE((*runs)[0].error.find("the engine broke"), std::string::npos);

  backend_->fail = false;
  ASSERT_TRUE(core_->runner().run(request(a.agent.id, "hello"), nullptr).is_ok());
  ASSERT_TRUE(core_->runner().run(request(a.agent.id, "hello"), nullptr).is_ok());
  auto usage = store_->agent_usage(org_, a.agent.id);
  ASSERT_TRUE(usage.is_ok());
  EXPECT_EQ(usage->usage_count, 3);
  EXPECT_EQ(usage->total_requests, 3);
  EXPECT_NEAR(usage->success_rate, 2.0 / 3.0, 1e-12);
  EXPECT_EQ(usage->last_used_ms, clock_.now_ms());
  // "hello": 3 + 1 + 1 = 5 in, 5 out: 5000 + 10000 per ok run.
  auto org = store_->org_usage(org_);
  EXPECT_EQ(org->requests, 3);
  EXPECT_EQ(org->failed_requests, 1);
  EXPECT_EQ(org->cost, 30000);
  EXPECT_EQ(org->output_tokens, 10);
  EXPECT_EQ(balance(org_), start - 30000);
  std::string text = core_->metrics().render();
  EXPECT_NE(text.find("agentd_runs_total{endpoint=\"test\",outcome=\"failed\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("agentd_runs_total{endpoint=\"test\",outcome=\"ok\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("agentd_tokens_total{direction=\"out\",model=\"fake\"} 10\n"), std::string::npos);
}

// A backend that reports no counts for a cancelled generation (ours always
// do: model/backend.h) leaves nothing to charge; the run is still recorded
// as cancelled, not failed.
TEST_F(AgentRunnerTest, CancelledWithoutCountsCostsNothing) {
  AgentView a = add_agent(org_, "quitter");
  store::Nanos start = balance(org_);
  backend_->cancel_without_counts = true;
  auto r = core_->runner().run(request(a.agent.id, "hello"), nullptr);
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(balance(org_), start);
  auto runs = store_->list_runs(org_, a.agent.id, 10);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].status, "cancelled");
  EXPECT_EQ((*runs)[0].cost, 0);
  EXPECT_NE(core_->metrics().render().find("agentd_runs_total{endpoint=\"test\",outcome=\"cancelled\"} 1\n"),
            std::string::npos);
}

TEST_F(AgentRunnerTest, DroppedPreparedRunReleasesReservationAndSlot) {
  AgentView a = add_agent(org_, "dropper");
  store::Nanos start = balance(org_);
  RunRequest r = request(a.agent.id, "one two three");
  r.principal.concurrency = 1;
  {
    auto p = core_->runner().prepare(r, nullptr);
    ASSERT_TRUE(p.is_ok());
    EXPECT_EQ(balance(org_), start - 27000);
    EXPECT_EQ((*p)->prompt_tokens(), 7);
    EXPECT_EQ(core_->runner().prepare(r, nullptr).status().code(), StatusCode::kRateLimited);
  }
  EXPECT_EQ(balance(org_), start);
  EXPECT_TRUE(core_->runner().prepare(r, nullptr).is_ok());
}

TEST_F(AgentRunnerTest, UnknownOrInactiveAgentIsNotFound) {
  AgentView a = add_agent(org_, "sleepy");
  EXPECT_EQ(core_->runner().run(request(new_uuid(), "x"), nullptr).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(core_->runner().run(request("not-a-uuid", "x"), nullptr).status().code(), StatusCode::kNotFound);
  RunRequest by_name = request("", "x");
  by_name.agent_name = "Sleepy";
  EXPECT_TRUE(core_->runner().run(by_name, nullptr).is_ok());
  AgentSpec off;
  off.active = false;
  ASSERT_TRUE(core_->agents().update(org_, a.agent.id, off).is_ok());
  EXPECT_EQ(core_->runner().run(request(a.agent.id, "x"), nullptr).status().code(), StatusCode::kNotFound);
  // Another organization's agent is not found either.
  std::string other = add_org("other", 1000);
  AgentView b = add_agent(other, "theirs");
  EXPECT_EQ(core_->runner().run(request(b.agent.id, "x"), nullptr).status().code(), StatusCode::kNotFound);
}

// OpenAI `model` = a catalog model id: the client's messages alone, with
// the accounting of any run; an active agent of that name wins.
TEST_F(AgentRunnerTest, ModelRunUsesTheClientsMessagesOnly) {
  RunRequest r = request("", "");
  r.agent_name = "fake";
  r.messages = {{"user", "one two"}};
  EXPECT_EQ(core_->runner().run(r, nullptr).status().code(), StatusCode::kNotFound);  // no fallback asked
  r.model_fallback = true;
  const store::Nanos start = balance(org_);
  store::Nanos seen_during = -1;
  backend_->during_generate = [&] { seen_during = balance(org_); };
  auto res = core_->runner().run(r, nullptr);
  ASSERT_TRUE(res.is_ok()) << res.status().to_string();
  EXPECT_EQ(roles(backend_->last().messages), (Msgs{{"user", "one two"}}));
  EXPECT_EQ(backend_->last().params.temperature, 1.0);
  // Prompt 1 + 3 + 2 = 6 tokens; max_tokens is the rest of the 200 context.
  EXPECT_EQ(backend_->last().params.max_tokens, 194);
  EXPECT_EQ(seen_during, start - (6 * 1000 + 194 * 2000));
  EXPECT_EQ(res->cost, 6 * 1000 + 5 * 2000);
  EXPECT_EQ(balance(org_), start - res->cost);
  EXPECT_EQ(res->agent.id, "");
  EXPECT_EQ(res->model_id, "fake");
  auto runs = store_->list_runs(org_, "", 10);
  ASSERT_TRUE(runs.is_ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].agent_id, "");
  EXPECT_EQ((*runs)[0].version_id, "");
  EXPECT_EQ((*runs)[0].model, "fake");
  EXPECT_EQ((*runs)[0].status, "ok");
  EXPECT_EQ((*runs)[0].cost, res->cost);
  // Overrides apply as to an agent (capped by the context, not an agent).
  r.overrides.max_tokens = 3;
  r.overrides.temperature = 0.0;
  ASSERT_TRUE(core_->runner().run(r, nullptr).is_ok());
  EXPECT_EQ(backend_->last().params.max_tokens, 3);
  EXPECT_EQ(backend_->last().params.temperature, 0.0);
  r.overrides = {};
  // An unknown name is still 404.
  RunRequest nobody = r;
  nobody.agent_name = "nobody";
  EXPECT_EQ(core_->runner().run(nobody, nullptr).status().code(), StatusCode::kNotFound);

  // An active agent with the model's name wins; an inactive one does not.
  AgentSpec spec;
  spec.instructions = "Be kind";
  AgentView a = add_agent(org_, "fake", spec);
  ASSERT_TRUE(core_->runner().run(r, nullptr).is_ok());
  EXPECT_EQ(roles(backend_->last().messages), (Msgs{{"system", "Be kind"}, {"user", "one two"}}));
  AgentSpec off;
  off.active = false;
  ASSERT_TRUE(core_->agents().update(org_, a.agent.id, off).is_ok());
  ASSERT_TRUE(core_->runner().run(r, nullptr).is_ok());
  EXPECT_EQ(roles(backend_->last().messages), (Msgs{{"user", "one two"}}));
  auto all = store_->list_runs(org_, "", 10);  // "" lists every run of the organization
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ(std::count_if(all->begin(), all->end(), [](const store::Run& x) { return x.agent_id.empty(); }), 3);
  EXPECT_EQ(store_->list_runs(org_, a.agent.id, 10)->size(), 1u);
}

TEST_F(AgentRunnerTest, RateLimitPerKeyWithRetryAfter) {
  AgentView a = add_agent(org_, "limited");
  RunRequest r = request(a.agent.id, "hi");
  r.principal.rpm = 2;
  RateLimitInfo info;
  ASSERT_TRUE(core_->runner().run(r, &info).is_ok());
  EXPECT_EQ(info.limit, 2);
  EXPECT_EQ(info.remaining, 1);
  EXPECT_EQ(info.reset_s, 60);
  clock_.advance_ms(20000);
  ASSERT_TRUE(core_->runner().run(r, &info).is_ok());
  EXPECT_EQ(info.remaining, 0);
  EXPECT_EQ(info.reset_s, 40);
  auto refused = core_->runner().run(r, &info);
  EXPECT_EQ(refused.status().code(), StatusCode::kRateLimited);
  EXPECT_EQ(info.retry_after_s, 40);
  EXPECT_EQ(backend_->calls(), 2);
  EXPECT_EQ(core_->metrics().counter("agentd_refusals_total", "", {{"reason", "rate_limit"}}).value(), 1);
  clock_.advance_ms(40000);
  EXPECT_TRUE(core_->runner().run(r, &info).is_ok());
}

TEST_F(AgentRunnerTest, ConcurrentRunsNeverOverdraw) {
  // Each run reserves and (completion = max_tokens) spends exactly 27000.
  std::string org = add_org("tight", 7 * 27000 + 26999);
  AgentView a = add_agent(org, "busy");
  backend_->completion_tokens = -1;
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        auto r = core_->runner().run(request(a.agent.id, "one two three", org), nullptr);
        if (r.is_ok()) {
          ++ok;
        } else if (r.status().code() == StatusCode::kInsufficientCredits) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 7);
  EXPECT_EQ(refused.load(), 33);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(balance(org), 26999);
  EXPECT_EQ(store_->org_usage(org)->cost, 7 * 27000);
}

TEST_F(AgentRunnerTest, NoBackendIsUnavailable) {
  Core cli(*store_, models_, clock_, CoreOptions{}, nullptr);
  AgentView a = add_agent(org_, "offline");
  EXPECT_EQ(cli.runner().run(request(a.agent.id, "x"), nullptr).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace agentd::core
