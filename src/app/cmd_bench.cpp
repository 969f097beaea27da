// Placeholder until the command lands; replaced by its owner.
#include <CLI/CLI.hpp>

#include "app/commands.h"

namespace agentd::app {
void register_bench(CLI::App& app) { app.add_subcommand("bench", "(not built yet)"); }
}  // namespace agentd::app
