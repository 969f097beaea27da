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

  // Called after every dispatch with the request (route filled), the
  // response and the seconds the handler took (for a streamed response, the
  // time until its headers). Set at start-up; runs on the worker thread.
  std::function<void(const Request&, const Response&, double seconds)> observer;

 private:
  Response dispatch_unobserved(Request& req) const;

  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" for captures
    bool trailing_slash = false;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace agentd::http
