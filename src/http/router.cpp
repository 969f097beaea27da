#include "http/router.h"

#include <algorithm>
#include <chrono>
#include <string_view>

#include "http/error_body.h"

namespace agentd::http {
namespace {

struct SplitPath {
  std::vector<std::string_view> segments;
  bool trailing_slash = false;
};

// "/a/b/" -> {a, b}, trailing; "/" -> {}, not trailing. Empty inner segments
// ("/a//b") are kept so they never match a capture.
SplitPath split_path(std::string_view path) {
  SplitPath out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') {
    out.trailing_slash = true;
    path.remove_suffix(1);
  }
  if (path.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.segments.push_back(path.substr(start));
      break;
    }
    out.segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool is_capture(const std::string& seg) { return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}'; }

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  SplitPath sp = split_path(pattern);
  Route r;
  r.method = std::move(method);
  r.pattern = pattern;
  for (auto s : sp.segments) r.segments.emplace_back(s);
  r.trailing_slash = sp.trailing_slash;
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

Response Router::dispatch(Request& req) const {
  if (!observer) return dispatch_unobserved(req);
  const auto start = std::chrono::steady_clock::now();
  Response res = dispatch_unobserved(req);
  observer(req, res, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return res;
}

Response Router::dispatch_unobserved(Request& req) const {
  req.route.clear();
  const SplitPath sp = split_path(req.path);

  // A route matches when every segment matches; among matches, the one whose
  // first literal-vs-capture difference is a literal wins.
  auto matches = [&](const Route& r) {
    if (r.trailing_slash != sp.trailing_slash || r.segments.size() != sp.segments.size()) return false;
    for (size_t i = 0; i < r.segments.size(); ++i) {
      if (is_capture(r.segments[i])) {
        if (sp.segments[i].empty()) return false;
      } else if (r.segments[i] != sp.segments[i]) {
        return false;
      }
    }
    return true;
  };
  auto more_specific = [](const Route& a, const Route& b) {
    for (size_t i = 0; i < a.segments.size(); ++i) {
      bool ca = is_capture(a.segments[i]), cb = is_capture(b.segments[i]);
      if (ca != cb) return !ca;
    }
    return false;
  };

  const Route* best = nullptr;
  const Route* best_get = nullptr;  // HEAD falls back to GET
  std::vector<std::string> allowed;
  for (const Route& r : routes_) {
    if (!matches(r)) continue;
    if (std::find(allowed.begin(), allowed.end(), r.method) == allowed.end()) allowed.push_back(r.method);
    if (r.method == req.method) {
      if (!best || more_specific(r, *best)) best = &r;
    } else if (r.method == "GET" && req.method == "HEAD") {
      if (!best_get || more_specific(r, *best_get)) best_get = &r;
    }
  }
  if (!best) best = best_get;

  if (best) {
    req.route = best->pattern;
    req.path_params.clear();
    for (size_t i = 0; i < best->segments.size(); ++i) {
      const std::string& seg = best->segments[i];
      if (is_capture(seg)) req.path_params[seg.substr(1, seg.size() - 2)] = std::string(sp.segments[i]);
    }
    return best->handler(req);
  }

  const int status = allowed.empty() ? 404 : 405;
  Response res;
  if (fallback) {
    res = fallback(req, status);
  } else {
    res = status == 404 ? error_response(404, "no route for " + req.path)
                        : error_response(405, "method " + req.method + " not allowed on " + req.path);
  }
  if (status == 405) {
    if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end() &&
        std::find(allowed.begin(), allowed.end(), "HEAD") == allowed.end())
      allowed.push_back("HEAD");
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    res.set_header("Allow", allow);
  }
  return res;
}

}  // namespace agentd::http
