#include "store/migrations.h"

namespace agentd::store {
namespace {

using Only = MigrationStep::Only;

// Column types are chosen so one text serves both dialects where it can:
// TEXT, BIGINT (money in nano-dollars, times in Unix ms), BOOLEAN (0/1 in
// SQLite), DOUBLE PRECISION (REAL affinity in SQLite). Ids are uuid text.
std::vector<Migration> build() {
  std::vector<Migration> list;

  list.push_back(Migration{
      1,
      "organizations, api keys, agents and versions",
      {
          {Only::kBoth,
           "CREATE TABLE organizations ("
           " id TEXT PRIMARY KEY,"
           " name TEXT NOT NULL UNIQUE,"
           " credits BIGINT NOT NULL DEFAULT 0,"
           " created_ms BIGINT NOT NULL)"},
          {Only::kBoth,
           "CREATE TABLE api_keys ("
           " id TEXT PRIMARY KEY,"
           " org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,"
           " prefix TEXT NOT NULL UNIQUE,"
           " hash TEXT NOT NULL UNIQUE,"
           " admin BOOLEAN NOT NULL DEFAULT FALSE,"
           " rpm BIGINT NOT NULL DEFAULT 0,"
           " tpm BIGINT NOT NULL DEFAULT 0,"
           " concurrency BIGINT NOT NULL DEFAULT 0,"
           " created_ms BIGINT NOT NULL,"
           " revoked BOOLEAN NOT NULL DEFAULT FALSE)"},
          {Only::kBoth, "CREATE INDEX api_keys_org ON api_keys(org_id, created_ms)"},
          // current_version_id has no foreign key: agents and versions point at
          // each other, and the store checks the pairing itself.
          {Only::kBoth,
           "CREATE TABLE agents ("
           " id TEXT PRIMARY KEY,"
           " org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,"
           " name TEXT NOT NULL,"
           " description TEXT NOT NULL DEFAULT '',"
           " active BOOLEAN NOT NULL DEFAULT TRUE,"
           " creator TEXT NOT NULL DEFAULT '',"
           " created_ms BIGINT NOT NULL,"
           " updated_ms BIGINT NOT NULL,"
           " current_version_id TEXT NOT NULL DEFAULT '',"
           " UNIQUE (org_id, name))"},
          {Only::kBoth, "CREATE INDEX agents_org_created ON agents(org_id, created_ms, id)"},
          {Only::kBoth,
           "CREATE TABLE agent_versions ("
           " id TEXT PRIMARY KEY,"
           " agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
           " number BIGINT NOT NULL,"
           " version_name TEXT NOT NULL DEFAULT '',"
           " description TEXT NOT NULL DEFAULT '',"
           " created_ms BIGINT NOT NULL,"
           " model TEXT NOT NULL DEFAULT '',"
           " instructions TEXT NOT NULL DEFAULT '',"
           " demonstrations_json TEXT NOT NULL DEFAULT '[]',"
           " temperature DOUBLE PRECISION NOT NULL,"
           " max_tokens BIGINT NOT NULL,"
           " top_p DOUBLE PRECISION,"
           " input_definitions_json TEXT NOT NULL DEFAULT '[]',"
           " output_schema_json TEXT NOT NULL DEFAULT '',"
           " engine_config_json TEXT NOT NULL DEFAULT '',"
           " conversation_saving BOOLEAN NOT NULL DEFAULT TRUE,"
           " UNIQUE (agent_id, number))"},
      }});

  list.push_back(Migration{
      2,
      "sessions, session turns, runs and jobs",
      {
          {Only::kBoth,
           "CREATE TABLE sessions ("
           " org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,"
           " agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,"
           " session_id TEXT NOT NULL,"
           " created_ms BIGINT NOT NULL,"
           " updated_ms BIGINT NOT NULL,"
           " PRIMARY KEY (org_id, agent_id, session_id))"},
          {Only::kBoth, "CREATE INDEX sessions_updated ON sessions(org_id, agent_id, updated_ms)"},
          {Only::kBoth,
           "CREATE TABLE session_turns ("
           " org_id TEXT NOT NULL,"
           " agent_id TEXT NOT NULL,"
           " session_id TEXT NOT NULL,"
           " seq BIGINT NOT NULL,"
           " role TEXT NOT NULL,"
           " content TEXT NOT NULL,"
           " tokens BIGINT NOT NULL DEFAULT 0,"
           " created_ms BIGINT NOT NULL,"
           " PRIMARY KEY (org_id, agent_id, session_id, seq),"
           " FOREIGN KEY (org_id, agent_id, session_id) REFERENCES sessions(org_id, agent_id, session_id)"
           " ON DELETE CASCADE)"},
          // Runs outlive their agent (they are the organization's bill), so
          // only the organization is a foreign key.
          {Only::kBoth,
           "CREATE TABLE runs ("
           " id TEXT PRIMARY KEY,"
           " org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,"
           " agent_id TEXT NOT NULL,"
           " version_id TEXT NOT NULL DEFAULT '',"
           " session_id TEXT NOT NULL DEFAULT '',"
           " request_id TEXT NOT NULL DEFAULT '',"
           " endpoint TEXT NOT NULL DEFAULT '',"
           " model TEXT NOT NULL DEFAULT '',"
           " input_tokens BIGINT NOT NULL DEFAULT 0,"
           " output_tokens BIGINT NOT NULL DEFAULT 0,"
           " cost BIGINT NOT NULL DEFAULT 0,"
           " latency_ms BIGINT NOT NULL DEFAULT 0,"
           " status TEXT NOT NULL,"
           " error TEXT NOT NULL DEFAULT '',"
           " created_ms BIGINT NOT NULL)"},
          {Only::kBoth, "CREATE INDEX runs_org_agent ON runs(org_id, agent_id, created_ms)"},
          {Only::kBoth, "CREATE INDEX runs_org_created ON runs(org_id, created_ms)"},
          {Only::kBoth,
           "CREATE TABLE jobs ("
           " id TEXT PRIMARY KEY,"
           " org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,"
           " agent_id TEXT NOT NULL,"
           " version_id TEXT NOT NULL DEFAULT '',"
           " batch_id TEXT NOT NULL DEFAULT '',"
           " batch_seq BIGINT NOT NULL DEFAULT 0,"  // position in its submission
           " status BIGINT NOT NULL,"
           " inputs_json TEXT NOT NULL,"
           " result_json TEXT NOT NULL DEFAULT '',"
           " error TEXT NOT NULL DEFAULT '',"
           " attempts BIGINT NOT NULL DEFAULT 0,"
           " created_ms BIGINT NOT NULL,"
           " updated_ms BIGINT NOT NULL)"},
          {Only::kBoth, "CREATE INDEX jobs_status ON jobs(status, created_ms)"},
          {Only::kBoth, "CREATE INDEX jobs_batch ON jobs(org_id, batch_id, created_ms)"},
      }});

  list.push_back(Migration{
      3,
      "Roe agent settings (engine class, job cache switches) and job metadata",
      {
          {Only::kBoth, "ALTER TABLE agents ADD COLUMN engine_class_id TEXT NOT NULL DEFAULT ''"},
          {Only::kBoth, "ALTER TABLE agents ADD COLUMN disable_cache BOOLEAN NOT NULL DEFAULT FALSE"},
          {Only::kBoth, "ALTER TABLE agents ADD COLUMN cache_failed_jobs BOOLEAN NOT NULL DEFAULT FALSE"},
          {Only::kBoth, "ALTER TABLE jobs ADD COLUMN metadata_json TEXT NOT NULL DEFAULT '{}'"},
          {Only::kBoth, "CREATE INDEX jobs_org_agent ON jobs(org_id, agent_id, created_ms)"},
      }});

  return list;
}

}  // namespace

const std::vector<Migration>& all_migrations() {
  static const std::vector<Migration> kList = build();
  return kList;
}

std::vector<std::string_view> statements_for(const Migration& m, Dialect dialect) {
  std::vector<std::string_view> out;
  for (const MigrationStep& step : m.steps) {
    bool applies = step.only == Only::kBoth || (step.only == Only::kSqlite && dialect == Dialect::kSqlite) ||
                   (step.only == Only::kPostgres && dialect == Dialect::kPostgres);
    if (applies) out.push_back(step.sql);
  }
  return out;
}

int64_t latest_schema_version() { return all_migrations().back().version; }

}  // namespace agentd::store
