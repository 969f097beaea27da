// OpenAiBackend against a real HTTP server on loopback
// (tests/model/openai_upstream_server.py, Python's http.server speaking the
// OpenAI streaming protocol): streaming, logprobs, usage, retries with
// backoff and Retry-After, timeouts, error mapping, a closed port. Plus the
// registry that builds backends from a catalog.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "model/openai_backend.h"
#include "model/openai_protocol.h"
#include "model/registry.h"

extern char** environ;

namespace agentd::model {
namespace {

// The upstream server process: started once for the suite, stopped by
// closing its stdin.
class UpstreamServer {
 public:
  bool start() {
    int out[2], in[2];
    if (pipe(out) != 0 || pipe(in) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    const std::string script = std::string(AGENTD_SOURCE_DIR) + "/tests/model/openai_upstream_server.py";
    std::vector<char*> argv = {const_cast<char*>("python3"), const_cast<char*>(script.c_str()), nullptr};
    const int rc = posix_spawnp(&pid_, "python3", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(in[0]);
    stdin_ = in[1];
    if (rc != 0) return false;
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    port_ = std::atoi(line.c_str());
    return port_ > 0;
  }
  void stop() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
    if (pid_ > 0) {
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
};

std::unique_ptr<UpstreamServer> g_server;  // one per test suite run

class OpenAiBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    signal(SIGPIPE, SIG_IGN);
    g_server = std::make_unique<UpstreamServer>();
    ASSERT_TRUE(g_server->start()) << "could not start openai_upstream_server.py";
  }
  static void TearDownTestSuite() {
    g_server->stop();
    g_server.reset();
  }

  static ModelSpec spec(const std::string& upstream_model) {
    ModelSpec s;
    s.id = "up";
    s.backend = "openai";
    s.base_url = "http://127.0.0.1:" + std::to_string(g_server->port()) + "/v1";
    s.upstream_model = upstream_model;
    s.timeout_s = 10;
    s.max_retries = 2;
    return s;
  }
  static std::unique_ptr<OpenAiBackend> backend(const ModelSpec& s) {
    RetryPolicy fast;
    fast.initial_backoff_s = 0.05;
    fast.max_backoff_s = 0.2;
    fast.max_retry_after_s = 5;
    auto b = OpenAiBackend::create(s, fast);
    EXPECT_TRUE(b.is_ok()) << b.status().to_string();
    return std::move(b).value();
  }
  // A request id unique to the test, so the server's attempt counts are too.
  static GenerationRequest request() {
    GenerationRequest r;
    r.messages = {{"user", "Say hello"}};
    r.params.max_tokens = 16;
    r.request_id = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    return r;
  }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST_F(OpenAiBackendTest, StreamsChunksWithLogprobsAndUsage) {
  auto b = backend(spec("ok"));
  std::vector<std::string> chunks;
  auto g = b->generate(request(), [&](std::string_view t) {
    chunks.emplace_back(t);
    return true;
  });
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_EQ(chunks, (std::vector<std::string>{"Hel", "lo", " world"}));
  EXPECT_EQ(g->text, "Hello world");
  EXPECT_EQ(g->finish_reason, "stop");
  EXPECT_EQ(g->prompt_tokens, 11);
  EXPECT_EQ(g->completion_tokens, 3);
  EXPECT_EQ(g->cached_prompt_tokens, 4);
  ASSERT_TRUE(g->mean_logprob.has_value());
  EXPECT_DOUBLE_EQ(*g->mean_logprob, -1.0);  // mean of -0.5, -1.0, -1.5
}

TEST_F(OpenAiBackendTest, SendsModelAuthAndStreamOptions) {
  setenv("AGENTD_TEST_UPSTREAM_KEY", "sk-test-123", 1);
  auto s = spec("echo");
  s.api_key_env = "AGENTD_TEST_UPSTREAM_KEY";
  auto b = backend(s);
  auto req = request();
  req.params.seed = 5;
  auto g = b->generate(req, {});
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  boost::json::object seen = boost::json::parse(g->text).as_object();
  EXPECT_EQ(seen.at("authorization").as_string(), "Bearer sk-test-123");
  EXPECT_EQ(seen.at("request_id").as_string(), req.request_id);
  const auto& body = seen.at("body").as_object();
  EXPECT_EQ(body.at("model").as_string(), "echo");
  EXPECT_EQ(body.at("stream").as_bool(), true);
  EXPECT_EQ(body.at("stream_options").at("include_usage").as_bool(), true);
  EXPECT_EQ(body.at("logprobs").as_bool(), true);
  EXPECT_EQ(body.at("seed").to_number<int64_t>(), 5);
  EXPECT_EQ(body.at("messages").as_array()[0].at("content").as_string(), "Say hello");
  // No logprobs, no usage: estimates, and no mean_logprob.
  EXPECT_FALSE(g->mean_logprob.has_value());
  EXPECT_EQ(g->prompt_tokens, 3 + 4 + 3);  // "Say hello": 9 chars -> 3
  EXPECT_GT(g->completion_tokens, 0);
}

TEST_F(OpenAiBackendTest, NoUsageIsEstimatedAndLengthIsKept) {
  auto g = backend(spec("plain"))->generate(request(), {});
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_EQ(g->text, "abcdefgh");
  EXPECT_EQ(g->completion_tokens, 2);
  EXPECT_EQ(g->finish_reason, "length");
  EXPECT_FALSE(g->mean_logprob.has_value());
}

TEST_F(OpenAiBackendTest, NonStreamedAnswerIsAccepted) {
  std::string streamed;
  auto g = backend(spec("json"))->generate(request(), [&](std::string_view t) {
    streamed += t;
    return true;
  });
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_EQ(g->text, "whole answer");
  EXPECT_EQ(streamed, "whole answer");
  EXPECT_EQ(g->prompt_tokens, 7);
}

TEST_F(OpenAiBackendTest, Retries503ThenSucceeds) {
  auto g = backend(spec("flaky"))->generate(request(), {});
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_EQ(g->text, "Hello world");
}

TEST_F(OpenAiBackendTest, Persistent503GivesUpAfterMaxRetries) {
  auto g = backend(spec("down"))->generate(request(), {});
  ASSERT_EQ(g.status().code(), StatusCode::kUnavailable);
  // 1 attempt + 2 retries; the message is the provider's last one.
  EXPECT_NE(g.status().message().find("answered 503: overloaded (attempt 3)"), std::string::npos)
      << g.status().message();
  EXPECT_NE(g.status().message().find("http://127.0.0.1:"), std::string::npos);
}

TEST_F(OpenAiBackendTest, HonoursRetryAfterOn429) {
  const auto t0 = std::chrono::steady_clock::now();
  auto g = backend(spec("ratelimited"))->generate(request(), {});
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_GE(seconds_since(t0), 0.95);  // Retry-After: 1, not the 0.05 s backoff
}

// RFC 9110 section 5.6.7 writes one instant in its three forms.
constexpr int64_t kRfcExample = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

TEST(RetryAfterDate, TheThreeHttpDateForms) {
  EXPECT_EQ(openai::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", kRfcExample), kRfcExample);
  EXPECT_EQ(openai::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", kRfcExample), kRfcExample);
  EXPECT_EQ(openai::parse_http_date("Sun Nov  6 08:49:37 1994", kRfcExample), kRfcExample);
  // Reference values from Python's email.utils.parsedate + calendar.timegm.
  EXPECT_EQ(openai::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT", 0), 1445412480);
  EXPECT_EQ(openai::parse_http_date("Thu, 29 Feb 2024 23:59:60 GMT", 0), 1709251200);  // leap day, leap second
  // RFC 850's two-digit year: more than 50 years ahead of now is the past century.
  const int64_t in_2025 = 1764000000;  // 2025-11-24
  EXPECT_EQ(openai::parse_http_date("Thursday, 01-Jan-76 00:00:00 GMT", in_2025), 189302400);   // not 2076
  EXPECT_EQ(openai::parse_http_date("Friday, 01-Jan-27 00:00:00 GMT", in_2025), 1798761600);   // 2027
  for (const char* bad : {"Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Feb 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 24:00:00 GMT", "sun, 06 Nov 1994 08:49:37 GMT",
                          "Sun, 06 Nv 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37",
                          "Sun Nov 6 08:49:37 1994", "", "1994-11-06T08:49:37Z"})
    EXPECT_FALSE(openai::parse_http_date(bad, kRfcExample)) << bad;
}

TEST(RetryAfterDate, ADateIsSecondsFromNow) {
  EXPECT_EQ(openai::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kRfcExample - 30), 30.0);
  EXPECT_EQ(openai::parse_retry_after(" Sun Nov  6 08:49:37 1994\r\n", kRfcExample - 2), 2.0);
  EXPECT_EQ(openai::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kRfcExample + 100), 0.0);  // past
  EXPECT_EQ(openai::parse_retry_after("120", kRfcExample), 120.0);
  EXPECT_FALSE(openai::parse_retry_after("Sun, 06 Nov 1994", kRfcExample));
}

TEST_F(OpenAiBackendTest, HonoursRetryAfterAsAnHttpDate) {
  // The server answers 429 with the date (its whole second now) + 2 s. The
  // retry may not come before that date, which is at least floor(t0) + 2,
  // however slow the machine; the 0.05 s backoff alone would come well before.
  const auto unix_now = [] {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  };
  const double t0 = unix_now();
  auto g = backend(spec("ratelimited_date"))->generate(request(), {});
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_EQ(g->text, "Hello world");
  EXPECT_GE(unix_now(), std::floor(t0) + 2);
}

TEST_F(OpenAiBackendTest, RetryAfterDateIsCappedLikeSeconds) {
  // An hour ahead, cut to max_retry_after_s.
  RetryPolicy policy;
  policy.initial_backoff_s = 0.01;
  policy.max_retry_after_s = 0.3;
  auto b = OpenAiBackend::create(spec("ratelimited_far"), policy);
  ASSERT_TRUE(b.is_ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto g = (*b)->generate(request(), {});
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_GE(seconds_since(t0), 0.3);    // the cap was waited for...
  EXPECT_LT(seconds_since(t0), 600.0);  // ...not the hour
}

TEST_F(OpenAiBackendTest, BadRequestIsInvalidArgumentWithoutRetry) {
  auto g = backend(spec("bad"))->generate(request(), {});
  ASSERT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(g.status().message().find("answered 400: max_tokens is too large"), std::string::npos)
      << g.status().message();
  EXPECT_EQ(g.status().message().find("attempts"), std::string::npos);
}

TEST_F(OpenAiBackendTest, SlowAnswerTimesOut) {
  auto s = spec("slow");
  s.timeout_s = 0.5;
  const auto t0 = std::chrono::steady_clock::now();
  auto g = backend(s)->generate(request(), {});
  ASSERT_EQ(g.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(g.status().message().find("upstream timed out after 0.5 s"), std::string::npos) << g.status().message();
  EXPECT_LT(seconds_since(t0), 2.5);
}

TEST_F(OpenAiBackendTest, NoRetryAfterTheFirstChunk) {
  auto s = spec("stall");
  s.timeout_s = 0.5;
  int chunks = 0;
  auto g = backend(s)->generate(request(), [&](std::string_view t) {
    EXPECT_EQ(t, "first");
    ++chunks;
    return true;
  });
  ASSERT_EQ(g.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(chunks, 1);

  chunks = 0;
  auto cut = backend(spec("cut"))->generate(request(), [&](std::string_view) {
    ++chunks;
    return true;
  });
  ASSERT_EQ(cut.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(cut.status().message().find("closed the stream"), std::string::npos) << cut.status().message();
  EXPECT_EQ(chunks, 1);
}

TEST_F(OpenAiBackendTest, MalformedStreamIsInternal) {
  auto g = backend(spec("malformed"))->generate(request(), {});
  ASSERT_EQ(g.status().code(), StatusCode::kInternal);
  EXPECT_NE(g.status().message().find("malformed"), std::string::npos) << g.status().message();
}

// A cancelled exchange reports what the provider streamed: its usage when it
// came, else estimates (characters / 4 rounded up; prompt: 3 + per message
// 4 + its estimate). request(): one message "Say hello" (9 characters):
// 3 + 4 + 3 = 10 prompt tokens.
TEST_F(OpenAiBackendTest, CallbackFalseCancelsAndReportsWhatWasStreamed) {
  auto g = backend(spec("ok"))->generate(request(), [](std::string_view) { return false; });
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_EQ(g->finish_reason, "cancelled");
  EXPECT_EQ(g->text, "Hel");  // the refused chunk was sent (and billed) too
  EXPECT_EQ(g->prompt_tokens, 10);
  EXPECT_EQ(g->completion_tokens, 1);

  // "drip" streams "tick " until the client goes away: cut after 3 chunks.
  int chunks = 0;
  auto drip = backend(spec("drip"))->generate(request(), [&](std::string_view) { return ++chunks < 3; });
  ASSERT_TRUE(drip.is_ok()) << drip.status().to_string();
  EXPECT_EQ(chunks, 3);
  EXPECT_EQ(drip->finish_reason, "cancelled");
  EXPECT_EQ(drip->text, "tick tick tick ");
  EXPECT_EQ(drip->prompt_tokens, 10);
  EXPECT_EQ(drip->completion_tokens, 4);  // 15 characters

  // A whole (non-streamed) completion carries the provider's usage: 7 + 2.
  auto whole = backend(spec("json"))->generate(request(), [](std::string_view) { return false; });
  ASSERT_TRUE(whole.is_ok()) << whole.status().to_string();
  EXPECT_EQ(whole->finish_reason, "cancelled");
  EXPECT_EQ(whole->prompt_tokens, 7);
  EXPECT_EQ(whole->completion_tokens, 2);
}

TEST_F(OpenAiBackendTest, ClosedPortIsUnreachableAfterRetries) {
  // A port that was just free: nothing listens there.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  auto s = spec("ok");
  s.base_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1";
  auto g = backend(s)->generate(request(), {});
  ASSERT_EQ(g.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(g.status().message().find("upstream unreachable: connection refused"), std::string::npos)
      << g.status().message();
  EXPECT_NE(g.status().message().find("3 attempts"), std::string::npos) << g.status().message();
}

TEST_F(OpenAiBackendTest, PromptCountIsAnEstimate) {
  auto n = backend(spec("ok"))->count_prompt_tokens({{"system", "abcd"}, {"user", "abcdefgh"}});
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 3 + (4 + 1) + (4 + 2));
}

TEST_F(OpenAiBackendTest, RegistryBuildsOneBackendPerSpec) {
  ModelSpec local;
  local.id = "tiny";
  local.path = std::string(AGENTD_TESTDATA_DIR) + "/models/stories260K.gguf";
  local.threads = 1;
  std::vector<std::string> warnings;
  auto registry = make_backend_registry(ModelCatalog({local, spec("ok")}), &warnings);
  ASSERT_TRUE(registry.is_ok()) << registry.status().to_string();
  ASSERT_NE((*registry)->find("tiny"), nullptr);
  EXPECT_EQ((*registry)->find("tiny")->spec().backend, "local");
  ASSERT_NE((*registry)->find("up"), nullptr);
  auto g = (*registry)->find("up")->generate(request(), {});
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_EQ((*registry)->find("nope"), nullptr);
  ASSERT_EQ(warnings.size(), 2u);  // no template; context 2048 beyond the trained 128
  EXPECT_NE(warnings[0].find("model 'tiny'"), std::string::npos);

  ModelSpec missing = local;
  missing.path = "/nonexistent/x.gguf";
  auto bad = make_backend_registry(ModelCatalog({missing}));
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("/nonexistent/x.gguf"), std::string::npos);
}

}  // namespace
}  // namespace agentd::model
