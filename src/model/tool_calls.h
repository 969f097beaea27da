#pragma once
// Tool calls as local models write them, in the syntax of Hermes 2 Pro,
// Hermes 3, Qwen2.5 and Qwen3 (the most common on CPU servers):
//
//   <tool_call>
//   {"name": "get_weather", "arguments": {"city": "Oslo"}}
//   </tool_call>
//
// A model whose chat template renders `tools` in this syntax gets them from
// its own template (template_writes_tool_calls()); any other model is
// offered the tools in the same syntax by a system text agentd writes
// (describe_tools()), with earlier calls and results written as that text
// too (as_plain_messages()). Either way the grammar of tool_grammar()
// holds the answer to it: with tool_choice auto, free text that cannot
// contain the marker, then optionally calls; required or a named tool, calls
// from the first token; each call's name is a declared tool and its
// arguments are valid against that tool's parameter schema.
//
// Thread-safety: pure functions; a ToolCallStream belongs to one generation.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/grammar/grammar.h"
#include "model/backend.h"

namespace agentd::model {

inline constexpr std::string_view kToolCallOpen = "<tool_call>";
inline constexpr std::string_view kToolCallClose = "</tool_call>";

// The template renders `tools` and writes calls as <tool_call> blocks.
bool template_writes_tool_calls(std::string_view template_source);

// The system text offering `tools` to a model whose template does not.
std::string describe_tools(const std::vector<ToolSpec>& tools, bool parallel);

// Messages for a template that knows nothing of tools: an assistant's calls
// become <tool_call> blocks in its text, a tool's result a user message in
// <tool_response> tags; `offer` (describe_tools()) joins the system message.
std::vector<Message> as_plain_messages(const std::vector<Message>& messages, const std::string& offer);

// The grammar an answer with tools follows. `format` (kText, or a JSON
// format) is what the text beside the calls must be. kInvalidArgument names
// a tool whose parameters cannot be enforced, or an unknown named tool.
StatusOr<std::shared_ptr<const engine::grammar::Grammar>> tool_grammar(const std::vector<ToolSpec>& tools,
                                                                        const ToolChoice& choice, bool parallel,
                                                                        const OutputFormat& format);

// A generated text split into what the model wrote and the calls it made
// (ids "call_<random>"). Text after the first marker that is not a well-formed
// call stays in `content`, so nothing is lost.
struct SplitAnswer {
  std::string content;
  std::vector<ToolCall> calls;
};
SplitAnswer split_tool_calls(std::string_view text);

// Streaming: hands out text until the first call starts (holding back what
// may be the start of the marker), then nothing.
class ToolCallStream {
 public:
  std::string push(std::string_view text);
  std::string finish();  // what was held back, when no call followed

 private:
  std::string held_;
  bool in_calls_ = false;
};

}  // namespace agentd::model
