#include "core/core_host.h"

namespace agentd::core {

StatusOr<std::unique_ptr<CoreHost>> CoreHost::open(const std::string& storage_url,
                                                   std::vector<model::ModelSpec> models, CoreOptions options,
                                                   model::BackendRegistry* backends, const Clock& clock) {
  if (storage_url.empty()) return Status::invalid_argument("no storage URL configured ([storage] url)");
  auto store = store::open_store(storage_url);
  if (!store.is_ok()) return store.status();
  auto host = std::make_unique<CoreHost>();
  host->store_ = std::move(store).value();
  host->models_ = model::ModelCatalog(std::move(models));
  host->core_ = std::make_unique<Core>(*host->store_, host->models_, clock, std::move(options), backends);
  return host;
}

CoreHost::~CoreHost() = default;

}  // namespace agentd::core
