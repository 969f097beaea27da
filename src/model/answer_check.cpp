#include "model/answer_check.h"

#include <boost/json.hpp>

namespace agentd::model {

namespace grammar = engine::grammar;

StatusOr<std::shared_ptr<grammar::SchemaValidator>> AnswerCheck::validator(const std::string& schema) {
  {
    std::lock_guard lock(mu_);
    if (auto it = kept_.find(schema); it != kept_.end()) return it->second;
  }
  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(schema, ec);
  if (ec) return Status::invalid_argument("the JSON schema is not valid JSON: " + ec.message());
  AGENTD_ASSIGN_OR_RETURN(std::shared_ptr<grammar::SchemaValidator> v, grammar::SchemaValidator::create(parsed));
  std::lock_guard lock(mu_);
  if (kept_.size() >= kKept) kept_.clear();
  kept_.emplace(schema, v);
  return v;
}

Status AnswerCheck::accepts(const OutputFormat& format) {
  if (format.kind != OutputFormat::Kind::kJsonSchema) return Status::ok();
  return validator(format.schema).status();
}

std::string AnswerCheck::problem(const OutputFormat& format, const std::string& text) {
  if (format.kind != OutputFormat::Kind::kJsonObject && format.kind != OutputFormat::Kind::kJsonSchema) return "";
  boost::system::error_code ec;
  const boost::json::value answer = boost::json::parse(text, ec);
  if (ec) return "the answer is not JSON (" + ec.message() + ")";
  if (format.kind == OutputFormat::Kind::kJsonObject) return answer.is_object() ? "" : "the answer is not a JSON object";
  auto v = validator(format.schema);
  if (!v.is_ok()) return v.status().message();
  return (*v)->check(answer);
}

}  // namespace agentd::model
