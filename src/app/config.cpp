#include "app/config.h"

#include <toml++/toml.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace agentd::app {
namespace {

namespace fs = std::filesystem;

Status bad(const std::string& key, const std::string& what) { return Status::invalid_argument(key + ": " + what); }

std::string join(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

std::string resolve_path(const std::string& path, const std::string& base_dir) {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

// Typed readers: each names the key in its error.
Status read_string(const toml::node& v, const std::string& key, std::string& out) {
  if (!v.is_string()) return bad(key, "expected a string");
  out = v.as_string()->get();
  return Status::ok();
}

Status read_bool(const toml::node& v, const std::string& key, bool& out) {
  if (!v.is_boolean()) return bad(key, "expected true or false");
  out = v.as_boolean()->get();
  return Status::ok();
}

template <typename Int>
Status read_int(const toml::node& v, const std::string& key, int64_t lo, int64_t hi, Int& out) {
  if (!v.is_integer()) return bad(key, "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  int64_t x = v.as_integer()->get();
  if (x < lo || x > hi) return bad(key, "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
  out = static_cast<Int>(x);
  return Status::ok();
}

// An integer or a float.
Status read_number(const toml::node& v, const std::string& key, double lo, double hi, bool lo_exclusive,
                   double& out) {
  double x;
  if (v.is_integer()) {
    x = static_cast<double>(v.as_integer()->get());
  } else if (v.is_floating_point()) {
    x = v.as_floating_point()->get();
  } else {
    return bad(key, "expected a number");
  }
  if (!std::isfinite(x) || x > hi || (lo_exclusive ? x <= lo : x < lo)) {
    std::ostringstream m;
    m << "must be " << (lo_exclusive ? "greater than " : "at least ") << lo << " and at most " << hi;
    return bad(key, m.str());
  }
  out = x;
  return Status::ok();
}

Status read_timeout(const toml::node& v, const std::string& key, double& out) {
  return read_number(v, key, 0.0, 86400.0, true, out);
}

Status parse_server(const toml::table& t, ServerConfig& s) {
  for (auto&& [k, v] : t) {
    const std::string name(k.str());
    const std::string key = "server." + name;
    if (name == "listen") {
      std::string listen;
      AGENTD_RETURN_IF_ERROR(read_string(v, key, listen));
      Status st = set_listen(s, listen);
      if (!st.is_ok()) return bad(key, st.message());
    } else if (name == "max_body_bytes") {
      AGENTD_RETURN_IF_ERROR(read_int(v, key, 1, int64_t{1} << 40, s.max_body_bytes));
    } else if (name == "header_limit_bytes") {
      AGENTD_RETURN_IF_ERROR(read_int(v, key, 1024, 1 << 20, s.header_limit_bytes));
    } else if (name == "public_url") {
      AGENTD_RETURN_IF_ERROR(read_string(v, key, s.public_url));
      if (!s.public_url.empty() && s.public_url.rfind("http://", 0) != 0 && s.public_url.rfind("https://", 0) != 0)
        return bad(key, "must start with http:// or https://");
      while (!s.public_url.empty() && s.public_url.back() == '/') s.public_url.pop_back();
    } else if (name == "idle_timeout_s") {
      AGENTD_RETURN_IF_ERROR(read_timeout(v, key, s.idle_timeout_s));
    } else if (name == "header_timeout_s") {
      AGENTD_RETURN_IF_ERROR(read_timeout(v, key, s.header_timeout_s));
    } else if (name == "request_timeout_s") {
      AGENTD_RETURN_IF_ERROR(read_timeout(v, key, s.request_timeout_s));
    } else if (name == "write_timeout_s") {
      AGENTD_RETURN_IF_ERROR(read_timeout(v, key, s.write_timeout_s));
    } else if (name == "shutdown_timeout_s") {
      AGENTD_RETURN_IF_ERROR(read_timeout(v, key, s.shutdown_timeout_s));
    } else if (name == "threads") {
      AGENTD_RETURN_IF_ERROR(read_int(v, key, 1, 1024, s.threads));
    } else if (name == "io_threads") {
      AGENTD_RETURN_IF_ERROR(read_int(v, key, 1, 64, s.io_threads));
    } else if (name == "max_pending") {
      AGENTD_RETURN_IF_ERROR(read_int(v, key, 1, 1000000, s.max_pending));
    } else if (name == "log_format") {
      AGENTD_RETURN_IF_ERROR(read_string(v, key, s.log_format));
      if (s.log_format != "json" && s.log_format != "text") return bad(key, "must be \"json\" or \"text\"");
    } else if (name == "log_level") {
      AGENTD_RETURN_IF_ERROR(read_string(v, key, s.log_level));
      static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "off"};
      if (!kLevels.count(s.log_level)) return bad(key, "must be one of trace, debug, info, warn, error, off");
    } else if (name == "access_log") {
      AGENTD_RETURN_IF_ERROR(read_bool(v, key, s.access_log));
    } else if (name == "admin_org") {
      AGENTD_RETURN_IF_ERROR(read_string(v, key, s.admin_org));
    } else {
      return bad(key, "unknown key");
    }
  }
  return Status::ok();
}

Status parse_storage(const toml::table& t, const std::string& base_dir, std::string& url) {
  for (auto&& [k, v] : t) {
    const std::string name(k.str());
    const std::string key = "storage." + name;
    if (name == "url") {
      std::string raw;
      AGENTD_RETURN_IF_ERROR(read_string(v, key, raw));
      auto resolved = resolve_storage_url(raw, base_dir);
      if (!resolved.is_ok()) return bad(key, resolved.status().message());
      url = *resolved;
    } else {
      return bad(key, "unknown key");
    }
  }
  return Status::ok();
}

Status parse_model(const toml::table& t, const std::string& prefix, const std::string& base_dir,
                   model::ModelSpec& m) {
  bool has_id = false, has_name = false, has_upstream = false;
  for (auto&& [k, v] : t) {
    const std::string name(k.str());
    const std::string key = join(prefix, name);
    if (name == "id") {
      AGENTD_RETURN_IF_ERROR(read_string(v, key, m.id));
      if (m.id.empty()) return bad(key, "must not be empty");
      has_id = true;
    } else if (name == "name") {
      AGENTD_RETURN_IF_ERROR(read_string(v, key, m.name));
      has_name = true;
    } else if (name == "backend") {
      AGENTD_RETURN_IF_ERROR(read_string(v, key, m.backend));
      if (m.backend != "local" && m.backend != "openai") return bad(key, "must be \"local\" or \"openai\"");
    } else if (name == "path") {
      AGENTD_RETURN_IF_ERROR(read_string(v, key, m.path));
      m.path = resolve_path(m.path, base_dir);
    } else if (name == "base_url") {
      AGENTD_RETURN_IF_ERROR(read_string(v, key, m.base_url));
      while (!m.base_url.empty() && m.base_url.back() == '/') m.base_url.pop_back();
      if (!m.base_url.empty() && m.base_url.rfind("http://", 0) != 0 && m.base_url.rfind("https://", 0) != 0)
        return bad(key, "must start with http:// or https://");
    } else if (name == "api_key_env") {
      AGENTD_RETURN_IF_ERROR(read_string(v, key, m.api_key_env));
    } else if (name == "upstream_model") {
      AGENTD_RETURN_IF_ERROR(read_string(v, key, m.upstream_model));
      has_upstream = !m.upstream_model.empty();
    } else if (name == "context") {
      AGENTD_RETURN_IF_ERROR(read_int(v, key, 1, 10000000, m.context));
    } else if (name == "price_input_per_mtok") {
      AGENTD_RETURN_IF_ERROR(read_number(v, key, 0.0, 1e6, false, m.price_input_per_mtok));
    } else if (name == "price_output_per_mtok") {
      AGENTD_RETURN_IF_ERROR(read_number(v, key, 0.0, 1e6, false, m.price_output_per_mtok));
    } else if (name == "threads") {
      AGENTD_RETURN_IF_ERROR(read_int(v, key, 0, 1024, m.threads));
    } else if (name == "queue_depth") {
      AGENTD_RETURN_IF_ERROR(read_int(v, key, 0, 1000000, m.queue_depth));
    } else if (name == "parallel") {
      AGENTD_RETURN_IF_ERROR(read_int(v, key, 1, 256, m.parallel));
    } else if (name == "cache_bytes") {
      AGENTD_RETURN_IF_ERROR(read_int(v, key, 0, int64_t{1} << 50, m.cache_bytes));
    } else if (name == "share_prefixes") {
      AGENTD_RETURN_IF_ERROR(read_bool(v, key, m.share_prefixes));
    } else if (name == "chat_template_file") {
      AGENTD_RETURN_IF_ERROR(read_string(v, key, m.chat_template_file));
      m.chat_template_file = resolve_path(m.chat_template_file, base_dir);
    } else if (name == "connect_timeout_s") {
      AGENTD_RETURN_IF_ERROR(read_timeout(v, key, m.connect_timeout_s));
    } else if (name == "timeout_s") {
      AGENTD_RETURN_IF_ERROR(read_timeout(v, key, m.timeout_s));
    } else if (name == "max_retries") {
      AGENTD_RETURN_IF_ERROR(read_int(v, key, 0, 100, m.max_retries));
    } else {
      return bad(key, "unknown key");
    }
  }
  if (!has_id) return bad(prefix + ".id", "missing");
  if (!has_name || m.name.empty()) m.name = m.id;
  if (m.backend == "local" && m.path.empty()) return bad(prefix + ".path", "missing (required for backend \"local\")");
  if (m.backend == "openai") {
    if (m.base_url.empty()) return bad(prefix + ".base_url", "missing (required for backend \"openai\")");
    if (!has_upstream) m.upstream_model = m.id;
  }
  return Status::ok();
}

}  // namespace

Config default_config() {
  Config c;
  std::error_code ec;
  c.dir = fs::current_path(ec).string();
  c.storage_url = "sqlite://" + resolve_path("agentd.db", c.dir);
  return c;
}

Status set_listen(ServerConfig& server, std::string_view host_port) {
  std::string_view host, port;
  if (!host_port.empty() && host_port.front() == '[') {
    size_t close = host_port.find(']');
    if (close == std::string_view::npos || close + 1 >= host_port.size() || host_port[close + 1] != ':')
      return Status::invalid_argument("expected [IPV6]:PORT, got '" + std::string(host_port) + "'");
    host = host_port.substr(1, close - 1);
    port = host_port.substr(close + 2);
  } else {
    size_t colon = host_port.rfind(':');
    if (colon == std::string_view::npos)
      return Status::invalid_argument("expected HOST:PORT, got '" + std::string(host_port) + "'");
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
  }
  if (host.empty()) return Status::invalid_argument("missing host in '" + std::string(host_port) + "'");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
    return Status::invalid_argument("bad port in '" + std::string(host_port) + "'");
  int p = std::stoi(std::string(port));
  if (p > 65535) return Status::invalid_argument("port out of range in '" + std::string(host_port) + "'");
  server.host = std::string(host);
  server.port = static_cast<uint16_t>(p);
  return Status::ok();
}

StatusOr<std::string> resolve_storage_url(std::string_view url, const std::string& base_dir) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return std::string(url);
  if (url == "sqlite::memory:") return std::string(url);
  if (url.rfind("sqlite://", 0) == 0) {
    std::string path(url.substr(9));
    if (path.empty()) return Status::invalid_argument("missing database path in '" + std::string(url) + "'");
    return "sqlite://" + resolve_path(path, base_dir);
  }
  return Status::invalid_argument("unsupported storage url '" + std::string(url) +
                                  "' (expected sqlite://PATH, sqlite::memory: or postgresql://...)");
}

StatusOr<Config> parse_config(std::string_view toml_text, const std::string& base_dir) {
  Config c = default_config();
  c.dir = base_dir;
  c.storage_url = "sqlite://" + resolve_path("agentd.db", base_dir);
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    std::ostringstream m;
    m << "line " << e.source().begin.line << ", column " << e.source().begin.column << ": " << e.description();
    return Status::invalid_argument(m.str());
  }
  for (auto&& [k, v] : root) {
    const std::string name(k.str());
    if (name == "server") {
      if (!v.is_table()) return bad(name, "expected a table [server]");
      AGENTD_RETURN_IF_ERROR(parse_server(*v.as_table(), c.server));
    } else if (name == "storage") {
      if (!v.is_table()) return bad(name, "expected a table [storage]");
      AGENTD_RETURN_IF_ERROR(parse_storage(*v.as_table(), base_dir, c.storage_url));
    } else if (name == "models") {
      if (!v.is_array()) return bad(name, "expected an array of tables [[models]]");
      const toml::array& arr = *v.as_array();
      for (size_t i = 0; i < arr.size(); ++i) {
        const std::string prefix = "models[" + std::to_string(i) + "]";
        if (!arr[i].is_table()) return bad(prefix, "expected a table");
        model::ModelSpec m;
        m.parallel = kDefaultParallel;
        AGENTD_RETURN_IF_ERROR(parse_model(*arr[i].as_table(), prefix, base_dir, m));
        for (const auto& other : c.models)
          if (other.id == m.id) return bad(prefix + ".id", "duplicate model id '" + m.id + "'");
        c.models.push_back(std::move(m));
      }
    } else {
      return bad(name, "unknown key");
    }
  }
  return c;
}

StatusOr<Config> load_config(const std::string& file) {
  std::error_code ec;
  fs::path p = fs::absolute(file, ec);
  if (ec) p = file;
  std::ifstream in(p, std::ios::binary);
  if (!in) return Status::not_found("cannot open config file " + p.string() + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::internal("cannot read config file " + p.string());
  auto c = parse_config(text.str(), p.parent_path().string());
  if (!c.is_ok()) return Status(c.status().code(), p.string() + ": " + c.status().message());
  c->file = p.string();
  return c;
}

Status check_model_files(const Config& config) {
  for (size_t i = 0; i < config.models.size(); ++i) {
    const model::ModelSpec& m = config.models[i];
    if (m.backend != "local") continue;
    const std::string key = "models[" + std::to_string(i) + "].path";
    std::error_code ec;
    if (fs::is_directory(m.path, ec)) return Status::invalid_argument(key + ": " + m.path + " is a directory");
    std::ifstream f(m.path, std::ios::binary);
    if (!f) return Status::not_found(key + ": cannot open model file " + m.path + ": " + std::strerror(errno));
    char magic[4] = {};
    f.read(magic, 4);
    if (f.gcount() != 4 || std::memcmp(magic, "GGUF", 4) != 0)
      return Status::invalid_argument(key + ": " + m.path + " is not a GGUF file");
  }
  return Status::ok();
}

}  // namespace agentd::app
