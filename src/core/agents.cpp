#include "core/agents.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/ids.h"
#include "core/field_error.h"

namespace agentd::core {
namespace {

std::string indexed(std::string_view list, size_t i, std::string_view member) {
  std::string f(list);
  f += '[';
  f += std::to_string(i);
  f += ']';
  if (!member.empty()) {
    f += ".";
    f += member;
  }
  return f;
}

// Text the store can hold everywhere (PostgreSQL refuses NUL), within a size.
Status check_text(std::string_view field, std::string_view s, size_t max_len) {
  if (s.size() > max_len) return field_error(field, "must be at most " + std::to_string(max_len) + " characters");
  if (s.find('\0') != std::string_view::npos) return field_error(field, "must not contain NUL characters");
  return Status::ok();
}

Status not_found(const std::string& agent_id) { return Status::not_found("agent '" + agent_id + "' not found"); }

}  // namespace

const std::vector<EngineClass>& engine_classes() {
  static const std::vector<EngineClass> kList = {
      {"MultimodalExtractionEngine", "Multimodal Extraction",
       "Reads the declared inputs and answers per engine_config: model, instruction(s), output_schema."},
      {"TextExtractionEngine", "Text Insights",
       "Reads the declared text inputs and answers per engine_config: model, instruction(s), output_schema."},
  };
  return kList;
}

const EngineClass* find_engine_class(std::string_view id) {
  for (const EngineClass& e : engine_classes())
    if (e.id == id) return &e;
  return nullptr;
}

namespace {

Status check_engine_class(const std::string& id) {
  if (find_engine_class(id)) return Status::ok();
  std::string known;
  for (const EngineClass& e : engine_classes()) {
    if (!known.empty()) known += ", ";
    known += e.id;
  }
  return field_error("engine_class_id", "unknown engine class '" + id + "'; agentd runs: " + known);
}

}  // namespace

StatusOr<std::string> normalize_agent_name(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  bool pending_sep = false;
  for (char ch : raw) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (c == '-') {  // kept as written (Nugen keeps hyphens)
      if (pending_sep && !out.empty()) out += '_';
      pending_sep = false;
      out += '-';
      continue;
    }
    if (!alnum) {
      pending_sep = true;
      continue;
    }
    if (pending_sep && !out.empty()) out += '_';
    pending_sep = false;
    out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  if (out.find_first_not_of('-') == std::string::npos)
    return field_error("name", "must contain at least one letter or digit");
  if (out.size() > kMaxAgentNameLength)
    return field_error("name", "must be at most " + std::to_string(kMaxAgentNameLength) + " characters once normalized");
  return out;
}

bool AgentSpec::touches_config() const {
  return model || instructions || demonstrations || temperature || max_tokens || top_p || input_definitions ||
         output_schema_json || engine_config_json || conversation_saving;
}

std::string AgentService::model_display_name(const std::string& model_id) const {
  const model::ModelSpec* m = models_.find(model_id);
  return m && !m->name.empty() ? m->name : model_id;
}

Status AgentService::check_description(std::string_view field, const std::string& d) {
  return check_text(field, d, kMaxDescriptionLength);
}

Status AgentService::apply_config(const AgentSpec& spec, store::AgentConfig& c) const {
  if (spec.model) {
    if (spec.model->empty()) return field_error("model", "is required");
    if (!models_.find(*spec.model)) {
      std::string known;
      for (const auto& m : models_.all()) {
        if (!known.empty()) known += ", ";
        known += m.id;
      }
      return field_error("model", "unknown model '" + *spec.model + "'; configured models: " +
                                      (known.empty() ? "(none)" : known));
    }
    c.model = *spec.model;
  }
  if (spec.instructions) {
    AGENTD_RETURN_IF_ERROR(check_text("instructions", *spec.instructions, kMaxInstructionsLength));
    c.instructions = *spec.instructions;
  }
  if (spec.demonstrations) {
    const auto& d = *spec.demonstrations;
    if (d.size() > kMaxDemonstrations)
      return field_error("demonstrations", "at most " + std::to_string(kMaxDemonstrations) + " are allowed");
    for (size_t i = 0; i < d.size(); ++i) {
      if (d[i].input.empty()) return field_error(indexed("demonstrations", i, "input"), "must not be empty");
      AGENTD_RETURN_IF_ERROR(check_text(indexed("demonstrations", i, "input"), d[i].input, kMaxInstructionsLength));
      AGENTD_RETURN_IF_ERROR(check_text(indexed("demonstrations", i, "output"), d[i].output, kMaxInstructionsLength));
    }
    c.demonstrations = d;
  }
  if (spec.temperature) {
    double t = *spec.temperature;
    if (!std::isfinite(t) || t < 0.0 || t > kMaxTemperature)
      return field_error("temperature", "must be between 0 and 2");
    c.temperature = t;
  }
  if (spec.max_tokens) {
    if (*spec.max_tokens < 1 || *spec.max_tokens > kMaxMaxTokens)
      return field_error("max_tokens", "must be between 1 and " + std::to_string(kMaxMaxTokens));
    c.max_tokens = *spec.max_tokens;
  }
  if (spec.top_p) {
    double p = *spec.top_p;
    if (!std::isfinite(p) || p <= 0.0 || p > 1.0) return field_error("top_p", "must be greater than 0 and at most 1");
    c.top_p = p;
  }
  if (spec.input_definitions) {
    const auto& defs = *spec.input_definitions;
    if (defs.size() > kMaxInputDefinitions)
      return field_error("input_definitions", "at most " + std::to_string(kMaxInputDefinitions) + " are allowed");
    std::set<std::string> keys;
    for (size_t i = 0; i < defs.size(); ++i) {
      const auto& d = defs[i];
      if (d.key.empty()) return field_error(indexed("input_definitions", i, "key"), "must not be empty");
      AGENTD_RETURN_IF_ERROR(check_text(indexed("input_definitions", i, "key"), d.key, 128));
      if (!keys.insert(d.key).second)
        return field_error(indexed("input_definitions", i, "key"), "duplicate key '" + d.key + "'");
      size_t slash = d.data_type.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == d.data_type.size())
        return field_error(indexed("input_definitions", i, "data_type"),
                           "must be a MIME type such as text/plain or application/pdf");
      AGENTD_RETURN_IF_ERROR(check_text(indexed("input_definitions", i, "data_type"), d.data_type, 128));
      AGENTD_RETURN_IF_ERROR(check_text(indexed("input_definitions", i, "description"), d.description,
                                        kMaxDescriptionLength));
      AGENTD_RETURN_IF_ERROR(check_text(indexed("input_definitions", i, "example"), d.example, kMaxDescriptionLength));
    }
    c.input_definitions = defs;
  }
  if (spec.output_schema_json) {
    AGENTD_RETURN_IF_ERROR(check_text("output_schema", *spec.output_schema_json, kMaxInstructionsLength));
    c.output_schema_json = *spec.output_schema_json;
  }
  if (spec.engine_config_json) {
    AGENTD_RETURN_IF_ERROR(check_text("engine_config", *spec.engine_config_json, kMaxInstructionsLength));
    c.engine_config_json = *spec.engine_config_json;
  }
  if (spec.conversation_saving) c.conversation_saving = *spec.conversation_saving;
  return Status::ok();
}

Status AgentService::check_name_free(const std::string& org_id, const std::string& name,
                                     const std::string& except_id) {
  auto other = store_.get_agent_by_name(org_id, name);
  if (other.is_ok()) {
    if (other->id == except_id) return Status::ok();
    return Status::already_exists("an agent named '" + name + "' already exists");
  }
  if (other.status().code() != StatusCode::kNotFound) return other.status();
  return Status::ok();
}

StatusOr<AgentView> AgentService::create(const std::string& org_id, const std::string& creator,
                                         const AgentSpec& spec) {
  if (!spec.name) return field_error("name", "is required");
  AGENTD_ASSIGN_OR_RETURN(std::string name, normalize_agent_name(*spec.name));
  AgentView v;
  int64_t now = clock_.now_ms();
  v.agent.id = new_uuid();
  v.agent.org_id = org_id;
  v.agent.name = name;
  if (spec.description) {
    AGENTD_RETURN_IF_ERROR(check_description("description", *spec.description));
    v.agent.description = *spec.description;
  }
  v.agent.active = spec.active.value_or(true);
  v.agent.engine_class_id = spec.engine_class_id.value_or(std::string(engine_classes().front().id));
  AGENTD_RETURN_IF_ERROR(check_engine_class(v.agent.engine_class_id));
  v.agent.disable_cache = spec.disable_cache.value_or(false);
  v.agent.cache_failed_jobs = spec.cache_failed_jobs.value_or(false);
  v.agent.creator = creator;
  v.agent.created_ms = now;
  v.agent.updated_ms = now;

  store::AgentVersion& ver = v.version;
  ver.id = new_uuid();
  ver.agent_id = v.agent.id;
  ver.number = 1;
  ver.created_ms = now;
  if (!spec.model) {
    if (models_.all().empty()) return field_error("model", "is required (no models are configured)");
    ver.config.model = models_.all().front().id;
  }
  AGENTD_RETURN_IF_ERROR(apply_config(spec, ver.config));
  ver.version_name = spec.version_name.value_or("");
  AGENTD_RETURN_IF_ERROR(check_text("version_name", ver.version_name, 100));
  if (ver.version_name.empty()) ver.version_name = "v1";
  ver.description = spec.version_description.value_or("");
  AGENTD_RETURN_IF_ERROR(check_description("version_description", ver.description));
  v.agent.current_version_id = ver.id;

  AGENTD_RETURN_IF_ERROR(check_name_free(org_id, name, ""));
  Status s = store_.create_agent(v.agent, ver);
  if (s.code() == StatusCode::kAlreadyExists)  // lost a race with another create
    return Status::already_exists("an agent named '" + name + "' already exists");
  AGENTD_RETURN_IF_ERROR(s);
  return v;
}

StatusOr<AgentView> AgentService::get(const std::string& org_id, const std::string& agent_id) {
  if (!looks_like_uuid(agent_id)) return not_found(agent_id);
  auto agent = store_.get_agent(org_id, agent_id);
  if (!agent.is_ok()) return agent.status().code() == StatusCode::kNotFound ? not_found(agent_id) : agent.status();
  AgentView v;
  v.agent = std::move(agent).value();
  AGENTD_ASSIGN_OR_RETURN(v.version, store_.get_version(v.agent.id, v.agent.current_version_id));
  return v;
}

StatusOr<AgentView> AgentService::get_by_name(const std::string& org_id, const std::string& name) {
  auto normalized = normalize_agent_name(name);
  if (!normalized.is_ok()) return Status::not_found("agent '" + name + "' not found");
  auto agent = store_.get_agent_by_name(org_id, *normalized);
  if (!agent.is_ok())
    return agent.status().code() == StatusCode::kNotFound ? Status::not_found("agent '" + name + "' not found")
                                                          : agent.status();
  AgentView v;
  v.agent = std::move(agent).value();
  AGENTD_ASSIGN_OR_RETURN(v.version, store_.get_version(v.agent.id, v.agent.current_version_id));
  return v;
}

StatusOr<AgentList> AgentService::list(const std::string& org_id, const store::AgentQuery& query) {
  if (query.offset < 0) return field_error("offset", "must be >= 0");
  if (query.limit < 1 || query.limit > 1000) return field_error("limit", "must be between 1 and 1000");
  AGENTD_RETURN_IF_ERROR(check_text("search", query.search, 200));
  AGENTD_ASSIGN_OR_RETURN(store::AgentPage page, store_.list_agents(org_id, query));
  AgentList out;
  out.total = page.total;
  out.items.reserve(page.items.size());
  for (auto& a : page.items) {
    AgentView v;
    AGENTD_ASSIGN_OR_RETURN(v.version, store_.get_version(a.id, a.current_version_id));
    v.agent = std::move(a);
    out.items.push_back(std::move(v));
  }
  return out;
}

StatusOr<AgentView> AgentService::update(const std::string& org_id, const std::string& agent_id,
                                         const AgentSpec& spec) {
  AGENTD_ASSIGN_OR_RETURN(AgentView v, get(org_id, agent_id));
  bool agent_changed = false;
  if (spec.name) {
    AGENTD_ASSIGN_OR_RETURN(std::string name, normalize_agent_name(*spec.name));
    if (name != v.agent.name) {
      AGENTD_RETURN_IF_ERROR(check_name_free(org_id, name, v.agent.id));
      v.agent.name = name;
      agent_changed = true;
    }
  }
  if (spec.description) {
    AGENTD_RETURN_IF_ERROR(check_description("description", *spec.description));
    v.agent.description = *spec.description;
    agent_changed = true;
  }
  if (spec.active) {
    v.agent.active = *spec.active;
    agent_changed = true;
  }
  if (spec.engine_class_id) {
    AGENTD_RETURN_IF_ERROR(check_engine_class(*spec.engine_class_id));
    v.agent.engine_class_id = *spec.engine_class_id;
    agent_changed = true;
  }
  if (spec.disable_cache) {
    v.agent.disable_cache = *spec.disable_cache;
    agent_changed = true;
  }
  if (spec.cache_failed_jobs) {
    v.agent.cache_failed_jobs = *spec.cache_failed_jobs;
    agent_changed = true;
  }
  bool version_changed = spec.touches_config() || spec.version_name || spec.version_description;
  if (version_changed) {
    AGENTD_RETURN_IF_ERROR(apply_config(spec, v.version.config));
    if (spec.version_name) {
      AGENTD_RETURN_IF_ERROR(check_text("version_name", *spec.version_name, 100));
      if (spec.version_name->empty()) return field_error("version_name", "must not be empty");
      v.version.version_name = *spec.version_name;
    }
    if (spec.version_description) {
      AGENTD_RETURN_IF_ERROR(check_description("version_description", *spec.version_description));
      v.version.description = *spec.version_description;
    }
  }
  // Everything is checked: now write.
  if (agent_changed || version_changed) {
    v.agent.updated_ms = clock_.now_ms();
    Status s = store_.update_agent(v.agent);
    if (s.code() == StatusCode::kAlreadyExists)
      return Status::already_exists("an agent named '" + v.agent.name + "' already exists");
    AGENTD_RETURN_IF_ERROR(s);
  }
  if (version_changed) AGENTD_RETURN_IF_ERROR(store_.update_version(v.version));
  return v;
}

Status AgentService::remove(const std::string& org_id, const std::string& agent_id) {
  AGENTD_ASSIGN_OR_RETURN(AgentView v, get(org_id, agent_id));
  return store_.delete_agent(org_id, v.agent.id);
}

StatusOr<store::AgentVersion> AgentService::create_version(const std::string& org_id, const std::string& agent_id,
                                                           const AgentSpec& spec, bool make_current) {
  AGENTD_ASSIGN_OR_RETURN(AgentView v, get(org_id, agent_id));
  AGENTD_ASSIGN_OR_RETURN(std::vector<store::AgentVersion> versions, store_.list_versions(v.agent.id));
  int64_t last = 0;
  for (const auto& x : versions) last = std::max(last, x.number);
  store::AgentVersion ver;
  ver.id = new_uuid();
  ver.agent_id = v.agent.id;
  ver.number = last + 1;
  ver.created_ms = clock_.now_ms();
  ver.config = v.version.config;
  AGENTD_RETURN_IF_ERROR(apply_config(spec, ver.config));
  ver.version_name = spec.version_name.value_or("");
  AGENTD_RETURN_IF_ERROR(check_text("version_name", ver.version_name, 100));
  if (ver.version_name.empty()) ver.version_name = "v" + std::to_string(ver.number);
  ver.description = spec.version_description.value_or("");
  AGENTD_RETURN_IF_ERROR(check_description("version_description", ver.description));
  AGENTD_RETURN_IF_ERROR(store_.create_version(ver, make_current));
  return ver;
}

StatusOr<std::vector<store::AgentVersion>> AgentService::list_versions(const std::string& org_id,
                                                                       const std::string& agent_id) {
  AGENTD_ASSIGN_OR_RETURN(AgentView v, get(org_id, agent_id));
  return store_.list_versions(v.agent.id);
}

StatusOr<store::AgentVersion> AgentService::get_version(const std::string& org_id, const std::string& agent_id,
                                                        const std::string& version_id) {
  AGENTD_ASSIGN_OR_RETURN(AgentView v, get(org_id, agent_id));
  if (!looks_like_uuid(version_id)) return Status::not_found("version '" + version_id + "' not found");
  auto ver = store_.get_version(v.agent.id, version_id);
  if (!ver.is_ok() && ver.status().code() == StatusCode::kNotFound)
    return Status::not_found("version '" + version_id + "' not found");
  return ver;
}

StatusOr<store::AgentVersion> AgentService::rename_version(const std::string& org_id, const std::string& agent_id,
                                                           const std::string& version_id,
                                                           const std::optional<std::string>& version_name,
                                                           const std::optional<std::string>& description) {
  AGENTD_ASSIGN_OR_RETURN(store::AgentVersion ver, get_version(org_id, agent_id, version_id));
  if (version_name) {
    AGENTD_RETURN_IF_ERROR(check_text("version_name", *version_name, 100));
    if (version_name->empty()) return field_error("version_name", "must not be empty");
    ver.version_name = *version_name;
  }
  if (description) {
    AGENTD_RETURN_IF_ERROR(check_description("description", *description));
    ver.description = *description;
  }
  if (version_name || description) AGENTD_RETURN_IF_ERROR(store_.update_version(ver));
  return ver;
}

Status AgentService::delete_version(const std::string& org_id, const std::string& agent_id,
                                    const std::string& version_id) {
  AGENTD_ASSIGN_OR_RETURN(store::AgentVersion ver, get_version(org_id, agent_id, version_id));
  Status s = store_.delete_version(ver.agent_id, ver.id);
  if (s.code() == StatusCode::kFailedPrecondition)
    return Status::failed_precondition("version '" + version_id +
                                       "' is the agent's current version; make another version current first");
  return s;
}

StatusOr<AgentView> AgentService::duplicate(const std::string& org_id, const std::string& creator,
                                            const std::string& agent_id) {
  AGENTD_ASSIGN_OR_RETURN(AgentView src, get(org_id, agent_id));
  const std::string base = src.agent.name.substr(0, kMaxAgentNameLength - 9) + "_copy";
  for (int n = 1; n <= 100; ++n) {
    std::string name = n == 1 ? base : base + "_" + std::to_string(n);
    auto taken = store_.get_agent_by_name(org_id, name);
    if (taken.is_ok()) continue;
    if (taken.status().code() != StatusCode::kNotFound) return taken.status();
    AgentView v;
    const int64_t now = clock_.now_ms();
    v.agent = src.agent;
    v.agent.id = new_uuid();
    v.agent.name = name;
    v.agent.creator = creator;
    v.agent.active = true;
    v.agent.created_ms = v.agent.updated_ms = now;
    v.version = src.version;
    v.version.id = new_uuid();
    v.version.agent_id = v.agent.id;
    v.version.number = 1;
    v.version.created_ms = now;
    v.agent.current_version_id = v.version.id;
    Status s = store_.create_agent(v.agent, v.version);
    if (s.code() == StatusCode::kAlreadyExists) continue;  // lost a race for the name
    AGENTD_RETURN_IF_ERROR(s);
    return v;
  }
  return Status::already_exists("no free name for a copy of '" + src.agent.name + "'");
}

}  // namespace agentd::core
