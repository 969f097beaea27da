#pragma once
// Versioned schema migrations, shared by both store backends.
//
// Migration N is a numbered list of SQL statements. A backend's migrate()
// runs, in ONE transaction: take a lock (BEGIN IMMEDIATE on SQLite, an
// advisory transaction lock on PostgreSQL, so two processes starting at once
// take turns), create schema_migrations if missing, apply every migration
// whose version is not recorded there, in order, recording (version, name,
// applied_ms) for each. A second run finds everything recorded and does
// nothing. A database whose recorded version is above the newest one here
// was written by a newer agentd: migrate() refuses it (kFailedPrecondition)
// rather than run old code on a schema it does not know.
//
// Adding a table later (sessions, runs, jobs, usage) is one more entry at the
// end of the list; released entries are never edited.
// Thread-safety: the tables are immutable after static initialization.

#include <cstdint>
#include <string_view>
#include <vector>

namespace agentd::store {

enum class Dialect { kSqlite, kPostgres };

struct MigrationStep {
  enum class Only { kBoth, kSqlite, kPostgres };
  Only only = Only::kBoth;
  std::string_view sql;  // one statement, no trailing semicolon needed
};

struct Migration {
  int64_t version = 0;  // 1, 2, ... contiguous
  std::string_view name;
  std::vector<MigrationStep> steps;
};

// Every migration, oldest first.
const std::vector<Migration>& all_migrations();
// The statements of `m` that apply to `dialect`, in order.
std::vector<std::string_view> statements_for(const Migration& m, Dialect dialect);
// The newest version in all_migrations().
int64_t latest_schema_version();

// The bookkeeping table itself; the same text works on both dialects.
inline constexpr std::string_view kCreateSchemaMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version BIGINT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_ms BIGINT NOT NULL)";

}  // namespace agentd::store
