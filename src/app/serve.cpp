// `agentd serve --config FILE [--listen HOST:PORT] [--db URL]`: loads the
// configuration, checks the model files, binds, opens the store, builds the
// core and every dialect's routes, and serves until SIGTERM or SIGINT, when
// in-flight requests finish and the process exits 0. Start-up errors go to
// stderr and exit 1.

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "api/api.h"
#include "app/commands.h"
#include "app/config.h"
#include "common/metrics.h"
#include "core/core_host.h"
#include "http/error_body.h"
#include "http/router.h"
#include "http/server.h"
#include "model/registry.h"

namespace agentd::app {
namespace {

struct ServeArgs {
  std::string config;
  std::string listen;
  std::string db;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "agentd: %s\n", message.c_str());
  return 1;
}

std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0 + 0.5));
}

http::ServerOptions server_options(const ServerConfig& s) {
  http::ServerOptions o;
  o.host = s.host;
  o.port = s.port;
  o.max_body_bytes = s.max_body_bytes;
  o.header_limit_bytes = s.header_limit_bytes;
  o.idle_timeout = seconds_to_ms(s.idle_timeout_s);
  o.header_timeout = seconds_to_ms(s.header_timeout_s);
  o.body_timeout = seconds_to_ms(s.request_timeout_s);
  o.write_timeout = seconds_to_ms(s.write_timeout_s);
  o.shutdown_timeout = seconds_to_ms(s.shutdown_timeout_s);
  o.io_threads = s.io_threads;
  o.worker_threads = s.threads;
  o.max_pending = s.max_pending;
  o.access_log = s.access_log;
  o.log_format = s.log_format;
  o.handle_signals = true;
  return o;
}

// "http://HOST:PORT" as a client would reach it; a wildcard address becomes
// the loopback one.
std::string url_for(const std::string& host, uint16_t port) {
  std::string h = host;
  if (h == "0.0.0.0") h = "127.0.0.1";
  if (h == "::") h = "::1";
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return "http://" + h + ":" + std::to_string(port);
}

void add_health_routes(http::Router& router, store::Store& store) {
  router.add("GET", "/healthz", [](http::Request&) { return http::Response::json(200, "{\"status\":\"ok\"}"); });
  router.add("GET", "/readyz", [&store](http::Request&) {
    Status st = store.ping();
    if (!st.is_ok()) return http::error_response(503, "store unreachable: " + st.message());
    return http::Response::json(200, "{\"status\":\"ready\",\"store\":\"" + store.kind() + "\"}");
  });
}

int serve(const ServeArgs& args) {
  Config config;
  if (args.config.empty()) {
    config = default_config();
  } else {
    auto loaded = load_config(args.config);
    if (!loaded.is_ok()) return fail(loaded.status().message());
    config = std::move(loaded).value();
  }
  if (!args.listen.empty()) {
    Status st = set_listen(config.server, args.listen);
    if (!st.is_ok()) return fail("--listen: " + st.message());
  }
  if (!args.db.empty()) {
    // Relative to where the command runs, as command-line paths are.
    auto url = resolve_storage_url(args.db, default_config().dir);
    if (!url.is_ok()) return fail("--db: " + url.status().message());
    config.storage_url = *url;
  }
  if (Status st = check_model_files(config); !st.is_ok()) return fail(st.message());

  spdlog::set_level(spdlog::level::from_str(config.server.log_level));

  http::Router router;
  http::Server server(server_options(config.server), router);
  if (Status st = server.listen(); !st.is_ok()) return fail(st.message());

  core::CoreOptions core_options;
  core_options.public_base_url =
      config.server.public_url.empty() ? url_for(config.server.host, server.port()) : config.server.public_url;
  core_options.admin_org = config.server.admin_org;
  // The backends outlive the Core that borrows them (declared first).
  const model::ModelCatalog backend_catalog(config.models);
  std::vector<std::string> model_warnings;  // logged after the listening line
  auto backends = model::make_backend_registry(backend_catalog, &model_warnings);
  if (!backends.is_ok()) return fail("models: " + backends.status().message());
  auto host = core::CoreHost::open(config.storage_url, config.models, core_options, backends->get());
  if (!host.is_ok()) return fail("storage: " + host.status().message());
  std::unique_ptr<core::CoreHost> core_host = std::move(host).value();
  if (Status st = core_host->core().jobs().start(); !st.is_ok()) return fail("jobs: " + st.message());

  add_health_routes(router, core_host->store());
  MetricsRegistry& metrics = core_host->core().metrics();
  // The backends count into the Core's registry, which goes first at exit.
  model::set_backend_metrics(**backends, backend_catalog, &metrics);
  struct DetachMetrics {
    model::BackendRegistry& registry;
    const model::ModelCatalog& catalog;
    ~DetachMetrics() { model::set_backend_metrics(registry, catalog, nullptr); }
  } detach_metrics{**backends, backend_catalog};
  router.observer = [&metrics](const http::Request& req, const http::Response& res, double seconds) {
    metrics.record_http_request(req.route.empty() ? "unmatched" : req.route, req.method, res.status, seconds);
  };
  api::register_routes(router, core_host->core());

  std::printf("agentd listening on %s\n", url_for(config.server.host, server.port()).c_str());
  std::fflush(stdout);
  spdlog::info("storage: {}, models: {}", core_host->store().kind(), config.models.size());
  for (const std::string& w : model_warnings) spdlog::warn("{}", w);

  if (Status st = server.run(); !st.is_ok()) return fail(st.message());
  spdlog::info("agentd stopped");
  return 0;
}

}  // namespace

void register_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the HTTP server");
  cmd->add_option("--config", args->config, "Configuration file (TOML)");
  cmd->add_option("--listen", args->listen, "HOST:PORT to listen on (overrides [server] listen)");
  cmd->add_option("--db", args->db, "Storage URL (overrides [storage] url)");
  cmd->callback([args] { exit_code() = serve(*args); });
}

}  // namespace agentd::app
