#pragma once
// One table from StatusCode to the HTTP status and to each dialect's error
// body, so every route of a dialect fails the same way:
//   Nugen      {"detail": "message"}; validation 422
//              {"detail": [{"loc": ["body", "agent_name"], "msg": ..., "type": ...}]}
//   run-agent  {"error": {"code": "AGENT_NOT_FOUND", "message": ..., "status": 404}}
//   Roe        {"detail": ..., "message": ...} (Roe's ErrorDetailResponse, message kept)
//   admin      as run-agent.
// Pure functions; thread-safe.

#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/message.h"

namespace agentd::api {

enum class Dialect { kNugen, kRunAgent, kRoe, kAdmin };

// What is wrong with a request field (for kInvalidArgument errors).
enum class Problem {
  kNone,
  kMissing,        // a required field is absent
  kWrongType,      // present with the wrong JSON type
  kInvalidValue,   // right type, value refused
  kMalformedJson,  // the body is not JSON (or not an object)
};

struct ApiError {
  Status status;
  std::string location = "body";  // "body", "query" or "path"
  std::string field;              // in the dialect's own words: "engine_config.model", "demonstrations[0].input"
  Problem problem = Problem::kNone;
  std::string expected;           // kWrongType: "string", "number", "integer", "boolean", "object", "array"
};

// Turns a core Status into an ApiError: a core field_error() becomes
// kInvalidValue on `rename(core_field)` (the identity when rename is empty).
ApiError from_status(const Status& s, const std::function<std::string(std::string_view)>& rename = {});

ApiError missing_field(std::string field, std::string location = "body");
ApiError wrong_type(std::string field, std::string expected, std::string location = "body");
ApiError invalid_value(std::string field, std::string message, std::string location = "body");
ApiError malformed_json(std::string message);

// The HTTP status a dialect answers with for a code.
int http_status(Dialect dialect, StatusCode code);
// run-agent.ai / admin error code ("AGENT_NOT_FOUND", "INVALID_API_KEY", ...);
// a 404 is AGENT_NOT_FOUND in run-agent.ai (its routes name agents), NOT_FOUND else.
std::string_view error_code(Dialect dialect, const ApiError& e);
// The run-agent.ai code: error_code(Dialect::kRunAgent, e).
std::string_view error_code(const ApiError& e);

http::Response error_response(Dialect dialect, const ApiError& e);
http::Response error_response(Dialect dialect, const Status& s);

// 404 / 405 for a path that no route of the dialect matches.
http::Response unrouted_response(Dialect dialect, int status, std::string_view method, std::string_view path);

}  // namespace agentd::api
