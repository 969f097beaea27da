#include "model/output_constraints.h"

#include <boost/json.hpp>

#include "engine/grammar/gbnf.h"
#include "engine/grammar/json_schema.h"

namespace agentd::model {

namespace grammar = engine::grammar;

OutputConstraints::OutputConstraints(std::shared_ptr<const grammar::TokenVocabulary> vocabulary, ToolSyntax syntax)
    : vocabulary_(std::move(vocabulary)), syntax_(syntax) {}

StatusOr<std::shared_ptr<grammar::TokenConstraint>> OutputConstraints::get(const GenerationParams& params) {
  const OutputFormat& format = params.format;
  const bool tools = !params.tools.empty();
  if (format.kind == OutputFormat::Kind::kText && !tools) return std::shared_ptr<grammar::TokenConstraint>();
  std::string key = format.kind == OutputFormat::Kind::kJsonObject ? std::string("object")
                    : format.kind == OutputFormat::Kind::kGrammar  ? "gbnf:" + format.schema
                    : format.kind == OutputFormat::Kind::kJsonSchema ? "schema:" + format.schema
                                                                     : std::string("text");
  if (tools) {
    boost::json::array list;
    for (const ToolSpec& t : params.tools) list.push_back(boost::json::array{t.name, t.parameters});
    key = "tools:" + std::to_string(static_cast<int>(params.tool_choice.kind)) + ":" + params.tool_choice.name + ":" +
          (params.parallel_tool_calls ? "1" : "0") + ":" + boost::json::serialize(list) + ":" + key;
  }
  {
    std::lock_guard lock(mu_);
    if (auto it = kept_.find(key); it != kept_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.second);
      return it->second.first;
    }
  }
  std::shared_ptr<const grammar::Grammar> g;
  if (tools) {
    AGENTD_ASSIGN_OR_RETURN(g, tool_grammar(params.tools, params.tool_choice, params.parallel_tool_calls, format, syntax_));
  } else if (format.kind == OutputFormat::Kind::kJsonObject) {
    g = grammar::json_object_grammar();
  } else if (format.kind == OutputFormat::Kind::kGrammar) {
    AGENTD_ASSIGN_OR_RETURN(g, grammar::compile_gbnf(format.schema));
  } else {
    boost::system::error_code ec;
    const boost::json::value schema = boost::json::parse(format.schema, ec);
    if (ec) return Status::invalid_argument("the JSON schema is not valid JSON: " + ec.message());
    AGENTD_ASSIGN_OR_RETURN(g, grammar::compile_json_schema(schema));
  }
  auto constraint = std::make_shared<grammar::TokenConstraint>(g, vocabulary_);
  std::lock_guard lock(mu_);
  if (auto it = kept_.find(key); it != kept_.end()) return it->second.first;  // compiled meanwhile
  while (kept_.size() >= kKept) {
    kept_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  kept_.emplace(key, std::make_pair(constraint, lru_.begin()));
  return constraint;
}

}  // namespace agentd::model
