// LocalBackend on the test models: prompt rendering and counts, greedy and
// seeded determinism, limits, stop strings, the bounded queue and KV cache
// reuse between turns. The engine itself (Generator on hand-made token ids)
// is the reference for what the backend must produce.

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "engine/generator.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/model.h"
#include "engine/thread_pool.h"
#include "engine/tokenizer/tokenizer.h"
#include "model/local_backend.h"

namespace agentd::model {
namespace {

const std::string kStories = std::string(AGENTD_TESTDATA_DIR) + "/models/stories260K.gguf";
const std::string kTinyQ8 = std::string(AGENTD_TESTDATA_DIR) + "/models/tiny-random-Q8_0.gguf";

ModelSpec spec_for(const std::string& path, int context = 512) {
  ModelSpec s;
  s.id = "m";
  s.path = path;
  s.context = context;
  s.threads = 2;
  return s;
}

std::unique_ptr<LocalBackend> load(const ModelSpec& spec) {
  auto b = LocalBackend::create(spec);
  EXPECT_TRUE(b.is_ok()) << b.status().to_string();
  return b.is_ok() ? std::move(b).value() : nullptr;
}

GenerationRequest request(const std::string& user, int64_t max_tokens, double temperature = 0.0) {
  GenerationRequest r;
  r.messages = {{"user", user}};
  r.params.max_tokens = max_tokens;
  r.params.temperature = temperature;
  return r;
}

// An agent's instructions, shared by the prefix-sharing tests.
const std::string kInstructions = "You tell short stories about Lily and her dog. The dog is big and likes to play.";

// request() after a system message, for the conversation `cache_key` ("" = none).
GenerationRequest request_after(const std::string& system, const std::string& user, int64_t max_tokens,
                                const std::string& cache_key = "") {
  GenerationRequest r = request(user, max_tokens);
  r.messages.insert(r.messages.begin(), Message{"system", system});
  r.cache_key = cache_key;
  return r;
}

// What ChatML makes of request()'s messages, written out by hand.
std::string chatml_text(const std::string& user) {
  return "<|im_start|>user\n" + user +
         "<|im_end|>\n<|im_start|>assistant\n";
}

TEST(LocalBackend, MissingFileErrorNamesIt) {
  auto b = LocalBackend::create(spec_for("/nonexistent/model.gguf"));
  ASSERT_FALSE(b.is_ok());
  EXPECT_NE(b.status().message().find("/nonexistent/model.gguf"), std::string::npos) << b.status().message();
}

TEST(LocalBackend, PromptIsChatmlWithOneBos) {
  auto b = load(spec_for(kStories));
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->uses_model_template());  // stories260K has no template: ChatML
  ASSERT_FALSE(b->warnings().empty());
  EXPECT_NE(b->warnings()[0].find("no tokenizer.chat_template; using ChatML"), std::string::npos);
  auto model = engine::Model::load(kStories);
  ASSERT_TRUE(model.is_ok());
  auto tok = engine::Tokenizer::from_gguf((*model)->gguf());
  ASSERT_TRUE(tok.is_ok());
  // llama.cpp tokenization of the rendered text: BOS added, specials parsed.
  const auto expected = (*tok)->encode(chatml_text("Once upon a time"), true, true);
  ASSERT_EQ(expected.front(), (*tok)->bos_id());

  auto ids = b->tokenize_prompt(request("Once upon a time", 1).messages);
  ASSERT_TRUE(ids.is_ok());
  EXPECT_EQ(*ids, expected);
  auto n = b->count_prompt_tokens(request("Once upon a time", 1).messages);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, static_cast<int64_t>(expected.size()));
}

// stories260K with another tokenizer.chat_template, written to a temp file.
std::string stories_with_template(const std::string& name, const std::string& tmpl) {
  auto file = engine::GgufFile::open(kStories);
  EXPECT_TRUE(file.is_ok());
  engine::GgufWriter w;
  for (const auto& [key, value] : (*file)->metadata()) EXPECT_TRUE(w.set_value(key, value).is_ok());
  w.set_string("tokenizer.chat_template", tmpl);
  for (const auto& t : (*file)->tensors()) {
    std::string bytes(reinterpret_cast<const char*>(t.data), t.n_bytes);
    EXPECT_TRUE(w.add_tensor(t.name, t.type, t.dims, std::move(bytes)).is_ok());
  }
  const std::string path = ::testing::TempDir() + "/" + name + "_" + std::to_string(getpid()) + ".gguf";
  EXPECT_TRUE(w.write_file(path).is_ok());
  return path;
}

TEST(LocalBackend, TemplateThatWritesBosGetsNoSecondBos) {
  const std::string path = stories_with_template(
      "bos_template", "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
                      "{% if add_generation_prompt %}[assistant] {% endif %}");
  auto b = load(spec_for(path));
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->uses_model_template());
  auto model = engine::Model::load(kStories);
  ASSERT_TRUE(model.is_ok());
  auto tok = engine::Tokenizer::from_gguf((*model)->gguf());
  ASSERT_TRUE(tok.is_ok());
  const int32_t bos = (*tok)->bos_id();
  // The template's own BOS is the only one: what llama.cpp's tokenizer makes
  // of the rendered text without adding specials.
  const std::string rendered = (*tok)->token_text(bos) + "[user] Once upon a time\n[assistant] ";
  const auto expected = (*tok)->encode(rendered, false, true);
  ASSERT_EQ(expected.front(), bos);
  auto ids = b->tokenize_prompt(request("Once upon a time", 1).messages);
  ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
  EXPECT_EQ(*ids, expected);
  EXPECT_EQ(std::count(ids->begin(), ids->end(), bos), 1);
  b.reset();
  std::remove(path.c_str());
}

TEST(LocalBackend, BrokenTemplateFallsBackToChatml) {
  const std::string path = stories_with_template("broken_template", "{% for m in messages %}{{ m.content ");
  auto b = load(spec_for(path));
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->uses_model_template());
  ASSERT_FALSE(b->warnings().empty());
  EXPECT_NE(b->warnings()[0].find("does not parse"), std::string::npos) << b->warnings()[0];
  auto model = engine::Model::load(kStories);
  ASSERT_TRUE(model.is_ok());
  auto tok = engine::Tokenizer::from_gguf((*model)->gguf());
  ASSERT_TRUE(tok.is_ok());
  auto ids = b->tokenize_prompt(request("Once upon a time", 1).messages);
  ASSERT_TRUE(ids.is_ok());
  EXPECT_EQ(*ids, (*tok)->encode(chatml_text("Once upon a time"), true, true));
  b.reset();
  std::remove(path.c_str());
}

// The backend's greedy output equals the engine's own greedy run on the same
// tokens, and repeats exactly; mean_logprob is the mean of the per-step
// log-probabilities.
TEST(LocalBackend, GreedyMatchesEngineAndRepeats) {
  auto b = load(spec_for(kStories));
  ASSERT_TRUE(b);
  const auto req = request("Once upon a time", 24);
  std::string streamed;
  auto g1 = b->generate(req, [&](std::string_view t) {
    streamed += t;
    return true;
  });
  ASSERT_TRUE(g1.is_ok()) << g1.status().to_string();
  auto g2 = b->generate(req, {});
  ASSERT_TRUE(g2.is_ok());
  EXPECT_EQ(g1->text, g2->text);
  EXPECT_EQ(streamed, g1->text);

  auto model = engine::Model::load(kStories);
  ASSERT_TRUE(model.is_ok());
  auto tok = engine::Tokenizer::from_gguf((*model)->gguf());
  ASSERT_TRUE(tok.is_ok());
  engine::ThreadPool pool(2);
  engine::Generator gen(**model, tok->get(), &pool);
  auto cache = (*model)->new_cache(512);
  engine::GenerateOptions o;
  o.max_tokens = 24;
  const auto ids = (*tok)->encode(chatml_text("Once upon a time"), true, true);
  auto ref = gen.generate(*cache, ids, o);
  ASSERT_TRUE(ref.is_ok());
  EXPECT_EQ(g1->text, ref->text);
  EXPECT_EQ(g1->prompt_tokens, static_cast<int64_t>(ids.size()));
  double sum = 0;
  int64_t n = 0;
  for (const auto& s : ref->steps) {
    if ((*tok)->is_end_of_generation(s.id)) continue;
    sum += s.logprob;
    ++n;
  }
  EXPECT_EQ(g1->completion_tokens, n);
  ASSERT_TRUE(g1->mean_logprob.has_value());
  EXPECT_NEAR(*g1->mean_logprob, sum / static_cast<double>(n), 1e-9);
  EXPECT_LE(*g1->mean_logprob, 0.0);
  EXPECT_EQ(g1->finish_reason, ref->finish == engine::FinishReason::kLength ? "length" : "stop");
}

TEST(LocalBackend, SeededSamplingIsDeterministic) {
  auto b = load(spec_for(kTinyQ8, 512));
  ASSERT_TRUE(b);
  auto req = request("Hello there", 8, 1.5);
  req.params.seed = 42;
  auto a1 = b->generate(req, {});
  auto a2 = b->generate(req, {});
  req.params.seed = 43;
  auto c = b->generate(req, {});
  ASSERT_TRUE(a1.is_ok() && a2.is_ok() && c.is_ok());
  EXPECT_EQ(a1->text, a2->text);
  EXPECT_NE(a1->text, c->text);  // 8 draws from a random model's flat distribution
}

TEST(LocalBackend, MaxTokensAndLength) {
  auto b = load(spec_for(kTinyQ8, 512));
  ASSERT_TRUE(b);
  auto g = b->generate(request("Count with me", 5), {});
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_LE(g->completion_tokens, 5);
  if (g->finish_reason == "length") {
    EXPECT_EQ(g->completion_tokens, 5);
  }
  auto bad = b->generate(request("x", 0), {});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(LocalBackend, StopStringEndsTextBeforeIt) {
  auto b = load(spec_for(kStories));
  ASSERT_TRUE(b);
  auto full = b->generate(request("Once upon a time", 24), {});
  ASSERT_TRUE(full.is_ok());
  ASSERT_GE(full->text.size(), 8u) << full->text;
  // A stop string taken from the middle of the greedy text.
  const std::string stop = full->text.substr(full->text.size() / 2, 2);
  auto req = request("Once upon a time", 24);
  req.params.stop = {stop};
  auto cut = b->generate(req, {});
  ASSERT_TRUE(cut.is_ok());
  EXPECT_EQ(cut->text, full->text.substr(0, full->text.find(stop)));
  EXPECT_EQ(cut->finish_reason, "stop");
}

TEST(LocalBackend, ContextOverflowStatesBothNumbers) {
  auto b = load(spec_for(kTinyQ8, 100));
  ASSERT_TRUE(b);
  auto n = b->count_prompt_tokens(request("Once upon a time", 1).messages);
  ASSERT_TRUE(n.is_ok());
  ASSERT_LT(*n, 90);
  const int64_t too_many = 100 - *n + 1;
  auto g = b->generate(request("Once upon a time", too_many), {});
  ASSERT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  const std::string& m = g.status().message();
  EXPECT_NE(m.find("prompt (" + std::to_string(*n) + " tokens)"), std::string::npos) << m;
  EXPECT_NE(m.find("max_tokens (" + std::to_string(too_many) + ")"), std::string::npos) << m;
  EXPECT_NE(m.find("(100 tokens)"), std::string::npos) << m;
  // One less is accepted: it starts generating (and is cancelled at once).
  auto fits = b->generate(request("Once upon a time", too_many - 1), [](std::string_view) { return false; });
  ASSERT_TRUE(fits.is_ok()) << fits.status().to_string();
  EXPECT_EQ(fits->finish_reason, "cancelled");
  auto huge = b->generate(request("Once upon a time", INT64_MAX), {});
  EXPECT_EQ(huge.status().code(), StatusCode::kInvalidArgument);
}

TEST(LocalBackend, ContextIsCappedAtTrainedContext) {
  auto b = load(spec_for(kStories, 512));  // trained context 128 (testdata README)
  ASSERT_TRUE(b);
  EXPECT_EQ(b->context(), 128);
  ASSERT_EQ(b->warnings().size(), 2u);
  EXPECT_NE(b->warnings()[1].find("context 512 is beyond the trained context; using 128"), std::string::npos);
  auto g = b->generate(request("Once upon a time", 120), {});
  ASSERT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(g.status().message().find("(128 tokens)"), std::string::npos) << g.status().message();
}

TEST(LocalBackend, CallbackFalseCancels) {
  auto b = load(spec_for(kStories));
  ASSERT_TRUE(b);
  auto g = b->generate(request("Once upon a time", 24), [](std::string_view) { return false; });
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_EQ(g->finish_reason, "cancelled");
  EXPECT_GE(g->completion_tokens, 1);  // the chunk refused came from a token
}

// A generation cut short after k chunks reports what it consumed: the whole
// prompt, at least the k chunks' tokens, and the start of the answer the same
// request gives when it runs to its end (greedy).
TEST(LocalBackend, CancelledGenerationReportsWhatItConsumed) {
  auto b = load(spec_for(kTinyQ8, 128));  // its trained context
  ASSERT_TRUE(b);
  const GenerationRequest req = request("Once upon a time", 90);
  auto full = b->generate(req, {});
  ASSERT_TRUE(full.is_ok()) << full.status().to_string();
  ASSERT_EQ(full->finish_reason, "length");  // random weights: no early EOS on this prompt
  auto n_prompt = b->count_prompt_tokens(req.messages);
  ASSERT_TRUE(n_prompt.is_ok());

  constexpr int k = 3;
  int chunks = 0;
  std::string seen;
  auto cut = b->generate(req, [&](std::string_view t) {
    if (++chunks > k) return false;
    seen += t;
    return true;
  });
  ASSERT_TRUE(cut.is_ok()) << cut.status().to_string();
  EXPECT_EQ(chunks, k + 1);  // nothing after the refused chunk
  EXPECT_EQ(cut->finish_reason, "cancelled");
  EXPECT_EQ(cut->prompt_tokens, *n_prompt);
  EXPECT_GE(cut->completion_tokens, k + 1);
  // (How many more the engine ran before it saw the cancel depends on
  // thread timing: at most the whole answer.)
  EXPECT_LE(cut->completion_tokens, full->completion_tokens);
  EXPECT_EQ(cut->text.compare(0, seen.size(), seen), 0) << cut->text;
  EXPECT_EQ(full->text.compare(0, cut->text.size(), cut->text), 0);
  ASSERT_TRUE(cut->mean_logprob.has_value());
}

// Holds a generation inside its first chunk until released.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool open = false;
  bool wait_in_chunk() {
    std::unique_lock<std::mutex> l(mu);
    entered = true;
    cv.notify_all();
    cv.wait(l, [&] { return open; });
    return true;
  }
  void wait_entered() {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return entered; });
  }
  void release() {
    std::lock_guard<std::mutex> l(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(LocalBackend, QueueDepthZeroRejectsWhileBusy) {
  auto spec = spec_for(kStories);
  spec.queue_depth = 0;
  auto b = load(spec);
  ASSERT_TRUE(b);
  Gate gate;
  StatusOr<Generation> first = Status::internal("unset");
  std::thread t([&] { first = b->generate(request("Once upon a time", 8), [&](std::string_view) {
    return gate.wait_in_chunk();
  }); });
  gate.wait_entered();
  auto second = b->generate(request("Once upon a time", 8), {});
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(second.status().message(), "engine queue full");
  gate.release();
  t.join();
  EXPECT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_TRUE(b->generate(request("Once upon a time", 4), {}).is_ok());  // free again
}

TEST(LocalBackend, QueueDepthOneLetsOneWait) {
  auto spec = spec_for(kStories);
  spec.queue_depth = 1;
  MetricsRegistry metrics;  // outlives the backend
  auto b = load(spec);
  ASSERT_TRUE(b);
  b->set_metrics(&metrics);
  const std::string queued_series = "agentd_engine_queued_requests{model=\"m\"} ";
  EXPECT_NE(metrics.render().find(queued_series + "0\n"), std::string::npos) << metrics.render();
  Gate gate;
  StatusOr<Generation> first = Status::internal("unset"), queued = Status::internal("unset");
  std::thread t1([&] { first = b->generate(request("Once upon a time", 8), [&](std::string_view) {
    return gate.wait_in_chunk();
  }); });
  gate.wait_entered();
  std::thread t2([&] { queued = b->generate(request("Once upon a time", 8), {}); });
  for (int i = 0; i < 2000 && b->waiting() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(b->waiting(), 1);
  EXPECT_NE(metrics.render().find(queued_series + "1\n"), std::string::npos) << metrics.render();
  auto third = b->generate(request("Once upon a time", 8), {});
  EXPECT_EQ(third.status().code(), StatusCode::kUnavailable);
  gate.release();
  t1.join();
  t2.join();
  EXPECT_TRUE(first.is_ok());
  ASSERT_TRUE(queued.is_ok());
  EXPECT_EQ(queued->text, first->text);
  EXPECT_NE(metrics.render().find(queued_series + "0\n"), std::string::npos) << metrics.render();
}

TEST(LocalBackend, ParallelSequencesRunTogether) {
  auto spec = spec_for(kStories);
  spec.parallel = 2;
  spec.queue_depth = 0;
  auto b = load(spec);
  ASSERT_TRUE(b);
  auto alone = b->generate(request("Once upon a time", 12), {});
  ASSERT_TRUE(alone.is_ok());
  Gate gate;
  StatusOr<Generation> first = Status::internal("unset");
  std::thread t([&] { first = b->generate(request("Once upon a time", 12), [&](std::string_view) {
    return gate.wait_in_chunk();
  }); });
  gate.wait_entered();
  // The first caller is stuck in its callback; the engine goes on with the
  // second sequence (and buffers the first one's text).
  auto second = b->generate(request("Once upon a time", 12), {});
  gate.release();
  t.join();
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(second->text, alone->text);
  EXPECT_EQ(first->text, alone->text);
}

TEST(LocalBackend, SecondTurnReusesCacheAndMatchesColdRun) {
  auto b = load(spec_for(kTinyQ8));
  ASSERT_TRUE(b);
  auto turn1 = request("Once upon a time", 6);
  turn1.cache_key = "org/agent/session-1";
  auto r1 = b->generate(turn1, {});
  ASSERT_TRUE(r1.is_ok());
  EXPECT_EQ(r1->cached_prompt_tokens, 0);
  EXPECT_EQ(b->kept_caches().size(), 1u);

  auto turn2 = turn1;
  turn2.messages.push_back({"assistant", r1->text});
  turn2.messages.push_back({"user", "And then?"});
  turn2.params.max_tokens = 6;
  auto warm = b->generate(turn2, {});
  ASSERT_TRUE(warm.is_ok()) << warm.status().to_string();
  EXPECT_GE(warm->cached_prompt_tokens, r1->prompt_tokens);
  EXPECT_LT(warm->cached_prompt_tokens, warm->prompt_tokens);

  auto cold_req = turn2;
  cold_req.cache_key = "";
  auto fresh = load(spec_for(kTinyQ8));
  ASSERT_TRUE(fresh);
  auto cold = fresh->generate(cold_req, {});
  ASSERT_TRUE(cold.is_ok());
  EXPECT_EQ(cold->cached_prompt_tokens, 0);
  EXPECT_EQ(warm->text, cold->text);
  EXPECT_EQ(warm->prompt_tokens, cold->prompt_tokens);
}

// The same instructions in front of different questions: a request without
// a session starts from the prefix a finished request left, a new session of
// another organization from a kept session cache; each answers exactly what
// it answers on a fresh backend, and the session caches stay their owners'.
TEST(LocalBackend, SharedPromptPrefixIsReusedAndChangesNothing) {
  auto b = load(spec_for(kTinyQ8));
  ASSERT_TRUE(b);
  MetricsRegistry metrics;
  b->set_metrics(&metrics);
  const MetricLabels model{{"model", "m"}};
  Counter& hits = metrics.counter("agentd_kv_cache_hits_total", "", model);
  Counter& misses = metrics.counter("agentd_kv_cache_misses_total", "", model);
  Counter& prefix_hits = metrics.counter("agentd_kv_cache_prefix_hits_total", "", model);
  Counter& reused = metrics.counter("agentd_kv_cache_reused_tokens_total", "", model);
  auto ask = [&](const std::string& question, const std::string& key) {
    return request_after(kInstructions, question, 12, key);
  };
  auto shared = [&](const GenerationRequest& x, const GenerationRequest& y) {
    auto px = b->tokenize_prompt(x.messages);
    auto py = b->tokenize_prompt(y.messages);
    EXPECT_TRUE(px.is_ok() && py.is_ok());
    return reusable_prefix(*px, *py);
  };
  auto fresh_answer = [&](const GenerationRequest& r) {
    auto f = load(spec_for(kTinyQ8));
    EXPECT_TRUE(f);
    auto g = f->generate(r, {});
    EXPECT_TRUE(g.is_ok()) << g.status().to_string();
    EXPECT_EQ(g->cached_prompt_tokens, 0);
    return g->text;
  };

  const auto first = ask("Once upon a time", "");
  auto r1 = b->generate(first, {});
  ASSERT_TRUE(r1.is_ok()) << r1.status().to_string();
  EXPECT_EQ(r1->cached_prompt_tokens, 0);
  EXPECT_EQ(prefix_hits.value(), 0.0);
  EXPECT_EQ(b->kept_caches().size(), 1u);  // kept as a keyless donor

  const auto second = ask("The dog was sad", "");
  const int64_t common = shared(first, second);
  ASSERT_GT(common, 20);  // the system message and more
  auto r2 = b->generate(second, {});
  ASSERT_TRUE(r2.is_ok()) << r2.status().to_string();
  EXPECT_EQ(r2->cached_prompt_tokens, common);
  EXPECT_EQ(r2->prompt_tokens, static_cast<int64_t>(b->tokenize_prompt(second.messages)->size()));
  EXPECT_EQ(r2->text, fresh_answer(second));
  EXPECT_EQ(prefix_hits.value(), 1.0);
  EXPECT_EQ(reused.value(), static_cast<double>(common));
  EXPECT_EQ(hits.value() + misses.value(), 0.0);

  // Two sessions of different organizations.
  auto a1 = ask("A big red ball", "org-a/agent/s1");
  auto ra = b->generate(a1, {});
  ASSERT_TRUE(ra.is_ok());
  EXPECT_EQ(ra->cached_prompt_tokens, shared(a1, second));  // from r2's donor cache
  auto b1 = ask("A big red cat", "org-b/agent/s1");
  auto rb = b->generate(b1, {});
  ASSERT_TRUE(rb.is_ok());
  EXPECT_EQ(rb->cached_prompt_tokens, shared(a1, b1));  // from org-a's kept session
  EXPECT_GT(shared(a1, b1), shared(a1, second));
  EXPECT_EQ(rb->text, fresh_answer(b1));
  EXPECT_EQ(misses.value(), 2.0);  // neither session had a cache of its own
  EXPECT_EQ(hits.value(), 0.0);
  EXPECT_EQ(prefix_hits.value(), 3.0);

  // org-a's session still holds its whole first turn: its next turn hits.
  auto a2 = a1;
  a2.messages.push_back({"assistant", ra->text});
  a2.messages.push_back({"user", "And then?"});
  a2.params.max_tokens = 6;
  auto ra2 = b->generate(a2, {});
  ASSERT_TRUE(ra2.is_ok()) << ra2.status().to_string();
  EXPECT_GE(ra2->cached_prompt_tokens, ra->prompt_tokens);
  EXPECT_EQ(hits.value(), 1.0);
  EXPECT_EQ(ra2->text, fresh_answer(a2));
}

// Concurrent greedy requests share the engine's batched steps; each gives the
// text and token counts it gives alone.
TEST(LocalBackend, ConcurrentGreedyRequestsMatchEachAlone) {
  auto spec = spec_for(kStories);
  spec.parallel = 4;
  spec.queue_depth = 4;
  auto b = load(spec);
  ASSERT_TRUE(b);
  MetricsRegistry metrics;
  b->set_metrics(&metrics);
  const std::vector<std::string> prompts = {"Once upon a time", "The little dog", "Lily and Tom went to the park",
                                            "A big red ball", "Sam was sad", "The sun"};
  std::vector<Generation> alone;
  for (const auto& p : prompts) {
    auto g = b->generate(request(p, 20), {});
    ASSERT_TRUE(g.is_ok()) << g.status().to_string();
    alone.push_back(*g);
  }
  const uint64_t steps_alone = metrics.histogram("agentd_engine_batch_tokens", "", {}, {{"model", "m"}}).snapshot().count;
  std::vector<StatusOr<Generation>> together(prompts.size(), Status::internal("unset"));
  std::vector<std::string> streamed(prompts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i) {
    threads.emplace_back([&, i] {
      together[i] = b->generate(request(prompts[i], 20), [&, i](std::string_view t) {
        streamed[i] += t;
        return true;
      });
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(together[i].is_ok()) << together[i].status().to_string();
    EXPECT_EQ(together[i]->text, alone[i].text) << prompts[i];
    EXPECT_EQ(streamed[i], alone[i].text) << prompts[i];
    EXPECT_EQ(together[i]->completion_tokens, alone[i].completion_tokens) << prompts[i];
    EXPECT_EQ(together[i]->prompt_tokens, alone[i].prompt_tokens) << prompts[i];
    EXPECT_EQ(together[i]->finish_reason, alone[i].finish_reason) << prompts[i];
    ASSERT_TRUE(together[i]->mean_logprob && alone[i].mean_logprob);
    EXPECT_NEAR(*together[i]->mean_logprob, *alone[i].mean_logprob, 1e-4) << prompts[i];
  }
  EXPECT_EQ(b->running(), 0);
  EXPECT_EQ(metrics.gauge("agentd_engine_running_sequences", "", {{"model", "m"}}).value(), 0.0);
  // Every forward step was counted (how many depends on how the requests overlapped).
  EXPECT_GT(metrics.histogram("agentd_engine_batch_tokens", "", {}, {{"model", "m"}}).snapshot().count, steps_alone);
}

// share_prefixes = false: nothing is copied from other requests; a session
// still reuses its own kept cache.
TEST(LocalBackend, PrefixSharingCanBeTurnedOff) {
  auto spec = spec_for(kTinyQ8);
  spec.share_prefixes = false;
  auto b = load(spec);
  ASSERT_TRUE(b);
  auto ask = [&](const std::string& question, const std::string& key) {
    return request_after(kInstructions, question, 6, key);
  };
  auto r1 = b->generate(ask("Once upon a time", ""), {});
  ASSERT_TRUE(r1.is_ok());
  EXPECT_EQ(b->kept_caches().size(), 0u);  // no keyless donor
  auto s1 = b->generate(ask("The dog was sad", "org/agent/s1"), {});
  ASSERT_TRUE(s1.is_ok());
  EXPECT_EQ(s1->cached_prompt_tokens, 0);
  auto s2 = b->generate(ask("The dog was happy", "org/agent/s2"), {});
  ASSERT_TRUE(s2.is_ok());
  EXPECT_EQ(s2->cached_prompt_tokens, 0);  // s1's kept cache shares the instructions, unused
  auto next = ask("The dog was sad", "org/agent/s1");
  next.messages.push_back({"assistant", s1->text});
  next.messages.push_back({"user", "And then?"});
  auto s1b = b->generate(next, {});
  ASSERT_TRUE(s1b.is_ok());
  EXPECT_GE(s1b->cached_prompt_tokens, s1->prompt_tokens);  // its own session
}

// A burst of runs of one agent: the shared instructions are computed once.
// Whichever way the requests interleave (all admitted in one step, or one
// after another), each one after the first copies all but at most
// kMinSharedToWait of the shared prefix, and answers as it does alone.
TEST(LocalBackend, BurstOfRequestsComputesSharedInstructionsOnce) {
  auto spec = spec_for(kTinyQ8);
  spec.parallel = 4;
  spec.queue_depth = 4;
  auto b = load(spec);
  ASSERT_TRUE(b);
  MetricsRegistry metrics;
  b->set_metrics(&metrics);
  const std::string system =
      "You tell short stories about Lily and her dog Max. The dog is big and brown and likes to play in the park. "
      "Lily has a red ball and a blue kite. They live in a small house near the river with her mom and dad.";
  const std::vector<std::string> questions = {"Once upon a time", "The dog was sad", "A big red ball", "Lily ran"};
  std::vector<GenerationRequest> requests;
  for (const auto& q : questions) requests.push_back(request_after(system, q, 8));
  int64_t common = std::numeric_limits<int64_t>::max();
  for (size_t i = 1; i < requests.size(); ++i) {
    auto p0 = b->tokenize_prompt(requests[0].messages);
    auto pi = b->tokenize_prompt(requests[i].messages);
    ASSERT_TRUE(p0.is_ok() && pi.is_ok());
    common = std::min(common, reusable_prefix(*p0, *pi));
  }
  ASSERT_GT(common, 2 * LocalBackend::kMinSharedToWait);
  std::vector<StatusOr<Generation>> got(requests.size(), Status::internal("unset"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < requests.size(); ++i) threads.emplace_back([&, i] { got[i] = b->generate(requests[i], {}); });
  for (auto& t : threads) t.join();
  auto fresh = load(spec_for(kTinyQ8));
  ASSERT_TRUE(fresh);
  int64_t uncached = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(got[i].is_ok()) << got[i].status().to_string();
    auto alone = fresh->generate(requests[i], {});
    ASSERT_TRUE(alone.is_ok());
    EXPECT_EQ(got[i]->text, alone->text) << questions[i];
    EXPECT_EQ(got[i]->prompt_tokens, alone->prompt_tokens);
    if (got[i]->cached_prompt_tokens == 0) {
      ++uncached;
    } else {
      EXPECT_GT(got[i]->cached_prompt_tokens, common - LocalBackend::kMinSharedToWait) << questions[i];
    }
  }
  EXPECT_EQ(uncached, 1);  // only the first computed the instructions
  EXPECT_EQ(metrics.counter("agentd_kv_cache_prefix_hits_total", "", {{"model", "m"}}).value(), 3.0);
  EXPECT_EQ(b->running(), 0);
}

// Kept-cache hits, misses and reused tokens in the registry: a session's
// second turn hits, a new session misses, a request without a key is neither.
TEST(LocalBackend, CacheHitsAndMissesAreCounted) {
  auto b = load(spec_for(kTinyQ8));
  ASSERT_TRUE(b);
  MetricsRegistry metrics;
  b->set_metrics(&metrics);
  const MetricLabels model{{"model", "m"}};
  Counter& hits = metrics.counter("agentd_kv_cache_hits_total", "", model);
  Counter& misses = metrics.counter("agentd_kv_cache_misses_total", "", model);
  Counter& reused = metrics.counter("agentd_kv_cache_reused_tokens_total", "", model);
  Gauge& bytes = metrics.gauge("agentd_kv_cache_bytes", "", model);

  auto turn1 = request("Once upon a time", 4);
  turn1.cache_key = "org/agent/s1";
  auto r1 = b->generate(turn1, {});
  ASSERT_TRUE(r1.is_ok());
  EXPECT_EQ(hits.value(), 0.0);
  EXPECT_EQ(misses.value(), 1.0);
  EXPECT_EQ(bytes.value(), static_cast<double>(b->kept_caches().bytes()));
  EXPECT_GT(bytes.value(), 0.0);

  auto turn2 = turn1;
  turn2.messages.push_back({"assistant", r1->text});
  turn2.messages.push_back({"user", "And then?"});
  auto r2 = b->generate(turn2, {});
  ASSERT_TRUE(r2.is_ok());
  ASSERT_GT(r2->cached_prompt_tokens, 0);
  EXPECT_EQ(hits.value(), 1.0);
  EXPECT_EQ(misses.value(), 1.0);
  EXPECT_EQ(reused.value(), static_cast<double>(r2->cached_prompt_tokens));

  auto other = turn1;
  other.cache_key = "org/agent/s2";
  ASSERT_TRUE(b->generate(other, {}).is_ok());
  auto keyless = turn2;
  keyless.cache_key = "";
  ASSERT_TRUE(b->generate(keyless, {}).is_ok());
  EXPECT_EQ(hits.value(), 1.0);
  EXPECT_EQ(misses.value(), 2.0);
  EXPECT_EQ(bytes.value(), static_cast<double>(b->kept_caches().bytes()));

  const std::string text = metrics.render();
  EXPECT_NE(text.find("agentd_kv_cache_hits_total{model=\"m\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("agentd_kv_cache_misses_total{model=\"m\"} 2"), std::string::npos) << text;
  b->set_metrics(nullptr);
  ASSERT_TRUE(b->generate(other, {}).is_ok());
  EXPECT_EQ(hits.value(), 1.0);  // detached: no longer counted
}

// Keyless donors: at most kMaxDonors, never returned by take(), copied from
// without being changed.
TEST(KvCacheStore, KeepsFewDonorsAndCopiesTheLongestPrefix) {
  auto model = engine::Model::load(kStories);
  ASSERT_TRUE(model.is_ok());
  auto filled = [&](std::vector<int32_t> ids) {
    auto c = (*model)->new_cache(64);
    c->reserve_more(static_cast<int64_t>(ids.size()));
    c->commit(ids);
    return c;
  };
  KvCacheStore store(int64_t{1} << 30);
  store.put("s", filled({1, 2, 3, 9}));
  for (int32_t i = 0; i < static_cast<int32_t>(KvCacheStore::kMaxDonors) + 2; ++i) {
    store.put_donor(filled({1, 2, 7, i}));
  }
  EXPECT_EQ(store.size(), KvCacheStore::kMaxDonors + 1);
  EXPECT_FALSE(store.take(""));

  auto into = (*model)->new_cache(64);
  const std::vector<int32_t> prompt = {1, 2, 3, 4, 5};
  EXPECT_EQ(store.copy_longest_prefix(prompt, 3, *into), 0);  // nothing longer than 3
  EXPECT_EQ(into->size(), 0);
  EXPECT_EQ(store.copy_longest_prefix(prompt, 0, *into), 3);  // from "s"
  EXPECT_EQ(into->tokens(), (std::vector<int32_t>{1, 2, 3}));
  const std::vector<int32_t> whole = {1, 2, 7, 5};
  EXPECT_EQ(store.copy_longest_prefix(whole, 0, *into), 3);  // the newest donor; the last token is left
  EXPECT_EQ(into->tokens(), (std::vector<int32_t>{1, 2, 7}));
  auto s = store.take("s");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->tokens(), (std::vector<int32_t>{1, 2, 3, 9}));
}

TEST(KvCacheStore, EvictsLeastRecentlyUsedWithinBudget) {
  auto model = engine::Model::load(kStories);
  ASSERT_TRUE(model.is_ok());
  auto filled = [&](int n) {
    auto c = (*model)->new_cache(64);
    std::vector<int32_t> ids(static_cast<size_t>(n), 1);
    c->reserve_more(n);
    c->commit(ids);
    return c;
  };
  const int64_t one = static_cast<int64_t>(filled(16)->memory_bytes());
  ASSERT_GT(one, 0);
  KvCacheStore store(2 * one);
  store.put("a", filled(16));
  store.put("b", filled(16));
  EXPECT_EQ(store.size(), 2u);
  auto a = store.take("a");  // a is now the most recently used once put back
  ASSERT_TRUE(a);
  EXPECT_EQ(a->size(), 16);
  store.put("a", std::move(a));
  store.put("c", filled(16));  // over budget: b (least recent) goes
  EXPECT_EQ(store.size(), 2u);
  EXPECT_FALSE(store.take("b"));
  EXPECT_TRUE(store.take("a"));
  EXPECT_TRUE(store.take("c"));
  EXPECT_EQ(store.bytes(), 0);
  KvCacheStore tiny(one / 2);
  tiny.put("x", filled(16));  // larger than the whole budget: not kept
  EXPECT_EQ(tiny.size(), 0u);
}

TEST(PromptTokenCache, ExactMessagesOnlyTakenOnceLeastRecentOut) {
  PromptTokenCache cache;
  const std::vector<Message> a = {{"system", "Be brief."}, {"user", "hi"}};
  cache.put(a, {1, 2, 3});
  EXPECT_FALSE(cache.take({{"system", "Be brief."}, {"assistant", "hi"}}));  // another role
  EXPECT_FALSE(cache.take({{"system", "Be brief."}, {"user", "hi "}}));      // another text
  EXPECT_FALSE(cache.take({{"system", "Be brief."}}));                       // a prefix
  auto ids = cache.take(a);
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_FALSE(cache.take(a));  // taken

  for (size_t i = 0; i <= PromptTokenCache::kMaxEntries; ++i)
    cache.put({{"user", std::to_string(i)}}, {static_cast<int32_t>(i)});
  EXPECT_FALSE(cache.take({{"user", "0"}}));  // the oldest left
  for (size_t i = 1; i <= PromptTokenCache::kMaxEntries; ++i)
    EXPECT_TRUE(cache.take({{"user", std::to_string(i)}})) << i;
  // A prompt larger than the whole budget is not kept.
  const std::vector<Message> huge = {{"user", std::string(PromptTokenCache::kMaxBytes, 'x')}};
  cache.put(huge, {1});
  EXPECT_FALSE(cache.take(huge));
}

// generate() after count_prompt_tokens() (the core's order) feeds the ids it
// counted: same answer and prompt tokens as without the count.
TEST(LocalBackend, GenerateAfterCountFeedsTheCountedPrompt) {
  auto b = load(spec_for(kStories));
  ASSERT_TRUE(b);
  GenerationRequest req = request("Once upon a time", 8);
  req.messages.insert(req.messages.begin(), {"system", "Be brief."});
  auto direct = b->generate(req, {});
  ASSERT_TRUE(direct.is_ok()) << direct.status().to_string();
  auto n = b->count_prompt_tokens(req.messages);
  ASSERT_TRUE(n.is_ok());
  auto counted = b->generate(req, {});
  ASSERT_TRUE(counted.is_ok()) << counted.status().to_string();
  EXPECT_EQ(counted->prompt_tokens, *n);
  EXPECT_EQ(counted->prompt_tokens, direct->prompt_tokens);
  EXPECT_EQ(counted->text, direct->text);
}

}  // namespace
}  // namespace agentd::model
