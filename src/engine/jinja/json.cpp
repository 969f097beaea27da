#include "engine/jinja/json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/jinja/utf8.h"

namespace agentd::engine::jinja {
namespace {

constexpr int kMaxJsonDepth = 512;

StatusOr<Value> convert(const boost::json::value& j, int depth) {
  if (depth > kMaxJsonDepth) return Status::invalid_argument("JSON nested too deeply");
  switch (j.kind()) {
    case boost::json::kind::null: return Value(None{});
    case boost::json::kind::bool_: return Value(j.get_bool());
    case boost::json::kind::int64: return Value(j.get_int64());
    case boost::json::kind::uint64: {
      const uint64_t u = j.get_uint64();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case boost::json::kind::double_: return Value(j.get_double());
    case boost::json::kind::string: return Value(std::string_view(j.get_string()));
    case boost::json::kind::array: {
      std::vector<Value> items;
      items.reserve(j.get_array().size());
      for (const auto& e : j.get_array()) {
        AGENTD_ASSIGN_OR_RETURN(Value v, convert(e, depth + 1));
        items.push_back(std::move(v));
      }
      return Value::list(std::move(items));
    }
    case boost::json::kind::object: {
      Object o;
      for (const auto& kv : j.get_object()) {
        AGENTD_ASSIGN_OR_RETURN(Value v, convert(kv.value(), depth + 1));
        o.set(Value(std::string_view(kv.key())), std::move(v));
      }
      return Value::dict(std::move(o));
    }
  }
  return Value(None{});
}

class JsonWriter {
 public:
  JsonWriter(const JsonStyle& style, size_t max_bytes) : style_(style), max_bytes_(max_bytes) {
    item_sep_ = style.item_separator ? *style.item_separator : (style.indent ? "," : ", ");
  }

  Status write(const Value& v, int depth) {
    if (depth > kMaxJsonDepth) return Status::invalid_argument("value nested too deeply for tojson");
    if (out.size() > max_bytes_) return Status::invalid_argument("tojson output exceeds the output limit");
    switch (v.kind()) {
      case Value::Kind::kNone: out += "null"; return Status::ok();
      case Value::Kind::kBool: out += v.as_bool() ? "true" : "false"; return Status::ok();
      case Value::Kind::kInt: out += std::to_string(v.as_int()); return Status::ok();
      case Value::Kind::kFloat: write_float(v.as_float()); return Status::ok();
      case Value::Kind::kString: write_string(v.as_string()); return Status::ok();
      case Value::Kind::kArray: {
        const auto& items = v.as_array().items;
        if (items.empty()) {
          out += "[]";
          return Status::ok();
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep_;
          newline(depth + 1);
          AGENTD_RETURN_IF_ERROR(write(items[i], depth + 1));
        }
        newline(depth);
        out += ']';
        return Status::ok();
      }
      case Value::Kind::kObject:
      case Value::Kind::kNamespace: {
        if (v.is_namespace()) return Status::invalid_argument("Object of type Namespace is not JSON serializable");
        std::vector<const std::pair<Value, Value>*> entries;
        for (const auto& e : v.as_object().entries()) entries.push_back(&e);
        if (entries.empty()) {
          out += "{}";
          return Status::ok();
        }
        std::vector<std::pair<std::string, const Value*>> keyed;
        for (const auto* e : entries) {
          AGENTD_ASSIGN_OR_RETURN(std::string key, key_string(e->first));
          keyed.emplace_back(std::move(key), &e->second);
        }
        if (style_.sort_keys) {
          std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        }
        out += '{';
        for (size_t i = 0; i < keyed.size(); ++i) {
          if (i) out += item_sep_;
          newline(depth + 1);
          write_string(keyed[i].first);
          out += style_.key_separator;
          AGENTD_RETURN_IF_ERROR(write(*keyed[i].second, depth + 1));
        }
        newline(depth);
        out += '}';
        return Status::ok();
      }
      case Value::Kind::kUndefined:
        return Status::invalid_argument("Object of type Undefined is not JSON serializable");
      case Value::Kind::kCallable:
        return Status::invalid_argument("Object of type function is not JSON serializable");
    }
    return Status::ok();
  }

  std::string out;

 private:
  void newline(int depth) {
    if (!style_.indent) return;
    out += '\n';
    for (int i = 0; i < depth && out.size() <= max_bytes_; ++i) out += *style_.indent;
  }

  StatusOr<std::string> key_string(const Value& k) {
    switch (k.kind()) {
      case Value::Kind::kString: return k.as_string();
      case Value::Kind::kInt: return std::to_string(k.as_int());
      case Value::Kind::kFloat: {
        JsonWriter w(style_, max_bytes_);
        w.write_float(k.as_float());
        return w.out;
      }
      case Value::Kind::kBool: return std::string(k.as_bool() ? "true" : "false");
      case Value::Kind::kNone: return std::string("null");
      default: return Status::invalid_argument(std::string("keys must be str, int, float, bool or None, not ") + k.type_name());
    }
  }

  void write_float(double d) {
    if (std::isnan(d)) {
      out += "NaN";
    } else if (std::isinf(d)) {
      out += d > 0 ? "Infinity" : "-Infinity";
    } else {
      out += format_float(d);
    }
  }

  void write_string(std::string_view s) {
    out += '"';
    size_t p = 0;
    while (p < s.size()) {
      const size_t start = p;
      const uint32_t cp = utf8::decode(s, p);
      char buf[16];
      switch (cp) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (cp < 0x20 || (style_.ensure_ascii && cp >= 0x7F)) {
            if (cp >= 0x10000) {
              const uint32_t v = cp - 0x10000;
              std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
            } else {
              std::snprintf(buf, sizeof(buf), "\\u%04x", cp);
            }
            out += buf;
          } else {
            out.append(s.substr(start, p - start));
          }
      }
    }
    out += '"';
  }

  const JsonStyle& style_;
  size_t max_bytes_;
  std::string item_sep_;
};

}  // namespace

StatusOr<Value> from_json(const boost::json::value& json) { return convert(json, 0); }

StatusOr<std::string> to_json(const Value& value, const JsonStyle& style, size_t max_bytes) {
  JsonWriter writer(style, max_bytes);
  AGENTD_RETURN_IF_ERROR(writer.write(value, 0));
  if (writer.out.size() > max_bytes) return Status::invalid_argument("tojson output exceeds the output limit");
  return std::move(writer.out);
}

}  // namespace agentd::engine::jinja
