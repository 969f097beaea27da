#include "http/error_body.h"

#include <boost/json.hpp>

namespace agentd::http {

std::string_view error_code_for_status(int status) {
  switch (status) {
    case 400: return "BAD_REQUEST";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 405: return "METHOD_NOT_ALLOWED";
    case 408: return "REQUEST_TIMEOUT";
    case 411: return "LENGTH_REQUIRED";
    case 413: return "PAYLOAD_TOO_LARGE";
    case 414: return "URI_TOO_LONG";
    case 429: return "RATE_LIMIT_EXCEEDED";
    case 431: return "REQUEST_HEADER_FIELDS_TOO_LARGE";
    case 500: return "INTERNAL_ERROR";
    case 501: return "NOT_IMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 505: return "HTTP_VERSION_NOT_SUPPORTED";
    default: return status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
  }
}

std::string error_body(int status, std::string_view code, std::string_view message) {
  boost::json::object err;
  err["code"] = code;
  err["message"] = message;
  err["status"] = status;
  boost::json::object root;
  root["error"] = std::move(err);
  return boost::json::serialize(root);
}

Response error_response(int status, std::string_view message) {
  return Response::json(status, error_body(status, error_code_for_status(status), message));
}

}  // namespace agentd::http
