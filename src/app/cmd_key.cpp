// Placeholder until the key command lands; replaced by its owner.
#include <CLI/CLI.hpp>

#include "app/commands.h"

namespace agentd::app {
void register_key(CLI::App& app) { app.add_subcommand("key", "(not built yet)"); }
}  // namespace agentd::app
