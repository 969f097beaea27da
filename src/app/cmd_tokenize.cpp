// Placeholder until the tokenize command lands; replaced by its owner.
#include <CLI/CLI.hpp>

#include "app/commands.h"

namespace agentd::app {
void register_tokenize(CLI::App& app) { app.add_subcommand("tokenize", "(not built yet)"); }
}  // namespace agentd::app
