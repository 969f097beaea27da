#include "engine/grammar/json_schema.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "common/utf8.h"
#include "engine/grammar/number_range.h"
#include "engine/grammar/regex.h"

namespace agentd::engine::grammar {

namespace json = boost::json;

namespace {

// Keywords that only inform: ignored, as JSON Schema says.
const std::set<std::string, std::less<>> kAnnotations = {
    "$schema", "$id", "id", "$comment", "$anchor", "$vocabulary", "$defs", "definitions", "title", "description",
    "default", "examples", "example", "deprecated", "readOnly", "writeOnly", "discriminator", "contentEncoding",
    "contentMediaType", "externalDocs", "xml", "strict"};

// Keywords this compiler enforces.
const std::set<std::string, std::less<>> kSupported = {
    "$ref", "type", "enum", "const", "anyOf", "oneOf", "allOf", "nullable", "properties", "required",
    "additionalProperties", "items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems",
    "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};

// Validation keywords it cannot enforce: refused.
const std::set<std::string, std::less<>> kRefused = {
    "not", "if", "then", "else", "patternProperties", "propertyNames", "minProperties", "maxProperties",
    "dependentRequired", "dependentSchemas", "dependencies", "contains", "minContains", "maxContains",
    "unevaluatedProperties", "unevaluatedItems", "multipleOf", "$dynamicRef", "$recursiveRef", "contentSchema"};

const std::set<std::string, std::less<>> kFormats = {"date", "time", "date-time", "duration", "uuid",
                                                     "email", "hostname", "ipv4", "uri"};

Expr digit() { return byte_range('0', '9'); }
Expr digits(int32_t lo, int32_t hi) { return repeat(digit(), lo, hi); }
Expr hex_digit() { return chars({{'0', '9'}, {'A', 'F'}, {'a', 'f'}}); }
Expr hex_digits(int32_t n) { return repeat(hex_digit(), n, n); }

// Formats as JSON string content (ASCII only, nothing to escape).
Expr format_expr(const std::string& f) {
  auto day_upto = [](char last_tens, char last_units) {
    // 01..{last_tens}{last_units}, last_tens in '2'..'3'
    std::vector<Expr> a = {seq({lit("0"), byte_range('1', '9')})};
    for (char t = '1'; t < last_tens; ++t) a.push_back(seq({lit(std::string(1, t)), digit()}));
    a.push_back(seq({lit(std::string(1, last_tens)), byte_range('0', static_cast<uint8_t>(last_units))}));
    return alt(std::move(a));
  };
  const Expr month_day = alt({
      seq({lit("02-"), day_upto('2', '8')}),
      seq({alt({lit("01"), lit("03"), lit("04"), lit("05"), lit("06"), lit("07"), lit("08"), lit("09"), lit("10"),
                lit("11"), lit("12")}),
           lit("-"), day_upto('3', '0')}),
      seq({alt({lit("01"), lit("03"), lit("05"), lit("07"), lit("08"), lit("10"), lit("12")}), lit("-31")}),
  });
  const Expr date = seq({digits(4, 4), lit("-"), month_day});
  const Expr hour = alt({seq({byte_range('0', '1'), digit()}), seq({lit("2"), byte_range('0', '3')})});
  const Expr minute = seq({byte_range('0', '5'), digit()});
  const Expr offset = alt({lit("Z"), seq({chars({{'+', '+'}, {'-', '-'}}), hour, lit(":"), minute})});
  const Expr time = seq({hour, lit(":"), minute, lit(":"), minute, opt(seq({lit("."), digits(1, 6)})), offset});
  const Expr lower_alnum = chars({{'0', '9'}, {'a', 'z'}});
  const Expr label = repeat(lower_alnum, 1, 20);
  if (f == "date") return date;
  if (f == "time") return time;
  if (f == "date-time") return seq({date, lit("T"), time});
  if (f == "duration") {
    return seq({lit("P"), alt({seq({digits(1, 4), lit("D"), opt(seq({lit("T"), digits(1, 2), lit("H")}))}),
                               seq({lit("T"), digits(1, 3), chars({{'H', 'H'}, {'M', 'M'}, {'S', 'S'}})})})});
  }
  if (f == "uuid") {
    return seq({hex_digits(8), lit("-"), hex_digits(4), lit("-"), hex_digits(4), lit("-"), hex_digits(4), lit("-"),
                hex_digits(12)});
  }
  if (f == "email") {
    return seq({label, repeat(seq({lit("."), label}), 0, 2), lit("@"), label, repeat(seq({lit("."), label}), 1, 2)});
  }
  if (f == "hostname") return seq({label, repeat(seq({lit("."), label}), 0, 3)});
  if (f == "ipv4") {
    const Expr octet = alt({seq({lit("25"), byte_range('0', '5')}), seq({lit("2"), byte_range('0', '4'), digit()}),
                            seq({lit("1"), digit(), digit()}), seq({byte_range('1', '9'), digit()}), digit()});
    return seq({octet, lit("."), octet, lit("."), octet, lit("."), octet});
  }
  // uri
  const Expr path_char = chars({{'0', '9'}, {'A', 'Z'}, {'a', 'z'}, {'-', '.'}, {'_', '_'}, {'~', '~'}});
  return seq({alt({lit("https"), lit("http")}), lit("://"), label, repeat(seq({lit("."), label}), 0, 3),
              repeat(seq({lit("/"), repeat(path_char, 0, 20)}), 0, 4)});
}

// A code point class as JSON string content: characters JSON must escape
// become their escapes.
Expr json_escaped_chars(const std::vector<CodePointRange>& ranges) {
  std::vector<Expr> alts;
  std::vector<CodePointRange> plain;
  auto escape_of = [](uint32_t cp) -> std::string {
    switch (cp) {
      case '"': return "\\\"";
      case '\\': return "\\\\";
      case '\n': return "\\n";
      case '\r': return "\\r";
      case '\t': return "\\t";
      case '\b': return "\\b";
      case '\f': return "\\f";
      default: {
        static const char* hex = "0123456789abcdef";
        return std::string("\\u00") + hex[cp >> 4] + hex[cp & 15];
      }
    }
  };
  for (auto [a, b] : ranges) {
    for (uint32_t cp = a; cp <= std::min<uint32_t>(b, 0x5C); ++cp) {
      if (cp < 0x20 || cp == '"' || cp == '\\') alts.push_back(lit(escape_of(cp)));
      if (cp == 0x5C) break;
    }
    // The rest of the range without what must be escaped.
    uint32_t from = a;
    for (uint32_t cut : {0x1Fu, static_cast<uint32_t>('"'), static_cast<uint32_t>('\\')}) {
      if (from <= cut && cut <= b) {
        if (from < cut) plain.emplace_back(from, cut - 1);
        from = cut + 1;
      }
    }
    if (from <= b) plain.emplace_back(from, b);
  }
  // Ranges below 0x20 were fully escaped above; drop any leftover part.
  std::vector<CodePointRange> kept;
  for (auto [a, b] : plain) {
    if (b < 0x20) continue;
    kept.emplace_back(std::max<uint32_t>(a, 0x20), b);
  }
  if (!kept.empty()) alts.push_back(chars(std::move(kept)));
  return alt(std::move(alts));
}

Expr json_string_content(const Expr& e) {
  Expr out = e;
  switch (e.kind) {
    case Expr::Kind::kChars:
      return json_escaped_chars(e.ranges);
    case Expr::Kind::kSeq:
    case Expr::Kind::kAlt:
    case Expr::Kind::kRepeat:
      for (Expr& item : out.items) item = json_string_content(item);
      return out;
    default:
      return out;
  }
}

std::string type_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::int64:
    case json::kind::uint64: return "integer";
    case json::kind::double_: {
      const double d = v.get_double();
      return d == static_cast<double>(static_cast<int64_t>(d)) ? "integer" : "number";
    }
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "null";
}

std::string quote(std::string_view s) { return json::serialize(json::value(s)); }

class Compiler {
 public:
  Compiler(const json::value& root, GrammarBuilder& builder) : root_(root), b_(builder) {}

  // A rule of b_ for the schema's JSON texts.
  StatusOr<int32_t> rule(const std::string& name) {
    AGENTD_ASSIGN_OR_RETURN(Expr body, compile(root_, "#"));
    return b_.add(name, std::move(body));
  }

  int32_t any_object_rule(const std::string& name) { return b_.add(name, object_of_any()); }

 private:
  Status error(const std::string& path, const std::string& what) const {
    return Status::invalid_argument("schema at " + path + ": " + what);
  }

  int32_t ws() {
    if (ws_ < 0) {
      ws_ = b_.add("ws", opt(alt({lit(" "), seq({lit("\n"), repeat(lit(" "), 0, 20)})})));
    }
    return ws_;
  }

  int32_t string_char() {
    if (char_ < 0) {
      const Expr hex_not_surrogate =
          alt({seq({chars({{'0', '9'}, {'a', 'c'}, {'A', 'C'}, {'e', 'f'}, {'E', 'F'}}), hex_digits(3)}),
               seq({chars({{'d', 'd'}, {'D', 'D'}}), byte_range('0', '7'), hex_digits(2)})});
      char_ = b_.add("char", alt({not_chars({{0, 0x1F}, {'"', '"'}, {'\\', '\\'}}),
                                  seq({lit("\\"), alt({chars({{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', 'b'},
                                                              {'f', 'f'}, {'n', 'n'}, {'r', 'r'}, {'t', 't'}}),
                                                       seq({lit("u"), hex_not_surrogate})})})}));
    }
    return char_;
  }

  Expr string_of(int32_t min, int32_t max) {
    return seq({lit("\""), repeat(ref(string_char()), min, max), lit("\"")});
  }

  Expr number_any() {
    return seq({opt(lit("-")), alt({lit("0"), seq({byte_range('1', '9'), digits(0, 15)})}),
                opt(seq({lit("."), digits(1, 15)})),
                opt(seq({chars({{'e', 'e'}, {'E', 'E'}}), opt(chars({{'+', '+'}, {'-', '-'}})), digits(1, 2)}))});
  }

  Expr integer_any() { return seq({opt(lit("-")), alt({lit("0"), seq({byte_range('1', '9'), digits(0, 15)})})}); }

  Expr comma() { return seq({lit(","), ref(ws())}); }

  // Any JSON value.
  int32_t any_value() {
    if (value_ >= 0) return value_;
    value_ = b_.declare("value");
    const int32_t obj = b_.add("object", object_of_any());
    const Expr v = ref(value_);
    const int32_t arr = b_.add("array", seq({lit("["), ref(ws()), opt(seq({v, repeat(seq({comma(), v}), 0, -1)})),
                                             ref(ws()), lit("]")}));
    b_.define(value_, alt({ref(obj), ref(arr), string_of(0, -1), number_any(), lit("true"), lit("false"),
                           lit("null")}));
    return value_;
  }

  Expr object_of_any() {
    const int32_t v = any_value();
    const Expr member = seq({string_of(0, -1), ref(ws()), lit(":"), ref(ws()), ref(v)});
    return seq({lit("{"), ref(ws()), opt(seq({member, repeat(seq({comma(), member}), 0, -1)})), ref(ws()),
                lit("}")});
  }

  // ---- $ref

  StatusOr<const json::value*> resolve(const std::string& pointer, const std::string& path) {
    if (pointer.empty() || pointer[0] != '#') {
      return error(path, "$ref '" + pointer + "' is not local (only '#...' references are supported)");
    }
    std::string p = pointer.substr(1);
    if (!p.empty() && p[0] != '/') return error(path, "$ref '" + pointer + "': anchors are not supported");
    // Percent-decoding of URI fragments.
    std::string decoded;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i] == '%' && i + 2 < p.size() + 0 && i + 2 <= p.size() - 1) {
        decoded += static_cast<char>(std::stoi(p.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        decoded += p[i];
      }
    }
    boost::system::error_code ec;
    const json::value* v = root_.find_pointer(decoded, ec);
    if (v == nullptr) return error(path, "$ref '" + pointer + "' points at nothing");
    return v;
  }

  StatusOr<Expr> compile_ref(const std::string& pointer, const std::string& path) {
    if (auto it = refs_.find(pointer); it != refs_.end()) return ref(it->second);
    AGENTD_ASSIGN_OR_RETURN(const json::value* target, resolve(pointer, path));
    const int32_t rule = b_.declare("ref " + pointer);
    refs_[pointer] = rule;
    AGENTD_ASSIGN_OR_RETURN(Expr body, compile(*target, pointer));
    b_.define(rule, std::move(body));
    return ref(rule);
  }

  // Follows $ref chains of a schema with nothing beside the ref.
  StatusOr<const json::value*> deref(const json::value* s, const std::string& path) {
    for (int hops = 0; hops < 64; ++hops) {
      if (!s->is_object()) return s;
      const json::object& o = s->get_object();
      const json::value* r = o.if_contains("$ref");
      if (r == nullptr) return s;
      if (!r->is_string()) return error(path, "$ref must be a string");
      AGENTD_ASSIGN_OR_RETURN(s, resolve(std::string(r->get_string()), path));
    }
    return error(path, "$ref chain too long");
  }

  // ---- allOf / siblings merging

  Status merge_into(json::object& into, const json::object& from, const std::string& path) {
    for (const auto& [k, v] : from) {
      const std::string key(k);
      if (key == "allOf") continue;  // flattened by the caller
      json::value* have = into.if_contains(k);
      if (have == nullptr) {
        into[k] = v;
        continue;
      }
      if (*have == v || kAnnotations.count(key) > 0) continue;
      if (key == "properties") {
        if (!have->is_object() || !v.is_object()) return error(path, "'properties' must be an object");
        json::object& props = have->get_object();
        for (const auto& [pk, pv] : v.get_object()) {
          json::value* p = props.if_contains(pk);
          if (p == nullptr) {
            props[pk] = pv;
          } else if (*p != pv) {
            props[pk] = json::object{{"allOf", json::array{*p, pv}}};
          }
        }
      } else if (key == "required") {
        if (!have->is_array() || !v.is_array()) return error(path, "'required' must be an array");
        for (const auto& r : v.get_array()) {
          if (std::find(have->get_array().begin(), have->get_array().end(), r) == have->get_array().end()) {
            have->get_array().push_back(r);
          }
        }
      } else if (key == "type") {
        auto as_set = [](const json::value& t) {
          std::set<std::string> s;
          if (t.is_string()) s.insert(std::string(t.get_string()));
          if (t.is_array()) {
            for (const auto& x : t.get_array()) {
              if (x.is_string()) s.insert(std::string(x.get_string()));
            }
          }
          return s;
        };
        std::set<std::string> a = as_set(*have), b = as_set(v), both;
        for (const std::string& t : a) {
          if (b.count(t) > 0) both.insert(t);
          else if (t == "integer" && b.count("number") > 0) both.insert("integer");
          else if (t == "number" && b.count("integer") > 0) both.insert("integer");
        }
        if (both.empty()) return error(path, "allOf combines types that have no value in common");
        json::array arr;
        for (const std::string& t : both) arr.emplace_back(t);
        *have = std::move(arr);
      } else if (key == "minimum" || key == "minLength" || key == "minItems" || key == "exclusiveMinimum") {
        if (v.is_number() && have->is_number() && v.to_number<double>() > have->to_number<double>()) *have = v;
      } else if (key == "maximum" || key == "maxLength" || key == "maxItems" || key == "exclusiveMaximum") {
        if (v.is_number() && have->is_number() && v.to_number<double>() < have->to_number<double>()) *have = v;
      } else {
        return error(path, "allOf combines two different '" + key + "' (not supported)");
      }
    }
    return Status::ok();
  }

  // Merges `schemas` (allOf members, $refs followed, nested allOf flattened).
  Status merge_all(const json::value& s, json::object& into, const std::string& path, int depth) {
    if (depth > 32) return error(path, "allOf nested too deeply");
    AGENTD_ASSIGN_OR_RETURN(const json::value* t, deref(&s, path));
    if (t->is_bool()) {
      if (!t->get_bool()) return error(path, "allOf holds the schema false, which accepts nothing");
      return Status::ok();
    }
    if (!t->is_object()) return error(path, "a schema must be an object or a boolean");
    const json::object& o = t->get_object();
    if (const json::value* all = o.if_contains("allOf")) {
      if (!all->is_array() || all->get_array().empty()) return error(path, "allOf must be a non-empty array");
      size_t i = 0;
      for (const auto& item : all->get_array()) {
        AGENTD_RETURN_IF_ERROR(merge_all(item, into, path + "/allOf/" + std::to_string(i++), depth + 1));
      }
    }
    json::object rest = o;
    rest.erase("allOf");
    rest.erase("$ref");
    // additionalProperties only sees the properties declared beside it: a
    // part with additionalProperties false allows no other names, in the
    // merged schema as in its own (apply_closed_names). A schema there is
    // kept as is.
    if (const json::value* ap = rest.if_contains("additionalProperties"); ap != nullptr && ap->is_bool()) {
      if (!ap->get_bool()) {
        std::set<std::string> own;
        if (const json::value* p = rest.if_contains("properties"); p != nullptr && p->is_object()) {
          for (const auto& kv : p->get_object()) own.emplace(kv.key());
        }
        closed_names_.push_back(std::move(own));
      }
      rest.erase("additionalProperties");
    }
    return merge_into(into, rest, path);
  }

  // After merging allOf: the names every closed part allows, or an error
  // when a required name is not among them.
  Status apply_closed_names(json::object& merged, const std::string& path) {
    if (closed_names_.empty()) return Status::ok();
    auto allowed = [&](const std::string& name) {
      for (const auto& names : closed_names_) {
        if (names.count(name) == 0) return false;
      }
      return true;
    };
    if (json::value* r = merged.if_contains("required"); r != nullptr && r->is_array()) {
      for (const auto& name : r->get_array()) {
        if (name.is_string() && !allowed(std::string(name.get_string()))) {
          return error(path, "property '" + std::string(name.get_string()) +
                                 "' is required but an allOf part with additionalProperties false does not declare "
                                 "it, so no value is valid");
        }
      }
    }
    if (json::value* p = merged.if_contains("properties"); p != nullptr && p->is_object()) {
      json::object kept;
      for (const auto& kv : p->get_object()) {
        if (allowed(std::string(kv.key()))) kept[kv.key()] = kv.value();
      }
      *p = std::move(kept);
    }
    merged["additionalProperties"] = false;
    closed_names_.clear();
    return Status::ok();
  }

  // ---- the compiler proper

  StatusOr<Expr> compile(const json::value& s, const std::string& path) {
    if (++depth_ > 200) return error(path, "schema nested too deeply");
    struct Exit {
      int& d;
      ~Exit() { --d; }
    } exit{depth_};
    if (s.is_bool()) {
      if (s.get_bool()) return ref(any_value());
      return error(path, "the schema false accepts no value");
    }
    if (!s.is_object()) return error(path, "a schema must be an object or a boolean");
    const json::object& o = s.get_object();
    for (const auto& [k, v] : o) {
      if (kRefused.count(std::string_view(k)) > 0) {
        return error(path, "keyword '" + std::string(k) + "' is not supported (it cannot be enforced while generating)");
      }
    }
    if (const json::value* r = o.if_contains("$ref")) {
      if (!r->is_string()) return error(path, "$ref must be a string");
      bool siblings = false;
      for (const auto& [k, v] : o) {
        if (k != "$ref" && kSupported.count(std::string_view(k)) > 0) siblings = true;
      }
      if (!siblings) return compile_ref(std::string(r->get_string()), path);
      json::object merged;
      closed_names_.clear();
      json::object beside = o;
      beside.erase("$ref");
      AGENTD_RETURN_IF_ERROR(merge_all(json::value(std::move(beside)), merged, path, 0));
      AGENTD_ASSIGN_OR_RETURN(const json::value* target, resolve(std::string(r->get_string()), path));
      json::object with_target;
      AGENTD_RETURN_IF_ERROR(merge_all(*target, with_target, path, 0));
      AGENTD_RETURN_IF_ERROR(merge_into(with_target, merged, path));
      AGENTD_RETURN_IF_ERROR(apply_closed_names(with_target, path));
      return compile(json::value(std::move(with_target)), path);
    }
    if (o.contains("allOf")) {
      json::object merged;
      closed_names_.clear();
      AGENTD_RETURN_IF_ERROR(merge_all(s, merged, path, 0));
      AGENTD_RETURN_IF_ERROR(apply_closed_names(merged, path));
      return compile(json::value(std::move(merged)), path);
    }
    if (o.contains("anyOf") && o.contains("oneOf")) return error(path, "anyOf beside oneOf is not supported");
    for (const char* key : {"anyOf", "oneOf"}) {
      const json::value* branches = o.if_contains(key);
      if (branches == nullptr) continue;
      if (!branches->is_array() || branches->get_array().empty()) {
        return error(path, std::string(key) + " must be a non-empty array");
      }
      json::object siblings = o;
      siblings.erase(key);
      bool has_siblings = false;
      for (const auto& [k, v] : siblings) {
        if (kSupported.count(std::string_view(k)) > 0) has_siblings = true;
      }
      // oneOf: every integer is a number too. Beside a number branch without
      // bounds, an integer branch's values match two branches (so they are
      // never written) and the number branch writes fractions only.
      auto branch_type = [&](const json::value& item) -> std::string {
        auto t = deref(&item, path);
        if (!t.is_ok() || !(*t)->is_object()) return "";
        const json::object& bo = (*t)->get_object();
        const json::value* ty = bo.if_contains("type");
        if (ty == nullptr || !ty->is_string()) return "";
        for (const char* k : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum", "const"}) {
          if (bo.contains(k)) return "bounded " + std::string(ty->get_string());
        }
        return std::string(ty->get_string());
      };
      bool integer_branch = false, free_number_branch = false;
      if (std::string_view(key) == "oneOf") {
        for (const auto& item : branches->get_array()) {
          const std::string t = branch_type(item);
          if (t == "integer" || t == "bounded integer") integer_branch = true;
          if (t == "number") free_number_branch = true;
        }
      }
      std::vector<Expr> alts;
      size_t i = 0;
      for (const auto& item : branches->get_array()) {
        const std::string branch_path = path + "/" + key + "/" + std::to_string(i++);
        if (integer_branch && free_number_branch) {
          const std::string t = branch_type(item);
          if (t == "integer" || t == "bounded integer") continue;
        }
        json::object merged;
        closed_names_.clear();
        if (has_siblings) AGENTD_RETURN_IF_ERROR(merge_all(json::value(siblings), merged, branch_path, 0));
        AGENTD_RETURN_IF_ERROR(merge_all(item, merged, branch_path, 0));
        AGENTD_RETURN_IF_ERROR(apply_closed_names(merged, branch_path));
        if (integer_branch && free_number_branch) {
          const json::value* ty = merged.if_contains("type");
          if (ty != nullptr && ty->is_string() && ty->get_string() == "number") merged["x-agentd-fraction"] = true;
        }
        AGENTD_ASSIGN_OR_RETURN(Expr e, compile(json::value(std::move(merged)), branch_path));
        alts.push_back(std::move(e));
      }
      return alt(std::move(alts));
    }
    if (const json::value* nullable = o.if_contains("nullable"); nullable != nullptr && nullable->is_bool() &&
                                                                 nullable->get_bool()) {
      json::object rest = o;
      rest.erase("nullable");
      AGENTD_ASSIGN_OR_RETURN(Expr e, compile(json::value(std::move(rest)), path));
      return alt({std::move(e), lit("null")});
    }

    std::vector<std::string> types;
    if (const json::value* t = o.if_contains("type")) {
      if (t->is_string()) {
        types.emplace_back(t->get_string());
      } else if (t->is_array() && !t->get_array().empty()) {
        for (const auto& x : t->get_array()) {
          if (!x.is_string()) return error(path, "'type' must be a string or an array of strings");
          types.emplace_back(x.get_string());
        }
      } else {
        return error(path, "'type' must be a string or an array of strings");
      }
      for (const std::string& ty : types) {
        if (ty != "object" && ty != "array" && ty != "string" && ty != "number" && ty != "integer" &&
            ty != "boolean" && ty != "null") {
          return error(path, "unknown type '" + ty + "'");
        }
      }
    }

    if (const json::value* c = o.if_contains("const")) return literal_values({*c}, types, path);
    if (const json::value* e = o.if_contains("enum")) {
      if (!e->is_array() || e->get_array().empty()) return error(path, "'enum' must be a non-empty array");
      return literal_values(std::vector<json::value>(e->get_array().begin(), e->get_array().end()), types, path);
    }

    if (types.empty()) {
      auto has = [&](std::initializer_list<const char*> keys) {
        for (const char* k : keys) {
          if (o.contains(k)) return true;
        }
        return false;
      };
      if (has({"properties", "required", "additionalProperties"})) types = {"object"};
      else if (has({"items", "prefixItems", "minItems", "maxItems", "uniqueItems", "additionalItems"})) types = {"array"};
      else if (has({"minLength", "maxLength", "pattern", "format"})) types = {"string"};
      else if (has({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})) types = {"number"};
      else return ref(any_value());
    }
    std::vector<Expr> alts;
    for (const std::string& ty : types) {
      AGENTD_ASSIGN_OR_RETURN(Expr e, typed(o, ty, path));
      alts.push_back(std::move(e));
    }
    return alt(std::move(alts));
  }

  StatusOr<Expr> literal_values(const std::vector<json::value>& values, const std::vector<std::string>& types,
                                const std::string& path) {
    std::vector<Expr> alts;
    for (const json::value& v : values) {
      const std::string t = type_of(v);
      if (!types.empty()) {
        const bool fits = std::find(types.begin(), types.end(), t) != types.end() ||
                          (t == "integer" && std::find(types.begin(), types.end(), "number") != types.end());
        if (!fits) continue;
      }
      alts.push_back(lit(json::serialize(v)));
    }
    if (alts.empty()) return error(path, "no value of 'enum'/'const' has the schema's type");
    return alt(std::move(alts));
  }

  StatusOr<std::optional<int64_t>> count(const json::object& o, const char* key, const std::string& path) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return std::optional<int64_t>();
    if (v->is_int64() && v->get_int64() >= 0) return std::optional<int64_t>(v->get_int64());
    if (v->is_uint64()) return std::optional<int64_t>(static_cast<int64_t>(std::min<uint64_t>(v->get_uint64(), 1u << 30)));
    if (v->is_double() && v->get_double() >= 0 && v->get_double() == static_cast<double>(static_cast<int64_t>(v->get_double()))) {
      return std::optional<int64_t>(static_cast<int64_t>(v->get_double()));
    }
    return error(path, std::string("'") + key + "' must be a non-negative integer");
  }

  StatusOr<Expr> typed(const json::object& o, const std::string& type, const std::string& path) {
    if (type == "null") return lit("null");
    if (type == "boolean") return alt({lit("true"), lit("false")});
    if (type == "string") return string_schema(o, path);
    if (type == "number" || type == "integer") return number_schema(o, type == "integer", path);
    if (type == "object") return object_schema(o, path);
    return array_schema(o, path);
  }

  StatusOr<Expr> string_schema(const json::object& o, const std::string& path) {
    AGENTD_ASSIGN_OR_RETURN(std::optional<int64_t> min_len, count(o, "minLength", path));
    AGENTD_ASSIGN_OR_RETURN(std::optional<int64_t> max_len, count(o, "maxLength", path));
    const int64_t lo = min_len.value_or(0), hi = max_len.value_or(-1);
    if (hi >= 0 && hi < lo) return error(path, "maxLength is below minLength");
    if (lo > 100000 || hi > 100000) return error(path, "minLength/maxLength above 100000 are not supported");
    const json::value* pattern = o.if_contains("pattern");
    const json::value* format = o.if_contains("format");
    if (pattern != nullptr && format != nullptr) return error(path, "'pattern' beside 'format' is not supported");
    std::optional<Expr> content;
    if (format != nullptr) {
      if (!format->is_string()) return error(path, "'format' must be a string");
      const std::string f(format->get_string());
      if (kFormats.count(f) == 0) {
        return error(path, "format '" + f + "' is not supported (supported: date, time, date-time, duration, uuid, "
                                            "email, hostname, ipv4, uri)");
      }
      content = format_expr(f);
    }
    if (pattern != nullptr) {
      if (!pattern->is_string()) return error(path, "'pattern' must be a string");
      auto re = compile_regex(std::string(pattern->get_string()));
      if (!re.is_ok()) return error(path, re.status().message());
      content = std::move(*re);
    }
    if (!content) {
      return seq({lit("\""), repeat(ref(string_char()), static_cast<int32_t>(lo), static_cast<int32_t>(hi)),
                  lit("\"")});
    }
    auto [clo, chi] = char_length(*content);
    if (min_len || max_len) {
      const bool within = clo >= lo && (hi < 0 || (chi >= 0 && chi <= hi));
      if (!within) {
        // A single repeated class narrows to the bounds; anything else cannot.
        Expr* unit = narrowable(*content);
        if (unit == nullptr) {
          return error(path, std::string(pattern != nullptr ? "'pattern'" : "'format'") +
                                 " together with minLength/maxLength is only supported when every match already "
                                 "has an allowed length");
        }
        unit->min = static_cast<int32_t>(std::max<int64_t>(unit->min, lo));
        unit->max = static_cast<int32_t>(unit->max < 0 ? hi : (hi < 0 ? unit->max : std::min<int64_t>(unit->max, hi)));
        if (unit->max >= 0 && unit->max < unit->min) return error(path, "no string fits 'pattern' and the length bounds");
      }
    }
    return seq({lit("\""), json_string_content(*content), lit("\"")});
  }

  // The repetition in a pattern of the form ^X{m,n}$ (or X*, X+), for
  // narrowing to length bounds.
  static Expr* narrowable(Expr& e) {
    Expr* x = &e;
    while (x->kind == Expr::Kind::kSeq && x->items.size() == 1) x = &x->items[0];
    if (x->kind == Expr::Kind::kRepeat && x->items[0].kind == Expr::Kind::kChars) return x;
    return nullptr;
  }

  StatusOr<Expr> number_schema(const json::object& o, bool integer, const std::string& path) {
    std::optional<NumberBound> lower, upper;
    auto bound = [&](const char* key) -> StatusOr<std::optional<std::string>> {
      const json::value* v = o.if_contains(key);
      if (v == nullptr || v->is_bool()) return std::optional<std::string>();
      if (!v->is_number()) return error(path, std::string("'") + key + "' must be a number");
      return std::optional<std::string>(json::serialize(*v));
    };
    AGENTD_ASSIGN_OR_RETURN(auto minimum, bound("minimum"));
    AGENTD_ASSIGN_OR_RETURN(auto maximum, bound("maximum"));
    AGENTD_ASSIGN_OR_RETURN(auto xmin, bound("exclusiveMinimum"));
    AGENTD_ASSIGN_OR_RETURN(auto xmax, bound("exclusiveMaximum"));
    // Draft-04 spelling: exclusiveMinimum: true makes minimum exclusive.
    const json::value* xmin_flag = o.if_contains("exclusiveMinimum");
    const json::value* xmax_flag = o.if_contains("exclusiveMaximum");
    if (minimum) lower = NumberBound{*minimum, xmin_flag != nullptr && xmin_flag->is_bool() && xmin_flag->get_bool()};
    if (maximum) upper = NumberBound{*maximum, xmax_flag != nullptr && xmax_flag->is_bool() && xmax_flag->get_bool()};
    auto tighter = [](std::optional<NumberBound>& have, const std::string& x, bool is_lower) {
      if (!have) {
        have = NumberBound{x, true};
        return;
      }
      const double a = std::stod(have->decimal), b = std::stod(x);
      if (is_lower ? b >= a : b <= a) have = NumberBound{x, true};
    };
    if (xmin) tighter(lower, *xmin, true);
    if (xmax) tighter(upper, *xmax, false);
    const bool fraction = o.contains("x-agentd-fraction");
    if (!lower && !upper) {
      if (integer) return integer_any();
      if (fraction) {
        return seq({opt(lit("-")), alt({lit("0"), seq({byte_range('1', '9'), digits(0, 15)})}), lit("."),
                    digits(0, 14), byte_range('1', '9')});
      }
      return number_any();
    }
    auto e = number_in_range(lower, upper, integer);
    if (!e.is_ok()) return error(path, e.status().message());
    return std::move(*e);
  }

  StatusOr<Expr> object_schema(const json::object& o, const std::string& path) {
    const json::value* props_v = o.if_contains("properties");
    if (props_v != nullptr && !props_v->is_object()) return error(path, "'properties' must be an object");
    std::vector<std::string> required;
    if (const json::value* r = o.if_contains("required")) {
      if (!r->is_array()) return error(path, "'required' must be an array");
      for (const auto& x : r->get_array()) {
        if (!x.is_string()) return error(path, "'required' must hold strings");
        required.emplace_back(x.get_string());
      }
    }
    const json::value* additional = o.if_contains("additionalProperties");
    // Extra members: only when asked (true or a schema), or when nothing is declared.
    std::optional<json::value> extra_schema;
    if (additional != nullptr) {
      if (additional->is_bool()) {
        if (additional->get_bool()) extra_schema = json::value(true);
      } else if (additional->is_object()) {
        extra_schema = *additional;
      } else {
        return error(path, "'additionalProperties' must be a boolean or a schema");
      }
    } else if (props_v == nullptr || props_v->get_object().empty()) {
      if (required.empty()) extra_schema = json::value(true);
    }

    struct Member {
      std::string name;
      Expr value;
      bool required;
    };
    std::vector<Member> members;
    std::set<std::string> declared;
    if (props_v != nullptr) {
      for (const auto& [k, v] : props_v->get_object()) {
        const std::string name(k);
        AGENTD_ASSIGN_OR_RETURN(Expr value, compile(v, path + "/properties/" + name));
        const bool req = std::find(required.begin(), required.end(), name) != required.end();
        // A rule of its own: the member is written from two places below,
        // and copying nested objects' expressions would grow exponentially.
        members.push_back(Member{name, ref(b_.add("property " + name, std::move(value))), req});
        declared.insert(name);
      }
    }
    for (const std::string& name : required) {
      if (declared.count(name) > 0) continue;
      // Required but not declared: the additional schema, or any value.
      if (additional != nullptr && additional->is_bool() && !additional->get_bool()) {
        return error(path, "property '" + name + "' is required but additionalProperties is false");
      }
      Expr value = ref(any_value());
      if (extra_schema && extra_schema->is_object()) {
        AGENTD_ASSIGN_OR_RETURN(value, compile(*extra_schema, path + "/additionalProperties"));
      }
      members.push_back(Member{name, std::move(value), true});
      declared.insert(name);
    }

    std::optional<Expr> extra_member;
    if (extra_schema) {
      Expr value = ref(any_value());
      if (extra_schema->is_object()) {
        AGENTD_ASSIGN_OR_RETURN(value, compile(*extra_schema, path + "/additionalProperties"));
      }
      extra_member = ref(b_.add("extra" + path, seq({key_not_in(declared), ref(ws()), lit(":"), ref(ws()), std::move(value)})));
    }

    // rest[i][c]: members i.. given c (a member was written before: a comma first).
    const size_t n = members.size();
    std::vector<std::array<int32_t, 2>> rest(n + 1);
    for (size_t i = 0; i <= n; ++i) {
      rest[i][0] = b_.declare("object" + path);
      rest[i][1] = b_.declare("object" + path);
    }
    for (int c = 0; c < 2; ++c) {
      if (!extra_member) {
        b_.define(rest[n][c], empty());
      } else if (c == 1) {
        b_.define(rest[n][c], repeat(seq({comma(), *extra_member}), 0, -1));
      } else {
        b_.define(rest[n][c], opt(seq({*extra_member, repeat(seq({comma(), *extra_member}), 0, -1)})));
      }
    }
    for (size_t i = n; i-- > 0;) {
      const Member& m = members[i];
      const Expr kv = seq({lit(quote(m.name)), ref(ws()), lit(":"), ref(ws()), m.value});
      for (int c = 0; c < 2; ++c) {
        Expr write = seq({c == 1 ? comma() : empty(), kv, ref(rest[i + 1][1])});
        b_.define(rest[i][c], m.required ? std::move(write) : alt({std::move(write), ref(rest[i + 1][c])}));
      }
    }
    return seq({lit("{"), ref(ws()), ref(rest[0][0]), ref(ws()), lit("}")});
  }

  // A JSON string key that is none of `names` (compared as text; escapes
  // are not written in such keys).
  Expr key_not_in(const std::set<std::string>& names) {
    const std::vector<CodePointRange> special = {{0, 0x1F}, {'"', '"'}, {'\\', '\\'}};
    const Expr free_tail = seq({repeat(not_chars(special), 0, -1), lit("\"")});
    struct Node {
      bool terminal = false;
      std::map<uint32_t, size_t> children;
    };
    std::vector<Node> trie(1);
    for (const std::string& name : names) {
      size_t at = 0;
      for (size_t i = 0; i < name.size();) {
        const uint32_t cp = utf8_decode(name, i);
        auto it = trie[at].children.find(cp);
        if (it == trie[at].children.end()) {
          trie.push_back(Node{});
          it = trie[at].children.emplace(cp, trie.size() - 1).first;
        }
        at = it->second;
      }
      trie[at].terminal = true;
    }
    std::vector<int32_t> rules(trie.size());
    for (size_t i = 0; i < trie.size(); ++i) rules[i] = b_.declare("extra-key");
    for (size_t i = 0; i < trie.size(); ++i) {
      std::vector<Expr> alts;
      if (!trie[i].terminal) alts.push_back(lit("\""));
      std::vector<CodePointRange> excluded = special;
      for (const auto& [cp, child] : trie[i].children) {
        excluded.emplace_back(cp, cp);
        if (cp >= 0x20 && cp != '"' && cp != '\\') {
          std::string bytes;
          utf8_append(bytes, cp);
          alts.push_back(seq({lit(bytes), ref(rules[child])}));
        }
      }
      alts.push_back(seq({not_chars(excluded), free_tail}));
      b_.define(rules[i], alt(std::move(alts)));
    }
    return seq({lit("\""), ref(rules[0])});
  }

  StatusOr<Expr> array_schema(const json::object& o, const std::string& path) {
    std::vector<const json::value*> prefix;
    std::optional<json::value> rest = json::value(true);  // nullopt: no more items
    const json::value* items = o.if_contains("items");
    const json::value* prefix_items = o.if_contains("prefixItems");
    if (prefix_items != nullptr) {
      if (!prefix_items->is_array()) return error(path, "'prefixItems' must be an array");
      for (const auto& x : prefix_items->get_array()) prefix.push_back(&x);
    }
    if (items != nullptr && items->is_array()) {  // draft-07 tuple
      if (prefix_items != nullptr) return error(path, "'items' as an array beside 'prefixItems'");
      for (const auto& x : items->get_array()) prefix.push_back(&x);
      const json::value* additional = o.if_contains("additionalItems");
      if (additional != nullptr) {
        if (additional->is_bool() && !additional->get_bool()) rest.reset();
        else rest = *additional;
      }
    } else if (items != nullptr) {
      if (items->is_bool() && !items->get_bool()) rest.reset();
      else rest = *items;
    } else if (o.contains("additionalItems")) {
      return error(path, "'additionalItems' without an 'items' array");
    }
    AGENTD_ASSIGN_OR_RETURN(std::optional<int64_t> min_items, count(o, "minItems", path));
    AGENTD_ASSIGN_OR_RETURN(std::optional<int64_t> max_items, count(o, "maxItems", path));
    int64_t lo = min_items.value_or(0);
    int64_t hi = max_items.value_or(-1);
    const auto k = static_cast<int64_t>(prefix.size());
    if (!rest) hi = hi < 0 ? k : std::min(hi, k);
    if (hi >= 0 && hi < lo) return error(path, "no array fits minItems/maxItems and the items allowed");
    if (lo > 10000 || hi > 10000) return error(path, "minItems/maxItems above 10000 are not supported");
    // Write every prefix item (when maxItems allows), then the rest.
    lo = std::max(lo, hi < 0 ? k : std::min(hi, k));

    const json::value* unique = o.if_contains("uniqueItems");
    if (unique != nullptr && unique->is_bool() && unique->get_bool() && !(hi >= 0 && hi <= 1)) {
      return unique_array(prefix, rest, lo, hi, path);
    }

    std::vector<Expr> prefix_exprs;
    for (int64_t i = 0; i < k; ++i) {
      AGENTD_ASSIGN_OR_RETURN(Expr e, compile(*prefix[static_cast<size_t>(i)],
                                              path + "/prefixItems/" + std::to_string(i)));
      prefix_exprs.push_back(std::move(e));
    }
    Expr rest_expr = empty();
    if (rest && (hi < 0 || hi > k)) {
      AGENTD_ASSIGN_OR_RETURN(rest_expr, compile(*rest, path + "/items"));
      const int32_t r = b_.add("item" + path, std::move(rest_expr));
      rest_expr = ref(r);
    }
    // items[i] for i < k: the prefix schema; beyond: rest_expr.
    auto item = [&](int64_t i) { return i < k ? prefix_exprs[static_cast<size_t>(i)] : rest_expr; };
    // The mandatory items 1..lo-1 after the first, then up to hi - lo more.
    std::vector<Expr> tail;
    for (int64_t i = 1; i < lo; ++i) tail.push_back(seq({comma(), item(i)}));
    const int64_t fixed_end = std::max<int64_t>(lo, 1);
    if (hi < 0 || hi > fixed_end) {
      // Optional items past the mandatory ones are all of the rest schema
      // (lo covers the prefix).
      const int32_t more = hi < 0 ? -1 : static_cast<int32_t>(hi - fixed_end);
      tail.push_back(repeat(seq({comma(), rest_expr}), 0, more));
    }
    Expr body = seq({item(0), seq(std::move(tail))});
    if (lo == 0) body = opt(std::move(body));
    if (hi == 0) body = empty();
    return seq({lit("["), ref(ws()), std::move(body), ref(ws()), lit("]")});
  }

  // uniqueItems over a finite set of values: the values are written in the
  // order the schema lists them, each at most once.
  StatusOr<Expr> unique_array(const std::vector<const json::value*>& prefix, const std::optional<json::value>& rest,
                              int64_t lo, int64_t hi, const std::string& path) {
    const std::string refuse = "uniqueItems is only enforced for items that are enums, consts or booleans";
    if (!prefix.empty() || !rest) return error(path, refuse);
    AGENTD_ASSIGN_OR_RETURN(const json::value* t, deref(&*rest, path));
    std::vector<std::string> values;
    if (t->is_object()) {
      const json::object& io = t->get_object();
      for (const auto& [key, v] : io) {
        if (kSupported.count(std::string_view(key)) > 0 && key != "enum" && key != "const" && key != "type") {
          return error(path, refuse);
        }
      }
      if (const json::value* c = io.if_contains("const")) values.push_back(json::serialize(*c));
      else if (const json::value* e = io.if_contains("enum"); e != nullptr && e->is_array()) {
        for (const auto& v : e->get_array()) {
          const std::string s = json::serialize(v);
          if (std::find(values.begin(), values.end(), s) == values.end()) values.push_back(s);
        }
      } else if (const json::value* ty = io.if_contains("type"); ty != nullptr && *ty == "boolean") {
        values = {"true", "false"};
      } else if (ty != nullptr && *ty == "null") {
        values = {"null"};
      }
    }
    if (values.empty()) return error(path, refuse);
    const auto n = static_cast<int64_t>(values.size());
    if (lo > n) return error(path, "minItems is larger than the number of distinct values allowed");
    if (hi < 0 || hi > n) hi = n;
    // pick[j][c]: values from index j on, c already written.
    std::map<std::pair<int64_t, int64_t>, int32_t> pick;
    std::function<int32_t(int64_t, int64_t)> rule = [&](int64_t j, int64_t c) -> int32_t {
      auto it = pick.find({j, c});
      if (it != pick.end()) return it->second;
      const int32_t r = b_.declare("unique" + path);
      pick[{j, c}] = r;
      std::vector<Expr> alts;
      if (c >= lo) alts.push_back(empty());
      if (c < hi) {
        for (int64_t v = j; v < n && (n - v) >= (lo - c); ++v) {
          alts.push_back(seq({c > 0 ? comma() : empty(), lit(values[static_cast<size_t>(v)]), ref(rule(v + 1, c + 1))}));
        }
      }
      b_.define(r, alt(std::move(alts)));
      return r;
    };
    return seq({lit("["), ref(ws()), ref(rule(0, 0)), ref(ws()), lit("]")});
  }

  const json::value& root_;
  GrammarBuilder& b_;
  std::map<std::string, int32_t> refs_;
  std::vector<std::set<std::string>> closed_names_;  // merge_all(): names each closed allOf part allows
  int32_t ws_ = -1, char_ = -1, value_ = -1;
  int depth_ = 0;
};

}  // namespace

StatusOr<std::shared_ptr<const Grammar>> compile_json_schema(const json::value& schema) {
  GrammarBuilder b;
  AGENTD_ASSIGN_OR_RETURN(int32_t root, Compiler(schema, b).rule("root"));
  return b.build(root);
}

StatusOr<int32_t> add_json_schema(GrammarBuilder& builder, const json::value& schema, const std::string& name) {
  return Compiler(schema, builder).rule(name);
}

int32_t add_json_object(GrammarBuilder& builder, const std::string& name) {
  const json::value none;
  return Compiler(none, builder).any_object_rule(name);
}

std::shared_ptr<const Grammar> json_object_grammar() {
  static const std::shared_ptr<const Grammar> g = [] {
    GrammarBuilder b;
    const int32_t root = add_json_object(b, "root");
    auto built = b.build(root);
    return built.is_ok() ? *built : nullptr;
  }();
  return g;
}

}  // namespace agentd::engine::grammar
