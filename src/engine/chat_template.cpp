#include "engine/chat_template.h"

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
                                          std::string_view bos_token, std::string_view eos_token) const {
  boost::json::object context;
  boost::json::array list;
  for (const ChatMessage& m : messages) {
    boost::json::object message;
    message["role"] = m.role;
    message["content"] = m.content;
    list.push_back(std::move(message));
  }
  context["messages"] = std::move(list);
  context["add_generation_prompt"] = add_generation_prompt;
  context["bos_token"] = bos_token;
  context["eos_token"] = eos_token;
  return render(context);
}

}  // namespace agentd::engine
