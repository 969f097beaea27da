#include "api/roe_shapes.h"

#include <cctype>

#include "api/agent_fields.h"
#include "api/json_body.h"
#include "common/clock.h"
#include "core/jobs.h"

namespace agentd::api::roe {
namespace {

namespace json = boost::json;

json::object engine_config(const store::AgentConfig& c) {
  json::object o = object_from_text(c.engine_config_json);
  o["model"] = c.model;
  o["instructions"] = c.instructions;
  o["temperature"] = c.temperature;
  o["max_tokens"] = c.max_tokens;
  if (c.top_p) o["top_p"] = *c.top_p;
  if (!c.output_schema_json.empty())
    o["output_schema"] = object_from_text(c.output_schema_json);
  else
    o["output_schema"] = nullptr;
  if (!c.demonstrations.empty()) o["demonstrations"] = demonstrations_json(c.demonstrations);
  return o;
}

json::array input_definitions(const std::vector<store::InputDefinition>& defs) {
  json::array a = input_definitions_json(defs);
  for (auto& d : a) d.as_object()["accepts_multiple_files"] = false;
  return a;
}

// Agents stored before engine classes existed have none: they run as the
// default one does, so they are shown as it.
std::string engine_class_id(const store::Agent& a) {
  return a.engine_class_id.empty() ? std::string(core::engine_classes().front().id) : a.engine_class_id;
}

std::string engine_name(const store::Agent& a) {
  const core::EngineClass* e = core::find_engine_class(engine_class_id(a));
  return std::string(e ? e->name : std::string_view(a.engine_class_id));
}

}  // namespace

int64_t user_id(std::string_view creator) {
  uint32_t h = 2166136261u;
  for (unsigned char c : creator) {
    h ^= c;
    h *= 16777619u;
  }
  int64_t id = static_cast<int64_t>(h & 0x7fffffffu);
  return id == 0 ? 1 : id;
}

json::value user_info(std::string_view creator) {
  if (creator.empty()) return nullptr;
  std::string name(creator);
  // An address in the reserved .invalid domain: agentd knows keys, not mailboxes.
  std::string local;
  for (unsigned char c : name) local += std::isalnum(c) || c == '_' || c == '-' || c == '.' ? char(c) : '_';
  return json::object{{"id", user_id(creator)},
                      {"email", local + "@agentd.invalid"},
                      {"first_name", ""},
                      {"last_name", ""},
                      {"display_name", name == "cli" ? "agentd command line" : "API key " + name}};
}

json::object base_agent(const core::AgentView& v, const store::JobStats* stats) {
  const store::Agent& a = v.agent;
  json::object o;
  o["id"] = a.id;
  o["name"] = a.name;
  o["creator"] = user_info(a.creator);
  o["created_at"] = format_iso8601(a.created_ms);
  o["updated_at"] = format_iso8601(a.updated_ms);
  o["disable_cache"] = a.disable_cache;
  o["cache_failed_jobs"] = a.cache_failed_jobs;
  o["organization_id"] = a.org_id;
  o["engine_class_id"] = engine_class_id(a);
  o["engine_name"] = engine_name(a);
  o["current_version_id"] = a.current_version_id;
  if (stats) {
    o["job_count"] = stats->count;
    o["most_recent_job"] = stats->count > 0 ? json::value(format_iso8601(stats->last_created_ms)) : nullptr;
  } else {
    o["job_count"] = nullptr;
    o["most_recent_job"] = nullptr;
  }
  o["tags"] = json::array();
  // agentd's own fields beside Roe's: the agent as one object.
  o["description"] = a.description;
  o["is_active"] = a.active;
  o["version_name"] = v.version.version_name;
  o["input_definitions"] = input_definitions(v.version.config.input_definitions);
  o["engine_config"] = engine_config(v.version.config);
  return o;
}

json::object agent_version(const store::AgentVersion& ver, const core::AgentView& owner,
                           const store::JobStats* stats) {
  const store::Agent& a = owner.agent;
  json::object o;
  o["id"] = ver.id;
  o["name"] = a.name;
  o["version_name"] = ver.version_name;
  o["creator"] = user_info(a.creator);
  o["created_at"] = format_iso8601(ver.created_ms);
  o["description"] = ver.description;
  o["engine_class_id"] = engine_class_id(a);
  o["engine_name"] = engine_name(a);
  o["supports_memory"] = false;
  o["post_actions"] = json::array();
  o["input_definitions"] = input_definitions(ver.config.input_definitions);
  o["engine_config"] = engine_config(ver.config);
  o["organization_id"] = a.org_id;
  o["readonly"] = false;
  o["base_agent"] = base_agent(owner, stats);
  // agentd's own fields.
  o["agent_id"] = a.id;
  o["version_number"] = ver.number;
  o["is_current"] = ver.id == a.current_version_id;
  return o;
}

std::optional<json::array> datums(const std::string& text, const std::string& output_schema_json, double cost_usd) {
  json::object schema;
  const json::object* properties = nullptr;
  if (!output_schema_json.empty()) {
    schema = object_from_text(output_schema_json);
    if (auto* pr = schema.if_contains("properties"); pr && pr->is_object()) properties = &pr->as_object();
  }
  json::array out;
  if (!properties) {
    out.push_back(json::object{{"key", "output"},
                               {"description", "The agent's answer"},
                               {"data_type", "text/plain"},
                               {"value", text},
                               {"cost", cost_usd}});
    return out;
  }
  std::string object_text = core::answer_object(text);
  if (object_text.empty()) return std::nullopt;
  json::object answer = object_from_text(object_text);
  bool first = true;
  for (const auto& kv : *properties) {
    json::object datum{{"key", kv.key()}};
    std::string description, type = "text/plain";
    if (kv.value().is_object()) {
      const auto& prop = kv.value().as_object();
      if (auto* d = prop.if_contains("description"); d && d->is_string()) description = d->as_string();
      if (auto* t = prop.if_contains("type"); t && t->is_string() && t->as_string() != "string")
        type = "application/json";
    }
    datum["description"] = description;
    datum["data_type"] = type;
    const json::value* v = answer.if_contains(kv.key());
    // AgentDatum.value is a string: a property the model left out is "".
    if (!v || v->is_null())
      datum["value"] = "";
    else
      datum["value"] = v->is_string() ? std::string(v->as_string()) : to_json_text(*v);
    datum["cost"] = first ? cost_usd : 0.0;
    first = false;
    out.push_back(std::move(datum));
  }
  return out;
}

json::array job_inputs(const std::string& inputs_json, const store::AgentVersion* version) {
  json::array out;
  for (const auto& kv : object_from_text(inputs_json)) {
    std::string description, type = "text/plain";
    if (version) {
      for (const auto& def : version->config.input_definitions) {
        if (def.key != kv.key()) continue;
        description = def.description;
        type = def.data_type;
      }
    }
    out.push_back(json::object{
        {"key", kv.key()},
        {"description", description},
        {"data_type", type},
        {"value", kv.value().is_string() ? std::string(kv.value().as_string()) : to_json_text(kv.value())}});
  }
  return out;
}

double unix_seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

}  // namespace agentd::api::roe
