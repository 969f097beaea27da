#include "http/router.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

namespace agentd::http {
namespace {

Handler named(std::string name) {
  return [name](Request& req) {
    std::string body = name;
    for (const auto& [k, v] : req.path_params) body += " " + k + "=" + v;
    return Response::json(200, body);
  };
}

Response call(const Router& r, std::string method, std::string path) {
  Request req;
  req.method = std::move(method);
  req.path = std::move(path);
  return r.dispatch(req);
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add("GET", "/v1/agents", named("runagent-list"));
    router_.add("GET", "/v1/agents/", named("roe-list"));
    router_.add("POST", "/v1/agents/", named("roe-create"));
    router_.add("GET", "/v1/agents/{agent_id}/", named("roe-get"));
    router_.add("DELETE", "/v1/agents/{agent_id}/", named("roe-delete"));
    router_.add("POST", "/v1/agents/{agent_id}/invoke", named("invoke"));
    router_.add("GET", "/v1/agents/jobs/{job_id}/status/", named("job-status"));
    router_.add("GET", "/v1/agents/{agent_id}/versions/{version_id}/", named("version"));
    router_.add("GET", "/v1/agents/{agent_id}/versions/current/", named("version-current"));
    router_.add("GET", "/", named("root"));
  }
  Router router_;
};

TEST_F(RouterTest, TrailingSlashIsSignificant) {
  EXPECT_EQ(call(router_, "GET", "/v1/agents").body, "runagent-list");
  EXPECT_EQ(call(router_, "GET", "/v1/agents/").body, "roe-list");
  EXPECT_EQ(call(router_, "GET", "/v1/agents/abc/").body, "roe-get agent_id=abc");
  // No route for "/v1/agents/abc" without the slash.
  EXPECT_EQ(call(router_, "GET", "/v1/agents/abc").status, 404);
  EXPECT_EQ(call(router_, "POST", "/v1/agents/abc/invoke").body, "invoke agent_id=abc");
  EXPECT_EQ(call(router_, "POST", "/v1/agents/abc/invoke/").status, 404);
}

TEST_F(RouterTest, CapturesAndLiteralPrecedence) {
  EXPECT_EQ(call(router_, "GET", "/v1/agents/jobs/j-1/status/").body, "job-status job_id=j-1");
  EXPECT_EQ(call(router_, "GET", "/v1/agents/a1/versions/v7/").body, "version agent_id=a1 version_id=v7");
  EXPECT_EQ(call(router_, "GET", "/v1/agents/a1/versions/current/").body, "version-current agent_id=a1");
  EXPECT_EQ(call(router_, "GET", "/").body, "root");
  // An empty segment never fills a capture.
  EXPECT_EQ(call(router_, "GET", "/v1/agents//").status, 404);
}

TEST_F(RouterTest, PathParamsAreExposedOnTheRequest) {
  Request req;
  req.method = "DELETE";
  req.path = "/v1/agents/x y/";
  Response res = router_.dispatch(req);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(req.path_param("agent_id"), "x y");
  EXPECT_EQ(req.path_param("missing"), "");
}

TEST_F(RouterTest, DefaultNotFoundBody) {
  Response res = call(router_, "GET", "/nope");
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.content_type, "application/json");
  auto v = boost::json::parse(res.body);
  EXPECT_EQ(v.at("error").at("code").as_string(), "NOT_FOUND");
  EXPECT_EQ(v.at("error").at("status").as_int64(), 404);
  EXPECT_FALSE(v.at("error").at("message").as_string().empty());
}

TEST_F(RouterTest, MethodNotAllowedListsAllowedMethods) {
  Response res = call(router_, "PUT", "/v1/agents/abc/");
  EXPECT_EQ(res.status, 405);
  std::string allow;
  for (const auto& [k, v] : res.headers)
    if (k == "Allow") allow = v;
  EXPECT_EQ(allow, "GET, DELETE, HEAD");
  auto v = boost::json::parse(res.body);
  EXPECT_EQ(v.at("error").at("code").as_string(), "METHOD_NOT_ALLOWED");
  EXPECT_EQ(v.at("error").at("status").as_int64(), 405);
}

TEST_F(RouterTest, HeadFallsBackToGet) {
  EXPECT_EQ(call(router_, "HEAD", "/v1/agents/").body, "roe-list");
}

TEST_F(RouterTest, CustomFallbackPerDialect) {
  router_.fallback = [](const Request& req, int status) {
    return Response::json(status, "{\"message\":\"" + std::to_string(status) + " " + req.path + "\"}");
  };
  Response nf = call(router_, "GET", "/api/v3/zzz");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.body, "{\"message\":\"404 /api/v3/zzz\"}");
  Response na = call(router_, "PATCH", "/v1/agents/");
  EXPECT_EQ(na.status, 405);
  EXPECT_EQ(na.body, "{\"message\":\"405 /v1/agents/\"}");
}

TEST_F(RouterTest, ObserverSeesTheRoutePatternAndStatus) {
  std::vector<std::string> seen;
  router_.observer = [&seen](const Request& req, const Response& res, double seconds) {
    EXPECT_GE(seconds, 0.0);
    seen.push_back(req.method + " " + (req.route.empty() ? "-" : req.route) + " " + std::to_string(res.status));
  };
  call(router_, "POST", "/v1/agents/a1/invoke");
  call(router_, "GET", "/v1/agents/a1/versions/current/");
  call(router_, "GET", "/nowhere");
  call(router_, "PUT", "/v1/agents/");
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0], "POST /v1/agents/{agent_id}/invoke 200");
  EXPECT_EQ(seen[1], "GET /v1/agents/{agent_id}/versions/current/ 200");
  EXPECT_EQ(seen[2], "GET - 404");
  EXPECT_EQ(seen[3], "PUT - 405");
}

TEST(RequestTest, HeaderAndQueryLookup) {
  Request req;
  req.headers.emplace("x-session-id", "s1");
  req.query.emplace("page", "2");
  EXPECT_EQ(req.header("x-session-id").value_or(""), "s1");
  EXPECT_FALSE(req.header("authorization").has_value());
  EXPECT_EQ(req.query_param("page").value_or(""), "2");
  EXPECT_FALSE(req.query_param("limit").has_value());
}

}  // namespace
}  // namespace agentd::http
