#pragma once
// Tool calls as local models write them. Two syntaxes:
//
//   kHermes (Hermes 2 Pro, Hermes 3, Qwen2.5, Qwen3), one block per call:
//     <tool_call>
//     {"name": "get_weather", "arguments": {"city": "Oslo"}}
//     </tool_call>
//   kLlama3 (Llama 3.1, 3.2, 3.3 with custom tools), the whole answer is one
//   call:
//     {"name": "get_weather", "parameters": {"city": "Oslo"}}
//
// A model whose chat template renders `tools` and writes one of these
// (tool_syntax_of()) gets tools, calls and results through its own
// template; any other model is offered the tools in the Hermes syntax by a
// system text agentd writes (describe_tools()), with earlier calls and
// results written as that text too (as_plain_messages()). Either way the
// grammar of tool_grammar() holds the answer to it: with tool_choice auto,
// free text that cannot start a call (Hermes: cannot contain the marker;
// Llama 3: cannot start with {"), or calls; required or a named tool, calls
// from the first token; each call's name is a declared tool and its
// arguments are valid against that tool's parameter schema.
//
// Thread-safety: pure functions; a ToolCallStream belongs to one generation.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/grammar/grammar.h"
#include "model/backend.h"

namespace agentd::model {

inline constexpr std::string_view kToolCallOpen = "<tool_call>";
inline constexpr std::string_view kToolCallClose = "</tool_call>";
// What a Llama 3 answer that is a call starts with.
inline constexpr std::string_view kLlamaCallStart = "{\"";

enum class ToolSyntax {
  kHermes,  // <tool_call> blocks
  kLlama3,  // the answer is {"name": ..., "parameters": ...}
};

// The syntax a chat template writes calls in, when it renders `tools`
// itself; nullopt for a template that knows nothing of tools.
std::optional<ToolSyntax> tool_syntax_of(std::string_view template_source);

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
                                                                        const OutputFormat& format,
                                                                        ToolSyntax syntax = ToolSyntax::kHermes);

// A generated text split into what the model wrote and the calls it made
// (ids "call_<random>"). Text after the first marker that is not a well-formed
// call stays in `content`, so nothing is lost.
struct SplitAnswer {
  std::string content;
  std::vector<ToolCall> calls;
};
SplitAnswer split_tool_calls(std::string_view text, ToolSyntax syntax = ToolSyntax::kHermes);

// Streaming: hands out text until the first call starts (holding back what
// may be the start of a call), then nothing.
class ToolCallStream {
 public:
  explicit ToolCallStream(ToolSyntax syntax = ToolSyntax::kHermes) : syntax_(syntax) {}
  std::string push(std::string_view text);
  std::string finish();  // what was held back, when no call followed

 private:
  ToolSyntax syntax_;
  std::string held_;
  bool in_calls_ = false;
  bool decided_ = false;  // kLlama3: the answer's start showed whether it is a call
};

}  // namespace agentd::model
