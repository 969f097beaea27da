#pragma once
// Builds the BackendRegistry for a catalog: one backend per ModelSpec, local
// models loaded (and their engine threads started) before this returns.
// Thread-safety: the registry is immutable after construction; find() and the
// backends may be used from any thread.

#include <memory>
#include <string>
#include <vector>

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

}  // namespace agentd::model
