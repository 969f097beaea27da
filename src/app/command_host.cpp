#include "app/command_host.h"

#include <cstdio>

#include "app/commands.h"
#include "app/config.h"

namespace agentd::app {

void fail(const Status& s) {
  std::fprintf(stderr, "agentd: %s\n", s.to_string().c_str());
  exit_code() = 1;
}

std::unique_ptr<core::CoreHost> open_host(const std::string& config_path) {
  auto cfg = load_config(config_path);
  if (!cfg.is_ok()) {
    fail(cfg.status());
    return nullptr;
  }
  auto host = core::CoreHost::open(cfg->storage_url, cfg->models, core::CoreOptions{});
  if (!host.is_ok()) {
    fail(host.status());
    return nullptr;
  }
  return std::move(host).value();
}

}  // namespace agentd::app
