#include "model/tool_calls.h"

#include <boost/json.hpp>

#include "common/ids.h"
#include "engine/grammar/json_schema.h"

namespace agentd::model {

namespace json = boost::json;
namespace g = engine::grammar;

namespace {

json::value parse_or(const std::string& text, json::value fallback) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? fallback : v;
}

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// Text that never contains `marker` (ASCII): the automaton of the marker's
// prefixes (Knuth-Morris-Pratt), one rule per matched length; any ending is
// allowed.
g::Expr text_without(g::GrammarBuilder& b, std::string_view marker) {
  const size_t n = marker.size();
  std::vector<size_t> fail(n + 1, 0);  // longest proper border of marker[0..k)
  for (size_t k = 2; k <= n; ++k) {
    size_t f = fail[k - 1];
    while (f > 0 && marker[f] != marker[k - 1]) f = fail[f];
    if (marker[f] == marker[k - 1]) ++f;
    fail[k] = f;
  }
  auto step = [&](size_t k, char c) {
    while (k > 0 && marker[k] != c) k = fail[k];
    return marker[k] == c ? k + 1 : 0;
  };
  std::vector<int32_t> rules(n);
  for (size_t k = 0; k < n; ++k) rules[k] = b.declare("text");
  for (size_t k = 0; k < n; ++k) {
    std::vector<g::Expr> alts = {g::empty()};
    std::vector<g::CodePointRange> special = {{0, 0}};  // NUL is never written
    for (int c = 1; c < 128; ++c) {
      const size_t next = step(k, static_cast<char>(c));
      if (next == 0) continue;
      special.emplace_back(static_cast<uint32_t>(c), static_cast<uint32_t>(c));
      if (next < n) alts.push_back(g::seq({g::lit(std::string(1, static_cast<char>(c))), g::ref(rules[next])}));
    }
    alts.push_back(g::seq({g::not_chars(special), g::ref(rules[0])}));
    b.define(rules[k], g::alt(std::move(alts)));
  }
  return g::ref(rules[0]);
}

}  // namespace

std::optional<ToolSyntax> tool_syntax_of(std::string_view source) {
  if (source.find("tools") == std::string_view::npos) return std::nullopt;
  if (source.find("<tool_call>") != std::string_view::npos) return ToolSyntax::kHermes;
  if (source.find("\"parameters\": ") != std::string_view::npos && source.find("ipython") != std::string_view::npos) {
    return ToolSyntax::kLlama3;
  }
  return std::nullopt;
}

std::string describe_tools(const std::vector<ToolSpec>& tools, bool parallel) {
  std::string s =
      "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
      "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
  for (const ToolSpec& t : tools) {
    json::object fn{{"name", t.name}, {"description", t.description},
                    {"parameters", parse_or(t.parameters, json::object{})}};
    s += "\n" + json::serialize(json::object{{"type", "function"}, {"function", std::move(fn)}});
  }
  s += "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
       "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
       "<args-json-object>}\n</tool_call>";
  if (!parallel) s += "\n\nCall at most one function.";
  return s;
}

std::vector<Message> as_plain_messages(const std::vector<Message>& messages, const std::string& offer) {
  std::vector<Message> out;
  bool offered = offer.empty();
  for (const Message& m : messages) {
    if (m.role == "system") {
      Message s{"system", m.content};
      if (!offered) {
        s.content += (s.content.empty() ? "" : "\n\n") + offer;
        offered = true;
      }
      out.push_back(std::move(s));
    } else if (m.role == "tool") {
      out.push_back(Message{"user", "<tool_response>\n" + m.content + "\n</tool_response>"});
    } else if (m.role == "assistant" && !m.tool_calls.empty()) {
      std::string text = m.content;
      for (const ToolCall& c : m.tool_calls) {
        json::object call{{"name", c.name}, {"arguments", parse_or(c.arguments, json::object{})}};
        text += std::string(text.empty() ? "" : "\n") + std::string(kToolCallOpen) + "\n" + json::serialize(call) +
                "\n" + std::string(kToolCallClose);
      }
      out.push_back(Message{"assistant", text});
    } else {
      out.push_back(Message{m.role, m.content});
    }
  }
  if (!offered) out.insert(out.begin(), Message{"system", offer});
  return out;
}

StatusOr<std::shared_ptr<const g::Grammar>> tool_grammar(const std::vector<ToolSpec>& tools, const ToolChoice& choice,
                                                         bool parallel, const OutputFormat& format, ToolSyntax syntax) {
  g::GrammarBuilder b;
  const bool llama = syntax == ToolSyntax::kLlama3;
  if (llama) parallel = false;  // one call per answer
  const g::Expr nl = g::opt(g::alt({g::lit("\n"), g::lit(" ")}));
  std::vector<g::Expr> calls;
  for (const ToolSpec& t : tools) {
    if (choice.kind == ToolChoice::Kind::kNamed && t.name != choice.name) continue;
    boost::system::error_code ec;
    const json::value schema = t.parameters.empty() ? json::value(json::object{}) : json::parse(t.parameters, ec);
    if (ec) return Status::invalid_argument("tool '" + t.name + "': parameters are not JSON");
    auto args = g::add_json_schema(b, schema, "arguments of " + t.name);
    if (!args.is_ok()) return Status::invalid_argument("tool '" + t.name + "' parameters: " + args.status().message());
    calls.push_back(g::seq({g::lit("{\"name\": " + json::serialize(json::value(t.name)) +
                                   (llama ? ", \"parameters\": " : ", \"arguments\": ")),
                            g::ref(*args), g::lit("}")}));
  }
  if (calls.empty()) {
    if (choice.kind == ToolChoice::Kind::kNamed) {
      return Status::invalid_argument("tool_choice names '" + choice.name + "', which is not among the tools");
    }
    return Status::invalid_argument("no tools to call");
  }
  const int32_t call = llama ? b.add("call", g::alt(std::move(calls)))
                             : b.add("call", g::seq({g::lit(std::string(kToolCallOpen) + "\n"),
                                                     g::alt(std::move(calls)),
                                                     g::lit("\n" + std::string(kToolCallClose))}));
  const g::Expr some_calls = parallel ? g::seq({g::ref(call), g::repeat(g::seq({nl, g::ref(call)}), 0, -1)})
                                      : g::ref(call);
  g::Expr root;
  if (choice.kind == ToolChoice::Kind::kAuto || choice.kind == ToolChoice::Kind::kNone) {
    g::Expr content;
    if (format.kind == OutputFormat::Kind::kJsonSchema) {
      const json::value schema = json::parse(format.schema);
      AGENTD_ASSIGN_OR_RETURN(int32_t r, g::add_json_schema(b, schema, "content"));
      content = g::ref(r);
    } else if (format.kind == OutputFormat::Kind::kJsonObject) {
      content = g::ref(g::add_json_object(b, "content"));
    } else if (format.kind == OutputFormat::Kind::kText && llama) {
      // Any text but one that starts like a call.
      const g::Expr any = g::repeat(g::not_chars({{0, 0}}), 0, -1);
      content = g::alt({g::empty(), g::seq({g::not_chars({{0, 0}, {'{', '{'}}), any}),
                        g::seq({g::lit("{"), g::opt(g::seq({g::not_chars({{0, 0}, {'"', '"'}}), any}))})});
    } else if (format.kind == OutputFormat::Kind::kText) {
      content = text_without(b, kToolCallOpen);
    } else {
      return Status::invalid_argument("a grammar cannot be combined with tools");
    }
    // A JSON answer, or calls; free text may come before calls. With
    // tool_choice none: the text alone, which cannot start a call.
    if (choice.kind == ToolChoice::Kind::kNone) {
      root = content;
    } else if (format.kind == OutputFormat::Kind::kText && !llama) {
      root = g::seq({content, g::opt(some_calls)});
    } else {
      root = g::alt({content, some_calls});
    }
  } else {
    root = some_calls;
  }
  const int32_t r = b.add("root", std::move(root));
  return b.build(r);
}

SplitAnswer split_tool_calls(std::string_view text, ToolSyntax syntax) {
  SplitAnswer out;
  if (syntax == ToolSyntax::kLlama3) {
    // Only an answer that starts as a call is one (the grammar's line).
    boost::system::error_code ec;
    const json::value v = text.substr(0, kLlamaCallStart.size()) == kLlamaCallStart ? json::parse(trim(text), ec)
                                                                                   : json::value();
    const json::object* o = !ec && v.is_object() ? &v.get_object() : nullptr;
    const json::value* name = o != nullptr ? o->if_contains("name") : nullptr;
    const json::value* args = o == nullptr ? nullptr
                              : o->contains("parameters") ? o->if_contains("parameters")
                                                          : o->if_contains("arguments");
    if (name == nullptr || !name->is_string() || args == nullptr || !args->is_object()) {
      out.content = std::string(text);
      return out;
    }
    out.calls.push_back(ToolCall{"call_" + random_hex(12), std::string(name->get_string()), json::serialize(*args)});
    return out;
  }
  const size_t first = text.find(kToolCallOpen);
  if (first == std::string_view::npos) {
    out.content = std::string(text);
    return out;
  }
  std::string rest_content;
  size_t at = first;
  while (at != std::string_view::npos) {
    const size_t body = at + kToolCallOpen.size();
    const size_t close = text.find(kToolCallClose, body);
    const std::string_view inside = text.substr(body, close == std::string_view::npos ? text.npos : close - body);
    boost::system::error_code ec;
    const json::value v = json::parse(trim(inside), ec);
    const json::object* o = !ec && v.is_object() ? &v.get_object() : nullptr;
    const json::value* name = o != nullptr ? o->if_contains("name") : nullptr;
    const json::value* args = o != nullptr ? o->if_contains("arguments") : nullptr;
    if (name == nullptr || !name->is_string() || args == nullptr || !args->is_object()) {
      rest_content += std::string(text.substr(at));  // not a call: keep the text
      break;
    }
    out.calls.push_back(ToolCall{"call_" + random_hex(12), std::string(name->get_string()), json::serialize(*args)});
    if (close == std::string_view::npos) break;
    at = text.find(kToolCallOpen, close + kToolCallClose.size());
  }
  out.content = trim(text.substr(0, first));
  if (!rest_content.empty()) out.content += (out.content.empty() ? "" : "\n") + rest_content;
  return out;
}

std::string ToolCallStream::push(std::string_view text) {
  if (in_calls_) return "";
  held_ += text;
  if (syntax_ == ToolSyntax::kLlama3) {
    // A call is the whole answer: decided by its first two characters.
    if (decided_) {
      std::string out = std::move(held_);
      held_.clear();
      return out;
    }
    if (held_.size() < kLlamaCallStart.size() && kLlamaCallStart.substr(0, held_.size()) == held_) return "";
    decided_ = true;
    in_calls_ = held_.compare(0, kLlamaCallStart.size(), kLlamaCallStart) == 0;
    std::string out = in_calls_ ? "" : std::move(held_);
    held_.clear();
    return out;
  }
  const size_t marker = held_.find(kToolCallOpen);
  if (marker != std::string::npos) {
    in_calls_ = true;
    std::string out = held_.substr(0, marker);
    held_.clear();
    return out;
  }
  // Keep what may be the marker's start.
  size_t keep = 0;
  for (size_t len = std::min(held_.size(), kToolCallOpen.size() - 1); len > 0; --len) {
    if (std::string_view(held_).substr(held_.size() - len) == kToolCallOpen.substr(0, len)) {
      keep = len;
      break;
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string ToolCallStream::finish() {
  std::string out = in_calls_ ? "" : held_;
  held_.clear();
  return out;
}

}  // namespace agentd::model
