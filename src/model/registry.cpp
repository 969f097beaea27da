#include "model/registry.h"

#include <map>
#include <string>
#include <utility>

#include "model/local_backend.h"
#include "model/openai_backend.h"

namespace agentd::model {
namespace {

class MapRegistry : public BackendRegistry {
 public:
  explicit MapRegistry(std::map<std::string, std::unique_ptr<ModelBackend>> backends)
      : backends_(std::move(backends)) {}
  ModelBackend* find(const std::string& model_id) override {
    auto it = backends_.find(model_id);
    return it == backends_.end() ? nullptr : it->second.get();
  }

 private:
  const std::map<std::string, std::unique_ptr<ModelBackend>> backends_;
};

}  // namespace

StatusOr<std::unique_ptr<BackendRegistry>> make_backend_registry(const ModelCatalog& catalog,
                                                                 std::vector<std::string>* warnings) {
  std::map<std::string, std::unique_ptr<ModelBackend>> backends;
  for (const ModelSpec& spec : catalog.all()) {
    if (backends.count(spec.id)) return Status::invalid_argument("duplicate model id '" + spec.id + "'");
    if (spec.backend == "local") {
      AGENTD_ASSIGN_OR_RETURN(auto backend, LocalBackend::create(spec));
      if (warnings) warnings->insert(warnings->end(), backend->warnings().begin(), backend->warnings().end());
      backends.emplace(spec.id, std::move(backend));
    } else if (spec.backend == "openai") {
      AGENTD_ASSIGN_OR_RETURN(auto backend, OpenAiBackend::create(spec));
      backends.emplace(spec.id, std::move(backend));
    } else {
      return Status::invalid_argument("model '" + spec.id + "': unknown backend '" + spec.backend +
                                      "' (expected \"local\" or \"openai\")");
    }
  }
  return std::unique_ptr<BackendRegistry>(std::make_unique<MapRegistry>(std::move(backends)));
}

void set_backend_metrics(BackendRegistry& registry, const ModelCatalog& catalog, MetricsRegistry* metrics) {
  for (const ModelSpec& spec : catalog.all()) {
    if (spec.backend != "local") continue;
    if (auto* local = dynamic_cast<LocalBackend*>(registry.find(spec.id))) local->set_metrics(metrics);
  }
}

}  // namespace agentd::model
