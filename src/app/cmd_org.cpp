// agentd org create NAME [--credits USD]   prints the new organization's id (last line)
// agentd org show NAME                      prints {"id", "name", "credits"} (credits in USD)
// agentd org credit NAME USD                adds credits; prints the organization as `show` does
// agentd org list                           one JSON object per line, as `show`
// Each takes --config FILE. Errors go to stderr and exit with 1.

#include <CLI/CLI.hpp>

#include <boost/json.hpp>

#include <charconv>
#include <cstdio>
#include <memory>
#include <string>

#include "app/command_host.h"
#include "app/commands.h"
#include "app/config.h"
#include "core/core_host.h"

namespace agentd::app {
namespace {

// Shortest decimal that reads back as the same double: 10 -> "10", 0.1 -> "0.1".
std::string format_number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "0";
  return std::string(buf, end);
}

std::string org_json(const store::Organization& o) {
  return "{\"id\":" + boost::json::serialize(boost::json::value(o.id)) +
         ",\"name\":" + boost::json::serialize(boost::json::value(o.name)) +
         ",\"credits\":" + format_number(core::nanos_to_usd(o.credits)) + "}";
}

struct OrgArgs {
  std::string config;
  std::string name;
  double credits = 0.0;
};

}  // namespace

void register_org(CLI::App& app) {
  auto* org = app.add_subcommand("org", "Manage organizations");
  org->require_subcommand(1);
  auto args = std::make_shared<OrgArgs>();

  auto* create = org->add_subcommand("create", "Create an organization; prints its id");
  create->add_option("name", args->name, "Organization name")->required();
  create->add_option("--credits", args->credits, "Initial credits in USD")->check(CLI::NonNegativeNumber);
  create->add_option("--config", args->config, "Configuration file")->required();
  create->callback([args] {
    auto host = open_host(args->config);
    if (!host) return;
    auto o = host->core().orgs().create_org(args->name, args->credits);
    if (!o.is_ok()) return fail(o.status());
    std::printf("%s\n", o->id.c_str());
  });

  auto* show = org->add_subcommand("show", "Print an organization as JSON");
  show->add_option("name", args->name, "Organization name")->required();
  show->add_option("--config", args->config, "Configuration file")->required();
  show->callback([args] {
    auto host = open_host(args->config);
    if (!host) return;
    auto o = host->core().orgs().get_org_by_name(args->name);
    if (!o.is_ok()) return fail(o.status());
    std::printf("%s\n", org_json(*o).c_str());
  });

  auto* credit = org->add_subcommand("credit", "Add credits (USD) to an organization");
  credit->add_option("name", args->name, "Organization name")->required();
  credit->add_option("usd", args->credits, "Amount in USD")->required();
  credit->add_option("--config", args->config, "Configuration file")->required();
  credit->callback([args] {
    auto host = open_host(args->config);
    if (!host) return;
    auto o = host->core().orgs().get_org_by_name(args->name);
    if (!o.is_ok()) return fail(o.status());
    auto after = host->core().orgs().add_credits(o->id, args->credits);
    if (!after.is_ok()) return fail(after.status());
    std::printf("%s\n", org_json(*after).c_str());
  });

  auto* list = org->add_subcommand("list", "Print every organization, one JSON object per line");
  list->add_option("--config", args->config, "Configuration file")->required();
  list->callback([args] {
    auto host = open_host(args->config);
    if (!host) return;
    auto orgs = host->core().orgs().list_orgs();
    if (!orgs.is_ok()) return fail(orgs.status());
    for (const auto& o : *orgs) std::printf("%s\n", org_json(o).c_str());
  });
}

}  // namespace agentd::app
