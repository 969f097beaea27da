#pragma once
// A Core together with everything it borrows (store, model catalog), for a
// process that builds one from its configuration: `serve` and the `org`,
// `key`, `agent` commands. Destroying the host destroys the Core first.
// Thread-safety: as Core once built.

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "core/core.h"
#include "model/backend.h"
#include "model/catalog.h"
#include "store/store.h"

namespace agentd::core {

class CoreHost {
 public:
  // Opens (and migrates) the store at storage_url. `backends` (null for
  // commands that never run an agent) and `clock` must outlive the host.
  static StatusOr<std::unique_ptr<CoreHost>> open(const std::string& storage_url, std::vector<model::ModelSpec> models,
                                                  CoreOptions options, model::BackendRegistry* backends = nullptr,
                                                  const Clock& clock = SystemClock::instance());
  CoreHost() = default;  // empty; use open()
  ~CoreHost();
  CoreHost(const CoreHost&) = delete;
  CoreHost& operator=(const CoreHost&) = delete;

  Core& core() { return *core_; }
  store::Store& store() { return *store_; }
  const model::ModelCatalog& models() const { return models_; }

 private:
  std::unique_ptr<store::Store> store_;
  model::ModelCatalog models_;
  std::unique_ptr<Core> core_;  // declared last: destroyed first
};

}  // namespace agentd::core
