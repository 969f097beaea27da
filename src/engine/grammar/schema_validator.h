#pragma once
// Checks a JSON value against a JSON Schema, for answers agentd did not
// generate itself (an upstream provider's). It takes the schemas
// json_schema.h compiles, with the same keywords and the same refusals, and
// validates as the specification says (any property order, any whitespace,
// oneOf exactly one, numbers compared by value); `pattern` runs through the
// grammar the generator uses, `format` through the format's own rules (wider
// than what the generator writes: e-mail addresses with capitals, dates with
// a lowercase t).
//
// Thread-safety: a SchemaValidator may check from any number of threads.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <boost/json.hpp>

#include "common/status.h"
#include "engine/grammar/automaton.h"

namespace agentd::engine::grammar {

class SchemaValidator {
 public:
  // kInvalidArgument for a schema json_schema.h refuses (the same message).
  static StatusOr<std::shared_ptr<SchemaValidator>> create(const boost::json::value& schema);

  // "" when `instance` is valid; else the first violation found, with its
  // place ("at /lines/0/qty: 120 is above the maximum 99").
  std::string check(const boost::json::value& instance);

 private:
  explicit SchemaValidator(boost::json::value schema) : root_(std::move(schema)) {}
  std::string check(const boost::json::value& schema, const boost::json::value& v, const std::string& at, int depth);
  std::string check_object(const boost::json::object& s, const boost::json::value& v, const std::string& at, int depth);
  // Whether a string matches a pattern (a one-keyword string schema's grammar).
  bool string_matches(const std::string& keyword, const std::string& value, const boost::json::value& instance);

  boost::json::value root_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Automaton>> strings_;  // "pattern:..." / "format:..."
};

}  // namespace agentd::engine::grammar
