#include "engine/jinja/builtins.h"

#include <ctime>

#include "engine/jinja/interpreter.h"

namespace agentd::engine::jinja {
namespace {

StatusOr<Value> range(Interpreter& in, CallArgs& args) {
  if (!args.keyword.empty()) return Status::invalid_argument("range() takes no keyword arguments");
  int64_t bounds[3] = {0, 0, 1};
  const size_t n = args.positional.size();
  if (n < 1 || n > 3) return Status::invalid_argument(std::string("range expected 1 to 3 arguments, got ") + std::to_string(n));
  for (size_t i = 0; i < n; ++i) {
    const Value& v = args.positional[i];
    if (!v.is_int() && !v.is_bool()) {
      return Status::invalid_argument(std::string("'").append(v.type_name()).append("' object cannot be interpreted as an integer"));
    }
  }
  auto int_at = [&](size_t i) {
    const Value& v = args.positional[i];
    return v.is_int() ? v.as_int() : (v.as_bool() ? 1 : 0);
  };
  if (n == 1) {
    bounds[1] = int_at(0);
  } else {
    bounds[0] = int_at(0);
    bounds[1] = int_at(1);
    if (n == 3) bounds[2] = int_at(2);
  }
  const int64_t start = bounds[0], stop = bounds[1], step = bounds[2];
  if (step == 0) return Status::invalid_argument("range() arg 3 must not be zero");
  // Count in long double-free integer arithmetic without overflow.
  __int128 count = 0;
  if (step > 0 && stop > start) count = ((__int128)stop - start + step - 1) / step;
  if (step < 0 && stop < start) count = ((__int128)start - stop + (-(__int128)step) - 1) / (-(__int128)step);
  if (count > static_cast<__int128>(in.limits().max_items)) return in.check_items(in.limits().max_items + 1);
  AGENTD_RETURN_IF_ERROR(in.tick(static_cast<uint64_t>(count) / 64));
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(count));
  for (__int128 i = 0; i < count; ++i) items.emplace_back(static_cast<int64_t>(start + i * step));
  return Value::list(std::move(items));
}

StatusOr<Value> make_namespace(Interpreter& in, CallArgs& args) {
  auto ns = std::make_shared<Object>();
  for (const Value& v : args.positional) AGENTD_RETURN_IF_ERROR(in.check_storable(v));
  for (const auto& kv : args.keyword) AGENTD_RETURN_IF_ERROR(in.check_storable(kv.second));
  for (const Value& v : args.positional) {
    if (v.is_object()) {
      for (const auto& [k, val] : v.as_object().entries()) ns->set(k, val);
    } else if (v.is_namespace()) {
      for (const auto& [k, val] : v.as_namespace().entries()) ns->set(k, val);
    } else {
      return Status::invalid_argument(std::string("namespace() takes a dict and keyword arguments, not '") + v.type_name() + "'");
    }
  }
  for (auto& [k, v] : args.keyword) ns->set(Value(k), std::move(v));
  return Value(NamespacePtr(std::move(ns)));
}

StatusOr<Value> make_dict(Interpreter&, CallArgs& args) {
  Object o;
  for (const Value& v : args.positional) {
    if (!v.is_object()) return Status::invalid_argument("dict() takes a dict and keyword arguments");
    for (const auto& [k, val] : v.as_object().entries()) o.set(k, val);
  }
  for (auto& [k, v] : args.keyword) o.set(Value(k), std::move(v));
  return Value::dict(std::move(o));
}

StatusOr<Value> raise_exception(Interpreter&, CallArgs& args) {
  std::string message = args.positional.empty() ? std::string("raise_exception() called") : args.positional[0].to_str();
  return Status::invalid_argument(std::move(message));
}

StatusOr<Value> strftime_now(Interpreter& in, CallArgs& args) {
  if (args.positional.empty() || !args.positional[0].is_string()) {
    return Status::invalid_argument("strftime_now() takes a format string");
  }
  const std::time_t now = in.options().now ? *in.options().now : std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  const std::string& format = args.positional[0].as_string();
  if (format.size() > 256) return Status::invalid_argument("strftime_now() format too long");
  char buf[2048];
  const size_t n = std::strftime(buf, sizeof(buf), format.c_str(), &tm);
  return Value(std::string(buf, n));
}

}  // namespace

void add_builtins(std::unordered_map<std::string, Value>& globals) {
  globals["range"] = Value::callable("range", range);
  globals["namespace"] = Value::callable("namespace", make_namespace);
  globals["dict"] = Value::callable("dict", make_dict);
  globals["raise_exception"] = Value::callable("raise_exception", raise_exception);
  globals["strftime_now"] = Value::callable("strftime_now", strftime_now);
}

}  // namespace agentd::engine::jinja
