// The upstream wire format on byte strings: SSE framing, chunk parsing as
// OpenAI documents it (chat.completion.chunk with logprobs and a final usage
// chunk), error bodies and the Status mapping.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "model/openai_protocol.h"
#include "model/sse_parser.h"

namespace agentd::model {
namespace {

std::vector<std::string> feed_split(const std::string& bytes, size_t piece) {
  SseParser p;
  std::vector<std::string> all;
  for (size_t i = 0; i < bytes.size(); i += piece)
    for (auto& e : p.feed(std::string_view(bytes).substr(i, piece))) all.push_back(e);
  std::string last = p.finish();
  if (!last.empty()) all.push_back(last);
  return all;
}

TEST(SseParser, EventsSurviveAnySplitAndLineEnding) {
  const std::string lf = "data: {\"a\":1}\n\n: keep-alive comment\n\nevent: x\ndata: two\ndata:lines\n\ndata: [DONE]\n\n";
  std::string crlf;
  for (char c : lf) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  std::string cr;
  for (char c : lf) cr += c == '\n' ? '\r' : c;
  const std::vector<std::string> expected = {"{\"a\":1}", "two\nlines", "[DONE]"};
  for (const std::string* s : std::vector<const std::string*>{&lf, &crlf, &cr})
    for (size_t piece : {1u, 2u, 3u, 7u, 1000u}) EXPECT_EQ(feed_split(*s, piece), expected) << piece;
}

TEST(SseParser, LastEventWithoutBlankLineComesFromFinish) {
  SseParser p;
  EXPECT_TRUE(p.feed("data: tail").empty());
  EXPECT_EQ(p.finish(), "tail");
  EXPECT_EQ(p.finish(), "");
  EXPECT_TRUE(p.feed("id: 3\nretry: 10\n\n").empty());  // no data: no event
}

TEST(OpenAiProtocol, ParsesContentLogprobsAndFinish) {
  auto d = openai::parse_chunk(
      R"({"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},)"
      R"("logprobs":{"content":[{"token":"Hi","logprob":-0.25,"top_logprobs":[]}]},"finish_reason":null}]})");
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->content, "Hi");
  ASSERT_EQ(d->logprobs.size(), 1u);
  EXPECT_DOUBLE_EQ(d->logprobs[0].logprob, -0.25);
  EXPECT_FALSE(d->finish_reason);

  auto fin = openai::parse_chunk(R"({"choices":[{"index":0,"delta":{},"finish_reason":"length"}]})");
  ASSERT_TRUE(fin.is_ok());
  EXPECT_EQ(fin->finish_reason.value_or(""), "length");
  EXPECT_EQ(fin->content, "");

  auto usage = openai::parse_chunk(
      R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,)"
      R"("prompt_tokens_details":{"cached_tokens":8}}})");
  ASSERT_TRUE(usage.is_ok());
  EXPECT_EQ(usage->prompt_tokens.value_or(-1), 12);
  EXPECT_EQ(usage->completion_tokens.value_or(-1), 5);
  EXPECT_EQ(usage->cached_tokens.value_or(-1), 8);

  auto role_only = openai::parse_chunk(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]})");
  ASSERT_TRUE(role_only.is_ok());
  EXPECT_EQ(role_only->content, "");
}

TEST(OpenAiProtocol, MalformedChunksAreInternal) {
  for (const char* bad : {"{not json", "[1,2]", R"({"choices":{}})", R"({"choices":[{"delta":{"content":5}}]})",
                          R"({"choices":[{"delta":{},"logprobs":{"content":[{"logprob":"x"}]}}]})",
                          R"({"choices":[],"usage":{"prompt_tokens":"many"}})"}) {
    auto d = openai::parse_chunk(bad);
    EXPECT_EQ(d.status().code(), StatusCode::kInternal) << bad;
  }
  auto err = openai::parse_chunk(R"({"error":{"message":"model crashed","type":"server_error"}})");
  EXPECT_EQ(err.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(err.status().message().find("model crashed"), std::string::npos);
}

TEST(OpenAiProtocol, ParsesWholeCompletion) {
  auto d = openai::parse_completion(
      R"({"choices":[{"index":0,"message":{"role":"assistant","content":"done"},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":3,"completion_tokens":1}})");
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->content, "done");
  EXPECT_EQ(d->prompt_tokens.value_or(0), 3);
  EXPECT_EQ(openai::parse_completion(R"({"choices":[]})").status().code(), StatusCode::kInternal);
}

TEST(OpenAiProtocol, HttpErrorsMapToCodesAndSayWhatHappened) {
  const std::string url = "http://127.0.0.1:9/v1/chat/completions";
  Status s = openai::http_error(url, 503, R"({"error":{"message":"overloaded"}})");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "upstream " + url + " answered 503: overloaded");
  EXPECT_EQ(openai::http_error(url, 429, "{}").code(), StatusCode::kUnavailable);
  s = openai::http_error(url, 400, R"({"error":{"message":"bad max_tokens"}})");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("answered 400: bad max_tokens"), std::string::npos);
  EXPECT_EQ(openai::http_error(url, 401, R"({"error":"invalid key"})").message(),
            "upstream " + url + " answered 401: invalid key");
  EXPECT_EQ(openai::http_error(url, 401, "").code(), StatusCode::kInternal);
  EXPECT_EQ(openai::http_error(url, 504, "gateway timeout\n").message(),
            "upstream " + url + " answered 504: gateway timeout");
  EXPECT_EQ(openai::http_error(url, 504, "").code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(openai::error_message(R"({"detail":"Not Found"})"), "Not Found");
  EXPECT_EQ(openai::error_message(std::string(1000, 'x')).size(), 300u);
  EXPECT_TRUE(openai::retryable_http(500));
  EXPECT_TRUE(openai::retryable_http(429));
  EXPECT_FALSE(openai::retryable_http(400));
  EXPECT_FALSE(openai::retryable_http(404));
}

TEST(OpenAiProtocol, RetryAfterSeconds) {
  EXPECT_EQ(openai::parse_retry_after("1", 0), 1.0);
  EXPECT_EQ(openai::parse_retry_after(" 2.5 ", 0), 2.5);
  EXPECT_FALSE(openai::parse_retry_after("-3", 0));
  EXPECT_FALSE(openai::parse_retry_after("", 0));
  EXPECT_FALSE(openai::parse_retry_after("soon", 0));
}

TEST(OpenAiProtocol, RequestBodyAsksForStreamUsageAndLogprobs) {
  GenerationRequest r;
  r.messages = {{"system", "be brief"}, {"user", "hi \"there\""}};
  r.params.max_tokens = 9;
  r.params.temperature = 0.5;
  r.params.top_p = 0.9;
  r.params.seed = 7;
  r.params.stop = {"\n\n"};
  boost::json::object o = boost::json::parse(openai::request_body("gpt-x", r)).as_object();
  EXPECT_EQ(o.at("model").as_string(), "gpt-x");
  EXPECT_EQ(o.at("stream").as_bool(), true);
  EXPECT_EQ(o.at("stream_options").at("include_usage").as_bool(), true);
  EXPECT_EQ(o.at("logprobs").as_bool(), true);
  EXPECT_EQ(o.at("max_tokens").to_number<int64_t>(), 9);
  EXPECT_DOUBLE_EQ(o.at("temperature").to_number<double>(), 0.5);
  EXPECT_DOUBLE_EQ(o.at("top_p").to_number<double>(), 0.9);
  EXPECT_EQ(o.at("seed").to_number<int64_t>(), 7);
  EXPECT_EQ(o.at("stop").as_array().at(0).as_string(), "\n\n");
  ASSERT_EQ(o.at("messages").as_array().size(), 2u);
  EXPECT_EQ(o.at("messages").as_array()[1].at("content").as_string(), "hi \"there\"");
  r.params.top_p.reset();
  r.params.seed.reset();
  r.params.stop.clear();
  o = boost::json::parse(openai::request_body("m", r)).as_object();
  EXPECT_FALSE(o.contains("top_p") || o.contains("seed") || o.contains("stop"));
}

TEST(OpenAiProtocol, PromptEstimateIsCharsOverFourPlusOverhead) {
  // 3 for the reply priming, 4 per message, ceil(chars / 4) of each content.
  EXPECT_EQ(openai::estimate_prompt_tokens({}), 3);
  EXPECT_EQ(openai::estimate_prompt_tokens({{"user", "12345678"}}), 3 + 4 + 2);
  EXPECT_EQ(openai::estimate_prompt_tokens({{"system", "abc"}, {"user", "12345"}}), 3 + 4 + 1 + 4 + 2);
  EXPECT_EQ(openai::estimate_text_tokens(""), 0);
}

}  // namespace
}  // namespace agentd::model
