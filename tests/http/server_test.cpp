// The real server on a loopback port, driven by raw sockets so that limits,
// timeouts and the exact wire format are what is tested.

#include "http/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "common/ids.h"

namespace agentd::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

// A one-shot gate between a handler and the test.
class Gate {
 public:
  void open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// The server running on its own thread for the test's lifetime.
class RunningServer {
 public:
  RunningServer(ServerOptions opts, Handler h) : server_(with_test_defaults(std::move(opts)), std::move(h)) {
    Status st = server_.listen();
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    thread_ = std::thread([this] { run_status_ = server_.run(); done_ = true; });
  }
  ~RunningServer() {
    server_.stop();
    thread_.join();
  }
  uint16_t port() const { return server_.port(); }
  void stop() { server_.stop(); }
  // Waits for run() to return.
  bool wait_done(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done_.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return done_.load();
  }

 private:
  static ServerOptions with_test_defaults(ServerOptions o) {
    o.host = "127.0.0.1";
    o.port = 0;
    o.access_log = false;
    o.worker_threads = 4;
    return o;
  }
  Server server_;
  std::thread thread_;
  Status run_status_;
  std::atomic<bool> done_{false};
};

// A blocking client socket with a receive timeout, so a broken server fails
// the test instead of hanging it.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    timeval tv{5, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send(std::string_view data) {
    beast::error_code ec;
    net::write(socket_, net::buffer(data), ec);
  }
  // One full response (Content-Length or chunked); status 0 when the
  // connection ended first.
  bhttp::response<bhttp::string_body> read_response() {
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(64 << 20);
    beast::error_code ec;
    bhttp::read(socket_, buffer_, p, ec);
    if (ec) {
      bhttp::response<bhttp::string_body> none;
      none.result(0u);
      return none;
    }
    return p.release();
  }
  // Raw bytes until `needle` has arrived (or the connection ends).
  std::string read_until(std::string_view needle) {
    std::string got;
    char buf[4096];
    while (got.find(needle) == std::string::npos) {
      beast::error_code ec;
      size_t n = socket_.read_some(net::buffer(buf), ec);
      if (ec) break;
      got.append(buf, n);
    }
    return got;
  }
  // True when the server closes the connection (EOF or reset) within
  // `timeout`; any bytes it sends first are discarded.
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      beast::error_code ec;
      socket_.read_some(net::buffer(buf), ec);
      if (ec == net::error::eof || ec == net::error::connection_reset) return true;
      if (ec && ec != net::error::would_block && ec != net::error::try_again) return true;
    }
    return false;
  }
  void close() {
    beast::error_code ec;
    socket_.close(ec);
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

Response echo(Request& req) {
  boost::json::object o;
  o["method"] = req.method;
  o["path"] = req.path;
  o["target"] = req.target;
  o["body"] = req.body;
  o["body_size"] = req.body.size();
  boost::json::object q;
  for (const auto& [k, v] : req.query) q[k] = v;
  o["query"] = q;
  o["user_agent"] = req.header("user-agent").value_or("");
  o["request_id"] = req.request_id;
  o["remote"] = req.remote;
  return Response::json(200, boost::json::serialize(o));
}

std::string error_code_of(const std::string& body) {
  auto v = boost::json::parse(body);
  return std::string(v.at("error").at("code").as_string());
}

TEST(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  RunningServer srv({}, echo);
  Client c(srv.port());
  for (int i = 0; i < 3; ++i) {
    c.send("GET /items/" + std::to_string(i) + "?a=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n");
    auto res = c.read_response();
    ASSERT_EQ(res.result_int(), 200u);
    EXPECT_TRUE(res.keep_alive());
    auto v = boost::json::parse(res.body());
    EXPECT_EQ(v.at("path").as_string(), "/items/" + std::to_string(i));
    EXPECT_EQ(v.at("query").at("a").as_string(), "1");
    EXPECT_EQ(v.at("user_agent").as_string(), "t");
  }
  // Two pipelined requests in one write come back in order.
  c.send("GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(boost::json::parse(c.read_response().body()).at("path").as_string(), "/p1");
  EXPECT_EQ(boost::json::parse(c.read_response().body()).at("path").as_string(), "/p2");
}

TEST(ServerTest, DecodesPathQueryAndBody) {
  RunningServer srv({}, echo);
  Client c(srv.port());
  const std::string body = "{\"x\":\"y\"}";
  c.send("POST /a%20b/c?name=jane%2Ddoe&q=two+words HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  auto res = c.read_response();
  ASSERT_EQ(res.result_int(), 200u);
  auto v = boost::json::parse(res.body());
  EXPECT_EQ(v.at("method").as_string(), "POST");
  EXPECT_EQ(v.at("path").as_string(), "/a b/c");
  EXPECT_EQ(v.at("target").as_string(), "/a%20b/c?name=jane%2Ddoe&q=two+words");
  EXPECT_EQ(v.at("query").at("name").as_string(), "jane-doe");
  EXPECT_EQ(v.at("query").at("q").as_string(), "two words");
  EXPECT_EQ(v.at("body").as_string(), body);
  EXPECT_EQ(std::string(v.at("remote").as_string()).substr(0, 10), "127.0.0.1:");
  // A chunked request body is reassembled.
  c.send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  auto res2 = c.read_response();
  ASSERT_EQ(res2.result_int(), 200u);
  EXPECT_EQ(boost::json::parse(res2.body()).at("body").as_string(), "abcdefg");
}

TEST(ServerTest, Http10GetsAnAnswerAndAClose) {
  RunningServer srv({}, echo);
  Client c(srv.port());
  c.send("GET /old HTTP/1.0\r\n\r\n");
  auto res = c.read_response();
  ASSERT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.version(), 10u);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(c.closed_within(2s));
}

TEST(ServerTest, RequestIdIsEchoedOrGenerated) {
  RunningServer srv({}, echo);
  Client c(srv.port());
  c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc-123_x.y\r\n\r\n");
  auto res = c.read_response();
  EXPECT_EQ(res["X-Request-ID"], "abc-123_x.y");
  EXPECT_EQ(boost::json::parse(res.body()).at("request_id").as_string(), "abc-123_x.y");

  c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto gen = c.read_response();
  EXPECT_TRUE(looks_like_uuid(std::string(gen["X-Request-ID"])));

  // Too long or with characters outside the allowed set: replaced.
  c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Request-ID: " + std::string(200, 'a') + "\r\n\r\n");
  EXPECT_TRUE(looks_like_uuid(std::string(c.read_response()["X-Request-ID"])));
  c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Request-ID: a b<script>\r\n\r\n");
  EXPECT_TRUE(looks_like_uuid(std::string(c.read_response()["X-Request-ID"])));
}

TEST(ServerTest, ContentLengthOverLimitGets413BeforeAnyBody) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  RunningServer srv(o, echo);
  Client c(srv.port());
  c.send("POST /x HTTP/1.1\r\nHost: x\r\nX-Request-ID: big-1\r\nContent-Length: 1001\r\n\r\n");
  auto res = c.read_response();
  ASSERT_EQ(res.result_int(), 413u);
  EXPECT_EQ(error_code_of(res.body()), "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(res["X-Request-ID"], "big-1");
  EXPECT_FALSE(res.keep_alive());
  // Exactly at the limit is fine, and the server is still healthy.
  Client c2(srv.port());
  c2.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'z'));
  auto ok = c2.read_response();
  ASSERT_EQ(ok.result_int(), 200u);
  EXPECT_EQ(boost::json::parse(ok.body()).at("body_size").as_int64(), 1000);
}

TEST(ServerTest, ChunkedBodyGrowingOverLimitGets413) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  RunningServer srv(o, echo);
  Client c(srv.port());
  c.send("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string chunk = "190\r\n" + std::string(400, 'q') + "\r\n";  // 400 bytes each
  c.send(chunk);
  c.send(chunk);
  c.send(chunk);  // 1200 > 1000
  auto res = c.read_response();
  ASSERT_EQ(res.result_int(), 413u);
  EXPECT_EQ(error_code_of(res.body()), "PAYLOAD_TOO_LARGE");
  Client c2(srv.port());
  c2.send("GET /still-alive HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c2.read_response().result_int(), 200u);
}

TEST(ServerTest, OversizedHeadersGet431) {
  ServerOptions o;
  o.header_limit_bytes = 2048;
  RunningServer srv(o, echo);
  Client c(srv.port());
  c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'h') + "\r\n\r\n");
  auto res = c.read_response();
  ASSERT_EQ(res.result_int(), 431u);
  EXPECT_EQ(error_code_of(res.body()), "REQUEST_HEADER_FIELDS_TOO_LARGE");
  Client c2(srv.port());
  c2.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1024, 'h') + "\r\n\r\n");
  EXPECT_EQ(c2.read_response().result_int(), 200u);
}

TEST(ServerTest, MalformedRequestsGet400) {
  RunningServer srv({}, echo);
  for (const char* bad : {"GARBAGE\r\n\r\n", "GET /x HTTP/1.1 extra\r\n\r\n", "GET\r\n\r\n",
                          "GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
                          "POST /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    Client c(srv.port());
    c.send(bad);
    auto res = c.read_response();
    EXPECT_EQ(res.result_int(), 400u) << bad;
    if (res.result_int() == 400u) {
      EXPECT_EQ(error_code_of(res.body()), "BAD_REQUEST");
    }
  }
  Client c(srv.port());
  c.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_response().result_int(), 200u);
}

TEST(ServerTest, SlowHeadersAreCutOffAtTheHeaderDeadline) {
  ServerOptions o;
  o.header_timeout = 400ms;
  RunningServer srv(o, echo);
  Client c(srv.port());
  const std::string req = "GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: 0123456789\r\n\r\n";
  auto start = std::chrono::steady_clock::now();
  std::atomic<bool> stop_sending{false};
  // One byte every 50 ms: the whole request would take ~2.5 s.
  std::thread trickle([&] {
    for (char ch : req) {
      if (stop_sending) break;
      c.send(std::string(1, ch));
      std::this_thread::sleep_for(50ms);
    }
  });
  auto res = c.read_response();
  auto elapsed = std::chrono::steady_clock::now() - start;
  stop_sending = true;
  trickle.join();
  EXPECT_EQ(res.result_int(), 408u);
  EXPECT_LT(elapsed, 1500ms);
  Client c2(srv.port());
  c2.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c2.read_response().result_int(), 200u);
}

TEST(ServerTest, IdleConnectionsAreClosed) {
  ServerOptions o;
  o.idle_timeout = 300ms;
  RunningServer srv(o, echo);
  Client c(srv.port());
  c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_response().result_int(), 200u);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_within(3s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
}

TEST(ServerTest, StreamsChunksAsTheyAreWritten) {
  Gate first_seen;
  std::promise<bool> second_write;
  std::atomic<int> calls{0};
  RunningServer srv({}, [&](Request&) {
    Response r;
    r.content_type = "text/event-stream";
    r.stream = [&](ChunkWriter& w) {
      w.write("data: one\n\n");
      // The client must see the first piece before the handler goes on.
      first_seen.wait();
      bool ok = w.write("data: two\n\n");
      if (calls++ == 0) second_write.set_value(ok);
      w.write("");  // ignored, does not end the body
      w.write("data: three\n\n");
    };
    return r;
  });
  Client c(srv.port());
  c.send("GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = c.read_until("data: one\n\n");
  EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(head.find("X-Request-ID: "), std::string::npos);
  EXPECT_NE(head.find("\r\nb\r\ndata: one\n\n"), std::string::npos);  // 0xb = 11 bytes
  first_seen.open();
  std::string rest = c.read_until("0\r\n\r\n");
  EXPECT_TRUE(second_write.get_future().get());
  EXPECT_NE(rest.find("b\r\ndata: two\n\n\r\n"), std::string::npos);
  EXPECT_NE(rest.find("d\r\ndata: three\n\n\r\n0\r\n\r\n"), std::string::npos);
  // Keep-alive after a stream.
  c.send("GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
  first_seen.open();
  auto again = c.read_response();
  EXPECT_EQ(again.result_int(), 200u);
  EXPECT_EQ(again.body(), "data: one\n\ndata: two\n\ndata: three\n\n");
}

TEST(ServerTest, StreamWriteReturnsFalseOnceTheClientIsGone) {
  std::promise<int> writes_until_failure;
  RunningServer srv({}, [&](Request&) {
    Response r;
    r.stream = [&](ChunkWriter& w) {
      const std::string piece(16384, 'x');
      int n = 0;
      while (n < 100000 && w.write(piece)) {
        ++n;
        std::this_thread::sleep_for(1ms);
      }
      writes_until_failure.set_value(n);
    };
    return r;
  });
  {
    Client c(srv.port());
    c.send("GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
    c.read_until("xxxx");
    c.close();
  }
  auto fut = writes_until_failure.get_future();
  ASSERT_EQ(fut.wait_for(10s), std::future_status::ready);
  EXPECT_LT(fut.get(), 100000);
}

TEST(ServerTest, HandlerExceptionGives500AndServerLives) {
  RunningServer srv({}, [](Request& req) -> Response {
    if (req.path == "/throw") throw std::runtime_error("boom");
    return Response::json(200, "{}");
  });
  Client c(srv.port());
  c.send("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n");
  auto res = c.read_response();
  EXPECT_EQ(res.result_int(), 500u);
  EXPECT_EQ(error_code_of(res.body()), "INTERNAL_ERROR");
  c.send("GET /fine HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_response().result_int(), 200u);
}

TEST(ServerTest, HeadSendsHeadersOnly) {
  RunningServer srv({}, [](Request&) { return Response::json(200, "{\"hello\":1}"); });
  Client c(srv.port());
  c.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string raw = c.read_until("{\"hello\":1}");
  // The HEAD answer announces 11 bytes but carries none; the GET follows.
  EXPECT_NE(raw.find("Content-Length: 11\r\n"), std::string::npos);
  size_t first = raw.find("HTTP/1.1 200");
  size_t second = raw.find("HTTP/1.1 200", first + 1);
  ASSERT_NE(second, std::string::npos);
  EXPECT_EQ(raw.find("{\"hello\":1}"), raw.size() - 11);
}

TEST(ServerTest, GracefulStopFinishesInFlightRequest) {
  Gate entered, release;
  RunningServer srv({}, [&](Request&) {
    entered.open();
    release.wait();
    return Response::json(200, "{\"done\":true}");
  });
  Client idle(srv.port());  // connected, never sends: closed at stop
  Client c(srv.port());
  c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(entered.wait());
  srv.stop();
  EXPECT_TRUE(idle.closed_within(2s));
  // New connections are refused once the listener is closed.
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(srv.wait_done(50ms));
  release.open();
  auto res = c.read_response();
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "{\"done\":true}");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(srv.wait_done(5s));
  boost::system::error_code ec;
  net::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), srv.port()), ec);
  EXPECT_TRUE(ec);
}

TEST(ServerTest, GracefulStopFinishesInFlightStream) {
  Gate started, release;
  RunningServer srv({}, [&](Request&) {
    Response r;
    r.content_type = "text/event-stream";
    r.stream = [&](ChunkWriter& w) {
      w.write("data: a\n\n");
      started.open();
      release.wait();
      w.write("data: b\n\n");
    };
    return r;
  });
  Client c(srv.port());
  c.send("GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(started.wait());
  srv.stop();
  std::this_thread::sleep_for(50ms);
  release.open();
  auto res = c.read_response();
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "data: a\n\ndata: b\n\n");
  EXPECT_TRUE(c.closed_within(2s));
  EXPECT_TRUE(srv.wait_done(5s));
}

TEST(ServerTest, ShutdownTimeoutClosesStuckConnections) {
  ServerOptions o;
  o.shutdown_timeout = 200ms;
  Gate release;
  std::promise<bool> write_result;
  RunningServer srv(o, [&](Request&) {
    Response r;
    r.stream = [&](ChunkWriter& w) {
      w.write("x");
      release.wait();
      write_result.set_value(w.write("y"));
    };
    return r;
  });
  Client c(srv.port());
  c.send("GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
  c.read_until("\r\n1\r\nx\r\n");
  srv.stop();
  EXPECT_TRUE(c.closed_within(3s));
  release.open();
  EXPECT_FALSE(write_result.get_future().get());
  EXPECT_TRUE(srv.wait_done(5s));
}

TEST(ServerTest, ExpectContinueIsAnswered) {
  RunningServer srv({}, echo);
  Client c(srv.port());
  c.send("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  std::string interim = c.read_until("\r\n\r\n");
  EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n", 0), 0u);
  c.send("hello");
  auto res = c.read_response();
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(boost::json::parse(res.body()).at("body").as_string(), "hello");
}

TEST(ServerTest, ConcurrentClientsOnSeveralIoThreads) {
  ServerOptions o;
  o.io_threads = 2;
  RunningServer srv(o, echo);
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      Client c(srv.port());
      for (int i = 0; i < 20; ++i) {
        const std::string path = "/c" + std::to_string(t) + "/" + std::to_string(i);
        c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
        auto res = c.read_response();
        if (res.result_int() == 200u && boost::json::parse(res.body()).at("path").as_string() == path) ++ok;
      }
    });
  }
  for (auto& th : clients) th.join();
  EXPECT_EQ(ok.load(), 8 * 20);
}

TEST(ServerTest, ListenFailsOnABusyPort) {
  RunningServer first({}, echo);
  ServerOptions o;
  o.port = first.port();
  Server second(o, echo);
  Status st = second.listen();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace agentd::http
