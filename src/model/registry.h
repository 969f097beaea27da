#pragma once
// Builds the BackendRegistry for a catalog: one backend per ModelSpec, local
// models loaded (and their engine threads started) before this returns.
// Thread-safety: the registry is immutable after construction; find() and the
// backends may be used from any thread.

#include <memory>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"
#include "model/backend.h"
#include "model/catalog.h"

namespace agentd::model {

// Errors: an unknown backend kind, a local file that cannot be loaded (the
// message names the model id and the file), an upstream spec without base_url.
// Non-fatal findings (e.g. "model 'x' (path): no tokenizer.chat_template;
// using ChatML") are appended to *warnings when given; the caller logs them.
StatusOr<std::unique_ptr<BackendRegistry>> make_backend_registry(const ModelCatalog& catalog,
                                                                 std::vector<std::string>* warnings = nullptr);

// Makes the local backends of `registry` (built by make_backend_registry from
// `catalog`) record their engine and KV cache metrics in `metrics`; nullptr
// stops them (before the MetricsRegistry goes away while the backends live on).
void set_backend_metrics(BackendRegistry& registry, const ModelCatalog& catalog, MetricsRegistry* metrics);

}  // namespace agentd::model
