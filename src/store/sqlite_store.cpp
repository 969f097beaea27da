#include "store/sqlite_store.h"

#include <chrono>
#include <filesystem>
#include <limits>
#include <set>
#include <thread>
#include <utility>

#include "common/clock.h"
#include "store/agent_query.h"
#include "store/config_json.h"
#include "store/migrations.h"

namespace agentd::store {
namespace {

constexpr char kOrgColumns[] = "id, name, credits, created_ms";
constexpr char kKeyColumns[] = "id, org_id, prefix, hash, admin, rpm, tpm, concurrency, created_ms, revoked";
constexpr char kAgentColumns[] =
    "id, org_id, name, description, active, creator, created_ms, updated_ms, current_version_id, "
    "engine_class_id, disable_cache, cache_failed_jobs";
constexpr char kVersionColumns[] =
    "id, agent_id, number, version_name, description, created_ms, model, instructions, demonstrations_json, "
    "temperature, max_tokens, top_p, input_definitions_json, output_schema_json, engine_config_json, "
    "conversation_saving";

std::string sql(std::string_view head, const char* columns, std::string_view tail) {
  std::string s(head);
  s += columns;
  s += tail;
  return s;
}

// Replaces the message of a status with `code` (e.g. a constraint clash
// reported in SQLite's words) by one that names the record.
Status renamed(Status s, StatusCode code, std::string message) {
  if (s.code() == code) return Status(code, std::move(message));
  return s;
}

void ignore(const Status&) {}

Organization read_org(const SqliteStatement& st) {
  Organization o;
  o.id = st.column_text(0);
  o.name = st.column_text(1);
  o.credits = st.column_int(2);
  o.created_ms = st.column_int(3);
  return o;
}

ApiKey read_key(const SqliteStatement& st) {
  ApiKey k;
  k.id = st.column_text(0);
  k.org_id = st.column_text(1);
  k.prefix = st.column_text(2);
  k.hash = st.column_text(3);
  k.admin = st.column_bool(4);
  k.rpm = st.column_int(5);
  k.tpm = st.column_int(6);
  k.concurrency = st.column_int(7);
  k.created_ms = st.column_int(8);
  k.revoked = st.column_bool(9);
  return k;
}

Agent read_agent(const SqliteStatement& st) {
  Agent a;
  a.id = st.column_text(0);
  a.org_id = st.column_text(1);
  a.name = st.column_text(2);
  a.description = st.column_text(3);
  a.active = st.column_bool(4);
  a.creator = st.column_text(5);
  a.created_ms = st.column_int(6);
  a.updated_ms = st.column_int(7);
  a.current_version_id = st.column_text(8);
  a.engine_class_id = st.column_text(9);
  a.disable_cache = st.column_bool(10);
  a.cache_failed_jobs = st.column_bool(11);
  return a;
}

StatusOr<AgentVersion> read_version(const SqliteStatement& st) {
  AgentVersion v;
  v.id = st.column_text(0);
  v.agent_id = st.column_text(1);
  v.number = st.column_int(2);
  v.version_name = st.column_text(3);
  v.description = st.column_text(4);
  v.created_ms = st.column_int(5);
  v.config.model = st.column_text(6);
  v.config.instructions = st.column_text(7);
  AGENTD_ASSIGN_OR_RETURN(v.config.demonstrations, demonstrations_from_json(st.column_text(8)));
  v.config.temperature = st.column_double(9);
  v.config.max_tokens = st.column_int(10);
  v.config.top_p = st.column_optional_double(11);
  AGENTD_ASSIGN_OR_RETURN(v.config.input_definitions, input_definitions_from_json(st.column_text(12)));
  v.config.output_schema_json = st.column_text(13);
  v.config.engine_config_json = st.column_text(14);
  v.config.conversation_saving = st.column_bool(15);
  return v;
}

// Binds the config columns in kVersionColumns order, from model onwards.
void bind_config(SqliteStatement& st, const AgentConfig& c) {
  st.bind(c.model)
      .bind(c.instructions)
      .bind(demonstrations_to_json(c.demonstrations))
      .bind(c.temperature)
      .bind(c.max_tokens)
      .bind(c.top_p)
      .bind(input_definitions_to_json(c.input_definitions))
      .bind(c.output_schema_json)
      .bind(c.engine_config_json)
      .bind(c.conversation_saving);
}

Status insert_version(SqliteConnection& db, const AgentVersion& v) {
  AGENTD_ASSIGN_OR_RETURN(
      SqliteStatement st,
      db.prepare(sql("INSERT INTO agent_versions (", kVersionColumns,
                     ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")));
  st.bind(v.id).bind(v.agent_id).bind(v.number).bind(v.version_name).bind(v.description).bind(v.created_ms);
  bind_config(st, v.config);
  Status s = st.run();
  s = renamed(std::move(s), StatusCode::kAlreadyExists,
              "version " + std::to_string(v.number) + " (or id " + v.id + ") already exists for agent " +
                  v.agent_id);
  return renamed(std::move(s), StatusCode::kNotFound, "agent " + v.agent_id + " not found");
}

// Runs a statement that returns one row of one integer (an UPDATE ...
// RETURNING); nullopt when it matched no row.
StatusOr<std::optional<int64_t>> returning_int(SqliteStatement& st) {
  AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<int64_t>();
  int64_t v = st.column_int(0);
  AGENTD_RETURN_IF_ERROR(st.run());  // finish the statement so it commits
  return std::optional<int64_t>(v);
}

StatusOr<std::optional<int64_t>> org_credits(SqliteConnection& db, const std::string& org_id) {
  AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare("SELECT credits FROM organizations WHERE id = ?"));
  st.bind(org_id);
  return returning_int(st);
}

// PRAGMA journal_mode = WAL needs the file to itself for a moment. When
// several processes start on a new file at once, SQLite can answer
// SQLITE_BUSY at once rather than through the busy handler (it does not wait
// for a lock it could deadlock on), so the switch is retried here until the
// busy timeout; whoever comes later finds the file in WAL mode already.
Status switch_to_wal(SqliteConnection& db, const std::string& path, int busy_timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  while (true) {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare("PRAGMA journal_mode = WAL"));
    StatusOr<bool> row = st.step();
    if (row.is_ok()) {
      if (!*row || st.column_text(0) != "wal") {
        return Status::unavailable("cannot switch SQLite database '" + path + "' to WAL mode");
      }
      return Status::ok();
    }
    const bool busy = (sqlite3_extended_errcode(db.raw()) & 0xff) == SQLITE_BUSY;
    if (!busy || std::chrono::steady_clock::now() >= deadline) return row.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::open(const SqliteOptions& options) {
  if (options.path.empty()) return Status::invalid_argument("SQLite database path is empty");
  SqliteOptions opts = options;
  bool memory = opts.path == ":memory:";
  if (!memory) {
    // Reader connections open later; pin the file now in case the working
    // directory changes in between.
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(opts.path, ec);
    if (ec) return Status::invalid_argument("bad SQLite database path '" + opts.path + "': " + ec.message());
    opts.path = abs.string();
  }
  AGENTD_ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> writer,
                          SqliteConnection::open(opts.path, false, opts.busy_timeout_ms));
  if (!memory) {
    // WAL is a property of the file: set once, every later connection uses it.
    AGENTD_RETURN_IF_ERROR(switch_to_wal(*writer, opts.path, opts.busy_timeout_ms));
    // In WAL mode NORMAL loses no committed data on a crash of the process,
    // only possibly the last transactions on power loss; it saves an fsync
    // per commit.
    AGENTD_RETURN_IF_ERROR(writer->exec("PRAGMA synchronous = NORMAL"));
  }
  return std::make_unique<SqliteStore>(Key(), std::move(opts), std::move(writer));
}

SqliteStore::SqliteStore(Key, SqliteOptions options, std::unique_ptr<SqliteConnection> writer)
    : options_(std::move(options)), writer_(std::move(writer)) {
  if (options_.path != ":memory:" && options_.readers > 0) {
    std::string path = options_.path;
    int busy = options_.busy_timeout_ms;
    readers_ = std::make_unique<ConnectionPool<SqliteConnection>>(
        options_.readers, std::chrono::milliseconds(busy),
        [path, busy]() { return SqliteConnection::open(path, true, busy); });
  }
}

Status SqliteStore::read(const Work& work) {
  if (readers_ == nullptr) {
    std::lock_guard<std::mutex> lock(write_mu_);
    return work(*writer_);
  }
  AGENTD_ASSIGN_OR_RETURN(auto lease, readers_->acquire());
  return work(*lease);
}

Status SqliteStore::write(const Work& work) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return work(*writer_);
}

Status SqliteStore::write_tx(const Work& work) {
  std::lock_guard<std::mutex> lock(write_mu_);
  AGENTD_RETURN_IF_ERROR(writer_->exec("BEGIN IMMEDIATE"));
  Status s = work(*writer_);
  if (s.is_ok()) s = writer_->exec("COMMIT");
  // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL);
  // then this ROLLBACK fails harmlessly.
  if (!s.is_ok()) ignore(writer_->exec("ROLLBACK"));
  return s;
}

Status SqliteStore::migrate() {
  return write_tx([](SqliteConnection& db) -> Status {
    AGENTD_RETURN_IF_ERROR(db.exec(kCreateSchemaMigrations));
    std::set<int64_t> applied;
    {
      AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare("SELECT version FROM schema_migrations"));
      while (true) {
        AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) break;
        applied.insert(st.column_int(0));
      }
    }
    if (!applied.empty() && *applied.rbegin() > latest_schema_version()) {
      return Status::failed_precondition("database schema version " + std::to_string(*applied.rbegin()) +
                                         " is newer than this agentd knows (" +
                                         std::to_string(latest_schema_version()) + ")");
    }
    for (const Migration& m : all_migrations()) {
      if (applied.count(m.version) != 0) continue;
      for (std::string_view stmt : statements_for(m, Dialect::kSqlite)) {
        Status s = db.exec(stmt);
        if (!s.is_ok()) {
          return Status(s.code(), "migration " + std::to_string(m.version) + " failed: " + s.message());
        }
      }
      AGENTD_ASSIGN_OR_RETURN(SqliteStatement ins,
                              db.prepare("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)"));
      ins.bind(m.version).bind(m.name).bind(SystemClock::instance().now_ms());
      AGENTD_RETURN_IF_ERROR(ins.run());
    }
    return Status::ok();
  });
}

Status SqliteStore::ping() {
  return read([](SqliteConnection& db) { return db.exec("SELECT 1"); });
}

// ---- Organizations ----

Status SqliteStore::create_org(const Organization& org) {
  return write([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare(sql("INSERT INTO organizations (", kOrgColumns,
                                                               ") VALUES (?, ?, ?, ?)")));
    st.bind(org.id).bind(org.name).bind(org.credits).bind(org.created_ms);
    return renamed(st.run(), StatusCode::kAlreadyExists, "organization '" + org.name + "' already exists");
  });
}

StatusOr<Organization> SqliteStore::get_org(const std::string& id) {
  std::optional<Organization> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare(sql("SELECT ", kOrgColumns, " FROM organizations WHERE id = ?")));
    st.bind(id);
    AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) out = read_org(st);
    return Status::ok();
  }));
  if (!out) return Status::not_found("organization " + id + " not found");
  return std::move(*out);
}

StatusOr<Organization> SqliteStore::get_org_by_name(const std::string& name) {
  std::optional<Organization> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare(sql("SELECT ", kOrgColumns, " FROM organizations WHERE name = ?")));
    st.bind(name);
    AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) out = read_org(st);
    return Status::ok();
  }));
  if (!out) return Status::not_found("organization '" + name + "' not found");
  return std::move(*out);
}

StatusOr<std::vector<Organization>> SqliteStore::list_orgs() {
  std::vector<Organization> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare(sql("SELECT ", kOrgColumns, " FROM organizations ORDER BY created_ms, name")));
    while (true) {
      AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) return Status::ok();
      out.push_back(read_org(st));
    }
  }));
  return out;
}

StatusOr<Nanos> SqliteStore::add_credits(const std::string& org_id, Nanos delta) {
  // The balance must stay inside int64: SQLite would silently turn an
  // overflowing sum into a float. The bounds keep the addition exact.
  constexpr Nanos kMin = std::numeric_limits<Nanos>::min();
  constexpr Nanos kMax = std::numeric_limits<Nanos>::max();
  Nanos lo = delta >= 0 ? kMin : kMin - delta;
  Nanos hi = delta >= 0 ? kMax - delta : kMax;
  Nanos balance = 0;
  AGENTD_RETURN_IF_ERROR(write([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("UPDATE organizations SET credits = credits + ? "
                                       "WHERE id = ? AND credits BETWEEN ? AND ? RETURNING credits"));
    st.bind(delta).bind(org_id).bind(lo).bind(hi);
    AGENTD_ASSIGN_OR_RETURN(std::optional<int64_t> updated, returning_int(st));
    if (updated) {
      balance = *updated;
      return Status::ok();
    }
    AGENTD_ASSIGN_OR_RETURN(std::optional<int64_t> current, org_credits(db, org_id));
    if (!current) return Status::not_found("organization " + org_id + " not found");
    return Status::invalid_argument("adding " + std::to_string(delta) + " to the balance would overflow");
  }));
  return balance;
}

StatusOr<Nanos> SqliteStore::try_debit(const std::string& org_id, Nanos amount) {
  if (amount < 0) return Status::invalid_argument("debit amount must not be negative");
  Nanos balance = 0;
  AGENTD_RETURN_IF_ERROR(write([&](SqliteConnection& db) -> Status {
    // One conditional UPDATE: the check and the write are one atomic step for
    // every connection and process on the file.
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("UPDATE organizations SET credits = credits - ?1 "
                                       "WHERE id = ?2 AND credits >= ?1 RETURNING credits"));
    st.bind(amount).bind(org_id);
    AGENTD_ASSIGN_OR_RETURN(std::optional<int64_t> updated, returning_int(st));
    if (updated) {
      balance = *updated;
      return Status::ok();
    }
    // Only to name the error; the decision above is already made.
    AGENTD_ASSIGN_OR_RETURN(std::optional<int64_t> current, org_credits(db, org_id));
    if (!current) return Status::not_found("organization " + org_id + " not found");
    return Status::insufficient_credits("balance " + std::to_string(*current) + " nano-USD cannot cover " +
                                        std::to_string(amount));
  }));
  return balance;
}

// ---- API keys ----

Status SqliteStore::create_key(const ApiKey& key) {
  return write([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare(sql("INSERT INTO api_keys (", kKeyColumns,
                                                               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")));
    st.bind(key.id).bind(key.org_id).bind(key.prefix).bind(key.hash).bind(key.admin).bind(key.rpm).bind(key.tpm);
    st.bind(key.concurrency).bind(key.created_ms).bind(key.revoked);
    Status s = renamed(st.run(), StatusCode::kAlreadyExists,
                       "an API key with prefix '" + key.prefix + "' or the same hash or id already exists");
    return renamed(std::move(s), StatusCode::kNotFound, "organization " + key.org_id + " not found");
  });
}

StatusOr<ApiKey> SqliteStore::find_key_by_hash(const std::string& hash) {
  std::optional<ApiKey> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare(sql("SELECT ", kKeyColumns, " FROM api_keys WHERE hash = ?")));
    st.bind(hash);
    AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) out = read_key(st);
    return Status::ok();
  }));
  if (!out) return Status::not_found("no API key with that hash");
  return std::move(*out);
}

StatusOr<std::vector<ApiKey>> SqliteStore::list_keys(const std::string& org_id) {
  std::vector<ApiKey> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.prepare(sql("SELECT ", kKeyColumns, " FROM api_keys WHERE org_id = ? ORDER BY created_ms, id")));
    st.bind(org_id);
    while (true) {
      AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) return Status::ok();
      out.push_back(read_key(st));
    }
  }));
  return out;
}

StatusOr<int64_t> SqliteStore::revoke_keys(const std::string& prefix) {
  if (prefix.empty()) return Status::invalid_argument("key prefix to revoke is empty");
  int64_t n = 0;
  AGENTD_RETURN_IF_ERROR(write([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("UPDATE api_keys SET revoked = TRUE "
                                       "WHERE substr(prefix, 1, length(?1)) = ?1 AND NOT revoked"));
    st.bind(prefix);
    AGENTD_RETURN_IF_ERROR(st.run());
    n = db.changes();
    return Status::ok();
  }));
  return n;
}

// ---- Agents ----

Status SqliteStore::create_agent(const Agent& agent, const AgentVersion& version) {
  if (!version.agent_id.empty() && version.agent_id != agent.id) {
    return Status::invalid_argument("version belongs to agent " + version.agent_id + ", not " + agent.id);
  }
  AgentVersion v = version;
  v.agent_id = agent.id;
  return write_tx([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare(sql("INSERT INTO agents (", kAgentColumns,
                                                               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")));
    st.bind(agent.id).bind(agent.org_id).bind(agent.name).bind(agent.description).bind(agent.active);
    st.bind(agent.creator).bind(agent.created_ms).bind(agent.updated_ms).bind(v.id);
    st.bind(agent.engine_class_id).bind(agent.disable_cache).bind(agent.cache_failed_jobs);
    Status s = renamed(st.run(), StatusCode::kAlreadyExists,
                       "agent '" + agent.name + "' already exists in this organization");
    AGENTD_RETURN_IF_ERROR(renamed(std::move(s), StatusCode::kNotFound, "organization " + agent.org_id + " not found"));
    return insert_version(db, v);
  });
}

StatusOr<Agent> SqliteStore::get_agent(const std::string& org_id, const std::string& agent_id) {
  std::optional<Agent> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare(sql("SELECT ", kAgentColumns, " FROM agents WHERE org_id = ? AND id = ?")));
    st.bind(org_id).bind(agent_id);
    AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) out = read_agent(st);
    return Status::ok();
  }));
  if (!out) return Status::not_found("agent " + agent_id + " not found");
  return std::move(*out);
}

StatusOr<Agent> SqliteStore::get_agent_by_name(const std::string& org_id, const std::string& name) {
  std::optional<Agent> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare(sql("SELECT ", kAgentColumns, " FROM agents WHERE org_id = ? AND name = ?")));
    st.bind(org_id).bind(name);
    AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) out = read_agent(st);
    return Status::ok();
  }));
  if (!out) return Status::not_found("agent '" + name + "' not found");
  return std::move(*out);
}

StatusOr<AgentPage> SqliteStore::list_agents(const std::string& org_id, const AgentQuery& query) {
  AGENTD_ASSIGN_OR_RETURN(AgentQuery q, checked_agent_query(query));
  std::string pattern = like_contains_pattern(q.search);
  // SQLite's LIKE ignores case for ASCII letters.
  constexpr char kWhere[] =
      " FROM agents WHERE org_id = ?1 AND (?2 OR active)"
      " AND (?3 = '' OR name LIKE ?4 ESCAPE '\\' OR description LIKE ?4 ESCAPE '\\')";
  AgentPage page;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    // One read transaction, so the count and the page see the same snapshot.
    AGENTD_RETURN_IF_ERROR(db.exec("BEGIN"));
    Status s = [&]() -> Status {
      {
        AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare(std::string("SELECT count(*)") + kWhere));
        st.bind(org_id).bind(q.include_inactive).bind(q.search).bind(pattern);
        AGENTD_ASSIGN_OR_RETURN(std::optional<int64_t> total, returning_int(st));
        page.total = total.value_or(0);
      }
      AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare(std::string("SELECT ") + kAgentColumns + kWhere +
                                                             " ORDER BY created_ms, id LIMIT ?5 OFFSET ?6"));
      st.bind(org_id).bind(q.include_inactive).bind(q.search).bind(pattern).bind(q.limit).bind(q.offset);
      while (true) {
        AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) return Status::ok();
        page.items.push_back(read_agent(st));
      }
    }();
    ignore(db.exec(s.is_ok() ? "COMMIT" : "ROLLBACK"));
    return s;
  }));
  return page;
}

Status SqliteStore::update_agent(const Agent& agent) {
  if (agent.current_version_id.empty()) return Status::invalid_argument("agent has no current version");
  return write_tx([&](SqliteConnection& db) -> Status {
    {
      AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                              db.prepare("SELECT count(*) FROM agent_versions v JOIN agents a ON a.id = v.agent_id "
                                         "WHERE v.id = ? AND a.id = ? AND a.org_id = ?"));
      st.bind(agent.current_version_id).bind(agent.id).bind(agent.org_id);
      AGENTD_ASSIGN_OR_RETURN(std::optional<int64_t> n, returning_int(st));
      if (n.value_or(0) == 0) {
        // Either the agent is not there (in this org) or the version is not its own.
        AGENTD_ASSIGN_OR_RETURN(SqliteStatement chk,
                                db.prepare("SELECT count(*) FROM agents WHERE id = ? AND org_id = ?"));
        chk.bind(agent.id).bind(agent.org_id);
        AGENTD_ASSIGN_OR_RETURN(std::optional<int64_t> found, returning_int(chk));
        if (found.value_or(0) == 0) return Status::not_found("agent " + agent.id + " not found");
        return Status::invalid_argument("version " + agent.current_version_id + " is not a version of agent " +
                                        agent.id);
      }
    }
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("UPDATE agents SET name = ?, description = ?, active = ?, updated_ms = ?, "
                                       "current_version_id = ?, engine_class_id = ?, disable_cache = ?, "
                                       "cache_failed_jobs = ? WHERE id = ? AND org_id = ?"));
    st.bind(agent.name).bind(agent.description).bind(agent.active).bind(agent.updated_ms);
    st.bind(agent.current_version_id).bind(agent.engine_class_id).bind(agent.disable_cache);
    st.bind(agent.cache_failed_jobs).bind(agent.id).bind(agent.org_id);
    return renamed(st.run(), StatusCode::kAlreadyExists,
                   "agent '" + agent.name + "' already exists in this organization");
  });
}

Status SqliteStore::delete_agent(const std::string& org_id, const std::string& agent_id) {
  return write_tx([&](SqliteConnection& db) -> Status {
    // Versions (and, later, everything else of the agent) go by ON DELETE CASCADE.
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare("DELETE FROM agents WHERE id = ? AND org_id = ?"));
    st.bind(agent_id).bind(org_id);
    AGENTD_RETURN_IF_ERROR(st.run());
    if (db.changes() == 0) return Status::not_found("agent " + agent_id + " not found");
    return Status::ok();
  });
}

// ---- Versions ----

Status SqliteStore::create_version(const AgentVersion& version, bool make_current) {
  return write_tx([&](SqliteConnection& db) -> Status {
    AGENTD_RETURN_IF_ERROR(insert_version(db, version));
    if (!make_current) return Status::ok();
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("UPDATE agents SET current_version_id = ?, updated_ms = max(updated_ms, ?) "
                                       "WHERE id = ?"));
    st.bind(version.id).bind(version.created_ms).bind(version.agent_id);
    return st.run();
  });
}

Status SqliteStore::update_version(const AgentVersion& version) {
  return write([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.prepare("UPDATE agent_versions SET version_name = ?, description = ?, model = ?, instructions = ?, "
                   "demonstrations_json = ?, temperature = ?, max_tokens = ?, top_p = ?, "
                   "input_definitions_json = ?, output_schema_json = ?, engine_config_json = ?, "
                   "conversation_saving = ? WHERE id = ? AND agent_id = ?"));
    st.bind(version.version_name).bind(version.description);
    bind_config(st, version.config);
    st.bind(version.id).bind(version.agent_id);
    AGENTD_RETURN_IF_ERROR(st.run());
    if (db.changes() == 0) return Status::not_found("version " + version.id + " not found");
    return Status::ok();
  });
}

StatusOr<AgentVersion> SqliteStore::get_version(const std::string& agent_id, const std::string& version_id) {
  std::optional<AgentVersion> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.prepare(sql("SELECT ", kVersionColumns, " FROM agent_versions WHERE agent_id = ? AND id = ?")));
    st.bind(agent_id).bind(version_id);
    AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return Status::ok();
    AGENTD_ASSIGN_OR_RETURN(out, read_version(st));
    return Status::ok();
  }));
  if (!out) return Status::not_found("version " + version_id + " not found");
  return std::move(*out);
}

StatusOr<std::vector<AgentVersion>> SqliteStore::list_versions(const std::string& agent_id) {
  std::vector<AgentVersion> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.prepare(sql("SELECT ", kVersionColumns, " FROM agent_versions WHERE agent_id = ? ORDER BY number")));
    st.bind(agent_id);
    while (true) {
      AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) return Status::ok();
      AGENTD_ASSIGN_OR_RETURN(AgentVersion v, read_version(st));
      out.push_back(std::move(v));
    }
  }));
  return out;
}

Status SqliteStore::delete_version(const std::string& agent_id, const std::string& version_id) {
  return write_tx([&](SqliteConnection& db) -> Status {
    {
      AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare("SELECT current_version_id FROM agents WHERE id = ?"));
      st.bind(agent_id);
      AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) return Status::not_found("agent " + agent_id + " not found");
      if (st.column_text(0) == version_id)
        return Status::failed_precondition("version " + version_id + " is the agent's current version");
    }
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare("DELETE FROM agent_versions WHERE id = ? AND agent_id = ?"));
    st.bind(version_id).bind(agent_id);
    AGENTD_RETURN_IF_ERROR(st.run());
    if (db.changes() == 0) return Status::not_found("version " + version_id + " not found");
    return Status::ok();
  });
}

}  // namespace agentd::store
