#pragma once
// The server's view of one HTTP exchange, apart from any I/O, so handlers are
// plain functions (Request -> Response) that tests can call directly.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace agentd::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded path, no query: "/api/v3/agents/x"
  std::string target;  // raw request target as sent
  std::multimap<std::string, std::string> query;    // decoded query parameters
  std::multimap<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string request_id;  // X-Request-ID: the client's, or generated
  std::string remote;      // peer address "ip:port"

  // Filled by the router from "{name}" segments of the matched pattern.
  std::map<std::string, std::string> path_params;
  // The matched route pattern ("/v1/agents/{agent_id}/invoke"), "" when no
  // route matched: a bounded label for metrics, unlike the raw path.
  std::string route;

  std::optional<std::string> header(std::string_view lower_name) const;
  std::optional<std::string> query_param(std::string_view name) const;
  std::string path_param(std::string_view name) const;
};

// Writes the body of a streamed response piece by piece (server-sent events,
// chunked JSON). write() blocks until the piece is handed to the socket and
// returns false once the client is gone, so producers can stop early.
class ChunkWriter {
 public:
  virtual ~ChunkWriter() = default;
  virtual bool write(std::string_view data) = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
  // When set, headers are sent first (chunked transfer encoding) and this runs
  // on a worker thread, writing the body as it is produced; `body` is ignored.
  std::function<void(ChunkWriter&)> stream;
  // Filled by handlers for the access log; never a key.
  std::string log_org;

  void set_header(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
  // 204 with no body and no Content-Type.
  static Response no_content() {
    Response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
  static Response json(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
};

using Handler = std::function<Response(Request&)>;

}  // namespace agentd::http
