#pragma once
// agentd's configuration file (TOML). Keys, with their defaults:
//
//   [server]
//   listen = "127.0.0.1:8080"     # HOST:PORT ("[::1]:8080" for IPv6); --listen overrides
//   max_body_bytes = 1048576      # larger request bodies get 413
//   header_limit_bytes = 16384    # request line + headers; larger get 431
//   public_url = ""               # base of URLs handed out; "" = "http://" + listen
//   idle_timeout_s = 60           # keep-alive: wait for a request's first byte
//   header_timeout_s = 10         # first byte to end of headers (slow clients cut off)
//   request_timeout_s = 60        # reading the request body
//   write_timeout_s = 60          # each write to a client
//   shutdown_timeout_s = 30       # SIGTERM/SIGINT: time given to in-flight requests
//   threads = 16                  # request workers (handlers block on store and inference)
//   io_threads = 1                # socket I/O threads
//   max_pending = 1024            # requests waiting for or on workers; more get 503
//   log_format = "json"           # access log lines: "json" or "text"
//   log_level = "info"            # trace, debug, info, warn, error, off
//   access_log = true             # one line per request on stdout
//   admin_org = ""                # organization whose admin keys manage every organization
//
//   [storage]
//   url = "sqlite://agentd.db"    # sqlite:///abs.db, sqlite://rel.db, sqlite::memory:,
//                                 # postgresql://user[:pass]@host:port/dbname; --db overrides
//
//   [[models]]                    # any number; see model::ModelSpec
//   id = "tiny-q8"                # required, unique; what agents name as their model
//   name = "Tiny Random Q8_0"     # display name; default: id
//   backend = "local"             # "local" (GGUF file) or "openai" (upstream provider)
//   path = "models/x.gguf"        # local: required
//   base_url = ""                 # openai: required, http(s)://host:port/v1
//   api_key_env = ""              # openai: environment variable holding the key
//   upstream_model = ""           # openai: model name sent upstream; default: id
//   context = 2048                # tokens
//   price_input_per_mtok = 0.0    # USD per million input tokens
//   price_output_per_mtok = 0.0   # USD per million output tokens
//   threads = 0                   # local: engine threads; 0 = all cores
//   queue_depth = 64              # local: requests waiting for the engine; more get 503
//   parallel = 8                  # local: sequences decoded together (one batched step)
//   cache_bytes = 268435456       # local: KV caches kept between a session's turns (LRU)
//   connect_timeout_s = 5         # openai: connecting to the provider
//   timeout_s = 120               # openai: a whole request, streaming included
//   max_retries = 2               # openai: retries on connection errors, 429 and 5xx
//
// Relative paths (model paths, sqlite://relative.db) are relative to the
// folder of the config file. Unknown keys and bad values are errors that name
// the key: "models[0].contex: unknown key".
//
// Pure functions over values; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/catalog.h"

namespace agentd::app {

// A local model's `parallel` when the file does not set it.
inline constexpr int kDefaultParallel = 8;

struct ServerConfig {
  std::string host = "127.0.0.1";  // from `listen`
  uint16_t port = 8080;            // from `listen`; 0 = any free port
  uint64_t max_body_bytes = 1048576;
  uint32_t header_limit_bytes = 16384;
  std::string public_url;  // no trailing slash; "" = derived from the bound address
  double idle_timeout_s = 60;
  double header_timeout_s = 10;
  double request_timeout_s = 60;
  double write_timeout_s = 60;
  double shutdown_timeout_s = 30;
  int threads = 16;
  int io_threads = 1;
  uint32_t max_pending = 1024;
  std::string log_format = "json";
  std::string log_level = "info";
  bool access_log = true;
  std::string admin_org;  // core::CoreOptions::admin_org
};

struct Config {
  std::string file;  // absolute path of the config file ("" when none)
  std::string dir;   // its folder: base of relative paths
  ServerConfig server;
  std::string storage_url;
  std::vector<model::ModelSpec> models;
};

// Reads and validates FILE. Does not open model files (see check_model_files).
StatusOr<Config> load_config(const std::string& file);
// Parses TOML text; relative paths resolve against base_dir.
StatusOr<Config> parse_config(std::string_view toml_text, const std::string& base_dir);
// Defaults only (no file): storage in ./agentd.db, no models.
Config default_config();

// "HOST:PORT" or "[V6]:PORT" into server.host/port (for --listen).
Status set_listen(ServerConfig& server, std::string_view host_port);
// A storage URL with a relative sqlite path made absolute against base_dir;
// kInvalidArgument for an unknown scheme.
StatusOr<std::string> resolve_storage_url(std::string_view url, const std::string& base_dir);

// Every local model's file opens and starts with the GGUF magic; the error
// names the key and the path.
Status check_model_files(const Config& config);

}  // namespace agentd::app
