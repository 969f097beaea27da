#include "engine/grammar/schema_validator.h"

#include <algorithm>
#include <cmath>
#include <regex>

#include "engine/grammar/json_schema.h"
#include "common/utf8.h"

namespace agentd::engine::grammar {

namespace json = boost::json;

namespace {

bool is_integer(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  return v.is_double() && std::isfinite(v.get_double()) && std::floor(v.get_double()) == v.get_double();
}

bool has_type(const json::value& v, std::string_view type) {
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_bool();
  if (type == "string") return v.is_string();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "number") return v.is_number();
  if (type == "integer") return is_integer(v);
  return false;
}

// JSON equality with numbers compared by value (1 == 1.0).
bool equal(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return a.to_number<double>() == b.to_number<double>();
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!equal(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const json::value* other = y.if_contains(kv.key());
      if (other == nullptr || !equal(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

int64_t code_points(const std::string& s) {
  int64_t n = 0;
  for (size_t i = 0; i < s.size();) {
    utf8_decode(s, i);
    ++n;
  }
  return n;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool valid_date(const std::string& s) {
  static const std::regex re(R"(^(\d{4})-(\d{2})-(\d{2})$)");
  std::smatch m;
  if (!std::regex_match(s, m, re)) return false;
  const int y = std::stoi(m[1]), mo = std::stoi(m[2]), d = std::stoi(m[3]);
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1) return false;
  return d <= days[mo - 1] + (mo == 2 && leap(y) ? 1 : 0);
}

bool valid_time(const std::string& s) {
  static const std::regex re(R"(^(\d{2}):(\d{2}):(\d{2})(\.\d+)?([zZ]|[+-](\d{2}):(\d{2}))$)");
  std::smatch m;
  if (!std::regex_match(s, m, re)) return false;
  if (std::stoi(m[1]) > 23 || std::stoi(m[2]) > 59 || std::stoi(m[3]) > 60) return false;
  return !m[6].matched || (std::stoi(m[6]) <= 23 && std::stoi(m[7]) <= 59);
}

// Formats as validators read them (RFC 3339 dates and times, RFC 4122 UUIDs,
// RFC 1123 host names, dotted IPv4, an absolute URI, ISO 8601 durations,
// ajv's e-mail rule); false for a format this does not know (create()
// refused those already).
bool valid_format(const std::string& format, const std::string& s) {
  if (format == "date") return valid_date(s);
  if (format == "time") return valid_time(s);
  if (format == "date-time") {
    const size_t t = s.find_first_of("Tt ");
    return t != std::string::npos && valid_date(s.substr(0, t)) && valid_time(s.substr(t + 1));
  }
  static const std::regex uuid(R"(^(?:urn:uuid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$)");
  static const std::regex email(
      R"(^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$)");
  static const std::regex hostname(
      R"(^(?=.{1,253}\.?$)[a-zA-Z0-9](?:[-0-9a-zA-Z]{0,61}[0-9a-zA-Z])?(?:\.[a-zA-Z0-9](?:[-0-9a-zA-Z]{0,61}[0-9a-zA-Z])?)*\.?$)");
  static const std::regex ipv4(R"(^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$)");
  static const std::regex uri(R"(^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s"<>\\^`{|}]*$)");
  static const std::regex duration(
      R"(^P(?!$)((\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?|(\d+W)?)$)");
  if (format == "uuid") return std::regex_match(s, uuid);
  if (format == "email") return std::regex_match(s, email);
  if (format == "hostname") return std::regex_match(s, hostname);
  if (format == "ipv4") return std::regex_match(s, ipv4);
  if (format == "uri") return std::regex_match(s, uri);
  if (format == "duration") return std::regex_match(s, duration);
  return false;
}

std::string shown(const json::value& v) {
  std::string s = json::serialize(v);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

}  // namespace

StatusOr<std::shared_ptr<SchemaValidator>> SchemaValidator::create(const json::value& schema) {
  // What the generator cannot enforce, the validator does not claim either.
  AGENTD_RETURN_IF_ERROR(compile_json_schema(schema).status());
  return std::shared_ptr<SchemaValidator>(new SchemaValidator(schema));
}

std::string SchemaValidator::check(const json::value& instance) { return check(root_, instance, "", 0); }

bool SchemaValidator::string_matches(const std::string& keyword, const std::string& value,
                                     const json::value& instance) {
  std::lock_guard lock(mu_);
  const std::string key = keyword + ":" + value;
  auto it = strings_.find(key);
  if (it == strings_.end()) {
    auto g = compile_json_schema(json::object{{"type", "string"}, {keyword, value}});
    if (!g.is_ok()) return false;
    it = strings_.emplace(key, std::make_unique<Automaton>(*g)).first;
  }
  Automaton& a = *it->second;
  // The grammar is over the string's JSON text; escapes are written the way
  // serialize writes them, which the grammar accepts for every character.
  const int32_t s = a.next(a.start(), json::serialize(instance));
  return s != Automaton::kDead && a.accepting(s);
}

std::string SchemaValidator::check(const json::value& schema, const json::value& v, const std::string& at, int depth) {
  if (depth > 200) return "at " + (at.empty() ? "/" : at) + ": nested too deeply to check";
  if (schema.is_bool()) return schema.get_bool() ? "" : "at " + (at.empty() ? "/" : at) + ": no value is allowed";
  if (!schema.is_object()) return "";
  return check_object(schema.get_object(), v, at, depth);
}

std::string SchemaValidator::check_object(const json::object& s, const json::value& v, const std::string& at,
                                          int depth) {
  const std::string where = "at " + (at.empty() ? std::string("/") : at) + ": ";
  if (const json::value* r = s.if_contains("$ref"); r != nullptr && r->is_string()) {
    const std::string pointer(r->get_string());
    boost::system::error_code ec;
    const json::value* target = pointer == "#" ? &root_ : root_.find_pointer(pointer.substr(1), ec);
    if (target == nullptr) return where + "$ref " + pointer + " points at nothing";
    if (std::string e = check(*target, v, at, depth + 1); !e.empty()) return e;
  }
  if (const json::value* n = s.if_contains("nullable"); n != nullptr && n->is_bool() && n->get_bool() && v.is_null()) {
    return "";
  }
  if (const json::value* t = s.if_contains("type")) {
    bool ok = false;
    if (t->is_string()) ok = has_type(v, t->get_string());
    if (t->is_array()) {
      for (const auto& x : t->get_array()) ok = ok || (x.is_string() && has_type(v, x.get_string()));
    }
    if (!ok) return where + shown(v) + " is not of type " + json::serialize(*t);
  }
  if (const json::value* c = s.if_contains("const"); c != nullptr && !equal(*c, v)) {
    return where + shown(v) + " is not the constant " + shown(*c);
  }
  if (const json::value* e = s.if_contains("enum"); e != nullptr && e->is_array()) {
    const auto& list = e->get_array();
    if (std::none_of(list.begin(), list.end(), [&](const json::value& x) { return equal(x, v); })) {
      return where + shown(v) + " is not one of " + shown(*e);
    }
  }
  if (const json::value* all = s.if_contains("allOf"); all != nullptr && all->is_array()) {
    for (const auto& sub : all->get_array()) {
      if (std::string e = check(sub, v, at, depth + 1); !e.empty()) return e;
    }
  }
  if (const json::value* any = s.if_contains("anyOf"); any != nullptr && any->is_array()) {
    std::string first;
    bool ok = false;
    for (const auto& sub : any->get_array()) {
      std::string e = check(sub, v, at, depth + 1);
      if (e.empty()) {
        ok = true;
        break;
      }
      if (first.empty()) first = e;
    }
    if (!ok) return where + "no anyOf branch matches (" + first + ")";
  }
  if (const json::value* one = s.if_contains("oneOf"); one != nullptr && one->is_array()) {
    int matches = 0;
    for (const auto& sub : one->get_array()) matches += check(sub, v, at, depth + 1).empty() ? 1 : 0;
    if (matches != 1) return where + std::to_string(matches) + " oneOf branches match, not exactly one";
  }
  if (v.is_number()) {
    const double x = v.to_number<double>();
    auto bound = [&](const char* key) -> std::optional<double> {
      const json::value* b = s.if_contains(key);
      if (b == nullptr || !b->is_number()) return std::nullopt;
      return b->to_number<double>();
    };
    auto flag = [&](const char* key) {
      const json::value* b = s.if_contains(key);
      return b != nullptr && b->is_bool() && b->get_bool();
    };
    if (auto m = bound("minimum"); m && (flag("exclusiveMinimum") ? !(x > *m) : !(x >= *m))) {
      return where + shown(v) + " is below the minimum " + shown(s.at("minimum"));
    }
    if (auto m = bound("maximum"); m && (flag("exclusiveMaximum") ? !(x < *m) : !(x <= *m))) {
      return where + shown(v) + " is above the maximum " + shown(s.at("maximum"));
    }
    if (auto m = bound("exclusiveMinimum"); m && !(x > *m)) return where + shown(v) + " is not above " + shown(s.at("exclusiveMinimum"));
    if (auto m = bound("exclusiveMaximum"); m && !(x < *m)) return where + shown(v) + " is not below " + shown(s.at("exclusiveMaximum"));
  }
  if (v.is_string()) {
    const std::string str(v.get_string());
    const int64_t n = code_points(str);
    if (const json::value* m = s.if_contains("minLength"); m != nullptr && m->is_number() && n < m->to_number<double>()) {
      return where + "the string is shorter than minLength " + shown(*m);
    }
    if (const json::value* m = s.if_contains("maxLength"); m != nullptr && m->is_number() && n > m->to_number<double>()) {
      return where + "the string is longer than maxLength " + shown(*m);
    }
    if (const json::value* p = s.if_contains("pattern");
        p != nullptr && p->is_string() && !string_matches("pattern", std::string(p->get_string()), v)) {
      return where + shown(v) + " does not match the pattern " + shown(*p);
    }
    if (const json::value* f = s.if_contains("format");
        f != nullptr && f->is_string() && !valid_format(std::string(f->get_string()), str)) {
      return where + shown(v) + " is not a valid " + std::string(f->get_string());
    }
  }
  if (v.is_array()) {
    const auto& items = v.get_array();
    if (const json::value* m = s.if_contains("minItems"); m != nullptr && m->is_number() && items.size() < m->to_number<double>()) {
      return where + "fewer items than minItems " + shown(*m);
    }
    if (const json::value* m = s.if_contains("maxItems"); m != nullptr && m->is_number() && items.size() > m->to_number<double>()) {
      return where + "more items than maxItems " + shown(*m);
    }
    size_t prefix = 0;
    const json::value* rest = nullptr;
    const json::value* tuple = s.if_contains("prefixItems");
    const json::value* it = s.if_contains("items");
    if (it != nullptr && it->is_array()) {
      tuple = it;
      rest = s.if_contains("additionalItems");
    } else {
      rest = it;
    }
    if (tuple != nullptr && tuple->is_array()) {
      prefix = tuple->get_array().size();
      for (size_t i = 0; i < std::min(prefix, items.size()); ++i) {
        if (std::string e = check(tuple->get_array()[i], items[i], at + "/" + std::to_string(i), depth + 1); !e.empty()) return e;
      }
    }
    if (rest != nullptr) {
      for (size_t i = prefix; i < items.size(); ++i) {
        if (std::string e = check(*rest, items[i], at + "/" + std::to_string(i), depth + 1); !e.empty()) return e;
      }
    }
    if (const json::value* u = s.if_contains("uniqueItems"); u != nullptr && u->is_bool() && u->get_bool()) {
      for (size_t i = 0; i < items.size(); ++i) {
        for (size_t j = i + 1; j < items.size(); ++j) {
          if (equal(items[i], items[j])) return where + "items " + std::to_string(i) + " and " + std::to_string(j) + " are equal";
        }
      }
    }
  }
  if (v.is_object()) {
    const auto& o = v.get_object();
    if (const json::value* r = s.if_contains("required"); r != nullptr && r->is_array()) {
      for (const auto& name : r->get_array()) {
        if (name.is_string() && !o.contains(name.get_string())) {
          return where + "the required property '" + std::string(name.get_string()) + "' is missing";
        }
      }
    }
    const json::object* props = nullptr;
    if (const json::value* p = s.if_contains("properties"); p != nullptr && p->is_object()) props = &p->get_object();
    const json::value* additional = s.if_contains("additionalProperties");
    for (const auto& kv : o) {
      const std::string child = at + "/" + std::string(kv.key());
      const json::value* sub = props != nullptr ? props->if_contains(kv.key()) : nullptr;
      if (sub != nullptr) {
        if (std::string e = check(*sub, kv.value(), child, depth + 1); !e.empty()) return e;
      } else if (additional != nullptr) {
        if (additional->is_bool() && !additional->get_bool()) {
          return where + "the property '" + std::string(kv.key()) + "' is not allowed";
        }
        if (std::string e = check(*additional, kv.value(), child, depth + 1); !e.empty()) return e;
      }
    }
  }
  return "";
}

}  // namespace agentd::engine::grammar
