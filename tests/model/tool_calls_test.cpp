// Tool calls in the text a model writes: split into content and calls in
// both syntaxes, streamed without ever handing out the start of a call, and
// the syntax read off real templates from testdata.

#include "model/tool_calls.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace agentd::model {
namespace {

std::string template_text(const std::string& name) {
  std::ifstream in(std::string(AGENTD_TESTDATA_DIR) + "/templates/" + name);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ToolCalls, SyntaxOfRealTemplates) {
  EXPECT_EQ(tool_syntax_of(template_text("Qwen-Qwen2.5-7B-Instruct.jinja")), ToolSyntax::kHermes);
  EXPECT_EQ(tool_syntax_of(template_text("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja")), ToolSyntax::kHermes);
  EXPECT_EQ(tool_syntax_of(template_text("meta-llama-Llama-3.2-3B-Instruct.jinja")), ToolSyntax::kLlama3);
  EXPECT_EQ(tool_syntax_of(template_text("meta-llama-Llama-3.1-8B-Instruct.jinja")), ToolSyntax::kLlama3);
  EXPECT_EQ(tool_syntax_of(template_text("chatml.jinja")), std::nullopt);
  EXPECT_EQ(tool_syntax_of(template_text("google-gemma-2-2b-it.jinja")), std::nullopt);
}

TEST(ToolCalls, SplitHermes) {
  auto s = split_tool_calls(
      "Let me look.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"g\", \"arguments\": {}}\n</tool_call>");
  EXPECT_EQ(s.content, "Let me look.");
  ASSERT_EQ(s.calls.size(), 2u);
  EXPECT_EQ(s.calls[0].name, "f");
  EXPECT_EQ(s.calls[0].arguments, "{\"a\":1}");
  EXPECT_EQ(s.calls[1].name, "g");
  EXPECT_NE(s.calls[0].id, s.calls[1].id);
  // Not a call: the text is kept.
  auto t = split_tool_calls("a <tool_call> not json");
  EXPECT_TRUE(t.calls.empty());
  EXPECT_EQ(t.content, "a\n<tool_call> not json");
}

TEST(ToolCalls, SplitLlama3) {
  auto s = split_tool_calls("{\"name\": \"add\", \"parameters\": {\"a\": 2, \"b\": 3}}", ToolSyntax::kLlama3);
  ASSERT_EQ(s.calls.size(), 1u);
  EXPECT_EQ(s.calls[0].name, "add");
  EXPECT_EQ(s.calls[0].arguments, "{\"a\":2,\"b\":3}");
  EXPECT_EQ(s.content, "");
  auto t = split_tool_calls("Sure: {\"name\": \"add\"}", ToolSyntax::kLlama3);
  EXPECT_TRUE(t.calls.empty());
  EXPECT_EQ(t.content, "Sure: {\"name\": \"add\"}");
}

TEST(ToolCalls, StreamsNeverHandOutTheStartOfACall) {
  ToolCallStream hermes;
  std::string out;
  for (const char* piece : {"Hi <", "tool", "_ca", "ll>\n{\"name\"", "...}"}) out += hermes.push(piece);
  EXPECT_EQ(out + hermes.finish(), "Hi ");
  ToolCallStream text;
  out.clear();
  for (const char* piece : {"a <to", "y> b"}) out += text.push(piece);
  EXPECT_EQ(out + text.finish(), "a <toy> b");

  ToolCallStream llama(ToolSyntax::kLlama3);
  out = llama.push("{");
  out += llama.push("\"name\": \"f\"}");
  EXPECT_EQ(out + llama.finish(), "");
  ToolCallStream llama_text(ToolSyntax::kLlama3);
  out = llama_text.push("{");
  out += llama_text.push("x} and {\"a\"");
  EXPECT_EQ(out + llama_text.finish(), "{x} and {\"a\"");
}

}  // namespace
}  // namespace agentd::model
