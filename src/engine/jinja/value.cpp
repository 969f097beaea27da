#include "engine/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "engine/jinja/utf8.h"

namespace agentd::engine::jinja {

const Value* Object::find(std::string_view key) const {
  auto it = string_index_.find(std::string(key));
  return it == string_index_.end() ? nullptr : &entries_[it->second].second;
}

const Value* Object::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& [k, v] : entries_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Object::set(Value key, Value value) {
  if (key.is_string()) {
    auto it = string_index_.find(key.as_string());
    if (it != string_index_.end()) {
      entries_[it->second].second = std::move(value);
      return;
    }
    string_index_.emplace(key.as_string(), entries_.size());
  } else {
    for (auto& [k, v] : entries_) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

namespace {
void widen(Shape& shape, const Value& child) {
  const Shape c = child.shape();
  shape.depth = std::max(shape.depth, c.depth + 1);
  shape.holds_namespace = shape.holds_namespace || c.holds_namespace;
}
}  // namespace

Shape Value::shape() const {
  switch (kind()) {
    case Kind::kArray: return as_array().shape;
    case Kind::kObject: return as_object().shape;
    case Kind::kNamespace: return Shape{1, true};
    default: return Shape{0, false};
  }
}

Value Value::list(std::vector<Value> items) {
  auto a = std::make_shared<Array>();
  a->items = std::move(items);
  for (const Value& v : a->items) widen(a->shape, v);
  return Value(ArrayPtr(std::move(a)));
}

Value Value::tuple(std::vector<Value> items) {
  auto a = std::make_shared<Array>();
  a->items = std::move(items);
  a->is_tuple = true;
  for (const Value& v : a->items) widen(a->shape, v);
  return Value(ArrayPtr(std::move(a)));
}

Value Value::dict(Object o) {
  o.shape = Shape{};
  for (const auto& [k, v] : o.entries()) {
    widen(o.shape, k);
    widen(o.shape, v);
  }
  return Value(ObjectPtr(std::make_shared<const Object>(std::move(o))));
}

Value Value::callable(std::string name, std::function<StatusOr<Value>(Interpreter&, CallArgs&)> fn) {
  return Value(CallablePtr(std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)})));
}

double Value::to_double() const {
  switch (kind()) {
    case Kind::kInt: return static_cast<double>(as_int());
    case Kind::kFloat: return as_float();
    case Kind::kBool: return as_bool() ? 1.0 : 0.0;
    default: return 0.0;
  }
}

bool Value::truthy() const {
  switch (kind()) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool: return as_bool();
    case Kind::kInt: return as_int() != 0;
    case Kind::kFloat: return as_float() != 0.0;
    case Kind::kString: return !as_string().empty();
    case Kind::kArray: return !as_array().items.empty();
    case Kind::kObject: return as_object().size() != 0;
    case Kind::kNamespace:
    case Kind::kCallable: return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::kUndefined: return "Undefined";
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kArray: return as_array().is_tuple ? "tuple" : "list";
    case Kind::kObject: return "dict";
    case Kind::kNamespace: return "Namespace";
    case Kind::kCallable: return "function";
  }
  return "object";
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  // Shortest round-trip digits in scientific form: "d.ddde+XX".
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool negative = false;
  if (!sci.empty() && sci[0] == '-') {
    negative = true;
    sci.erase(0, 1);
  }
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::atoi(sci.c_str() + e_pos + 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  std::string out = negative ? "-" : "";
  if (exponent >= -5 + 1 && exponent < 16) {
    // Fixed notation, as Python's repr() uses for 1e-4 <= |d| < 1e16.
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out += digits;
    } else {
      const size_t int_len = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_len) {
        out += digits;
        out.append(int_len - digits.size(), '0');
        out += ".0";
      } else {
        out += digits.substr(0, int_len);
        out += '.';
        out += digits.substr(int_len);
      }
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  out += exp_buf;
  return out;
}

std::string repr_string(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  out.push_back(quote);
  return out;
}

namespace {
// Containers nest without bound only through loops that wrap a value again
// and again (or a namespace that holds itself); printing stops at this depth
// as Python's repr stops at a cycle.
constexpr int kMaxPrintDepth = 200;

void append_repr(std::string& out, const Value& v, int depth, size_t cap);

void append_sequence(std::string& out, const Array& a, int depth, size_t cap) {
  out += a.is_tuple ? '(' : '[';
  for (size_t i = 0; i < a.items.size() && out.size() <= cap; ++i) {
    if (i) out += ", ";
    append_repr(out, a.items[i], depth + 1, cap);
  }
  if (a.is_tuple && a.items.size() == 1) out += ',';
  out += a.is_tuple ? ')' : ']';
}

void append_mapping(std::string& out, const Object& o, int depth, size_t cap) {
  out += '{';
  bool first = true;
  for (const auto& [k, v] : o.entries()) {
    if (!first) out += ", ";
    first = false;
    append_repr(out, k, depth + 1, cap);
    out += ": ";
    append_repr(out, v, depth + 1, cap);
  }
  out += '}';
}

void append_str(std::string& out, const Value& v, int depth, size_t cap) {
  using Kind = Value::Kind;
  if (depth > kMaxPrintDepth || out.size() > cap) {
    out += "...";
    return;
  }
  switch (v.kind()) {
    case Kind::kUndefined: return;
    case Kind::kNone: out += "None"; return;
    case Kind::kBool: out += v.as_bool() ? "True" : "False"; return;
    case Kind::kInt: out += std::to_string(v.as_int()); return;
    case Kind::kFloat: out += format_float(v.as_float()); return;
    case Kind::kString: out += v.as_string(); return;
    case Kind::kArray: append_sequence(out, v.as_array(), depth, cap); return;
    case Kind::kObject: append_mapping(out, v.as_object(), depth, cap); return;
    case Kind::kNamespace:
      out += "<Namespace ";
      append_mapping(out, v.as_namespace(), depth, cap);
      out += ">";
      return;
    case Kind::kCallable: out += std::string("<function ") + v.as_callable().name + ">"; return;
  }
}

void append_repr(std::string& out, const Value& v, int depth, size_t cap) {
  if (v.is_string()) {
    out += repr_string(v.as_string());
  } else if (v.is_undefined()) {
    out += "Undefined";
  } else {
    append_str(out, v, depth, cap);
  }
}

bool equal(const Value& a, const Value& b, int depth);
StatusOr<bool> less(const Value& a, const Value& b, int depth);
}  // namespace

std::string Value::to_str(size_t max_bytes) const {
  if (is_string()) return as_string();
  std::string out;
  append_str(out, *this, 0, max_bytes);
  return out;
}

std::string Value::repr(size_t max_bytes) const {
  std::string out;
  append_repr(out, *this, 0, max_bytes);
  return out;
}

bool operator==(const Value& a, const Value& b) { return equal(a, b, 0); }
StatusOr<bool> less_than(const Value& a, const Value& b) { return less(a, b, 0); }

namespace {
bool equal(const Value& a, const Value& b, int depth) {
  using Kind = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.to_double() == b.to_double();
    const int64_t x = a.is_bool() ? (a.as_bool() ? 1 : 0) : a.as_int();
    const int64_t y = b.is_bool() ? (b.as_bool() ? 1 : 0) : b.as_int();
    return x == y;
  }
  if (a.kind() != b.kind() || depth > kMaxPrintDepth) return false;
  switch (a.kind()) {
    case Kind::kUndefined:
    case Kind::kNone: return true;
    case Kind::kString: return a.as_string() == b.as_string();
    case Kind::kArray: {
      const Array& x = a.as_array();
      const Array& y = b.as_array();
      if (&x == &y) return true;
      if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!equal(x.items[i], y.items[i], depth + 1)) return false;
      }
      return true;
    }
    case Kind::kObject: {
      const Object& x = a.as_object();
      const Object& y = b.as_object();
      if (&x == &y) return true;
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.entries()) {
        const Value* other = y.find(k);
        if (!other || !equal(*other, v, depth + 1)) return false;
      }
      return true;
    }
    case Kind::kNamespace: return &a.as_namespace() == &b.as_namespace();
    case Kind::kCallable: return &a.as_callable() == &b.as_callable();
    default: return false;
  }
}

StatusOr<bool> less(const Value& a, const Value& b, int depth) {
  if (depth > kMaxPrintDepth) return Status::invalid_argument("values nested too deeply to compare");
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() < b.as_int();
    return a.to_double() < b.to_double();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_array() && b.is_array()) {
    const auto& x = a.as_array().items;
    const auto& y = b.as_array().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equal(x[i], y[i], depth + 1)) continue;
      return less(x[i], y[i], depth + 1);
    }
    return x.size() < y.size();
  }
  return Status::invalid_argument(std::string("'<' not supported between instances of '") + a.type_name() + "' and '" +
                                  b.type_name() + "'");
}
}  // namespace

}  // namespace agentd::engine::jinja
