// Placeholder until the agent command lands; replaced by its owner.
#include <CLI/CLI.hpp>

#include "app/commands.h"

namespace agentd::app {
void register_agent(CLI::App& app) { app.add_subcommand("agent", "(not built yet)"); }
}  // namespace agentd::app
