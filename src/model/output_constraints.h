#pragma once
// OutputConstraints: the grammars a local model enforces for output formats
// (OpenAI's response_format, Roe's output_schema), compiled once per schema
// and kept with their token masks, so the runs of one agent share them.
//
// A format is compiled against the model's vocabulary: a JSON schema with
// engine/grammar/json_schema.h, json_object with the any-object grammar.
// Text needs no constraint (nullptr). At most kKept constraints are kept,
// the least recently used dropped first (a sequence still running keeps
// its own reference).
//
// Thread-safety: every method may be called from any number of threads.

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/status.h"
#include "engine/grammar/token_constraint.h"
#include "model/backend.h"
#include "model/tool_calls.h"

namespace agentd::model {

class OutputConstraints {
 public:
  static constexpr size_t kKept = 32;

  // `syntax`: how the model writes tool calls (tool_calls.h).
  OutputConstraints(std::shared_ptr<const engine::grammar::TokenVocabulary> vocabulary, ToolSyntax syntax);

  // nullptr for text without tools; kInvalidArgument when the schema is not
  // JSON or holds what the grammar cannot enforce (the message names it).
  // With tools, the grammar of tool_calls.h (the format is the text's).
  StatusOr<std::shared_ptr<engine::grammar::TokenConstraint>> get(const GenerationParams& params);

 private:
  std::shared_ptr<const engine::grammar::TokenVocabulary> vocabulary_;
  ToolSyntax syntax_;
  std::mutex mu_;
  std::list<std::string> lru_;  // keys, most recent first
  std::unordered_map<std::string, std::pair<std::shared_ptr<engine::grammar::TokenConstraint>,
                                            std::list<std::string>::iterator>>
      kept_;
};

}  // namespace agentd::model
