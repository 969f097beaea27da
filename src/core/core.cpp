#include "core/core.h"

namespace agentd::core {

Core::Core(store::Store& store, const model::ModelCatalog& models, const Clock& clock, CoreOptions options,
           model::BackendRegistry* backends)
    : store_(store),
      models_(models),
      clock_(clock),
      options_(std::move(options)),
      orgs_(store, clock),
      agents_(store, models, clock),
      auth_(store, options_.admin_org),
      rate_limiter_(clock),
      runner_(RunnerDeps{store, models, agents_, backends, clock, rate_limiter_, metrics_}),
      jobs_(runner_, store, clock, metrics_) {}

Core::~Core() = default;

}  // namespace agentd::core
