#include "api/errors.h"

#include <boost/json.hpp>

#include "api/json_body.h"
#include "core/field_error.h"

namespace agentd::api {
namespace {

namespace json = boost::json;

struct Row {
  StatusCode code;
  int http;        // run-agent.ai, Roe, admin
  int nugen_http;  // Nugen (FastAPI) answers validation with 422
  const char* name;
};

// THE table. Keep one row per StatusCode.
constexpr Row kTable[] = {
    {StatusCode::kOk, 200, 200, "OK"},
    {StatusCode::kInvalidArgument, 400, 422, "INVALID_REQUEST"},
    {StatusCode::kNotFound, 404, 404, "NOT_FOUND"},
    {StatusCode::kAlreadyExists, 409, 400, "ALREADY_EXISTS"},  // Nugen: 400 "... already exists"
    {StatusCode::kUnauthenticated, 401, 401, "INVALID_API_KEY"},
    {StatusCode::kPermissionDenied, 403, 403, "PERMISSION_DENIED"},
    {StatusCode::kInsufficientCredits, 402, 402, "INSUFFICIENT_CREDITS"},
    {StatusCode::kRateLimited, 429, 429, "RATE_LIMIT_EXCEEDED"},
    {StatusCode::kPayloadTooLarge, 413, 413, "PAYLOAD_TOO_LARGE"},
    {StatusCode::kUnavailable, 503, 503, "SERVICE_UNAVAILABLE"},
    {StatusCode::kDeadlineExceeded, 504, 504, "TIMEOUT"},
    {StatusCode::kFailedPrecondition, 409, 409, "FAILED_PRECONDITION"},
    {StatusCode::kUnimplemented, 501, 501, "NOT_IMPLEMENTED"},
    {StatusCode::kCancelled, 499, 499, "CANCELLED"},
    {StatusCode::kDataLoss, 500, 500, "INTERNAL_ERROR"},
    {StatusCode::kInternal, 500, 500, "INTERNAL_ERROR"},
};

const Row& row(StatusCode c) {
  for (const Row& r : kTable)
    if (r.code == c) return r;
  return kTable[sizeof(kTable) / sizeof(kTable[0]) - 1];  // kInternal
}

// "demonstrations[0].input" -> ["body", "demonstrations", 0, "input"]
json::array nugen_loc(const ApiError& e) {
  json::array loc;
  loc.emplace_back(e.location);
  std::string part;
  auto flush = [&] {
    if (!part.empty()) loc.emplace_back(part);
    part.clear();
  };
  for (size_t i = 0; i < e.field.size(); ++i) {
    char c = e.field[i];
    if (c == '.') {
      flush();
    } else if (c == '[') {
      flush();
      size_t close = e.field.find(']', i);
      if (close == std::string::npos) break;
      std::string digits = e.field.substr(i + 1, close - i - 1);
      bool numeric = !digits.empty() && digits.size() < 10 &&
                     digits.find_first_not_of("0123456789") == std::string::npos;
      if (numeric)
        loc.emplace_back(std::stoll(digits));
      else
        loc.emplace_back(digits);
      i = close;
    } else {
      part += c;
    }
  }
  flush();
  return loc;
}

std::string nugen_type(const ApiError& e) {
  switch (e.problem) {
    case Problem::kMissing: return "missing";
    case Problem::kWrongType: return (e.expected == "number" ? "float" : e.expected == "integer" ? "int"
                                      : e.expected == "boolean"                                 ? "bool"
                                      : e.expected == "object"                                  ? "dict"
                                      : e.expected == "array"                                   ? "list"
                                                                                                : e.expected) +
                                     "_type";
    case Problem::kMalformedJson: return "json_invalid";
    default: return "value_error";
  }
}

std::string message_with_field(const ApiError& e) {
  if (e.field.empty()) return e.status.message();
  return e.field + ": " + e.status.message();
}

http::Response make(int status, const json::value& body) {
  return http::Response::json(status, to_json_text(body));
}

}  // namespace

ApiError from_status(const Status& s, const std::function<std::string(std::string_view)>& rename) {
  ApiError e;
  if (auto v = core::field_violation(s)) {
    e.field = rename ? rename(v->field) : v->field;
    e.problem = Problem::kInvalidValue;
    e.status = Status::invalid_argument(v->message);
  } else {
    e.status = s;
  }
  return e;
}

ApiError missing_field(std::string field, std::string location) {
  ApiError e;
  e.status = Status::invalid_argument("field is required");
  e.location = std::move(location);
  e.field = std::move(field);
  e.problem = Problem::kMissing;
  return e;
}

ApiError wrong_type(std::string field, std::string expected, std::string location) {
  ApiError e;
  e.status = Status::invalid_argument("must be of type " + expected);
  e.location = std::move(location);
  e.field = std::move(field);
  e.problem = Problem::kWrongType;
  e.expected = std::move(expected);
  return e;
}

ApiError invalid_value(std::string field, std::string message, std::string location) {
  ApiError e;
  e.status = Status::invalid_argument(std::move(message));
  e.location = std::move(location);
  e.field = std::move(field);
  e.problem = Problem::kInvalidValue;
  return e;
}

ApiError malformed_json(std::string message) {
  ApiError e;
  e.status = Status::invalid_argument(std::move(message));
  e.problem = Problem::kMalformedJson;
  return e;
}

int http_status(Dialect dialect, StatusCode code) {
  const Row& r = row(code);
  return dialect == Dialect::kNugen ? r.nugen_http : r.http;
}

std::string_view error_code(Dialect dialect, const ApiError& e) {
  switch (e.problem) {
    case Problem::kMissing: return "MISSING_REQUIRED_FIELD";
    case Problem::kWrongType: return "INVALID_FIELD_TYPE";
    case Problem::kInvalidValue: return "INVALID_FIELD_VALUE";
    case Problem::kMalformedJson: return "INVALID_JSON";
    case Problem::kNone: break;
  }
  if (e.status.code() == StatusCode::kNotFound && dialect == Dialect::kRunAgent) return "AGENT_NOT_FOUND";
  return row(e.status.code()).name;
}

std::string_view error_code(const ApiError& e) { return error_code(Dialect::kRunAgent, e); }

http::Response error_response(Dialect dialect, const ApiError& e) {
  int status = http_status(dialect, e.status.code());
  switch (dialect) {
    case Dialect::kNugen: {
      if (e.status.code() == StatusCode::kInvalidArgument) {
        json::object d;
        d["loc"] = nugen_loc(e);
        d["msg"] = e.status.message();
        d["type"] = nugen_type(e);
        return make(status, json::object{{"detail", json::array{d}}});
      }
      return make(status, json::object{{"detail", e.status.message()}});
    }
    case Dialect::kRoe: {
      // Roe's ErrorDetailResponse is {detail}; `message` stays for clients
      // written against agentd's earlier {message} body.
      json::object o{{"detail", message_with_field(e)}, {"message", message_with_field(e)}};
      if (!e.field.empty()) o["field"] = e.field;
      return make(status, o);
    }
    case Dialect::kRunAgent:
    case Dialect::kAdmin: {
      json::object err{{"code", error_code(dialect, e)}, {"message", message_with_field(e)}, {"status", status}};
      if (!e.field.empty()) err["field"] = e.field;
      return make(status, json::object{{"error", err}});
    }
  }
  return make(500, json::object{{"message", "unknown dialect"}});
}

http::Response error_response(Dialect dialect, const Status& s) { return error_response(dialect, from_status(s)); }

http::Response unrouted_response(Dialect dialect, int status, std::string_view method, std::string_view path) {
  std::string what = std::string(method) + " " + std::string(path);
  http::Response r;
  if (dialect == Dialect::kNugen) {
    r = make(status, json::object{{"detail", status == 405 ? "Method Not Allowed" : "Not Found"}});
  } else {
    std::string msg = status == 405 ? "method not allowed: " + what : "no route for " + what;
    if (dialect == Dialect::kRoe) {
      r = make(status, json::object{{"detail", msg}, {"message", msg}});
    } else {
      json::object err{{"code", status == 405 ? "METHOD_NOT_ALLOWED" : "NOT_FOUND"}, {"message", msg}, {"status", status}};
      r = make(status, json::object{{"error", err}});
    }
  }
  return r;
}

}  // namespace agentd::api
