#pragma once
// The server's own error shape, used outside any dialect (413, 431, 400 for a
// malformed request, 408, and the router's default 404/405):
//   {"error": {"code": "NOT_FOUND", "message": "...", "status": 404}}
// Pure functions; thread-safe.

#include <string>
#include <string_view>

#include "http/message.h"

namespace agentd::http {

// "NOT_FOUND", "METHOD_NOT_ALLOWED", "PAYLOAD_TOO_LARGE", ... for an HTTP status.
std::string_view error_code_for_status(int status);

// The JSON body above.
std::string error_body(int status, std::string_view code, std::string_view message);

// A complete JSON response with that body.
Response error_response(int status, std::string_view message);

}  // namespace agentd::http
