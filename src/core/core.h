#pragma once
// The core: every rule of agentd that is not HTTP and not SQL. Dialect
// adapters (api/) and the command line (app/) call it; it calls the Store and
// the model backends. Owned by `serve` (or a CLI command) for the process
// lifetime; all services are thread-safe.

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/metrics.h"
#include "core/agent_runner.h"
#include "core/agents.h"
#include "core/auth.h"
#include "core/jobs.h"
#include "core/orgs.h"
#include "core/rate_limiter.h"
#include "core/runner.h"
#include "model/backend.h"
#include "model/catalog.h"
#include "store/store.h"

namespace agentd::core {

struct CoreOptions {
  // Base of the URLs this server hands out (Nugen `endpoint`), e.g.
  // "http://127.0.0.1:8080". No trailing slash.
  std::string public_base_url;
  // Name of the organization whose admin keys manage every organization
  // through /admin/ (config [server] admin_org). "" = none: an admin key
  // then manages its own organization only.
  std::string admin_org;
};

class Core {
 public:
  // Borrows store, models, clock and backends: they must outlive the Core.
  // `backends` is null in CLI commands that never run an agent: runs then
  // fail with kUnavailable.
  Core(store::Store& store, const model::ModelCatalog& models, const Clock& clock, CoreOptions options,
       model::BackendRegistry* backends = nullptr);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  store::Store& store() { return store_; }
  const model::ModelCatalog& models() const { return models_; }
  const Clock& clock() const { return clock_; }
  const CoreOptions& options() const { return options_; }

  // Services (declared in their own headers) are added here by their owner.
  OrgService& orgs() { return orgs_; }
  AgentService& agents() { return agents_; }
  const Authenticator& auth() const { return auth_; }
  // The one run path (core/runner.h); rate limits are per process.
  AgentRunner& runner() { return runner_; }
  RateLimiter& rate_limiter() { return rate_limiter_; }
  // Every metric of this Core (runs, tokens, refusals, jobs); the HTTP
  // layer records its requests here too and serves render() at GET /metrics.
  MetricsRegistry& metrics() { return metrics_; }
  // Async runs; its workers run only after jobs().start() (serve calls it).
  JobService& jobs() { return jobs_; }

 private:
  store::Store& store_;
  const model::ModelCatalog& models_;
  const Clock& clock_;
  CoreOptions options_;
  OrgService orgs_;
  AgentService agents_;
  Authenticator auth_;
  MetricsRegistry metrics_;
  RateLimiter rate_limiter_;
  CoreAgentRunner runner_;  // uses the members above: declared after them
  JobService jobs_;         // uses runner_; destroyed first (stops its workers)
};

}  // namespace agentd::core
