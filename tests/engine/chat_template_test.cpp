#include "engine/chat_template.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>
#include <string>

namespace agentd::engine {
namespace {

const std::string kTemplates = std::string(AGENTD_TESTDATA_DIR) + "/templates/";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// 26 Jul 2024 12:00 UTC: the date render_expected.py's strftime_now returns.
jinja::RenderOptions fixed_date() {
  jinja::RenderOptions options;
  options.now = 1721995200;
  return options;
}

struct Case {
  std::string name;
  boost::json::object line;
};

std::vector<Case> expected_cases() {
  std::vector<Case> cases;
  std::ifstream in(kTemplates + "expected.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    boost::json::object o = boost::json::parse(line).as_object();
    std::string name = std::string(o["template"].as_string()) + "/" + std::string(o["case"].as_string()) +
                       (o["add_generation_prompt"].as_bool() ? "/gen" : "/nogen");
    cases.push_back({std::move(name), std::move(o)});
  }
  return cases;
}

// Gemma 2's template raises on a system message; a server's conversation
// always may carry one (an agent's instructions), so it is merged into the
// first user turn. Other templates render it as they would.
TEST(ChatTemplate, SystemMessagesMergeIntoTheFirstUserTurnWhereTheTemplateRejectsThem) {
  auto gemma = ChatTemplate::parse(read_file(kTemplates + "google-gemma-2-2b-it.jinja"));
  ASSERT_TRUE(gemma.is_ok()) << gemma.status().to_string();
  const std::vector<ChatMessage> chat = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Why?"}};
  EXPECT_FALSE(gemma->apply(chat, true, "<s>", "</s>").is_ok());
  auto text = gemma->apply_with_system(chat, true, "<s>", "</s>");
  ASSERT_TRUE(text.is_ok()) << text.status().to_string();
  EXPECT_EQ(*text,
            "<s><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n"
            "<start_of_turn>user\nWhy?<end_of_turn>\n<start_of_turn>model\n");
  auto only_system = gemma->apply_with_system({{"system", "Be brief."}}, true, "<s>", "</s>");
  ASSERT_TRUE(only_system.is_ok());
  EXPECT_EQ(*only_system, "<s><start_of_turn>user\nBe brief.<end_of_turn>\n<start_of_turn>model\n");

  auto chatml = ChatTemplate::parse(ChatTemplate::chatml_source());
  ASSERT_TRUE(chatml.is_ok());
  auto kept = chatml->apply_with_system({{"system", "Be brief."}, {"user", "Hi"}}, false, "", "");
  ASSERT_TRUE(kept.is_ok());
  EXPECT_EQ(*kept, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, ReproducesEveryExpectedRender) {
  const std::vector<Case> cases = expected_cases();
  ASSERT_EQ(cases.size(), 144u);
  std::map<std::string, ChatTemplate> parsed;
  int errors_expected = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string file(c.line.at("template").as_string());
    auto it = parsed.find(file);
    if (it == parsed.end()) {
      auto t = ChatTemplate::parse(read_file(kTemplates + file));
      ASSERT_TRUE(t.is_ok()) << t.status().to_string();
      it = parsed.emplace(file, *t).first;
    }
    boost::json::object context;
    context["messages"] = c.line.at("messages");
    context["add_generation_prompt"] = c.line.at("add_generation_prompt");
    context["bos_token"] = c.line.at("bos_token");
    context["eos_token"] = c.line.at("eos_token");
    auto out = it->second.render(context, fixed_date());
    if (c.line.at("error").is_string()) {
      ++errors_expected;
      ASSERT_FALSE(out.is_ok()) << "expected an error, rendered: " << *out;
      EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
      // "TemplateError: System role not supported" -> the raise_exception message.
      const std::string expected(c.line.at("error").as_string());
      const std::string message = expected.substr(expected.find(": ") + 2);
      EXPECT_EQ(out.status().message(), message);
    } else {
      ASSERT_TRUE(out.is_ok()) << out.status().to_string();
      EXPECT_EQ(*out, std::string(c.line.at("expected").as_string()));
    }
  }
  EXPECT_EQ(errors_expected, 6);
}

TEST(ChatTemplate, ApplyMatchesRenderOfTheSameConversation) {
  // The Zephyr lines of expected.jsonl through the convenience API.
  auto t = ChatTemplate::parse(read_file(kTemplates + "zephyr.jinja"));
  ASSERT_TRUE(t.is_ok());
  for (const Case& c : expected_cases()) {
    if (c.line.at("template").as_string() != "zephyr.jinja") continue;
    std::vector<ChatMessage> messages;
    for (const auto& m : c.line.at("messages").as_array()) {
      messages.push_back({std::string(m.at("role").as_string()), std::string(m.at("content").as_string())});
    }
    auto out = t->apply(messages, c.line.at("add_generation_prompt").as_bool(), "<s>", "</s>");
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(*out, std::string(c.line.at("expected").as_string())) << c.name;
  }
}

TEST(ChatTemplate, ChatmlFallbackIsTheShippedChatmlTemplate) {
  std::string shipped = read_file(kTemplates + "chatml.jinja");
  while (!shipped.empty() && shipped.back() == '\n') shipped.pop_back();
  EXPECT_EQ(std::string(ChatTemplate::chatml_source()), shipped);
  auto t = ChatTemplate::parse(ChatTemplate::chatml_source());
  ASSERT_TRUE(t.is_ok());
  auto out = t->apply({{"system", "Be brief."}, {"user", "Hi"}}, true, "", "");
  ASSERT_TRUE(out.is_ok());
  EXPECT_EQ(*out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, ToolCallsAndToolResultsPassThroughAsValues) {
  // Expected text from Jinja2 3.1 (render_expected.py's environment) for the
  // Qwen2.5 template with a tool definition, a tool call and its result.
  auto t = ChatTemplate::parse(read_file(kTemplates + "Qwen-Qwen2.5-7B-Instruct.jinja"));
  ASSERT_TRUE(t.is_ok());
  boost::json::object context = boost::json::parse(R"({
    "messages": [
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "°C"}}}]},
      {"role": "tool", "content": "{\"temp\": 21}"}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather now",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
    "add_generation_prompt": true, "bos_token": "", "eos_token": ""})")
                                       .as_object();
  auto out = t->render(context);
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  const std::string expected =
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\nYou "
      "may call one or more functions to assist with the user query.\n\nYou are provided with function signatures "
      "within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": "
      "\"get_weather\", \"description\": \"Weather now\", \"parameters\": {\"type\": \"object\", \"properties\": "
      "{\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}\n</tools>\n\nFor each function call, return "
      "a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
      "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\n"
      "Weather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
      "{\"city\": \"Paris\", \"unit\": \"°C\"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n"
      "{\"temp\": 21}\n</tool_response><|im_end|>\n<|im_start|>assistant\n";
  EXPECT_EQ(*out, expected);
}

TEST(ChatTemplate, MalformedTemplatesGiveCleanErrors) {
  const char* bad[] = {
      "{% if x %}unclosed",
      "{% for x in %}{% endfor %}",
      "{{ x + }}",
      "{{ 'unterminated }}",
      "{% endif %}",
      "{% if x %}{% endfor %}",
      "{{ x",
      "{# comment",
      "{% set %}",
      "{% macro m( %}{% endmacro %}",
      "{{ a[1:2:3:4] }}",
      "{{ (((((1 }}",
      "{% break %}",
      "{% include 'other.jinja' %}",
      "{{ x | }}",
      "{{ x is }}",
      "{% raw %}never closed",
      "{{ '\\x4' }}",
      "{{ 99999999999999999999999 }}",
      "{{ {1: } }}",
      "{{ ] }}",
      "{{ messages | no_such_filter }}",
      "{{ messages is no_such_test }}",
      "{% for m in messages recursive %}{% endfor %}",
      "{% call m() %}{% endcall %}",
  };
  for (const char* src : bad) {
    auto t = ChatTemplate::parse(src);
    EXPECT_FALSE(t.is_ok()) << src;
    if (!t.is_ok()) {
      EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << src;
      EXPECT_NE(t.status().message().find("line 1, column"), std::string::npos) << t.status().message();
    }
  }
  auto t = ChatTemplate::parse("line one\n{% for m in messages %}\n{{ m. }}\n{% endfor %}");
  ASSERT_FALSE(t.is_ok());
  EXPECT_NE(t.status().message().find("line 3, column"), std::string::npos) << t.status().message();
}

TEST(ChatTemplate, RandomTruncationsOfRealTemplatesNeverCrash) {
  std::mt19937 rng(1234);
  boost::json::object context = boost::json::parse(
      R"({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
          "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})")
                                    .as_object();
  const char* files[] = {"meetkai-functionary-medium-v3.2.jinja", "CohereForAI-c4ai-command-r-plus-tool_use.jinja",
                         "meta-llama-Llama-3.1-8B-Instruct.jinja", "mistralai-Mistral-Nemo-Instruct-2407.jinja",
                         "llama-cpp-deepseek-r1.jinja"};
  int rejected = 0;
  for (const char* file : files) {
    const std::string src = read_file(kTemplates + file);
    ASSERT_FALSE(src.empty()) << file;
    ASSERT_TRUE(ChatTemplate::parse(src).is_ok()) << file;
    for (int i = 0; i < 24; ++i) {
      std::string cut = src.substr(0, std::uniform_int_distribution<size_t>(0, src.size())(rng));
      if (i % 4 == 3 && !cut.empty()) {
        // Also splice out a random span, which breaks nesting mid-template.
        const size_t a = std::uniform_int_distribution<size_t>(0, cut.size() - 1)(rng);
        cut.erase(a, std::uniform_int_distribution<size_t>(1, 40)(rng));
      }
      auto t = ChatTemplate::parse(cut);
      if (!t.is_ok()) {
        ++rejected;
        EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
        continue;
      }
      auto out = t->render(context);  // may fail (e.g. raise_exception), must not crash
      if (!out.is_ok()) {
        EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
      }
    }
  }
  EXPECT_GT(rejected, 60);  // most cuts leave a block open
}

TEST(ChatTemplate, HostileTemplatesHitLimitsNotTheMachine) {
  boost::json::object context;
  context["messages"] = boost::json::array();
  struct Hostile {
    const char* src;
    const char* reason;
  };
  const Hostile cases[] = {
      {"{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nested"},
      {"{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}", "limit"},
      {"{{ 'x' * 100000000000 }}", "limit"},
      {"{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "limit"},
      {"{{ range(10000000000) | length }}", "limit"},
      {"{% set ns = namespace(l=[1]) %}{% for i in range(100) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
       "limit"},
      {"{{ 'a' | replace('', 'bbbbbbbbbbbbbbbb') | replace('', 'bbbbbbbbbbbbbbbb') | replace('', 'bbbbbbbbbbbbbbbb') "
       "| replace('', 'bbbbbbbbbbbbbbbb') | replace('', 'bbbbbbbbbbbbbbbb') | replace('', 'bbbbbbbbbbbbbbbb') }}",
       "limit"},
      // Chains that would outlive the loop and recurse when destroyed.
      {"{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = [ns.l] %}{% endfor %}", "nested"},
      {"{% set ns = namespace(l=[1]) %}{% for i in range(1000) %}{% set ns.l = ns.l|batch(1)|list %}{% endfor %}",
       "nested"},
      {"{% set ns = namespace(n=none) %}{% for i in range(1000) %}{% set ns.n = namespace(n=ns.n) %}{% endfor %}",
       "namespace"},
      {"{% set ns = namespace(n=none) %}{% for i in range(1000) %}{% set ns.n = [namespace(n=ns.n)] %}{% endfor %}",
       "namespace"},
  };
  jinja::RenderOptions options;
  options.limits.max_output_bytes = 64 << 10;
  options.limits.max_steps = 50'000;
  for (const Hostile& h : cases) {
    auto t = ChatTemplate::parse(h.src);
    ASSERT_TRUE(t.is_ok()) << h.src << ": " << t.status().to_string();
    auto out = t->render(context, options);
    ASSERT_FALSE(out.is_ok()) << h.src;
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(out.status().message().find(h.reason), std::string::npos) << out.status().message();
  }
  // Deep nesting is refused by the parser before it can use up the stack.
  std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  auto t = ChatTemplate::parse(deep);
  ASSERT_FALSE(t.is_ok());
  std::string deep_ifs;
  for (int i = 0; i < 5000; ++i) deep_ifs += "{% if true %}";
  EXPECT_FALSE(ChatTemplate::parse(deep_ifs).is_ok());
}

TEST(ChatTemplate, ConcurrentRendersShareOneParsedTemplate) {
  auto t = ChatTemplate::parse(read_file(kTemplates + "meetkai-functionary-medium-v3.2.jinja"));
  ASSERT_TRUE(t.is_ok());
  const ChatTemplate copy = *t;
  auto first = copy.apply({{"user", "hello"}}, true, "<s>", "</s>");
  ASSERT_TRUE(first.is_ok());
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      auto out = t->apply({{"user", "hello"}}, true, "<s>", "</s>");
      results[i] = out.is_ok() ? *out : out.status().to_string();
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, *first);
}

}  // namespace
}  // namespace agentd::engine
