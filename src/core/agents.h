#pragma once
// AgentService: creating, reading, changing and deleting agents and their
// versions, for one organization at a time. Every rule that is not a
// dialect's wire format lives here: name normalization and uniqueness per
// organization, value validation (errors name the field, see field_error.h),
// the model an agent names must be in the catalog, tenancy (another
// organization's agent is simply not found).
//
// Borrows the Store, the ModelCatalog and the Clock (they must outlive the
// service); stateless apart from them, so every method is thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "model/catalog.h"
#include "store/store.h"

namespace agentd::core {

// Limits on what an agent may hold.
inline constexpr size_t kMaxAgentNameLength = 64;
inline constexpr size_t kMaxDescriptionLength = 4000;
inline constexpr size_t kMaxInstructionsLength = 200000;
inline constexpr size_t kMaxDemonstrations = 100;
inline constexpr size_t kMaxInputDefinitions = 50;
inline constexpr int64_t kMaxMaxTokens = 131072;
inline constexpr double kMaxTemperature = 2.0;

// "Customer Support-Bot 2 " -> "customer_support-bot_2", as Nugen names
// agents: ASCII letters lowercased, '-' kept, every run of other characters
// (spaces, '.', non-ASCII...) becomes one '_', and '_' at either end is
// dropped (so surrounding spaces are trimmed). kInvalidArgument (field
// "name") when no letter or digit is left or the result is longer than
// kMaxAgentNameLength.
StatusOr<std::string> normalize_agent_name(std::string_view raw);

// The engine classes an agent may name (Roe's engine_class_id). agentd runs
// every one with its single engine: instructions, the declared inputs as the
// message, an optional output schema. Roe's extraction engines are listed
// because that is what its clients name; the first is the default.
struct EngineClass {
  std::string_view id;
  std::string_view name;  // display name (Roe's engine_name)
  std::string_view description;
};
const std::vector<EngineClass>& engine_classes();
// nullptr for an unknown id.
const EngineClass* find_engine_class(std::string_view id);

// What a dialect asks for. Unset fields keep their current value on update
// and take defaults on create (model: the catalog's first model).
struct AgentSpec {
  std::optional<std::string> name;  // raw; normalized by the service
  std::optional<std::string> description;
  std::optional<bool> active;
  std::optional<std::string> engine_class_id;  // one of engine_classes()
  std::optional<bool> disable_cache;
  std::optional<bool> cache_failed_jobs;
  // Version configuration.
  std::optional<std::string> model;
  std::optional<std::string> instructions;
  std::optional<std::vector<store::Demonstration>> demonstrations;
  std::optional<double> temperature;
  std::optional<int64_t> max_tokens;
  std::optional<double> top_p;
  std::optional<std::vector<store::InputDefinition>> input_definitions;
  std::optional<std::string> output_schema_json;  // JSON object text; "" clears
  std::optional<std::string> engine_config_json;  // JSON object text; "" clears
  std::optional<bool> conversation_saving;
  std::optional<std::string> version_name;
  std::optional<std::string> version_description;

  bool touches_config() const;
};

// An agent with the version it currently runs.
struct AgentView {
  store::Agent agent;
  store::AgentVersion version;
};

struct AgentList {
  std::vector<AgentView> items;
  int64_t total = 0;  // matching agents before offset/limit
};

class AgentService {
 public:
  AgentService(store::Store& store, const model::ModelCatalog& models, const Clock& clock)
      : store_(store), models_(models), clock_(clock) {}

  // kAlreadyExists when the organization has an agent of that name.
  StatusOr<AgentView> create(const std::string& org_id, const std::string& creator, const AgentSpec& spec);

  // kNotFound for unknown ids, other organizations' agents and ids that are
  // not UUIDs.
  StatusOr<AgentView> get(const std::string& org_id, const std::string& agent_id);
  // By normalized name (the raw name is normalized first).
  StatusOr<AgentView> get_by_name(const std::string& org_id, const std::string& name);
  StatusOr<AgentList> list(const std::string& org_id, const store::AgentQuery& query);

  // Applies the set fields. Name/description/active change the agent;
  // configuration fields change the current version in place. Nothing is
  // written when validation fails.
  StatusOr<AgentView> update(const std::string& org_id, const std::string& agent_id, const AgentSpec& spec);
  Status remove(const std::string& org_id, const std::string& agent_id);

  // A new version: the current version's configuration with the spec's
  // configuration fields applied on top; numbered after the last one.
  StatusOr<store::AgentVersion> create_version(const std::string& org_id, const std::string& agent_id,
                                               const AgentSpec& spec, bool make_current);
  StatusOr<std::vector<store::AgentVersion>> list_versions(const std::string& org_id, const std::string& agent_id);
  StatusOr<store::AgentVersion> get_version(const std::string& org_id, const std::string& agent_id,
                                            const std::string& version_id);
  // Renames / re-describes a version (its configuration stays as it is).
  StatusOr<store::AgentVersion> rename_version(const std::string& org_id, const std::string& agent_id,
                                               const std::string& version_id,
                                               const std::optional<std::string>& version_name,
                                               const std::optional<std::string>& description);
  // kFailedPrecondition for the agent's current version.
  Status delete_version(const std::string& org_id, const std::string& agent_id, const std::string& version_id);
  // A new agent with the agent's settings and its current version's
  // configuration, named "<name>_copy" (then "_copy_2", ...).
  StatusOr<AgentView> duplicate(const std::string& org_id, const std::string& creator, const std::string& agent_id);

  // The display name of a model id (the id itself when the catalog has none).
  std::string model_display_name(const std::string& model_id) const;

 private:
  // Checks and applies spec's configuration fields onto config.
  Status apply_config(const AgentSpec& spec, store::AgentConfig& config) const;
  static Status check_description(std::string_view field, const std::string& d);
  Status check_name_free(const std::string& org_id, const std::string& name, const std::string& except_id);

  store::Store& store_;
  const model::ModelCatalog& models_;
  const Clock& clock_;
};

}  // namespace agentd::core
