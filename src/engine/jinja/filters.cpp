#include "engine/jinja/filters.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "engine/jinja/interpreter.h"
#include "engine/jinja/json.h"
#include "engine/jinja/methods.h"
#include "engine/jinja/operators.h"
#include "engine/jinja/utf8.h"

namespace agentd::engine::jinja {
namespace {

// Filter arguments after the subject, by position or keyword.
class Args {
 public:
  Args(std::string_view filter, CallArgs& args) : filter_(filter), args_(args) {}
  const Value* get(size_t index, std::string_view name) const {
    if (index < args_.positional.size()) return &args_.positional[index];
    for (const auto& [k, v] : args_.keyword) {
      if (k == name) return &v;
    }
    return nullptr;
  }
  bool flag(size_t index, std::string_view name, bool def) const {
    const Value* v = get(index, name);
    return v ? v->truthy() : def;
  }
  StatusOr<int64_t> integer(size_t index, std::string_view name, int64_t def) const {
    const Value* v = get(index, name);
    if (!v || v->is_none()) return def;
    if (v->is_int()) return v->as_int();
    if (v->is_bool()) return int64_t{v->as_bool() ? 1 : 0};
    if (v->is_float()) return static_cast<int64_t>(v->as_float());
    return Status::invalid_argument(std::string(filter_) + ": '" + std::string(name) + "' must be an integer");
  }
  std::string str(size_t index, std::string_view name, std::string def) const {
    const Value* v = get(index, name);
    return v ? v->to_str() : def;
  }
  const Value* attribute() const { return get(99, "attribute"); }

 private:
  std::string_view filter_;
  CallArgs& args_;
};

// Jinja's attribute paths: "a.b.0" looks up a, then b, then item 0.
StatusOr<Value> attribute_path(Interpreter& in, const Value& v, const Value& path) {
  if (path.is_int()) return in.get_item(v, path);
  Value cur = v;
  const std::string p = path.to_str();
  size_t start = 0;
  while (true) {
    const size_t dot = p.find('.', start);
    const std::string part = p.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric && part.size() < 18) {
      AGENTD_ASSIGN_OR_RETURN(cur, in.get_item(cur, Value(static_cast<int64_t>(std::stoll(part)))));
    } else {
      AGENTD_ASSIGN_OR_RETURN(cur, in.get_item(cur, Value(part)));
    }
    if (dot == std::string::npos) break;
    if (cur.is_undefined()) break;
    start = dot + 1;
  }
  return cur;
}

// Key for case-insensitive sorting and uniqueness: strings are lowered.
Value fold_case(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(utf8::lower(v.as_string()));
  return v;
}

Status sort_values(std::vector<Value>& items, std::vector<Value>& keys, bool reverse) {
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  Status failure;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (!failure.is_ok()) return false;
    auto r = reverse ? less_than(keys[b], keys[a]) : less_than(keys[a], keys[b]);
    if (!r.is_ok()) {
      failure = r.status();
      return false;
    }
    return *r;
  });
  AGENTD_RETURN_IF_ERROR(failure);
  std::vector<Value> sorted;
  sorted.reserve(items.size());
  for (size_t i : order) sorted.push_back(std::move(items[i]));
  items = std::move(sorted);
  return Status::ok();
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Python's str.splitlines().
std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> lines;
  size_t start = 0;
  size_t p = 0;
  while (p < s.size()) {
    const size_t at = p;
    const uint32_t cp = utf8::decode(s, p);
    const bool boundary = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) ||
                          cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!boundary) continue;
    lines.emplace_back(s.substr(start, at - start));
    if (cp == '\r' && p < s.size() && s[p] == '\n') ++p;
    start = p;
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

StatusOr<Value> to_int(const Value& v, const Value& def, int64_t base) {
  if (v.is_int()) return v;
  if (v.is_bool()) return Value(int64_t{v.as_bool() ? 1 : 0});
  if (v.is_float()) {
    if (!std::isfinite(v.as_float()) || std::fabs(v.as_float()) > 9.2e18) return def;
    return Value(static_cast<int64_t>(v.as_float()));
  }
  if (v.is_string()) {
    std::string s = py_strip(v.as_string(), nullptr, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    if (s.empty()) return def;
    errno = 0;
    char* end = nullptr;
    const long long n = std::strtoll(s.c_str(), &end, static_cast<int>(base));
    if (errno == 0 && end && *end == '\0') return Value(static_cast<int64_t>(n));
    // Jinja falls back to int(float(value)).
    errno = 0;
    const double d = std::strtod(s.c_str(), &end);
    if (errno == 0 && end && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18) {
      return Value(static_cast<int64_t>(d));
    }
  }
  return def;
}

StatusOr<Value> to_float(const Value& v, const Value& def) {
  if (v.is_float()) return v;
  if (v.is_int() || v.is_bool()) return Value(v.to_double());
  if (v.is_string()) {
    const std::string s = py_strip(v.as_string(), nullptr, true, true);
    if (s.empty()) return def;
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (end && *end == '\0') return Value(d);
  }
  return def;
}

double python_round(double x, int64_t digits) {
  if (!std::isfinite(x)) return x;
  if (digits > 300) return x;
  if (digits < -300) return 0.0 * x;
  // printf rounds the exact binary value half-to-even, as Python's round() does.
  char buf[512];
  if (digits >= 0) {
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(digits), x);
    return std::strtod(buf, nullptr);
  }
  const double scale = std::pow(10.0, static_cast<double>(-digits));
  return std::nearbyint(x / scale) * scale;
}

StatusOr<std::vector<Value>> items_of(Interpreter& in, const Value& v) { return in.iterate(v); }

// select/reject/selectattr/rejectattr.
StatusOr<Value> select_impl(Interpreter& in, const Value& subject, CallArgs& args, bool by_attribute, bool keep) {
  // Jinja's select family and map start with `if value:`, so None and other
  // falsy values give an empty result instead of an error.
  if (!subject.truthy()) return Value::list({});
  AGENTD_ASSIGN_OR_RETURN(std::vector<Value> items, items_of(in, subject));
  size_t first_test_arg = 0;
  Value attribute;
  if (by_attribute) {
    if (args.positional.empty()) return Status::invalid_argument("selectattr/rejectattr need an attribute name");
    attribute = args.positional[0];
    first_test_arg = 1;
  }
  std::string test_name;
  CallArgs test_args;
  if (args.positional.size() > first_test_arg) {
    test_name = args.positional[first_test_arg].to_str();
    test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(first_test_arg) + 1,
                                args.positional.end());
    test_args.keyword = args.keyword;
  }
  std::vector<Value> out;
  for (const Value& item : items) {
    AGENTD_RETURN_IF_ERROR(in.tick());
    Value probe = item;
    if (by_attribute) {
      AGENTD_ASSIGN_OR_RETURN(probe, attribute_path(in, item, attribute));
    }
    bool passed = false;
    if (test_name.empty()) {
      passed = probe.truthy();
    } else {
      CallArgs call_args = test_args;
      AGENTD_ASSIGN_OR_RETURN(passed, in.test(test_name, probe, call_args));
    }
    if (passed == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}

StatusOr<Value> map_impl(Interpreter& in, const Value& subject, CallArgs& args) {
  if (!subject.truthy()) return Value::list({});
  AGENTD_ASSIGN_OR_RETURN(std::vector<Value> items, items_of(in, subject));
  const Args a("map", args);
  std::vector<Value> out;
  out.reserve(items.size());
  if (const Value* attr = a.attribute(); attr && args.positional.empty()) {
    const Value* def = a.get(99, "default");
    for (const Value& item : items) {
      AGENTD_RETURN_IF_ERROR(in.tick());
      AGENTD_ASSIGN_OR_RETURN(Value v, attribute_path(in, item, *attr));
      if (v.is_undefined() && def) v = *def;
      out.push_back(std::move(v));
    }
    return Value::list(std::move(out));
  }
  if (args.positional.empty()) return Status::invalid_argument("map requires a filter name or attribute=");
  const std::string name = args.positional[0].to_str();
  for (const Value& item : items) {
    CallArgs call_args;
    call_args.positional.assign(args.positional.begin() + 1, args.positional.end());
    call_args.keyword = args.keyword;
    AGENTD_ASSIGN_OR_RETURN(Value v, in.filter(name, item, call_args));
    out.push_back(std::move(v));
  }
  return Value::list(std::move(out));
}

StatusOr<Value> min_max(Interpreter& in, const Value& subject, CallArgs& args, bool want_max) {
  AGENTD_ASSIGN_OR_RETURN(std::vector<Value> items, items_of(in, subject));
  const Args a(want_max ? "max" : "min", args);
  const bool case_sensitive = a.flag(0, "case_sensitive", false);
  const Value* attr = a.get(1, "attribute");
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key;
  for (size_t i = 0; i < items.size(); ++i) {
    Value key = items[i];
    if (attr) {
      AGENTD_ASSIGN_OR_RETURN(key, attribute_path(in, items[i], *attr));
    }
    key = fold_case(key, case_sensitive);
    if (i == 0) {
      best_key = key;
      continue;
    }
    AGENTD_ASSIGN_OR_RETURN(bool better, want_max ? less_than(best_key, key) : less_than(key, best_key));
    if (better) {
      best = i;
      best_key = key;
    }
  }
  return items[best];
}

StatusOr<Value> indent_filter(Interpreter& in, const Value& subject, const Args& a) {
  const Value* width = a.get(0, "width");
  std::string indention(4, ' ');
  if (width && width->is_string()) {
    indention = width->as_string();
  } else if (width) {
    AGENTD_ASSIGN_OR_RETURN(int64_t w, a.integer(0, "width", 4));
    if (w < 0) w = 0;
    AGENTD_RETURN_IF_ERROR(in.check_size(static_cast<size_t>(w)));
    indention.assign(static_cast<size_t>(w), ' ');
  }
  const bool first = a.flag(1, "first", false);
  const bool blank = a.flag(2, "blank", false);
  // Jinja appends a newline before splitting so a trailing newline survives.
  const std::string s = subject.to_str() + "\n";
  const std::vector<std::string> lines = split_lines(s);
  AGENTD_RETURN_IF_ERROR(in.check_size(s.size() + lines.size() * indention.size()));
  std::string out;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) out += std::string("\n") + indention;
      out += lines[i];
    }
  } else {
    out = lines.empty() ? std::string() : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      out += '\n';
      if (!lines[i].empty()) out += indention;
      out += lines[i];
    }
  }
  if (first) out = indention + out;
  return Value(std::move(out));
}

StatusOr<Value> tojson_filter(Interpreter& in, const Value& subject, const Args& a) {
  JsonStyle style;
  if (const Value* indent = a.get(0, "indent"); indent && !indent->is_none()) {
    if (indent->is_string()) {
      style.indent = indent->as_string();
    } else {
      AGENTD_ASSIGN_OR_RETURN(int64_t n, a.integer(0, "indent", 0));
      style.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(n, 0, 64)), ' ');
    }
  }
  if (const Value* seps = a.get(99, "separators"); seps && seps->is_array() && seps->as_array().items.size() == 2) {
    style.item_separator = seps->as_array().items[0].to_str();
    style.key_separator = seps->as_array().items[1].to_str();
  }
  style.sort_keys = a.flag(99, "sort_keys", false);
  style.ensure_ascii = a.flag(99, "ensure_ascii", false);
  AGENTD_ASSIGN_OR_RETURN(std::string out, to_json(subject, style, in.limits().max_output_bytes));
  return Value(std::move(out));
}

StatusOr<Value> truncate_filter(const Value& subject, const Args& a) {
  const std::string s = subject.to_str();
  AGENTD_ASSIGN_OR_RETURN(int64_t length, a.integer(0, "length", 255));
  const bool killwords = a.flag(1, "killwords", false);
  const std::string end = a.str(2, "end", "...");
  AGENTD_ASSIGN_OR_RETURN(int64_t leeway, a.integer(3, "leeway", 5));
  const std::vector<size_t> offsets = utf8::code_point_offsets(s);
  const auto n = static_cast<int64_t>(offsets.size() - 1);
  const auto end_len = static_cast<int64_t>(utf8::length(end));
  if (n <= length + leeway) return Value(s);
  const int64_t keep = std::clamp<int64_t>(length - end_len, 0, n);
  std::string head = s.substr(0, offsets[static_cast<size_t>(keep)]);
  if (killwords) return Value(head + end);
  const size_t space = head.rfind(' ');
  if (space != std::string::npos) head.resize(space);
  return Value(head + end);
}

StatusOr<Value> join_filter(Interpreter& in, const Value& subject, const Args& a) {
  AGENTD_ASSIGN_OR_RETURN(std::vector<Value> items, items_of(in, subject));
  const std::string sep = a.str(0, "d", "");
  const Value* attr = a.get(1, "attribute");
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    AGENTD_RETURN_IF_ERROR(in.tick());
    if (i) out += sep;
    if (attr) {
      AGENTD_ASSIGN_OR_RETURN(Value v, attribute_path(in, items[i], *attr));
      out += v.to_str();
    } else {
      out += items[i].to_str();
    }
    AGENTD_RETURN_IF_ERROR(in.check_size(out.size()));
  }
  return Value(std::move(out));
}

StatusOr<Value> sort_filter(Interpreter& in, const Value& subject, const Args& a) {
  AGENTD_ASSIGN_OR_RETURN(std::vector<Value> items, items_of(in, subject));
  const bool reverse = a.flag(0, "reverse", false);
  const bool case_sensitive = a.flag(1, "case_sensitive", false);
  const Value* attr = a.get(2, "attribute");
  AGENTD_RETURN_IF_ERROR(in.tick(items.size()));
  std::vector<Value> keys;
  keys.reserve(items.size());
  for (const Value& item : items) {
    Value key = item;
    if (attr) {
      AGENTD_ASSIGN_OR_RETURN(key, attribute_path(in, item, *attr));
    }
    keys.push_back(fold_case(key, case_sensitive));
  }
  AGENTD_RETURN_IF_ERROR(sort_values(items, keys, reverse));
  return Value::list(std::move(items));
}

StatusOr<Value> dictsort_filter(Interpreter& in, const Value& subject, const Args& a) {
  if (!subject.is_object()) return Status::invalid_argument("dictsort filter needs a dict");
  const bool case_sensitive = a.flag(0, "case_sensitive", false);
  const std::string by = a.str(1, "by", "key");
  const bool reverse = a.flag(2, "reverse", false);
  if (by != "key" && by != "value") return Status::invalid_argument("You can only sort by either \"key\" or \"value\"");
  std::vector<Value> items;
  std::vector<Value> keys;
  for (const auto& [k, v] : subject.as_object().entries()) {
    items.push_back(Value::tuple({k, v}));
    keys.push_back(fold_case(by == "key" ? k : v, case_sensitive));
  }
  AGENTD_RETURN_IF_ERROR(in.tick(items.size()));
  AGENTD_RETURN_IF_ERROR(sort_values(items, keys, reverse));
  return Value::list(std::move(items));
}

StatusOr<Value> unique_filter(Interpreter& in, const Value& subject, const Args& a) {
  AGENTD_ASSIGN_OR_RETURN(std::vector<Value> items, items_of(in, subject));
  const bool case_sensitive = a.flag(0, "case_sensitive", false);
  const Value* attr = a.get(1, "attribute");
  std::vector<Value> out;
  std::vector<Value> seen;
  for (const Value& item : items) {
    // Quadratic, so each comparison is a step.
    AGENTD_RETURN_IF_ERROR(in.tick(seen.size() + 1));
    Value key = item;
    if (attr) {
      AGENTD_ASSIGN_OR_RETURN(key, attribute_path(in, item, *attr));
    }
    key = fold_case(key, case_sensitive);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(std::move(key));
    out.push_back(item);
  }
  return Value::list(std::move(out));
}

StatusOr<Value> sum_filter(Interpreter& in, const Value& subject, const Args& a) {
  AGENTD_ASSIGN_OR_RETURN(std::vector<Value> items, items_of(in, subject));
  const Value* attr = a.get(0, "attribute");
  const Value* start = a.get(1, "start");
  Value total = start ? *start : Value(int64_t{0});
  for (const Value& item : items) {
    Value v = item;
    if (attr) {
      AGENTD_ASSIGN_OR_RETURN(v, attribute_path(in, item, *attr));
    }
    AGENTD_ASSIGN_OR_RETURN(total, binary_operator(in, "+", total, v));
  }
  return total;
}

StatusOr<Value> batch_filter(Interpreter& in, const Value& subject, const Args& a) {
  AGENTD_ASSIGN_OR_RETURN(std::vector<Value> items, items_of(in, subject));
  AGENTD_ASSIGN_OR_RETURN(int64_t size, a.integer(0, "linecount", 1));
  if (size <= 0) return Status::invalid_argument("batch size must be positive");
  const Value* fill = a.get(1, "fill_with");
  std::vector<Value> out;
  std::vector<Value> row;
  for (const Value& item : items) {
    row.push_back(item);
    if (static_cast<int64_t>(row.size()) == size) {
      out.push_back(Value::list(std::move(row)));
      row.clear();
    }
  }
  if (!row.empty()) {
    if (fill && !fill->is_none()) {
      AGENTD_RETURN_IF_ERROR(in.check_items(static_cast<size_t>(size)));
      while (static_cast<int64_t>(row.size()) < size) row.push_back(*fill);
    }
    out.push_back(Value::list(std::move(row)));
  }
  return Value::list(std::move(out));
}

StatusOr<Value> length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return Value(int64_t{0});
    case Value::Kind::kString: return Value(static_cast<int64_t>(utf8::length(v.as_string())));
    case Value::Kind::kArray: return Value(static_cast<int64_t>(v.as_array().items.size()));
    case Value::Kind::kObject: return Value(static_cast<int64_t>(v.as_object().size()));
    default: return Status::invalid_argument(std::string("object of type '") + v.type_name() + "' has no len()");
  }
}

std::string jinja_title(std::string_view s) {
  // Jinja splits words at runs of -, whitespace, (, {, [ and <, then
  // uppercases each word's first character and lowercases the rest.
  std::string out;
  size_t p = 0;
  bool at_word_start = true;
  while (p < s.size()) {
    const uint32_t cp = utf8::decode(s, p);
    const bool separator = cp == '-' || utf8::is_space(cp) || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    if (separator) {
      utf8::append(out, cp);
      at_word_start = true;
      continue;
    }
    utf8::append(out, at_word_start ? utf8::to_upper(cp) : utf8::to_lower(cp));
    at_word_start = false;
  }
  return out;
}

std::string center(const std::string& s, int64_t width) {
  const auto n = static_cast<int64_t>(utf8::length(s));
  if (width <= n) return s;
  const int64_t total = width - n;
  // Python's str.center puts the extra space on the right when total is odd
  // and the string length is even, on the left otherwise.
  const int64_t left = total / 2 + (total & width & 1);
  return std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(total - left), ' ');
}

}  // namespace

bool has_filter(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "abs", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
      "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max",
      "min", "pprint", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort",
      "string", "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount", "attr",
      // Jinja filters without an implementation here: a template naming one
      // still parses and fails only if it runs the filter.
      "groupby", "slice", "striptags", "urlencode", "urlize", "wordwrap", "xmlattr", "filesizeformat"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

StatusOr<Value> apply_filter(Interpreter& in, std::string_view name, const Value& subject, CallArgs& args) {
  const Args a(name, args);
  if (name == "default" || name == "d") {
    const Value* def = a.get(0, "default_value");
    const bool boolean = a.flag(1, "boolean", false);
    if (subject.is_undefined() || (boolean && !subject.truthy())) return def ? *def : Value("");
    return subject;
  }
  if (name == "safe") return subject.is_string() ? subject : Value(subject.to_str());
  if (name == "string") {
    if (subject.is_string()) return subject;
    std::string s = subject.to_str(in.limits().max_output_bytes + 1);
    AGENTD_RETURN_IF_ERROR(in.check_size(s.size()));
    return Value(std::move(s));
  }
  if (name == "length" || name == "count") return length_of(subject);
  if (name == "tojson") return tojson_filter(in, subject, a);
  if (name == "join") return join_filter(in, subject, a);
  if (name == "map") return map_impl(in, subject, args);
  if (name == "select") return select_impl(in, subject, args, false, true);
  if (name == "reject") return select_impl(in, subject, args, false, false);
  if (name == "selectattr") return select_impl(in, subject, args, true, true);
  if (name == "rejectattr") return select_impl(in, subject, args, true, false);
  if (name == "items") {
    if (subject.is_undefined()) return Value::list({});
    if (!subject.is_object()) return Status::invalid_argument(std::string("items filter needs a mapping, got ") + subject.type_name());
    std::vector<Value> items;
    for (const auto& [k, v] : subject.as_object().entries()) items.push_back(Value::tuple({k, v}));
    return Value::list(std::move(items));
  }
  if (name == "list") {
    AGENTD_ASSIGN_OR_RETURN(std::vector<Value> items, items_of(in, subject));
    return Value::list(std::move(items));
  }
  if (name == "first" || name == "last") {
    AGENTD_ASSIGN_OR_RETURN(std::vector<Value> items, items_of(in, subject));
    if (items.empty()) return Value::undefined(std::string("No ") + std::string(name) + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    if (subject.is_string()) {
      const std::string& s = subject.as_string();
      const std::vector<size_t> offsets = utf8::code_point_offsets(s);
      std::string out;
      for (size_t i = offsets.size() - 1; i > 0; --i) out.append(s, offsets[i - 1], offsets[i] - offsets[i - 1]);
      return Value(std::move(out));
    }
    AGENTD_ASSIGN_OR_RETURN(std::vector<Value> items, items_of(in, subject));
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "sort") return sort_filter(in, subject, a);
  if (name == "dictsort") return dictsort_filter(in, subject, a);
  if (name == "unique") return unique_filter(in, subject, a);
  if (name == "sum") return sum_filter(in, subject, a);
  if (name == "max" || name == "min") return min_max(in, subject, args, name == "max");
  if (name == "batch") return batch_filter(in, subject, a);
  if (name == "trim") {
    const Value* chars = a.get(0, "chars");
    const std::string* set = (chars && chars->is_string()) ? &chars->as_string() : nullptr;
    return Value(py_strip(subject.to_str(), set, true, true));
  }
  if (name == "upper") return Value(utf8::upper(subject.to_str()));
  if (name == "lower") return Value(utf8::lower(subject.to_str()));
  if (name == "capitalize") return Value(py_capitalize(subject.to_str()));
  if (name == "title") return Value(jinja_title(subject.to_str()));
  if (name == "replace") {
    const Value* from = a.get(0, "old");
    const Value* to = a.get(1, "new");
    if (!from || !to) return Status::invalid_argument("replace filter needs old and new strings");
    AGENTD_ASSIGN_OR_RETURN(int64_t count, a.integer(2, "count", -1));
    AGENTD_ASSIGN_OR_RETURN(std::string out, py_replace(subject.to_str(), from->to_str(), to->to_str(), count,
                                                        in.limits().max_output_bytes));
    return Value(std::move(out));
  }
  if (name == "indent") return indent_filter(in, subject, a);
  if (name == "truncate") return truncate_filter(subject, a);
  if (name == "center") {
    AGENTD_ASSIGN_OR_RETURN(int64_t width, a.integer(0, "width", 80));
    AGENTD_RETURN_IF_ERROR(in.check_size(static_cast<size_t>(std::max<int64_t>(width, 0))));
    return Value(center(subject.to_str(), width));
  }
  if (name == "wordcount") {
    const std::string s = subject.to_str();
    return Value(static_cast<int64_t>(py_split(s, nullptr, -1).size()));
  }
  if (name == "escape" || name == "e" || name == "forceescape") return Value(html_escape(subject.to_str()));
  if (name == "pprint") return Value(subject.repr());
  if (name == "format") {
    if (!subject.is_string()) return Status::invalid_argument("format filter needs a format string");
    Value fmt_args = args.positional.size() == 1 && !args.positional[0].is_array()
                         ? args.positional[0]
                         : Value::tuple(args.positional);
    AGENTD_ASSIGN_OR_RETURN(std::string out, percent_format(in, subject.as_string(), fmt_args));
    return Value(std::move(out));
  }
  if (name == "int") {
    const Value* def = a.get(0, "default");
    AGENTD_ASSIGN_OR_RETURN(int64_t base, a.integer(1, "base", 10));
    if (base < 2 || base > 36) base = 10;
    return to_int(subject, def ? *def : Value(int64_t{0}), base);
  }
  if (name == "float") {
    const Value* def = a.get(0, "default");
    return to_float(subject, def ? *def : Value(0.0));
  }
  if (name == "abs") {
    if (subject.is_int()) {
      if (subject.as_int() == INT64_MIN) return Status::invalid_argument("integer overflow");
      return Value(subject.as_int() < 0 ? -subject.as_int() : subject.as_int());
    }
    if (subject.is_bool()) return Value(int64_t{subject.as_bool() ? 1 : 0});
    if (subject.is_float()) return Value(std::fabs(subject.as_float()));
    return Status::invalid_argument(std::string("bad operand type for abs(): '") + subject.type_name() + "'");
  }
  if (name == "round") {
    AGENTD_ASSIGN_OR_RETURN(int64_t precision, a.integer(0, "precision", 0));
    const std::string method = a.str(1, "method", "common");
    if (!subject.is_number()) return Status::invalid_argument("round filter needs a number");
    const double x = subject.to_double();
    if (method == "common") return Value(python_round(x, precision));
    if (method != "ceil" && method != "floor") {
      return Status::invalid_argument("method must be common, ceil or floor");
    }
    const double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -300, 300)));
    return Value((method == "ceil" ? std::ceil(x * scale) : std::floor(x * scale)) / scale);
  }
  if (name == "attr") {
    const Value* attribute = a.get(0, "name");
    if (!attribute) return Status::invalid_argument("attr filter needs an attribute name");
    return in.get_attribute(subject, attribute->to_str());
  }
  if (has_filter(name)) return Status::invalid_argument(std::string("filter '") + std::string(name) + "' is not supported");
  return Status::invalid_argument(std::string("no filter named '") + std::string(name) + "'");
}

}  // namespace agentd::engine::jinja
