// agentd agent create --org NAME --name N --model M [--instructions TEXT] [--description D]
//     [--temperature T] [--max-tokens N]   prints the agent's id as the last line
// agentd agent list --org NAME            one JSON object per line: {id, name, model, description, active}
// Each takes --config FILE. Errors go to stderr and exit with 1.

#include <CLI/CLI.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "app/command_host.h"
#include "app/commands.h"
#include "app/config.h"
#include "core/core_host.h"

namespace agentd::app {
namespace {

struct AgentArgs {
  std::string config;
  std::string org;
  std::string name;
  std::string model;
  std::optional<std::string> instructions;
  std::optional<std::string> description;
  std::optional<double> temperature;
  std::optional<int64_t> max_tokens;
};

}  // namespace

void register_agent(CLI::App& app) {
  auto* agent = app.add_subcommand("agent", "Manage agents");
  agent->require_subcommand(1);
  auto args = std::make_shared<AgentArgs>();

  auto* create = agent->add_subcommand("create", "Create an agent; prints its id");
  create->add_option("--org", args->org, "Organization name")->required();
  create->add_option("--name", args->name, "Agent name (normalized to lowercase_with_underscores)")->required();
  create->add_option("--model", args->model, "Model id from the configuration's [[models]]")->required();
  create->add_option("--instructions", args->instructions, "System instructions");
  create->add_option("--description", args->description, "Description");
  create->add_option("--temperature", args->temperature, "Sampling temperature (0..2)");
  create->add_option("--max-tokens", args->max_tokens, "Most tokens a run generates");
  create->add_option("--config", args->config, "Configuration file")->required();
  create->callback([args] {
    auto host = open_host(args->config);
    if (!host) return;
    auto org = host->core().orgs().get_org_by_name(args->org);
    if (!org.is_ok()) return fail(org.status());
    core::AgentSpec spec;
    spec.name = args->name;
    spec.model = args->model;
    spec.instructions = args->instructions;
    spec.description = args->description;
    spec.temperature = args->temperature;
    spec.max_tokens = args->max_tokens;
    auto v = host->core().agents().create(org->id, "cli", spec);
    if (!v.is_ok()) return fail(v.status());
    std::fprintf(stderr, "created agent %s in organization %s\n", v->agent.name.c_str(), org->name.c_str());
    std::printf("%s\n", v->agent.id.c_str());
  });

  auto* list = agent->add_subcommand("list", "List an organization's agents");
  list->add_option("--org", args->org, "Organization name")->required();
  list->add_option("--config", args->config, "Configuration file")->required();
  list->callback([args] {
    auto host = open_host(args->config);
    if (!host) return;
    auto org = host->core().orgs().get_org_by_name(args->org);
    if (!org.is_ok()) return fail(org.status());
    store::AgentQuery q;
    q.limit = 1000;
    auto agents = host->core().agents().list(org->id, q);
    if (!agents.is_ok()) return fail(agents.status());
    for (const auto& v : agents->items) {
      boost::json::object o{{"id", v.agent.id},
                            {"name", v.agent.name},
                            {"model", v.version.config.model},
                            {"description", v.agent.description},
                            {"active", v.agent.active}};
      std::printf("%s\n", boost::json::serialize(o).c_str());
    }
  });
}

}  // namespace agentd::app
