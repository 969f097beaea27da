#pragma once
// Reading untrusted JSON request bodies and query strings into typed values,
// recording the first problem as an ApiError that names the field; writing
// JSON responses. Nothing here throws on bad input.
// FieldReader borrows the object it reads; not thread-safe (one per request).

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/errors.h"
#include "http/message.h"

namespace agentd::api {

// Parses `body` as a JSON object; nullopt (and `err` set) for anything else.
std::optional<boost::json::object> parse_object(std::string_view body, ApiError& err);

class FieldReader {
 public:
  // `prefix` is prepended to field names in errors ("engine_config.").
  explicit FieldReader(const boost::json::object& obj, std::string prefix = "") : obj_(obj), prefix_(std::move(prefix)) {}

  // Each returns nullopt / nullptr when the field is absent or null (an error
  // if required) or has the wrong type (always an error).
  std::optional<std::string> string(std::string_view key, bool required = false);
  std::optional<double> number(std::string_view key, bool required = false);
  std::optional<int64_t> integer(std::string_view key, bool required = false);
  std::optional<bool> boolean(std::string_view key, bool required = false);
  const boost::json::object* object(std::string_view key, bool required = false);
  const boost::json::array* array(std::string_view key, bool required = false);
  // Present and not null.
  bool has(std::string_view key) const;

  std::string field_name(std::string_view key) const { return prefix_ + std::string(key); }
  bool ok() const { return !error_.has_value(); }
  const ApiError& error() const { return *error_; }
  // Keeps the first error only.
  void fail(ApiError e) {
    if (!error_) error_ = std::move(e);
  }

 private:
  const boost::json::value* present(std::string_view key, bool required);

  const boost::json::object& obj_;
  std::string prefix_;
  std::optional<ApiError> error_;
};

// Integral JSON numbers (also 3.0) as int64; nullopt otherwise.
std::optional<int64_t> as_int64(const boost::json::value& v);

// Query parameter `name` as an integer in [min, max]; `fallback` when absent.
// On error returns nullopt and sets err (location "query").
std::optional<int64_t> query_int(const http::Request& req, std::string_view name, int64_t fallback, int64_t min,
                                 int64_t max, ApiError& err);
// "true"/"false"/"1"/"0"/"yes"/"no" (case-insensitive); `fallback` when absent.
std::optional<bool> query_bool(const http::Request& req, std::string_view name, bool fallback, ApiError& err);

// Percent-encodes a query-string component (RFC 3986 unreserved kept).
std::string url_encode(std::string_view s);

// Object text stored in the core (engine_config, output_schema) back to JSON;
// an empty object when the text is empty or not an object.
boost::json::object object_from_text(const std::string& text);

// JSON text of v, like boost::json::serialize but with numbers as people
// write them: doubles in their shortest round-trip form with a decimal point
// (0.7, 1.0, 1e+20), not Boost's "7E-1"; NaN and infinities become null.
std::string to_json_text(const boost::json::value& v);

// A response with to_json_text(v) as its body.
http::Response json_response(int status, const boost::json::value& v);

}  // namespace agentd::api
