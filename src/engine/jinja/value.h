#pragma once
// The value type of the Jinja interpreter, modelled on the Python objects a
// Jinja2 template sees: undefined, None, bool, int, float, str, list/tuple,
// dict (insertion-ordered), namespace() and callables (macros, built-ins,
// bound methods).
//
// Lists and dicts are immutable once built (the sandbox Hugging Face uses is
// the immutable one), so a Value holds them through shared_ptr<const ...>
// and copying a Value is cheap. A namespace is the one mutable container
// (`{% set ns.x = ... %}`), shared by reference as in Python.
//
// Thread-safety: a Value and everything it reaches is either immutable or,
// for namespaces and callables, created inside one render; values are not
// shared between concurrent renders.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "common/status.h"

namespace agentd::engine::jinja {

class Value;
class Interpreter;

// Nesting facts of a container, computed once when it is built, so that
// the interpreter can refuse to grow values without bound (deep chains would
// recurse when destroyed) in O(1).
struct Shape {
  uint32_t depth = 1;           // 1 for a flat container
  bool holds_namespace = false;  // a namespace anywhere inside
};

struct Array {
  std::vector<Value> items;
  bool is_tuple = false;  // only changes how it prints: (1, 2) vs [1, 2]
  Shape shape;
};

// An insertion-ordered dict. String keys are indexed; other keys (rare in
// templates) are found by a linear scan.
class Object {
 public:
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  // Inserts or replaces, keeping the original position of an existing key.
  void set(Value key, Value value);
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  // Set by Value::dict(); not maintained for namespaces, which change.
  Shape shape;

 private:
  std::vector<std::pair<Value, Value>> entries_;
  std::unordered_map<std::string, size_t> string_index_;
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// A built-in function, a macro or a bound method. The interpreter is passed
// in so a callable can render (macros) and respect the render's limits.
struct Callable {
  std::string name;
  std::function<StatusOr<Value>(Interpreter&, CallArgs&)> fn;
};

struct Undefined {
  std::string hint;  // "'x' is undefined", used when the value is misused
};
struct None {};

using ArrayPtr = std::shared_ptr<const Array>;
using ObjectPtr = std::shared_ptr<const Object>;
using NamespacePtr = std::shared_ptr<Object>;
using CallablePtr = std::shared_ptr<const Callable>;

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kArray, kObject, kNamespace, kCallable };

  Value() : v_(Undefined{}) {}
  Value(None) : v_(None{}) {}                        // NOLINT: implicit by design
  Value(bool b) : v_(b) {}                           // NOLINT
  Value(int64_t i) : v_(i) {}                        // NOLINT
  Value(int i) : v_(static_cast<int64_t>(i)) {}      // NOLINT
  Value(double d) : v_(d) {}                         // NOLINT
  Value(std::string s) : v_(std::move(s)) {}         // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}  // NOLINT
  Value(const char* s) : v_(std::string(s)) {}       // NOLINT
  Value(ArrayPtr a) : v_(std::move(a)) {}            // NOLINT
  Value(ObjectPtr o) : v_(std::move(o)) {}           // NOLINT
  Value(NamespacePtr n) : v_(std::move(n)) {}        // NOLINT
  Value(CallablePtr c) : v_(std::move(c)) {}         // NOLINT

  static Value undefined(std::string hint) { Value v; v.v_ = Undefined{std::move(hint)}; return v; }
  static Value list(std::vector<Value> items);
  static Value tuple(std::vector<Value> items);
  static Value dict(Object o);
  static Value callable(std::string name, std::function<StatusOr<Value>(Interpreter&, CallArgs&)> fn);

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_float() const { return kind() == Kind::kFloat; }
  // Python counts bool as a number (True + 1 == 2); Jinja's `number` test too.
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_array() const { return kind() == Kind::kArray; }
  bool is_object() const { return kind() == Kind::kObject; }
  bool is_namespace() const { return kind() == Kind::kNamespace; }
  bool is_callable() const { return kind() == Kind::kCallable; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  // Number as double (int, float or bool).
  double to_double() const;
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return *std::get<ArrayPtr>(v_); }
  const Object& as_object() const { return *std::get<ObjectPtr>(v_); }
  Object& as_namespace() const { return *std::get<NamespacePtr>(v_); }
  const Callable& as_callable() const { return *std::get<CallablePtr>(v_); }
  const std::string& undefined_hint() const { return std::get<Undefined>(v_).hint; }

  // Python truthiness.
  bool truthy() const;
  // Container nesting (scalars: depth 0); a namespace counts as holding one.
  Shape shape() const;
  // Python type name for messages: 'str', 'dict', 'NoneType', ...
  std::string type_name() const;
  // Python str(): what {{ value }} prints. Undefined prints as "".
  // A list holding the same list twice, nested, prints exponentially long:
  // printing stops soon after max_bytes (the caller's size check reports it).
  std::string to_str(size_t max_bytes = kDefaultPrintLimit) const;
  // Python repr(): strings quoted, used inside lists and dicts.
  std::string repr(size_t max_bytes = kDefaultPrintLimit) const;
  static constexpr size_t kDefaultPrintLimit = size_t{16} << 20;

  // Python ==, deep; 1 == 1.0 == True, [1] != (1,).
  friend bool operator==(const Value& a, const Value& b);

 private:
  std::variant<Undefined, None, bool, int64_t, double, std::string, ArrayPtr, ObjectPtr, NamespacePtr,
               CallablePtr>
      v_;
};

// Python repr() of a float: shortest round-trip digits, "1.0", "1e+16", "inf".
std::string format_float(double d);
// Python repr() of a str.
std::string repr_string(std::string_view s);

// Python ordering (<) for numbers, strings and sequences; an error for
// anything else, as Python raises TypeError.
StatusOr<bool> less_than(const Value& a, const Value& b);

}  // namespace agentd::engine::jinja
