// Placeholder until the org command lands; replaced by its owner.
#include <CLI/CLI.hpp>

#include "app/commands.h"

namespace agentd::app {
void register_org(CLI::App& app) { app.add_subcommand("org", "(not built yet)"); }
}  // namespace agentd::app
