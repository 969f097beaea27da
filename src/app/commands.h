#pragma once
// Each sub-command of the agentd binary registers itself on the CLI11 app.
// The callback set on the sub-command runs it and sets the process exit code.

namespace CLI {
class App;
}

namespace agentd::app {

// Exit code of the command that ran; set by the command callbacks.
int& exit_code();

void register_serve(CLI::App& app);     // serve.cpp
void register_org(CLI::App& app);       // cmd_org.cpp
void register_key(CLI::App& app);       // cmd_key.cpp
void register_agent(CLI::App& app);     // cmd_agent.cpp
void register_generate(CLI::App& app);  // cmd_generate.cpp
void register_tokenize(CLI::App& app);  // cmd_tokenize.cpp
void register_make_model(CLI::App& app);  // cmd_make_model.cpp
void register_bench(CLI::App& app);     // cmd_bench.cpp

}  // namespace agentd::app
