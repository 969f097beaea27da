// Placeholder until the serve command lands; replaced by its owner.
#include <CLI/CLI.hpp>

#include "app/commands.h"

namespace agentd::app {
void register_serve(CLI::App& app) { app.add_subcommand("serve", "(not built yet)"); }
}  // namespace agentd::app
