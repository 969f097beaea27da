#include "api/json_body.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace agentd::api {

namespace json = boost::json;

std::optional<json::object> parse_object(std::string_view body, ApiError& err) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    err = malformed_json("request body is empty; expected a JSON object");
    return std::nullopt;
  }
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::value v = json::parse(body, ec, {}, opts);
  if (ec) {
    err = malformed_json("request body is not valid JSON: " + ec.message());
    return std::nullopt;
  }
  if (!v.is_object()) {
    err = malformed_json("request body must be a JSON object");
    return std::nullopt;
  }
  return std::move(v.as_object());
}

std::optional<int64_t> as_int64(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

const json::value* FieldReader::present(std::string_view key, bool required) {
  const json::value* v = obj_.if_contains(key);
  if (!v || v->is_null()) {
    if (required) fail(missing_field(field_name(key)));
    return nullptr;
  }
  return v;
}

bool FieldReader::has(std::string_view key) const {
  const json::value* v = obj_.if_contains(key);
  return v && !v->is_null();
}

std::optional<std::string> FieldReader::string(std::string_view key, bool required) {
  const json::value* v = present(key, required);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(wrong_type(field_name(key), "string"));
    return std::nullopt;
  }
  return std::string(v->get_string());
}

std::optional<double> FieldReader::number(std::string_view key, bool required) {
  const json::value* v = present(key, required);
  if (!v) return std::nullopt;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  fail(wrong_type(field_name(key), "number"));
  return std::nullopt;
}

std::optional<int64_t> FieldReader::integer(std::string_view key, bool required) {
  const json::value* v = present(key, required);
  if (!v) return std::nullopt;
  if (auto i = as_int64(*v)) return i;
  fail(wrong_type(field_name(key), "integer"));
  return std::nullopt;
}

std::optional<bool> FieldReader::boolean(std::string_view key, bool required) {
  const json::value* v = present(key, required);
  if (!v) return std::nullopt;
  if (!v->is_bool()) {
    fail(wrong_type(field_name(key), "boolean"));
    return std::nullopt;
  }
  return v->get_bool();
}

const json::object* FieldReader::object(std::string_view key, bool required) {
  const json::value* v = present(key, required);
  if (!v) return nullptr;
  if (!v->is_object()) {
    fail(wrong_type(field_name(key), "object"));
    return nullptr;
  }
  return &v->get_object();
}

const json::array* FieldReader::array(std::string_view key, bool required) {
  const json::value* v = present(key, required);
  if (!v) return nullptr;
  if (!v->is_array()) {
    fail(wrong_type(field_name(key), "array"));
    return nullptr;
  }
  return &v->get_array();
}

std::optional<int64_t> query_int(const http::Request& req, std::string_view name, int64_t fallback, int64_t min,
                                 int64_t max, ApiError& err) {
  auto raw = req.query_param(name);
  if (!raw || raw->empty()) return fallback;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
  if (ec != std::errc() || p != raw->data() + raw->size()) {
    err = wrong_type(std::string(name), "integer", "query");
    return std::nullopt;
  }
  if (v < min || v > max) {
    err = invalid_value(std::string(name),
                        "must be between " + std::to_string(min) + " and " + std::to_string(max), "query");
    return std::nullopt;
  }
  return v;
}

std::optional<bool> query_bool(const http::Request& req, std::string_view name, bool fallback, ApiError& err) {
  auto raw = req.query_param(name);
  if (!raw || raw->empty()) return fallback;
  std::string s;
  for (char c : *raw) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  err = wrong_type(std::string(name), "boolean", "query");
  return std::nullopt;
}

std::string url_encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

json::object object_from_text(const std::string& text) {
  if (text.empty()) return {};
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

namespace {

void write_json(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::null: out += "null"; return;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case json::kind::int64: out += std::to_string(v.get_int64()); return;
    case json::kind::uint64: out += std::to_string(v.get_uint64()); return;
    case json::kind::double_: {
      double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
      if (ec != std::errc()) {
        out += "null";
        return;
      }
      std::string_view text(buf, static_cast<size_t>(end - buf));
      out += text;
      // Keep it a float to readers that tell 1 from 1.0.
      if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
      return;
    }
    case json::kind::string: out += json::serialize(v.get_string()); return;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& x : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write_json(x, out);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string_view(kv.key()));
        out += ':';
        write_json(kv.value(), out);
      }
      out += '}';
      return;
    }
  }
}

}  // namespace

std::string to_json_text(const json::value& v) {
  std::string out;
  write_json(v, out);
  return out;
}

http::Response json_response(int status, const json::value& v) { return http::Response::json(status, to_json_text(v)); }

}  // namespace agentd::api
