// agentd key create --org NAME [--admin] [--rpm N] [--tpm N] [--concurrency N]
//     prints the secret alone on the last line of stdout, once (only its
//     SHA-256 is stored); the key's prefix and id go to stderr.
// agentd key list --org NAME
//     one JSON object per line: {id, prefix, admin, rpm, tpm, concurrency, created, revoked}
// agentd key revoke PREFIX
//     revokes every key whose prefix starts with PREFIX; prints how many.
// Each takes --config FILE. Errors go to stderr and exit with 1.

#include <CLI/CLI.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "app/command_host.h"
#include "app/commands.h"
#include "app/config.h"
#include "common/clock.h"
#include "core/core_host.h"

namespace agentd::app {
namespace {

struct KeyArgs {
  std::string config;
  std::string org;
  std::string prefix;
  bool admin = false;
  int64_t rpm = 0;
  int64_t tpm = 0;
  int64_t concurrency = 0;
};

}  // namespace

void register_key(CLI::App& app) {
  auto* key = app.add_subcommand("key", "Manage API keys");
  key->require_subcommand(1);
  auto args = std::make_shared<KeyArgs>();

  auto* create = key->add_subcommand("create", "Create an API key; prints the secret once");
  create->add_option("--org", args->org, "Organization name")->required();
  create->add_flag("--admin", args->admin, "An admin key (may use /admin/)");
  create->add_option("--rpm", args->rpm, "Requests per minute (0 = unlimited)")->check(CLI::NonNegativeNumber);
  create->add_option("--tpm", args->tpm, "Tokens per minute (0 = unlimited)")->check(CLI::NonNegativeNumber);
  create->add_option("--concurrency", args->concurrency, "Concurrent runs (0 = unlimited)")
      ->check(CLI::NonNegativeNumber);
  create->add_option("--config", args->config, "Configuration file")->required();
  create->callback([args] {
    auto host = open_host(args->config);
    if (!host) return;
    auto org = host->core().orgs().get_org_by_name(args->org);
    if (!org.is_ok()) return fail(org.status());
    core::KeyOptions opts;
    opts.admin = args->admin;
    opts.rpm = args->rpm;
    opts.tpm = args->tpm;
    opts.concurrency = args->concurrency;
    auto k = host->core().orgs().create_key(org->id, opts);
    if (!k.is_ok()) return fail(k.status());
    std::fprintf(stderr, "created %skey %s (id %s) for organization %s; the secret is shown only now\n",
                 args->admin ? "admin " : "", k->key.prefix.c_str(), k->key.id.c_str(), org->name.c_str());
    std::printf("%s\n", k->secret.c_str());
  });

  auto* list = key->add_subcommand("list", "List an organization's keys (never the secrets)");
  list->add_option("--org", args->org, "Organization name")->required();
  list->add_option("--config", args->config, "Configuration file")->required();
  list->callback([args] {
    auto host = open_host(args->config);
    if (!host) return;
    auto org = host->core().orgs().get_org_by_name(args->org);
    if (!org.is_ok()) return fail(org.status());
    auto keys = host->core().orgs().list_keys(org->id);
    if (!keys.is_ok()) return fail(keys.status());
    for (const auto& k : *keys) {
      boost::json::object o{{"id", k.id},
                            {"prefix", k.prefix},
                            {"admin", k.admin},
                            {"rpm", k.rpm},
                            {"tpm", k.tpm},
                            {"concurrency", k.concurrency},
                            {"created", format_iso8601(k.created_ms)},
                            {"revoked", k.revoked}};
      std::printf("%s\n", boost::json::serialize(o).c_str());
    }
  });

  auto* revoke = key->add_subcommand("revoke", "Revoke the keys whose prefix starts with PREFIX");
  revoke->add_option("prefix", args->prefix, "Key prefix as shown by `key list` (e.g. agd_1a2b3c4d)")->required();
  revoke->add_option("--config", args->config, "Configuration file")->required();
  revoke->callback([args] {
    auto host = open_host(args->config);
    if (!host) return;
    auto n = host->core().orgs().revoke_keys(args->prefix);
    if (!n.is_ok()) return fail(n.status());
    std::printf("revoked %lld key%s\n", static_cast<long long>(*n), *n == 1 ? "" : "s");
  });
}

}  // namespace agentd::app
