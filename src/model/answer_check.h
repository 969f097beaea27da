#pragma once
// AnswerCheck: whether an answer agentd did not generate itself (an upstream
// provider's) keeps the output format's promise: JSON for json_object, a
// value valid against the schema for json_schema (engine/grammar/
// schema_validator.h). Validators are built once per schema and kept (at
// most kKept, then all are dropped and built again as needed).
//
// Thread-safety: every method may be called from any number of threads.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "engine/grammar/schema_validator.h"
#include "model/backend.h"

namespace agentd::model {

class AnswerCheck {
 public:
  static constexpr size_t kKept = 64;

  // kInvalidArgument for a schema that cannot be checked (the generator's
  // refusals, naming the keyword).
  Status accepts(const OutputFormat& format);
  // "" when `text` keeps the promise of `format`; else what is wrong.
  std::string problem(const OutputFormat& format, const std::string& text);

 private:
  StatusOr<std::shared_ptr<engine::grammar::SchemaValidator>> validator(const std::string& schema);

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<engine::grammar::SchemaValidator>> kept_;  // guarded by mu_
};

}  // namespace agentd::model
