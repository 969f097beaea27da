#include "engine/jinja/predicates.h"

#include <algorithm>
#include <cmath>

#include "engine/jinja/filters.h"
#include "engine/jinja/interpreter.h"
#include "engine/jinja/operators.h"
#include "engine/jinja/utf8.h"

namespace agentd::engine::jinja {
namespace {

StatusOr<const Value*> one_arg(std::string_view test, const CallArgs& args) {
  if (!args.positional.empty()) return &args.positional[0];
  if (!args.keyword.empty()) return &args.keyword[0].second;
  return Status::invalid_argument(std::string("test '") + std::string(test) + "' takes one argument");
}

bool same_as(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kNone:
    case Value::Kind::kUndefined: return true;
    case Value::Kind::kBool: return a.as_bool() == b.as_bool();
    case Value::Kind::kInt: return a.as_int() == b.as_int();
    case Value::Kind::kFloat: return a.as_float() == b.as_float();
    case Value::Kind::kString: return a.as_string() == b.as_string();
    case Value::Kind::kArray: return &a.as_array() == &b.as_array();
    case Value::Kind::kObject: return &a.as_object() == &b.as_object();
    case Value::Kind::kNamespace: return &a.as_namespace() == &b.as_namespace();
    case Value::Kind::kCallable: return &a.as_callable() == &b.as_callable();
  }
  return false;
}

}  // namespace

bool has_test(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number", "string",
      "mapping", "iterable", "sequence", "callable", "sameas", "escaped", "lower", "upper", "odd", "even",
      "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan",
      ">", "ge", ">=", "in", "filter", "test"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

StatusOr<bool> apply_test(Interpreter&, std::string_view name, const Value& v, CallArgs& args) {
  using Kind = Value::Kind;
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_object();
  // Jinja's Undefined is iterable (as empty) but has no __getitem__.
  if (name == "iterable") return v.is_string() || v.is_array() || v.is_object() || v.is_undefined();
  if (name == "sequence") return v.is_string() || v.is_array() || v.is_object();
  // Jinja's Undefined defines __call__ (to raise), so it counts as callable.
  if (name == "callable") return v.is_callable() || v.is_undefined();
  if (name == "escaped") return false;
  if (name == "lower" || name == "upper") {
    const std::string s = v.to_str();
    bool cased = false;
    size_t p = 0;
    while (p < s.size()) {
      const uint32_t cp = utf8::decode(s, p);
      if (!utf8::is_alpha(cp)) continue;
      cased = true;
      const bool is_upper = utf8::to_lower(cp) != cp;
      if (is_upper != (name == "upper")) return false;
    }
    return cased;
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!v.is_int() && !v.is_bool() && !v.is_float()) {
      return Status::invalid_argument(std::string("test '") + std::string(name) + "' needs a number, got " + v.type_name());
    }
    int64_t divisor = 2;
    if (name == "divisibleby") {
      AGENTD_ASSIGN_OR_RETURN(const Value* d, one_arg(name, args));
      if (!d->is_int() || d->as_int() == 0) return Status::invalid_argument("divisibleby needs a non-zero integer");
      divisor = d->as_int();
    }
    if (v.is_float()) {
      const double r = std::fmod(v.as_float(), static_cast<double>(divisor));
      return name == "odd" ? r != 0 : r == 0;
    }
    const int64_t n = v.is_int() ? v.as_int() : (v.as_bool() ? 1 : 0);
    const int64_t r = divisor == -1 ? 0 : n % divisor;
    return name == "odd" ? r != 0 : r == 0;
  }
  if (name == "sameas") {
    AGENTD_ASSIGN_OR_RETURN(const Value* other, one_arg(name, args));
    return same_as(v, *other);
  }
  if (name == "eq" || name == "equalto" || name == "==" || name == "ne" || name == "!=") {
    AGENTD_ASSIGN_OR_RETURN(const Value* other, one_arg(name, args));
    return (v == *other) == (name == "eq" || name == "equalto" || name == "==");
  }
  if (name == "lt" || name == "lessthan" || name == "<" || name == "ge" || name == ">=") {
    AGENTD_ASSIGN_OR_RETURN(const Value* other, one_arg(name, args));
    AGENTD_ASSIGN_OR_RETURN(bool less, less_than(v, *other));
    return (name == "ge" || name == ">=") ? !less : less;
  }
  if (name == "gt" || name == "greaterthan" || name == ">" || name == "le" || name == "<=") {
    AGENTD_ASSIGN_OR_RETURN(const Value* other, one_arg(name, args));
    AGENTD_ASSIGN_OR_RETURN(bool greater, less_than(*other, v));
    return (name == "le" || name == "<=") ? !greater : greater;
  }
  if (name == "in") {
    AGENTD_ASSIGN_OR_RETURN(const Value* seq, one_arg(name, args));
    return contains(*seq, v);
  }
  if (name == "filter") return v.is_string() && has_filter(v.as_string());
  if (name == "test") return v.is_string() && has_test(v.as_string());
  (void)Kind::kNone;
  return Status::invalid_argument(std::string("no test named '") + std::string(name) + "'");
}

}  // namespace agentd::engine::jinja
