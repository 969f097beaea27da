#pragma once
// Maps (method, path pattern) to handlers. Patterns are literal segments and
// "{name}" captures; a trailing slash is significant ("/v1/agents/" and
// "/v1/agents" are different routes, as the platforms' own paths are).
// Literal segments win over captures at the same position.
//
// Thread-safety: add() during start-up only; dispatch() is const and may run
// on any number of threads at once.

#include <memory>
#include <string>
#include <vector>

#include "http/message.h"

namespace agentd::http {

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);

  // The matched handler's response; 404 when no pattern matches the path, 405
  // (with Allow) when the path matches under other methods only. `not_found`
  // builds those two bodies, so each path prefix can answer in its dialect.
  Response dispatch(Request& req) const;

  // Builds the body for unmatched routes: (request, status 404 or 405).
  std::function<Response(const Request&, int)> fallback;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" for captures
    bool trailing_slash = false;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace agentd::http
