// agentd: one binary, several sub-commands (serve, org, key, generate,
// tokenize, ...). Each lives in its own file and registers itself here.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "app/commands.h"
#include "engine/kernels/kernels.h"

namespace agentd::app {
int& exit_code() {
  static int code = 0;
  return code;
}
}  // namespace agentd::app

int main(int argc, char** argv) {
  using namespace agentd::app;
  if (const agentd::Status isa = agentd::engine::check_isa_environment(); !isa.is_ok()) {
    std::fprintf(stderr, "agentd: %s\n", isa.to_string().c_str());
    return 2;
  }
  CLI::App app{"agentd: host AI agents and run them over HTTP"};
  app.require_subcommand(1);
  register_serve(app);
  register_org(app);
  register_key(app);
  register_agent(app);
  register_generate(app);
  register_tokenize(app);
  register_make_model(app);
  register_bench(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agentd: %s\n", e.what());
    return 1;
  }
  return exit_code();
}
