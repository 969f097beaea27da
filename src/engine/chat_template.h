#pragma once
// Chat templates: the Jinja in a GGUF's `tokenizer.chat_template`, rendered
// by our own interpreter (engine/jinja/) with the semantics Hugging Face's
// apply_chat_template gives it: Jinja2 3.1 sandbox, trim_blocks,
// lstrip_blocks, break/continue, raise_exception(), strftime_now() and a
// tojson that keeps non-ASCII text and key order. A model without a template
// falls back to ChatML (chatml_source()).
//
// Templates may come from untrusted files: parsing and rendering never crash
// and are bounded in time and memory (jinja::Limits); every failure is a
// Status. Thread-safety: a ChatTemplate is immutable after parse(); copies
// share the parsed tree, and render()/apply() may run concurrently.

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "common/status.h"
#include "engine/jinja/ast.h"
#include "engine/jinja/interpreter.h"

namespace agentd::engine {

struct ChatMessage {
  std::string role;
  std::string content;
  boost::json::object extra{};  // more fields for the template: tool_calls, tool_call_id, ...
};

class ChatTemplate {
 public:
  // Parses once. Syntax errors are kInvalidArgument naming line and column.
  static StatusOr<ChatTemplate> parse(std::string_view source);
  // The fallback template (ChatML: <|im_start|>role\ncontent<|im_end|>\n).
  static const char* chatml_source();

  // Full control: `context` holds the template's variables (messages,
  // bos_token, eos_token, add_generation_prompt, tools, ...), passed through
  // as values. A raise_exception() in the template gives kInvalidArgument
  // with its message; other template errors give kInvalidArgument naming the
  // line and column.
  StatusOr<std::string> render(const boost::json::object& context) const;
  // As render(), with explicit limits and a fixed time for strftime_now().
  StatusOr<std::string> render(const boost::json::object& context, const jinja::RenderOptions& options) const;

  // Convenience for the server: messages + flags (+ `tools`, as Hugging
  // Face passes them: [{type: "function", function: {name, description,
  // parameters}}], when not null).
  StatusOr<std::string> apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                              std::string_view bos_token, std::string_view eos_token,
                              const boost::json::array* tools = nullptr) const;

  // apply() for a server's conversations, which always may hold a system
  // message (an agent's instructions): a template that rejects the system
  // role (Gemma's raise "System role not supported") renders again with the
  // system messages merged into the first user message ("SYSTEM\n\nUSER"), as
  // llama.cpp and Ollama do; any other failure is returned as it is.
  StatusOr<std::string> apply_with_system(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                          std::string_view bos_token, std::string_view eos_token,
                                          const boost::json::array* tools = nullptr) const;

  const std::string& source() const { return *source_; }

 private:
  ChatTemplate(std::shared_ptr<const std::string> source, std::shared_ptr<const jinja::Body> body)
      : source_(std::move(source)), body_(std::move(body)) {}

  // Shared, immutable: copies of a ChatTemplate render the same tree.
  std::shared_ptr<const std::string> source_;
  std::shared_ptr<const jinja::Body> body_;
};

}  // namespace agentd::engine
