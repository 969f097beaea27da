#include "engine/jinja/methods.h"

#include <algorithm>

#include "engine/jinja/interpreter.h"
#include "engine/jinja/utf8.h"

namespace agentd::engine::jinja {

std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right) {
  std::vector<uint32_t> set;
  if (chars) {
    size_t p = 0;
    while (p < chars->size()) set.push_back(utf8::decode(*chars, p));
  }
  auto strip_it = [&](uint32_t cp) {
    return chars ? std::find(set.begin(), set.end(), cp) != set.end() : utf8::is_space(cp);
  };
  const std::vector<size_t> offsets = utf8::code_point_offsets(s);
  size_t begin = 0;
  size_t end = offsets.size() - 1;  // in code points
  auto cp_at = [&](size_t i) {
    size_t p = offsets[i];
    return utf8::decode(s, p);
  };
  if (left) {
    while (begin < end && strip_it(cp_at(begin))) ++begin;
  }
  if (right) {
    while (end > begin && strip_it(cp_at(end - 1))) --end;
  }
  return std::string(s.substr(offsets[begin], offsets[end] - offsets[begin]));
}

std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      const size_t hit = s.find(*sep, start);
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(start, hit - start));
      start = hit + sep->size();
    }
    out.emplace_back(s.substr(start));
    return out;
  }
  size_t p = 0;
  while (p < s.size()) {
    // Skip whitespace.
    size_t q = p;
    while (q < s.size()) {
      size_t r = q;
      if (!utf8::is_space(utf8::decode(s, r))) break;
      q = r;
    }
    p = q;
    if (p >= s.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      out.emplace_back(s.substr(p));  // Python keeps the remainder's trailing whitespace
      return out;
    }
    size_t e = p;
    while (e < s.size()) {
      size_t r = e;
      if (utf8::is_space(utf8::decode(s, r))) break;
      e = r;
    }
    out.emplace_back(s.substr(p, e - p));
    p = e;
  }
  return out;
}

StatusOr<std::string> py_replace(std::string_view s, std::string_view from, std::string_view to, int64_t count,
                                 size_t max_bytes) {
  const Status too_long = Status::invalid_argument("replace() result would exceed the output limit");
  std::string out;
  if (from.empty()) {
    // Python inserts `to` before every character and at the end.
    const std::vector<size_t> offsets = utf8::code_point_offsets(s);
    const size_t slots = offsets.size();
    const size_t n = count < 0 ? slots : std::min(slots, static_cast<size_t>(count));
    if (!to.empty() && n > (max_bytes - std::min(max_bytes, s.size())) / to.size()) return too_long;
    for (size_t i = 0; i + 1 < offsets.size(); ++i) {
      if (i < n) out += to;
      out.append(s.substr(offsets[i], offsets[i + 1] - offsets[i]));
    }
    if (n == slots) out += to;
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t hit = s.find(from, start);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(start, hit - start));
    out.append(to);
    if (out.size() > max_bytes) return too_long;
    start = hit + from.size();
    ++done;
  }
  out.append(s.substr(start));
  if (out.size() > max_bytes) return too_long;
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::string out;
  size_t p = 0;
  bool first = true;
  while (p < s.size()) {
    const uint32_t cp = utf8::decode(s, p);
    utf8::append(out, first ? utf8::to_upper(cp) : utf8::to_lower(cp));
    first = false;
  }
  return out;
}

std::string py_title(std::string_view s) {
  std::string out;
  size_t p = 0;
  bool previous_cased = false;
  while (p < s.size()) {
    const uint32_t cp = utf8::decode(s, p);
    const bool cased = utf8::is_alpha(cp);
    utf8::append(out, cased ? (previous_cased ? utf8::to_lower(cp) : utf8::to_upper(cp)) : cp);
    previous_cased = cased;
  }
  return out;
}

namespace {

using Method = StatusOr<Value> (*)(Interpreter&, const Value&, CallArgs&);

// Positional-or-keyword argument `index`/`name`; nullptr when absent.
const Value* arg(const CallArgs& args, size_t index, std::string_view name) {
  if (index < args.positional.size()) return &args.positional[index];
  for (const auto& [k, v] : args.keyword) {
    if (k == name) return &v;
  }
  return nullptr;
}

StatusOr<std::string> string_arg(const CallArgs& args, size_t index, std::string_view name, std::string_view method) {
  const Value* v = arg(args, index, name);
  if (!v || !v->is_string()) {
    return Status::invalid_argument(std::string(method) + "() argument '" + std::string(name) + "' must be str");
  }
  return v->as_string();
}

StatusOr<int64_t> int_arg(const CallArgs& args, size_t index, std::string_view name, int64_t def) {
  const Value* v = arg(args, index, name);
  if (!v || v->is_none()) return def;
  if (v->is_int()) return v->as_int();
  if (v->is_bool()) return int64_t{v->as_bool() ? 1 : 0};
  return Status::invalid_argument(std::string("'") + v->type_name() + "' object cannot be interpreted as an integer");
}

Value string_list(std::vector<std::string> parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (auto& p : parts) items.emplace_back(std::move(p));
  return Value::list(std::move(items));
}

StatusOr<Value> str_strip_impl(const Value& self, CallArgs& args, bool left, bool right) {
  const Value* chars = arg(args, 0, "chars");
  if (chars && !chars->is_none() && !chars->is_string()) return Status::invalid_argument("strip arg must be None or str");
  const std::string* set = (chars && chars->is_string()) ? &chars->as_string() : nullptr;
  return Value(py_strip(self.as_string(), set, left, right));
}

StatusOr<Value> str_split_impl(const Value& self, CallArgs& args, bool from_right) {
  const Value* sep = arg(args, 0, "sep");
  AGENTD_ASSIGN_OR_RETURN(int64_t maxsplit, int_arg(args, 1, "maxsplit", -1));
  if (sep && !sep->is_none() && !sep->is_string()) return Status::invalid_argument("must be str or None");
  const std::string* s = (sep && sep->is_string()) ? &sep->as_string() : nullptr;
  if (s && s->empty()) return Status::invalid_argument("empty separator");
  if (!from_right || maxsplit < 0) return string_list(py_split(self.as_string(), s, maxsplit));
  // rsplit with a limit: split everything, then re-join the leftmost parts.
  std::vector<std::string> all = py_split(self.as_string(), s, -1);
  if (static_cast<int64_t>(all.size()) <= maxsplit + 1) return string_list(std::move(all));
  const size_t keep = all.size() - static_cast<size_t>(maxsplit);
  std::string head;
  if (s) {
    // Re-join from the original text so separators stay exact.
    size_t pos = 0;
    for (size_t i = 0; i < keep; ++i) pos = self.as_string().find(*s, pos) + s->size();
    head = self.as_string().substr(0, pos - s->size());
  } else {
    // Whitespace: find the start of part number `keep` and strip before it.
    const std::string& text = self.as_string();
    size_t found = 0;
    size_t pos = 0;
    for (size_t i = 0; i < keep; ++i) {
      found = text.find(all[i], pos);
      pos = found + all[i].size();
    }
    head = py_strip(std::string_view(text).substr(0, pos), nullptr, true, true);
  }
  std::vector<std::string> out;
  out.push_back(std::move(head));
  for (size_t i = keep; i < all.size(); ++i) out.push_back(std::move(all[i]));
  return string_list(std::move(out));
}

StatusOr<Value> affix_test(const Value& self, CallArgs& args, bool prefix) {
  const Value* what = arg(args, 0, prefix ? "prefix" : "suffix");
  if (!what) return Status::invalid_argument(std::string(prefix ? "startswith" : "endswith") + "() takes an argument");
  std::vector<Value> options;
  if (what->is_array() && what->as_array().is_tuple) {
    options = what->as_array().items;
  } else {
    options.push_back(*what);
  }
  const std::string& s = self.as_string();
  for (const Value& o : options) {
    if (!o.is_string()) return Status::invalid_argument("startswith/endswith first arg must be str or a tuple of str");
    const std::string& a = o.as_string();
    if (a.size() > s.size()) continue;
    if (prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0) return Value(true);
  }
  return Value(false);
}

template <typename Pred>
Value all_code_points(const std::string& s, Pred pred) {
  if (s.empty()) return Value(false);
  size_t p = 0;
  while (p < s.size()) {
    if (!pred(utf8::decode(s, p))) return Value(false);
  }
  return Value(true);
}

StatusOr<Value> str_format(Interpreter& in, const Value& self, CallArgs& args) {
  const std::string& f = self.as_string();
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (c == '}' ) {
      if (i + 1 < f.size() && f[i + 1] == '}') ++i;
      out.push_back('}');
      continue;
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    const size_t close = f.find('}', i);
    if (close == std::string::npos) return Status::invalid_argument("Single '{' encountered in format string");
    std::string field = f.substr(i + 1, close - i - 1);
    const size_t colon = field.find_first_of(":!");
    if (colon != std::string::npos) field.resize(colon);  // format specs are not supported: plain str()
    const Value* v = nullptr;
    if (field.empty()) {
      v = auto_index < args.positional.size() ? &args.positional[auto_index] : nullptr;
      ++auto_index;
    } else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      const size_t idx = field.size() > 6 ? args.positional.size() : std::stoul(field);
      v = idx < args.positional.size() ? &args.positional[idx] : nullptr;
    } else {
      v = arg(args, args.positional.size() + 1, field);
    }
    if (!v) return Status::invalid_argument(std::string("format(): missing argument for field '{") + field + "}'");
    out += v->to_str();
    AGENTD_RETURN_IF_ERROR(in.check_size(out.size()));
    i = close;
  }
  return Value(std::move(out));
}

StatusOr<Value> str_method(Interpreter& in, const Value& self, std::string_view name, CallArgs& args) {
  const std::string& s = self.as_string();
  if (name == "strip") return str_strip_impl(self, args, true, true);
  if (name == "lstrip") return str_strip_impl(self, args, true, false);
  if (name == "rstrip") return str_strip_impl(self, args, false, true);
  if (name == "split") return str_split_impl(self, args, false);
  if (name == "rsplit") return str_split_impl(self, args, true);
  if (name == "splitlines") {
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\n' || s[i] == '\r') {
        lines.push_back(s.substr(start, i - start));
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
        start = i + 1;
      }
    }
    if (start < s.size()) lines.push_back(s.substr(start));
    return string_list(std::move(lines));
  }
  if (name == "startswith") return affix_test(self, args, true);
  if (name == "endswith") return affix_test(self, args, false);
  if (name == "upper") return Value(utf8::upper(s));
  if (name == "lower") return Value(utf8::lower(s));
  if (name == "title") return Value(py_title(s));
  if (name == "capitalize") return Value(py_capitalize(s));
  if (name == "replace") {
    AGENTD_ASSIGN_OR_RETURN(std::string from, string_arg(args, 0, "old", "replace"));
    AGENTD_ASSIGN_OR_RETURN(std::string to, string_arg(args, 1, "new", "replace"));
    AGENTD_ASSIGN_OR_RETURN(int64_t count, int_arg(args, 2, "count", -1));
    AGENTD_ASSIGN_OR_RETURN(std::string out, py_replace(s, from, to, count, in.limits().max_output_bytes));
    return Value(std::move(out));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    AGENTD_ASSIGN_OR_RETURN(std::string needle, string_arg(args, 0, "sub", name));
    if (name == "count") {
      if (needle.empty()) return Value(static_cast<int64_t>(utf8::length(s) + 1));
      int64_t n = 0;
      for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) ++n;
      return Value(n);
    }
    const size_t hit = (name == "find" || name == "index") ? s.find(needle) : s.rfind(needle);
    if (hit == std::string::npos) {
      if (name == "index" || name == "rindex") return Status::invalid_argument("substring not found");
      return Value(int64_t{-1});
    }
    return Value(static_cast<int64_t>(utf8::length(std::string_view(s).substr(0, hit))));
  }
  if (name == "join") {
    const Value* items = arg(args, 0, "iterable");
    if (!items) return Status::invalid_argument("join() takes exactly one argument");
    AGENTD_ASSIGN_OR_RETURN(std::vector<Value> parts, in.iterate(*items));
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!parts[i].is_string()) {
        return Status::invalid_argument(std::string("sequence item ") + std::to_string(i) + ": expected str instance, " +
                                        parts[i].type_name() + " found");
      }
      if (i) out += s;
      out += parts[i].as_string();
      AGENTD_RETURN_IF_ERROR(in.check_size(out.size()));
    }
    return Value(std::move(out));
  }
  if (name == "isdigit" || name == "isnumeric" || name == "isdecimal") {
    return all_code_points(s, [](uint32_t c) { return c >= '0' && c <= '9'; });
  }
  if (name == "isalpha") return all_code_points(s, utf8::is_alpha);
  if (name == "isalnum") return all_code_points(s, [](uint32_t c) { return utf8::is_alpha(c) || (c >= '0' && c <= '9'); });
  if (name == "isspace") return all_code_points(s, utf8::is_space);
  if (name == "isupper" || name == "islower") {
    bool any_cased = false;
    size_t p = 0;
    while (p < s.size()) {
      const uint32_t c = utf8::decode(s, p);
      if (!utf8::is_alpha(c)) continue;
      any_cased = true;
      const bool upper = utf8::to_lower(c) != c;
      if (upper != (name == "isupper")) return Value(false);
    }
    return Value(any_cased);
  }
  if (name == "format") return str_format(in, self, args);
  return Status::internal("unknown str method");
}

StatusOr<Value> dict_method(const Object& self, std::string_view name, CallArgs& args) {
  if (name == "items") {
    std::vector<Value> items;
    items.reserve(self.size());
    for (const auto& [k, v] : self.entries()) items.push_back(Value::tuple({k, v}));
    return Value::list(std::move(items));
  }
  if (name == "keys" || name == "values") {
    std::vector<Value> items;
    items.reserve(self.size());
    for (const auto& [k, v] : self.entries()) items.push_back(name == "keys" ? k : v);
    return Value::list(std::move(items));
  }
  if (name == "get") {
    const Value* key = arg(args, 0, "key");
    if (!key) return Status::invalid_argument("get expected at least 1 argument");
    const Value* found = self.find(*key);
    if (found) return *found;
    const Value* def = arg(args, 1, "default");
    return def ? *def : Value(None{});
  }
  if (name == "copy") {
    Object copy = self;
    return Value::dict(std::move(copy));
  }
  return Status::internal("unknown dict method");
}

bool is_mutator(std::string_view name) {
  static constexpr std::string_view kMutators[] = {"append", "extend", "insert", "pop", "remove", "clear", "sort",
                                                   "reverse", "update", "setdefault", "popitem", "add", "discard"};
  return std::find(std::begin(kMutators), std::end(kMutators), name) != std::end(kMutators);
}

}  // namespace

std::optional<Value> bound_method(const Value& obj, std::string_view name) {
  static constexpr std::string_view kStringMethods[] = {
      "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "upper",
      "lower", "title", "capitalize", "replace", "find", "rfind", "index", "rindex", "count", "join",
      "isdigit", "isnumeric", "isdecimal", "isalpha", "isalnum", "isspace", "isupper", "islower", "format"};
  static constexpr std::string_view kDictMethods[] = {"items", "keys", "values", "get", "copy"};
  const std::string method(name);
  if (obj.is_string()) {
    if (std::find(std::begin(kStringMethods), std::end(kStringMethods), name) == std::end(kStringMethods)) {
      return std::nullopt;
    }
    return Value::callable(method, [obj, method](Interpreter& in, CallArgs& args) {
      return str_method(in, obj, method, args);
    });
  }
  if (obj.is_object()) {
    if (std::find(std::begin(kDictMethods), std::end(kDictMethods), name) != std::end(kDictMethods)) {
      return Value::callable(method, [obj, method](Interpreter&, CallArgs& args) {
        return dict_method(obj.as_object(), method, args);
      });
    }
  }
  if (obj.is_array() && (name == "index" || name == "count")) {
    return Value::callable(method, [obj, method](Interpreter&, CallArgs& args) -> StatusOr<Value> {
      const Value* needle = arg(args, 0, "value");
      if (!needle) return Status::invalid_argument(method + "() takes exactly one argument");
      int64_t n = 0;
      const auto& items = obj.as_array().items;
      for (size_t i = 0; i < items.size(); ++i) {
        if (!(items[i] == *needle)) continue;
        if (method == "index") return Value(static_cast<int64_t>(i));
        ++n;
      }
      if (method == "index") return Status::invalid_argument(needle->repr() + " is not in list");
      return Value(n);
    });
  }
  if ((obj.is_array() || obj.is_object()) && is_mutator(name)) {
    // The immutable sandbox hides these; calling one fails with this hint.
    return Value::undefined(std::string("access to attribute '") + method + "' of '" + obj.type_name() + "' object is unsafe");
  }
  return std::nullopt;
}

}  // namespace agentd::engine::jinja
