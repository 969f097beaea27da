#pragma once
// The HTTP/1.0 and 1.1 server (Boost.Beast over Asio). Roles as in Beast's
// advanced server: a listener accepts connections, each connection is a
// session that reads one request at a time (keep-alive, pipelined requests
// are served in order). Reading and writing run on the I/O threads; the
// Handler runs on a separate worker pool because handlers block on the store
// and on inference. A streamed Response (Response::stream) is sent with
// chunked transfer encoding (HTTP/1.1; HTTP/1.0 gets the raw body and a
// close); each ChunkWriter::write() blocks its worker until the piece is
// written and returns false once the client is gone.
//
// Limits, each answered with the default error body (http/error_body.h) and
// a closed connection: headers over header_limit_bytes -> 431, a body (by
// Content-Length, or chunked as it grows) over max_body_bytes -> 413, a
// malformed request -> 400, headers or body not received in time -> 408,
// more than max_pending requests waiting for workers -> 503.
// Timeouts: idle_timeout waits for the first byte of a request (keep-alive),
// header_timeout runs from that byte to the end of the headers (so a client
// sending one byte a second is cut off), body_timeout covers reading the
// body, write_timeout each write to the client.
//
// Every response carries X-Request-ID: the client's when it is 1..128
// characters of [A-Za-z0-9._:+=/-], else a fresh uuid. One access-log line is
// written per request (method, path without query, status, latency_ms, org
// from Response::log_org, request_id, remote); headers are never logged.
//
// Thread-safety: listen() and run() from one thread; stop() from any thread,
// any number of times. stop() is graceful: the listener closes, idle
// connections close, requests in flight (streams included) finish and get
// "Connection: close", then run() returns; after shutdown_timeout the
// remaining connections are closed. The handler must stay valid until run()
// returns.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "http/message.h"
#include "http/router.h"

namespace agentd::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port, see Server::port()
  uint64_t max_body_bytes = 1048576;
  uint32_t header_limit_bytes = 16384;  // request line + all headers
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{60000};
  std::chrono::milliseconds write_timeout{60000};
  std::chrono::milliseconds shutdown_timeout{30000};
  int io_threads = 1;
  int worker_threads = 16;
  uint32_t max_pending = 1024;  // requests queued for or running on workers
  bool access_log = true;
  std::string log_format = "json";  // access log: "json" or "text"
  bool handle_signals = false;      // SIGINT/SIGTERM call stop()
};

class Server {
 public:
  // Borrows nothing: the handler is copied (it may borrow what it captures).
  Server(ServerOptions options, Handler handler);
  // Serves router.dispatch(); the router is borrowed and must outlive run().
  Server(ServerOptions options, const Router& router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; kUnavailable when the address cannot be bound.
  Status listen();
  // The bound port (after listen()).
  uint16_t port() const;
  // Serves until stop() and the in-flight requests are done. Calls listen()
  // first if it has not been called.
  Status run();
  // Graceful stop; thread-safe, idempotent, may be called before run().
  // With options.handle_signals, SIGINT and SIGTERM are caught from listen() on.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace agentd::http
