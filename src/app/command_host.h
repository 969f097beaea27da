#pragma once
// Shared by the commands that work on the store (org, key, agent): open the
// configured store and core, and report a failure as the command's result.

#include <memory>
#include <string>

#include "common/status.h"
#include "core/core_host.h"

namespace agentd::app {

// Prints "agentd: <status>" to stderr and sets the exit code to 1.
void fail(const Status& s);

// Loads the configuration at config_path and opens its store (migrated) and
// core; nullptr after fail() when either step fails.
std::unique_ptr<core::CoreHost> open_host(const std::string& config_path);

}  // namespace agentd::app
