#include "engine/chat_template.h"

#include <algorithm>

#include "engine/jinja/json.h"
#include "engine/jinja/parser.h"

namespace agentd::engine {

namespace {
// As Hugging Face's default ChatML template, without a trailing newline so
// that the source reads the same as the one-line form models ship.
constexpr const char* kChatml =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
}  // namespace

const char* ChatTemplate::chatml_source() { return kChatml; }

StatusOr<ChatTemplate> ChatTemplate::parse(std::string_view source) {
  AGENTD_ASSIGN_OR_RETURN(jinja::Body body, jinja::parse(source));
  return ChatTemplate(std::make_shared<const std::string>(source),
                      std::make_shared<const jinja::Body>(std::move(body)));
}

StatusOr<std::string> ChatTemplate::render(const boost::json::object& context) const {
  return render(context, jinja::RenderOptions{});
}

StatusOr<std::string> ChatTemplate::render(const boost::json::object& context,
                                           const jinja::RenderOptions& options) const {
  jinja::Object variables;
  for (const auto& kv : context) {
    AGENTD_ASSIGN_OR_RETURN(jinja::Value v, jinja::from_json(kv.value()));
    variables.set(jinja::Value(std::string_view(kv.key())), std::move(v));
  }
  jinja::Interpreter interpreter(variables, options);
  return interpreter.render(*body_);
}

StatusOr<std::string> ChatTemplate::apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                          std::string_view bos_token, std::string_view eos_token,
                                          const boost::json::array* tools) const {
  boost::json::object context;
  boost::json::array list;
  for (const ChatMessage& m : messages) {
    boost::json::object message;
    message["role"] = m.role;
    message["content"] = m.content;
    for (const auto& kv : m.extra) message[kv.key()] = kv.value();
    list.push_back(std::move(message));
  }
  if (tools != nullptr) context["tools"] = *tools;
  context["messages"] = std::move(list);
  context["add_generation_prompt"] = add_generation_prompt;
  context["bos_token"] = bos_token;
  context["eos_token"] = eos_token;
  return render(context);
}

StatusOr<std::string> ChatTemplate::apply_with_system(const std::vector<ChatMessage>& messages,
                                                      bool add_generation_prompt, std::string_view bos_token,
                                                      std::string_view eos_token,
                                                      const boost::json::array* tools) const {
  auto text = apply(messages, add_generation_prompt, bos_token, eos_token, tools);
  const auto is_system = [](const ChatMessage& m) { return m.role == "system"; };
  if (text.is_ok() || std::none_of(messages.begin(), messages.end(), is_system)) return text;
  std::string system;
  std::vector<ChatMessage> merged;
  for (const ChatMessage& m : messages) {
    if (is_system(m)) {
      system += (system.empty() ? "" : "\n\n") + m.content;
    } else {
      merged.push_back(m);
    }
  }
  const auto first_user = std::find_if(merged.begin(), merged.end(), [](const ChatMessage& m) { return m.role == "user"; });
  if (first_user == merged.end()) {
    merged.insert(merged.begin(), ChatMessage{"user", system});
  } else {
    first_user->content = system + "\n\n" + first_user->content;
  }
  auto retried = apply(merged, add_generation_prompt, bos_token, eos_token, tools);
  return retried.is_ok() ? retried : text;
}

}  // namespace agentd::engine
