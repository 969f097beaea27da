#include "http/server.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <cctype>
#include <cstdio>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "http/error_body.h"

namespace agentd::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxRequestIdLength = 128;
// After an error response the unread rest of the request is read and dropped
// for at most this long, so closing does not reset the connection before the
// client has read the response.
constexpr std::chrono::milliseconds kDrainTime{1000};
constexpr uint64_t kMaxDrainBytes = 64ull << 20;

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':' ||
              c == '+' || c == '=' || c == '/';
    if (!ok) return false;
  }
  return true;
}

// Header values from handlers may echo client input: never let them split a
// header line.
std::string header_safe(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v)
    if (c != '\r' && c != '\n' && c != '\0') out.push_back(c);
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

class Server::Impl {
 public:
  class Session;

  Impl(ServerOptions options, Handler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        ioc_(std::max(1, options_.io_threads)),
        workers_(static_cast<size_t>(std::max(1, options_.worker_threads))),
        control_(net::make_strand(ioc_)),
        acceptor_(control_),
        signals_(control_),
        shutdown_timer_(control_) {
    auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    access_log_ = std::make_shared<spdlog::logger>("access", sink);
    access_log_->set_pattern("%v");
    access_log_->flush_on(spdlog::level::info);
  }

  ~Impl() {
    workers_.join();
    destroying_ = true;
  }

  Status listen();
  Status run();
  void stop();
  uint16_t port() const { return port_.load(); }

  // Session registry, so stop() can reach idle connections.
  void add_session(uint64_t id, std::weak_ptr<Session> s);
  void remove_session(uint64_t id);

  void log_access(const std::string& method, const std::string& path, int status, SteadyClock::time_point start,
                  const std::string& org, const std::string& request_id, const std::string& remote);

  const ServerOptions options_;
  const Handler handler_;
  // Declared before ioc_: sessions destroyed with the io_context's pending
  // handlers unregister themselves here.
  std::mutex sessions_mu_;
  std::unordered_map<uint64_t, std::weak_ptr<Session>> sessions_;  // guarded by sessions_mu_
  std::atomic<bool> destroying_{false};
  std::shared_ptr<spdlog::logger> access_log_;
  net::io_context ioc_;
  net::thread_pool workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint32_t> pending_{0};

 private:
  void do_accept();
  void on_stop();

  // The listener, the signals and the shutdown timer live on one strand, so
  // stop() never races the accept loop when there are several I/O threads.
  net::strand<net::io_context::executor_type> control_;
  tcp::acceptor acceptor_;
  net::signal_set signals_;
  net::steady_timer shutdown_timer_;
  std::atomic<uint16_t> port_{0};
  bool listening_ = false;
  std::atomic<bool> stop_requested_{false};

  uint64_t next_session_id_ = 1;                                   // accept strand only
};

// One connection. Lives in shared_ptrs held by its pending I/O operations and
// by the worker job of the request in flight. All members are touched on the
// session's strand, except where a comment says otherwise.
class Server::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, uint64_t id, tcp::socket socket)
      : server_(server), id_(id), stream_(std::move(socket)), read_timer_(stream_.get_executor()) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  ~Session() { server_.remove_session(id_); }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->wait_request(); });
  }

  // From stop(): close now if waiting for a request, else finish the one in
  // flight and close after its response.
  void on_stop() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->phase_ == Phase::kIdle) {
        beast::error_code ec;
        self->stream_.socket().cancel(ec);
      }
    });
  }

  // After shutdown_timeout: close whatever is still open.
  void force_close() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.socket().close(ec);
    });
  }

 private:
  enum class Phase { kIdle, kReading, kHandling, kClosing };

  class StreamWriter;

  void wait_request() {
    if (server_.stopping_.load()) return close();
    parser_.emplace();
    parser_->header_limit(server_.options_.header_limit_bytes);
    parser_->body_limit(server_.options_.max_body_bytes);
    method_.clear();
    path_.clear();
    request_id_.clear();
    org_.clear();
    status_ = 0;
    if (buffer_.size() > 0) {  // a pipelined request is already here
      phase_ = Phase::kReading;
      start_ = SteadyClock::now();
      return read_header();
    }
    phase_ = Phase::kIdle;
    stream_.expires_after(server_.options_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->on_first_bytes(ec, n);
                            });
  }

  void on_first_bytes(beast::error_code ec, size_t n) {
    if (ec) return close();  // idle timeout, client closed, or stop()
    buffer_.commit(n);
    phase_ = Phase::kReading;
    start_ = SteadyClock::now();
    read_header();
  }

  // Reads run under read_timer_ rather than the stream's own expiry, which
  // would close the socket and leave no way to answer 408.
  void arm_read_timer(std::chrono::milliseconds timeout) {
    stream_.expires_never();
    read_timed_out_ = false;
    const uint64_t generation = ++read_generation_;
    read_timer_.expires_after(timeout);
    read_timer_.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
      // Cancelled, or expired just as its read finished: nothing to do.
      if (ec || generation != self->read_generation_) return;
      self->read_timed_out_ = true;
      beast::error_code ignored;
      self->stream_.socket().cancel(ignored);
    });
  }

  void read_header() {
    arm_read_timer(server_.options_.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    read_timer_.cancel();
    ++read_generation_;
    if (ec) return on_read_error(ec);
    const auto& req = parser_->get();
    method_ = std::string(req.method_string());
    if (req.version() != 10 && req.version() != 11)
      return send_error(505, "only HTTP/1.0 and HTTP/1.1 are served");
    if (parser_->is_done()) return on_body({});
    auto expect = req[bhttp::field::expect];
    if (!expect.empty()) {
      if (!beast::iequals(expect, "100-continue")) return send_error(417, "unsupported Expect");
      if (req.version() == 11) {
        static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        stream_.expires_after(server_.options_.write_timeout);
        net::async_write(stream_, net::buffer(kContinue),
                         [self = shared_from_this()](beast::error_code wec, size_t) {
                           if (wec) return self->close();
                           self->read_body();
                         });
        return;
      }
    }
    read_body();
  }

  void read_body() {
    arm_read_timer(server_.options_.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_read_error(beast::error_code ec) {
    if (read_timed_out_) return send_error(408, "request not received in time");
    if (ec == bhttp::error::header_limit) return send_error(431, "request headers too large");
    if (ec == bhttp::error::body_limit)
      return send_error(413, "request body larger than " + std::to_string(server_.options_.max_body_bytes) +
                                 " bytes");
    if (ec == beast::error::timeout) return send_error(408, "request not received in time");
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == net::error::eof ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::broken_pipe)
      return close();
    send_error(400, "malformed request: " + ec.message());
  }

  void on_body(beast::error_code ec) {
    read_timer_.cancel();
    ++read_generation_;
    if (ec) return on_read_error(ec);
    auto& msg = parser_->get();

    Request req;
    req.method = method_;
    req.target = std::string(msg.target());
    boost::urls::url_view url;
    if (auto r = boost::urls::parse_origin_form(msg.target())) {
      url = *r;
    } else if (auto a = boost::urls::parse_absolute_uri(msg.target())) {
      url = *a;
    } else {
      return send_error(400, "malformed request target");
    }
    req.path = url.path();
    if (req.path.empty()) req.path = "/";
    path_ = req.path;
    boost::urls::encoding_opts form;
    form.space_as_plus = true;
    for (auto p : url.params(form)) req.query.emplace(p.key, p.value);
    for (const auto& f : msg) req.headers.emplace(lower(f.name_string()), std::string(f.value()));
    auto rid = msg["x-request-id"];
    req.request_id = valid_request_id(rid) ? std::string(rid) : new_uuid();
    request_id_ = req.request_id;
    req.remote = remote_;
    req.body = std::move(msg.body());
    version_ = msg.version();
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == bhttp::verb::head;
    phase_ = Phase::kHandling;

    if (server_.pending_.fetch_add(1) >= server_.options_.max_pending) {
      server_.pending_.fetch_sub(1);
      return send_error(503, "server busy");
    }
    // The work guard keeps run() going while the handler runs.
    net::post(server_.workers_, [self = shared_from_this(), guard = net::make_work_guard(server_.ioc_),
                                 req = std::move(req)]() mutable {
      self->handle(req);
      self->server_.pending_.fetch_sub(1);
    });
  }

  // Worker thread.
  void handle(Request& req) {
    Response res;
    try {
      res = server_.handler_(req);
    } catch (const std::exception& e) {
      spdlog::error("handler for {} {} threw: {}", req.method, req.path, e.what());
      res = error_response(500, "internal error");
    } catch (...) {
      spdlog::error("handler for {} {} threw", req.method, req.path);
      res = error_response(500, "internal error");
    }
    if (res.stream && !head_) return stream_response(res);
    net::post(stream_.get_executor(),
              [self = shared_from_this(), res = std::move(res)]() mutable { self->write_response(std::move(res)); });
  }

  template <class Message>
  void fill_headers(Message& m, const Response& res) {
    m.set(bhttp::field::server, "agentd");
    m.set(bhttp::field::content_type, header_safe(res.content_type));
    m.set("X-Request-ID", request_id_);
    for (const auto& [name, value] : res.headers) {
      std::string n = header_safe(name);
      if (n.empty() || n.find(':') != std::string::npos) continue;
      m.insert(n, header_safe(value));
    }
  }

  static unsigned checked_status(int status) {
    return status >= 100 && status <= 999 ? static_cast<unsigned>(status) : 500u;
  }

  void write_response(Response res) {
    status_ = static_cast<int>(checked_status(res.status));
    org_ = res.log_org;
    keep_alive_ = keep_alive_ && !server_.stopping_.load();
    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>(bhttp::int_to_status(status_), version_);
    msg->result(static_cast<unsigned>(status_));
    fill_headers(*msg, res);
    const size_t length = res.body.size();
    if (!head_) msg->body() = std::move(res.body);
    msg->keep_alive(keep_alive_);
    msg->content_length(length);
    stream_.expires_after(server_.options_.write_timeout);
    bhttp::async_write(stream_, *msg, [self = shared_from_this(), msg](beast::error_code ec, size_t) {
      self->log();
      if (ec || !self->keep_alive_) return self->graceful_close();
      self->wait_request();
    });
  }

  // Worker thread: headers, then the handler's pieces, then the last chunk.
  void stream_response(Response& res);

  // Runs `start(done)` on the strand, where it begins an asynchronous write
  // that calls done(ok); blocks the calling worker until then.
  template <class Start>
  bool run_and_wait(Start start) {
    std::promise<bool> done;
    auto fut = done.get_future();
    net::post(stream_.get_executor(), [&start, &done] { start([&done](bool ok) { done.set_value(ok); }); });
    return fut.get();
  }

  void send_error(int status, const std::string& message) {
    status_ = status;
    phase_ = Phase::kClosing;
    // The fields parsed before the error, if any.
    if (request_id_.empty()) {
      std::string_view rid;
      if (parser_) rid = parser_->get()["x-request-id"];
      request_id_ = valid_request_id(rid) ? std::string(rid) : new_uuid();
    }
    if (path_.empty() && parser_) {
      std::string_view t = parser_->get().target();
      path_ = std::string(t.substr(0, std::min(t.find('?'), size_t{256})));
    }
    if (method_.empty() && parser_) method_ = std::string(parser_->get().method_string());
    Response res = error_response(status, message);
    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>(bhttp::int_to_status(status), 11);
    msg->result(static_cast<unsigned>(status));
    fill_headers(*msg, res);
    msg->body() = std::move(res.body);
    msg->keep_alive(false);
    msg->prepare_payload();
    stream_.expires_after(server_.options_.write_timeout);
    bhttp::async_write(stream_, *msg, [self = shared_from_this(), msg](beast::error_code ec, size_t) {
      self->log();
      if (ec) return self->close();
      self->graceful_close(kDrainTime);
    });
  }

  // Sends FIN, then reads and drops what the client still sends for a short
  // while, so it sees our response instead of a reset.
  void graceful_close(std::chrono::milliseconds linger = kDrainTime / 4) {
    phase_ = Phase::kClosing;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    drain_deadline_ = SteadyClock::now() + linger;
    drained_ = 0;
    drain();
  }

  void drain() {
    stream_.expires_at(drain_deadline_);
    stream_.async_read_some(net::buffer(drain_buf_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kMaxDrainBytes) return self->close();
      self->drain();
    });
  }

  void close() {
    phase_ = Phase::kClosing;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  void log() {
    if (method_.empty() && path_.empty() && status_ == 0) return;
    server_.log_access(method_, path_, status_, start_, org_, request_id_, remote_);
    org_.clear();
  }

  Impl& server_;
  const uint64_t id_;
  beast::tcp_stream stream_;
  net::steady_timer read_timer_;
  bool read_timed_out_ = false;
  uint64_t read_generation_ = 0;  // invalidates a timer that fired as its read ended
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string remote_;
  Phase phase_ = Phase::kIdle;
  // The request in flight; written on the strand before the worker job is
  // posted and read by it (the post orders the accesses).
  std::string method_, path_, request_id_, org_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  int status_ = 0;
  SteadyClock::time_point start_ = SteadyClock::now();
  SteadyClock::time_point drain_deadline_;
  uint64_t drained_ = 0;
  char drain_buf_[8192];
};

// Hands pieces of a streamed body to the session's strand, one at a time.
class Server::Impl::Session::StreamWriter final : public ChunkWriter {
 public:
  StreamWriter(Session& s, bool chunked) : s_(s), chunked_(chunked) {}

  bool write(std::string_view data) override {
    if (failed_) return false;
    if (data.empty()) return true;  // an empty chunk would end the body
    std::string piece;
    if (chunked_) {
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", data.size());
      piece.reserve(data.size() + 16);
      piece.append(size).append(data).append("\r\n");
    } else {
      piece.assign(data);
    }
    return send(piece);
  }

  // The terminating chunk (chunked only).
  bool finish() {
    if (failed_) return false;
    if (!chunked_) return true;
    return send("0\r\n\r\n");
  }

  bool failed() const { return failed_; }

 private:
  bool send(const std::string& bytes) {
    bool ok = s_.run_and_wait([this, &bytes](auto done) {
      s_.stream_.expires_after(s_.server_.options_.write_timeout);
      net::async_write(s_.stream_, net::buffer(bytes),
                       [done, self = s_.shared_from_this()](beast::error_code ec, size_t) { done(!ec); });
    });
    if (!ok) failed_ = true;
    return ok;
  }

  Session& s_;
  const bool chunked_;
  bool failed_ = false;
};

void Server::Impl::Session::stream_response(Response& res) {
  // HTTP/1.0 has no chunked encoding: the body ends when the connection does.
  const bool chunked = version_ == 11;
  auto header = std::make_shared<bhttp::response<bhttp::empty_body>>(
      bhttp::int_to_status(checked_status(res.status)), version_);
  header->result(checked_status(res.status));
  fill_headers(*header, res);
  header->set(bhttp::field::cache_control, "no-cache");
  // stop() may come later; the session then closes after the last chunk.
  const bool keep_alive = chunked && keep_alive_ && !server_.stopping_.load();
  header->keep_alive(keep_alive);
  if (chunked) header->chunked(true);
  auto serializer = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*header);

  StreamWriter writer(*this, chunked);
  bool ok = run_and_wait([this, header, serializer](auto done) {
    stream_.expires_after(server_.options_.write_timeout);
    bhttp::async_write_header(
        stream_, *serializer,
        [done, self = shared_from_this(), header, serializer](beast::error_code ec, size_t) { done(!ec); });
  });
  if (ok) {
    try {
      res.stream(writer);
    } catch (const std::exception& e) {
      spdlog::error("stream for {} threw: {}", path_, e.what());
      ok = false;
    } catch (...) {
      spdlog::error("stream for {} threw", path_);
      ok = false;
    }
  }
  // A stream that threw ends without its last chunk, so the client sees an
  // incomplete body rather than a complete wrong one.
  if (ok && !writer.failed()) ok = writer.finish();
  net::post(stream_.get_executor(), [self = shared_from_this(), ok, keep_alive, status = res.status,
                                     org = res.log_org] {
    self->status_ = static_cast<int>(checked_status(status));
    self->org_ = org;
    self->log();
    if (!ok || !keep_alive || self->server_.stopping_.load()) return self->graceful_close();
    self->wait_request();
  });
}

Status Server::Impl::listen() {
  if (listening_) return Status::ok();
  beast::error_code ec;
  auto addr = net::ip::make_address(options_.host, ec);
  if (ec) {
    // A host name: resolve it.
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(options_.host, std::to_string(options_.port), ec);
    if (ec || results.empty()) return Status::invalid_argument("cannot resolve listen host '" + options_.host + "'");
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, options_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.close();
    return Status::unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) + ": " +
                               ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  listening_ = true;
  // Installed now, not in run(): a signal that comes in between is kept
  // until run() waits for it.
  if (options_.handle_signals) {
    signals_.add(SIGINT, ec);
    if (!ec) signals_.add(SIGTERM, ec);
    if (ec) return Status::internal("cannot install signal handlers: " + ec.message());
  }
  return Status::ok();
}

void Server::Impl::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [self = this](beast::error_code ec, tcp::socket s) {
    if (self->stopping_.load() || ec == net::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors and the like: try again shortly rather than spin.
      spdlog::warn("accept failed: {}", ec.message());
      auto timer = std::make_shared<net::steady_timer>(self->control_, std::chrono::milliseconds(50));
      timer->async_wait([self, timer](beast::error_code) {
        if (!self->stopping_.load()) self->do_accept();
      });
      return;
    }
    beast::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    uint64_t id = self->next_session_id_++;
    auto session = std::make_shared<Session>(*self, id, std::move(s));
    self->add_session(id, session);
    session->start();
    self->do_accept();
  });
}

Status Server::Impl::run() {
  AGENTD_RETURN_IF_ERROR(listen());
  // stop() before run(): nothing to serve.
  if (stop_requested_.load()) return Status::ok();
  if (options_.handle_signals) {
    signals_.async_wait([self = this](beast::error_code ec, int sig) {
      if (ec) return;
      spdlog::info("signal {}: finishing in-flight requests", sig);
      self->stop();
    });
  }
  do_accept();
  std::vector<std::thread> extra;
  for (int i = 1; i < options_.io_threads; ++i) extra.emplace_back([this] { ioc_.run(); });
  ioc_.run();
  for (auto& t : extra) t.join();
  workers_.join();
  return Status::ok();
}

void Server::Impl::stop() {
  if (stop_requested_.exchange(true)) return;
  net::post(control_, [this] { on_stop(); });
}

void Server::Impl::on_stop() {
  stopping_ = true;
  beast::error_code ec;
  acceptor_.close(ec);
  signals_.cancel(ec);
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    for (auto& [id, weak] : sessions_)
      if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  if (live.empty()) return;
  for (auto& s : live) s->on_stop();
  shutdown_timer_.expires_after(options_.shutdown_timeout);
  shutdown_timer_.async_wait([self = this](beast::error_code tec) {
    if (tec) return;  // cancelled: every session ended in time
    std::vector<std::shared_ptr<Session>> rest;
    {
      std::lock_guard<std::mutex> lock(self->sessions_mu_);
      for (auto& [id, weak] : self->sessions_)
        if (auto s = weak.lock()) rest.push_back(std::move(s));
    }
    if (!rest.empty()) spdlog::warn("shutdown timeout: closing {} connection(s)", rest.size());
    for (auto& s : rest) s->force_close();
  });
}

void Server::Impl::add_session(uint64_t id, std::weak_ptr<Session> s) {
  std::lock_guard<std::mutex> lock(sessions_mu_);
  sessions_.emplace(id, std::move(s));
}

void Server::Impl::remove_session(uint64_t id) {
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_.erase(id);
    last = sessions_.empty();
  }
  // The shutdown timer would hold run() for the whole timeout.
  if (last && stopping_.load() && !destroying_.load()) net::post(control_, [this] { shutdown_timer_.cancel(); });
}

void Server::Impl::log_access(const std::string& method, const std::string& path, int status,
                              SteadyClock::time_point start, const std::string& org,
                              const std::string& request_id, const std::string& remote) {
  if (!options_.access_log) return;
  const double latency_ms =
      std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
  const double rounded = static_cast<double>(static_cast<int64_t>(latency_ms * 1000.0)) / 1000.0;
  // JSON-quoted, so a decoded path with a newline cannot forge a log line.
  auto q = [](std::string_view v) { return boost::json::serialize(boost::json::value(boost::json::string_view(v))); };
  if (options_.log_format == "text") {
    access_log_->info("{} {} {} {} {:.3f}ms org={} request_id={}", remote, method, q(path), status, rounded, q(org),
                      request_id);
    return;
  }
  access_log_->info(
      "{{\"ts\":{},\"method\":{},\"path\":{},\"status\":{},\"latency_ms\":{:.3f},\"org\":{},\"request_id\":{},"
      "\"remote\":{}}}",
      q(format_iso8601(SystemClock::instance().now_ms())), q(method), q(path), status, rounded, q(org), q(request_id),
      q(remote));
}

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::Server(ServerOptions options, const Router& router)
    : Server(std::move(options), Handler([&router](Request& req) { return router.dispatch(req); })) {}

Server::~Server() = default;

Status Server::listen() { return impl_->listen(); }
uint16_t Server::port() const { return impl_->port(); }
Status Server::run() { return impl_->run(); }
void Server::stop() { impl_->stop(); }

}  // namespace agentd::http
