// Placeholder until the command lands; replaced by its owner.
#include <CLI/CLI.hpp>

#include "app/commands.h"

namespace agentd::app {
void register_make_model(CLI::App& app) { app.add_subcommand("make-model", "(not built yet)"); }
}  // namespace agentd::app
