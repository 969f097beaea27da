#include "engine/jinja/operators.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/jinja/interpreter.h"

namespace agentd::engine::jinja {
namespace {

Status type_error(std::string_view op, const Value& a, const Value& b) {
  return Status::invalid_argument(std::string("unsupported operand type(s) for ") + std::string(op) + ": '" + a.type_name() +
                                  std::string("' and '") + b.type_name() + "'");
}

int64_t int_of(const Value& v) { return v.is_bool() ? (v.as_bool() ? 1 : 0) : v.as_int(); }
bool is_integral(const Value& v) { return v.is_int() || v.is_bool(); }

StatusOr<Value> repeat(Interpreter& in, const Value& seq, int64_t times) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty() && static_cast<uint64_t>(times) > in.limits().max_output_bytes / s.size()) {
      return in.check_size(in.limits().max_output_bytes + 1);
    }
    AGENTD_RETURN_IF_ERROR(in.tick(static_cast<uint64_t>(times) / 64 + 1));
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out += s;
    return Value(std::move(out));
  }
  const Array& a = seq.as_array();
  if (!a.items.empty() && static_cast<uint64_t>(times) > in.limits().max_items / a.items.size()) {
    return in.check_items(in.limits().max_items + 1);
  }
  AGENTD_RETURN_IF_ERROR(in.tick(static_cast<uint64_t>(times) * a.items.size() / 64 + 1));
  std::vector<Value> out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), a.items.begin(), a.items.end());
  return a.is_tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

double python_fmod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

}  // namespace

StatusOr<Value> binary_operator(Interpreter& in, std::string_view op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = a.to_str(in.limits().max_output_bytes + 1);
    const std::string t = b.to_str(in.limits().max_output_bytes + 1);
    AGENTD_RETURN_IF_ERROR(in.check_size(s.size() + t.size()));
    s += t;
    return Value(std::move(s));
  }
  if (a.is_undefined() || b.is_undefined()) {
    return Status::invalid_argument(a.is_undefined() ? a.undefined_hint() : b.undefined_hint());
  }
  const bool numbers = a.is_number() && b.is_number();
  const bool ints = numbers && is_integral(a) && is_integral(b);
  if (op == "+") {
    if (ints) {
      int64_t r = 0;
      if (__builtin_add_overflow(int_of(a), int_of(b), &r)) return Status::invalid_argument("integer overflow");
      return Value(r);
    }
    if (numbers) return Value(a.to_double() + b.to_double());
    if (a.is_string() && b.is_string()) {
      AGENTD_RETURN_IF_ERROR(in.check_size(a.as_string().size() + b.as_string().size()));
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_array() && b.is_array() && a.as_array().is_tuple == b.as_array().is_tuple) {
      AGENTD_RETURN_IF_ERROR(in.check_items(a.as_array().items.size() + b.as_array().items.size()));
      AGENTD_RETURN_IF_ERROR(in.tick((a.as_array().items.size() + b.as_array().items.size()) / 64));
      std::vector<Value> items = a.as_array().items;
      items.insert(items.end(), b.as_array().items.begin(), b.as_array().items.end());
      return a.as_array().is_tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    }
    if (a.is_string() && !b.is_string()) {
      return Status::invalid_argument(std::string("can only concatenate str (not \"") + b.type_name() + "\") to str");
    }
    return type_error(op, a, b);
  }
  if (op == "-") {
    if (ints) {
      int64_t r = 0;
      if (__builtin_sub_overflow(int_of(a), int_of(b), &r)) return Status::invalid_argument("integer overflow");
      return Value(r);
    }
    if (numbers) return Value(a.to_double() - b.to_double());
    return type_error(op, a, b);
  }
  if (op == "*") {
    if (ints) {
      int64_t r = 0;
      if (__builtin_mul_overflow(int_of(a), int_of(b), &r)) return Status::invalid_argument("integer overflow");
      return Value(r);
    }
    if (numbers) return Value(a.to_double() * b.to_double());
    if ((a.is_string() || a.is_array()) && is_integral(b)) return repeat(in, a, int_of(b));
    if ((b.is_string() || b.is_array()) && is_integral(a)) return repeat(in, b, int_of(a));
    return type_error(op, a, b);
  }
  if (op == "/") {
    if (!numbers) return type_error(op, a, b);
    if (b.to_double() == 0.0) return Status::invalid_argument("division by zero");
    return Value(a.to_double() / b.to_double());
  }
  if (op == "//" || op == "%") {
    if (op == "%" && a.is_string()) {
      AGENTD_ASSIGN_OR_RETURN(std::string s, percent_format(in, a.as_string(), b));
      return Value(std::move(s));
    }
    if (!numbers) return type_error(op, a, b);
    if (b.to_double() == 0.0) return Status::invalid_argument(op == "%" ? "modulo by zero" : "division by zero");
    if (ints) {
      const int64_t x = int_of(a);
      const int64_t y = int_of(b);
      if (x == std::numeric_limits<int64_t>::min() && y == -1) {
        if (op == "%") return Value(int64_t{0});
        return Status::invalid_argument("integer overflow");
      }
      int64_t q = x / y;
      int64_t r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) {
        --q;
        r += y;
      }
      return op == "//" ? Value(q) : Value(r);
    }
    const double x = a.to_double();
    const double y = b.to_double();
    if (op == "%") return Value(python_fmod(x, y));
    // CPython's float floor division.
    double mod = std::fmod(x, y);
    double div = (x - mod) / y;
    if (mod != 0 && ((y < 0) != (mod < 0))) div -= 1.0;
    double floor_div = std::floor(div);
    if (div - floor_div > 0.5) floor_div += 1.0;
    return Value(floor_div);
  }
  if (op == "**") {
    if (!numbers) return type_error(op, a, b);
    if (ints && int_of(b) >= 0) {
      int64_t base = int_of(a);
      int64_t exp = int_of(b);
      int64_t result = 1;
      while (exp > 0) {
        if (exp & 1) {
          if (__builtin_mul_overflow(result, base, &result)) return Status::invalid_argument("integer overflow");
        }
        exp >>= 1;
        if (exp > 0 && __builtin_mul_overflow(base, base, &base)) return Status::invalid_argument("integer overflow");
      }
      return Value(result);
    }
    if (a.to_double() == 0.0 && b.to_double() < 0) {
      return Status::invalid_argument("0.0 cannot be raised to a negative power");
    }
    return Value(std::pow(a.to_double(), b.to_double()));
  }
  return Status::invalid_argument(std::string("unknown operator '") + std::string(op) + "'");
}

StatusOr<bool> contains(const Value& haystack, const Value& needle) {
  switch (haystack.kind()) {
    case Value::Kind::kString:
      if (!needle.is_string()) {
        return Status::invalid_argument(std::string("'in <string>' requires string as left operand, not ") + needle.type_name());
      }
      return haystack.as_string().find(needle.as_string()) != std::string::npos;
    case Value::Kind::kArray:
      for (const Value& item : haystack.as_array().items) {
        if (item == needle) return true;
      }
      return false;
    case Value::Kind::kObject: return haystack.as_object().find(needle) != nullptr;
    case Value::Kind::kUndefined: return false;
    default: return Status::invalid_argument(std::string("argument of type '") + haystack.type_name() + "' is not iterable");
  }
}

StatusOr<std::string> percent_format(Interpreter& in, std::string_view format, const Value& args) {
  std::vector<Value> values;
  if (args.is_array() && args.as_array().is_tuple) {
    values = args.as_array().items;
  } else {
    values.push_back(args);
  }
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    ++i;
    std::string spec = "%";
    while (i < format.size() && std::string_view("-+ #0").find(format[i]) != std::string_view::npos) spec += format[i++];
    // Width and precision up to three digits keep snprintf's output in `buf`.
    for (int d = 0; d < 3 && i < format.size() && format[i] >= '0' && format[i] <= '9'; ++d) spec += format[i++];
    if (i < format.size() && format[i] == '.') {
      spec += format[i++];
      for (int d = 0; d < 3 && i < format.size() && format[i] >= '0' && format[i] <= '9'; ++d) spec += format[i++];
    }
    if (i >= format.size()) return Status::invalid_argument("incomplete format");
    const char conv = format[i];
    if (conv == '%') {
      out.push_back('%');
      continue;
    }
    if (next >= values.size()) return Status::invalid_argument("not enough arguments for format string");
    const Value& v = values[next++];
    char buf[2048];
    if (conv == 's' || conv == 'r') {
      const std::string s = conv == 's' ? v.to_str() : v.repr();
      if (spec == "%") {
        out += s;
      } else {
        std::snprintf(buf, sizeof(buf), (spec + "s").c_str(), s.substr(0, 256).c_str());
        out += buf;
      }
    } else if (conv == 'd' || conv == 'i' || conv == 'x' || conv == 'X' || conv == 'o') {
      if (!v.is_number()) return Status::invalid_argument(std::string("%") + std::string(1, conv) + " format: a number is required");
      const long long n = v.is_float() ? static_cast<long long>(v.as_float()) : static_cast<long long>(int_of(v));
      std::snprintf(buf, sizeof(buf), (spec + "ll" + (conv == 'i' ? 'd' : conv)).c_str(), n);
      out += buf;
    } else if (conv == 'f' || conv == 'F' || conv == 'e' || conv == 'E' || conv == 'g' || conv == 'G') {
      if (!v.is_number()) return Status::invalid_argument(std::string("must be real number, not ") + v.type_name());
      std::snprintf(buf, sizeof(buf), (spec + conv).c_str(), v.to_double());
      out += buf;
    } else {
      return Status::invalid_argument(std::string("unsupported format character '") + std::string(1, conv) + "'");
    }
    AGENTD_RETURN_IF_ERROR(in.check_size(out.size()));
  }
  if (next < values.size() && args.is_array() && args.as_array().is_tuple) {
    return Status::invalid_argument("not all arguments converted during string formatting");
  }
  return out;
}

}  // namespace agentd::engine::jinja
