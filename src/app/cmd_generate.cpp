// Placeholder until the generate command lands; replaced by its owner.
#include <CLI/CLI.hpp>

#include "app/commands.h"

namespace agentd::app {
void register_generate(CLI::App& app) { app.add_subcommand("generate", "(not built yet)"); }
}  // namespace agentd::app
