#include "store/postgres_store.h"

#include <chrono>
#include <limits>
#include <set>
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

// First half of the advisory lock key that serializes migrations (the
// second half is the schema, so separate schemas migrate independently).
constexpr int32_t kMigrationLockKey = 0x61676e74;  // "agnt"

std::string sql(std::string_view head, const char* columns, std::string_view tail) {
  std::string s(head);
  s += columns;
  s += tail;
  return s;
}

Status renamed(Status s, StatusCode code, std::string message) {
  if (s.code() == code) return Status(code, std::move(message));
  return s;
}

void ignore(const StatusOr<PgResult>&) {}

Organization read_org(const PgResult& r, int i) {
  Organization o;
  o.id = r.text(i, 0);
  o.name = r.text(i, 1);
  o.credits = r.int64(i, 2);
  o.created_ms = r.int64(i, 3);
  return o;
}

ApiKey read_key(const PgResult& r, int i) {
  ApiKey k;
  k.id = r.text(i, 0);
  k.org_id = r.text(i, 1);
  k.prefix = r.text(i, 2);
  k.hash = r.text(i, 3);
  k.admin = r.boolean(i, 4);
  k.rpm = r.int64(i, 5);
  k.tpm = r.int64(i, 6);
  k.concurrency = r.int64(i, 7);
  k.created_ms = r.int64(i, 8);
  k.revoked = r.boolean(i, 9);
  return k;
}

Agent read_agent(const PgResult& r, int i) {
  Agent a;
  a.id = r.text(i, 0);
  a.org_id = r.text(i, 1);
  a.name = r.text(i, 2);
  a.description = r.text(i, 3);
  a.active = r.boolean(i, 4);
  a.creator = r.text(i, 5);
  a.created_ms = r.int64(i, 6);
  a.updated_ms = r.int64(i, 7);
  a.current_version_id = r.text(i, 8);
  a.engine_class_id = r.text(i, 9);
  a.disable_cache = r.boolean(i, 10);
  a.cache_failed_jobs = r.boolean(i, 11);
  return a;
}

StatusOr<AgentVersion> read_version(const PgResult& r, int i) {
  AgentVersion v;
  v.id = r.text(i, 0);
  v.agent_id = r.text(i, 1);
  v.number = r.int64(i, 2);
  v.version_name = r.text(i, 3);
  v.description = r.text(i, 4);
  v.created_ms = r.int64(i, 5);
  v.config.model = r.text(i, 6);
  v.config.instructions = r.text(i, 7);
  AGENTD_ASSIGN_OR_RETURN(v.config.demonstrations, demonstrations_from_json(r.text(i, 8)));
  v.config.temperature = r.float64(i, 9);
  v.config.max_tokens = r.int64(i, 10);
  v.config.top_p = r.optional_float64(i, 11);
  AGENTD_ASSIGN_OR_RETURN(v.config.input_definitions, input_definitions_from_json(r.text(i, 12)));
  v.config.output_schema_json = r.text(i, 13);
  v.config.engine_config_json = r.text(i, 14);
  v.config.conversation_saving = r.boolean(i, 15);
  return v;
}

// Adds the config columns in kVersionColumns order, from model onwards.
void add_config(PgParams& p, const AgentConfig& c) {
  p.add(c.model)
      .add(c.instructions)
      .add(demonstrations_to_json(c.demonstrations))
      .add(c.temperature)
      .add(c.max_tokens)
      .add(c.top_p)
      .add(input_definitions_to_json(c.input_definitions))
      .add(c.output_schema_json)
      .add(c.engine_config_json)
      .add(c.conversation_saving);
}

Status insert_version(PgConnection& db, const AgentVersion& v) {
  PgParams p;
  p.add(v.id).add(v.agent_id).add(v.number).add(v.version_name).add(v.description).add(v.created_ms);
  add_config(p, v.config);
  Status s = db.exec(sql("INSERT INTO agent_versions (", kVersionColumns,
                         ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"),
                     p)
                 .status();
  s = renamed(std::move(s), StatusCode::kAlreadyExists,
              "version " + std::to_string(v.number) + " (or id " + v.id + ") already exists for agent " + v.agent_id);
  return renamed(std::move(s), StatusCode::kNotFound, "agent " + v.agent_id + " not found");
}

StatusOr<std::optional<int64_t>> org_credits(PgConnection& db, const std::string& org_id) {
  AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec("SELECT credits FROM organizations WHERE id = $1", PgParams().add(org_id)));
  if (r.rows() == 0) return std::optional<int64_t>();
  return std::optional<int64_t>(r.int64(0, 0));
}

}  // namespace

StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::open(const PostgresOptions& options) {
  if (options.pool_size == 0) return Status::invalid_argument("PostgreSQL pool size must be at least 1");
  auto store = std::make_unique<PostgresStore>(Key(), options);
  AGENTD_RETURN_IF_ERROR(store->ping());
  return store;
}

PostgresStore::PostgresStore(Key, PostgresOptions options)
    : options_(std::move(options)),
      pool_(options_.pool_size, std::chrono::milliseconds(options_.pool_wait_ms),
            [this]() { return connect(); }) {}

StatusOr<std::unique_ptr<PgConnection>> PostgresStore::connect() const {
  AGENTD_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn,
                          PgConnection::connect(options_.url, options_.connect_timeout_s));
  // No request waits on the database without bound, not even behind a lock.
  AGENTD_RETURN_IF_ERROR(conn->exec("SELECT set_config('statement_timeout', $1, false)",
                                    PgParams().add(std::to_string(options_.statement_timeout_ms)))
                             .status());
  return conn;
}

Status PostgresStore::run(Mode mode, const Work& work) {
  for (int attempt = 0;; ++attempt) {
    AGENTD_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
    bool commit_sent = false;
    Status s = run_once(*lease, mode, work, commit_sent);
    if (s.is_ok() || !lease->broken()) return s;
    // The connection is gone, and so most likely are its idle siblings.
    lease.discard();
    pool_.clear_idle();
    // After COMMIT was sent we cannot know whether it took effect: report
    // rather than risk applying the work twice.
    if (commit_sent || attempt > 0) return s;
  }
}

Status PostgresStore::run_once(PgConnection& conn, Mode mode, const Work& work, bool& commit_sent) {
  if (mode == Mode::kRead) return work(conn);
  const char* begin = mode == Mode::kReadTx ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN";
  AGENTD_RETURN_IF_ERROR(conn.exec(begin).status());
  Status s = work(conn);
  if (s.is_ok()) {
    commit_sent = mode == Mode::kWriteTx;
    return conn.exec("COMMIT").status();
  }
  if (!conn.broken()) ignore(conn.exec("ROLLBACK"));
  return s;
}

Status PostgresStore::migrate() {
  return run(Mode::kWriteTx, [](PgConnection& db) -> Status {
    // Two processes starting at once take turns here; the lock ends with the
    // transaction.
    AGENTD_RETURN_IF_ERROR(
        db.exec("SELECT pg_advisory_xact_lock($1::int4, hashtext(coalesce(current_schema(), '')))",
                PgParams().add(int64_t{kMigrationLockKey}))
            .status());
    AGENTD_RETURN_IF_ERROR(db.exec(kCreateSchemaMigrations).status());
    std::set<int64_t> applied;
    {
      AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec("SELECT version FROM schema_migrations"));
      for (int i = 0; i < r.rows(); ++i) applied.insert(r.int64(i, 0));
    }
    if (!applied.empty() && *applied.rbegin() > latest_schema_version()) {
      return Status::failed_precondition("database schema version " + std::to_string(*applied.rbegin()) +
                                         " is newer than this agentd knows (" +
                                         std::to_string(latest_schema_version()) + ")");
    }
    for (const Migration& m : all_migrations()) {
      if (applied.count(m.version) != 0) continue;
      for (std::string_view stmt : statements_for(m, Dialect::kPostgres)) {
        Status s = db.exec(stmt).status();
        if (!s.is_ok()) return Status(s.code(), "migration " + std::to_string(m.version) + " failed: " + s.message());
      }
      AGENTD_RETURN_IF_ERROR(db.exec("INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)",
                                     PgParams().add(m.version).add(m.name).add(SystemClock::instance().now_ms()))
                                 .status());
    }
    return Status::ok();
  });
}

Status PostgresStore::ping() {
  return run(Mode::kRead, [](PgConnection& db) { return db.exec("SELECT 1").status(); });
}

// ---- Organizations ----

Status PostgresStore::create_org(const Organization& org) {
  return run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    Status s = db.exec(sql("INSERT INTO organizations (", kOrgColumns, ") VALUES ($1, $2, $3, $4)"),
                       PgParams().add(org.id).add(org.name).add(org.credits).add(org.created_ms))
                   .status();
    return renamed(std::move(s), StatusCode::kAlreadyExists, "organization '" + org.name + "' already exists");
  });
}

StatusOr<Organization> PostgresStore::get_org(const std::string& id) {
  std::optional<Organization> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r,
                            db.exec(sql("SELECT ", kOrgColumns, " FROM organizations WHERE id = $1"), PgParams().add(id)));
    if (r.rows() > 0) out = read_org(r, 0);
    return Status::ok();
  }));
  if (!out) return Status::not_found("organization " + id + " not found");
  return std::move(*out);
}

StatusOr<Organization> PostgresStore::get_org_by_name(const std::string& name) {
  std::optional<Organization> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        PgResult r, db.exec(sql("SELECT ", kOrgColumns, " FROM organizations WHERE name = $1"), PgParams().add(name)));
    if (r.rows() > 0) out = read_org(r, 0);
    return Status::ok();
  }));
  if (!out) return Status::not_found("organization '" + name + "' not found");
  return std::move(*out);
}

StatusOr<std::vector<Organization>> PostgresStore::list_orgs() {
  std::vector<Organization> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    out.clear();  // a retried attempt starts over
    AGENTD_ASSIGN_OR_RETURN(PgResult r,
                            db.exec(sql("SELECT ", kOrgColumns, " FROM organizations ORDER BY created_ms, name")));
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_org(r, i));
    return Status::ok();
  }));
  return out;
}

StatusOr<Nanos> PostgresStore::add_credits(const std::string& org_id, Nanos delta) {
  // Keep the sum inside BIGINT so an overflow is a clear error, not SQLSTATE 22003.
  constexpr Nanos kMin = std::numeric_limits<Nanos>::min();
  constexpr Nanos kMax = std::numeric_limits<Nanos>::max();
  Nanos lo = delta >= 0 ? kMin : kMin - delta;
  Nanos hi = delta >= 0 ? kMax - delta : kMax;
  Nanos balance = 0;
  AGENTD_RETURN_IF_ERROR(run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec("UPDATE organizations SET credits = credits + $1 "
                                                "WHERE id = $2 AND credits BETWEEN $3 AND $4 RETURNING credits",
                                                PgParams().add(delta).add(org_id).add(lo).add(hi)));
    if (r.rows() > 0) {
      balance = r.int64(0, 0);
      return Status::ok();
    }
    AGENTD_ASSIGN_OR_RETURN(std::optional<int64_t> current, org_credits(db, org_id));
    if (!current) return Status::not_found("organization " + org_id + " not found");
    return Status::invalid_argument("adding " + std::to_string(delta) + " to the balance would overflow");
  }));
  return balance;
}

StatusOr<Nanos> PostgresStore::try_debit(const std::string& org_id, Nanos amount) {
  if (amount < 0) return Status::invalid_argument("debit amount must not be negative");
  Nanos balance = 0;
  AGENTD_RETURN_IF_ERROR(run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    // One conditional UPDATE: the row lock it takes makes concurrent debits
    // from any process queue, and each re-checks the condition on the
    // latest balance (READ COMMITTED re-evaluates WHERE after the wait).
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec("UPDATE organizations SET credits = credits - $1 "
                                                "WHERE id = $2 AND credits >= $1 RETURNING credits",
                                                PgParams().add(amount).add(org_id)));
    if (r.rows() > 0) {
      balance = r.int64(0, 0);
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

Status PostgresStore::create_key(const ApiKey& key) {
  return run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    PgParams p;
    p.add(key.id).add(key.org_id).add(key.prefix).add(key.hash).add(key.admin).add(key.rpm).add(key.tpm);
    p.add(key.concurrency).add(key.created_ms).add(key.revoked);
    Status s =
        db.exec(sql("INSERT INTO api_keys (", kKeyColumns, ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"), p)
            .status();
    s = renamed(std::move(s), StatusCode::kAlreadyExists,
                "an API key with prefix '" + key.prefix + "' or the same hash or id already exists");
    return renamed(std::move(s), StatusCode::kNotFound, "organization " + key.org_id + " not found");
  });
}

StatusOr<ApiKey> PostgresStore::find_key_by_hash(const std::string& hash) {
  std::optional<ApiKey> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r,
                            db.exec(sql("SELECT ", kKeyColumns, " FROM api_keys WHERE hash = $1"), PgParams().add(hash)));
    if (r.rows() > 0) out = read_key(r, 0);
    return Status::ok();
  }));
  if (!out) return Status::not_found("no API key with that hash");
  return std::move(*out);
}

StatusOr<std::vector<ApiKey>> PostgresStore::list_keys(const std::string& org_id) {
  std::vector<ApiKey> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    out.clear();
    AGENTD_ASSIGN_OR_RETURN(
        PgResult r, db.exec(sql("SELECT ", kKeyColumns, " FROM api_keys WHERE org_id = $1 ORDER BY created_ms, id"),
                            PgParams().add(org_id)));
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_key(r, i));
    return Status::ok();
  }));
  return out;
}

StatusOr<int64_t> PostgresStore::revoke_keys(const std::string& prefix) {
  if (prefix.empty()) return Status::invalid_argument("key prefix to revoke is empty");
  int64_t n = 0;
  AGENTD_RETURN_IF_ERROR(run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec("UPDATE api_keys SET revoked = TRUE "
                                                "WHERE starts_with(prefix, $1) AND NOT revoked",
                                                PgParams().add(prefix)));
    n = r.affected();
    return Status::ok();
  }));
  return n;
}

// ---- Agents ----

Status PostgresStore::create_agent(const Agent& agent, const AgentVersion& version) {
  if (!version.agent_id.empty() && version.agent_id != agent.id) {
    return Status::invalid_argument("version belongs to agent " + version.agent_id + ", not " + agent.id);
  }
  AgentVersion v = version;
  v.agent_id = agent.id;
  return run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    PgParams p;
    p.add(agent.id).add(agent.org_id).add(agent.name).add(agent.description).add(agent.active);
    p.add(agent.creator).add(agent.created_ms).add(agent.updated_ms).add(v.id);
    p.add(agent.engine_class_id).add(agent.disable_cache).add(agent.cache_failed_jobs);
    Status s = db.exec(sql("INSERT INTO agents (", kAgentColumns,
                           ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
                       p)
                   .status();
    s = renamed(std::move(s), StatusCode::kAlreadyExists, "agent '" + agent.name + "' already exists in this organization");
    AGENTD_RETURN_IF_ERROR(renamed(std::move(s), StatusCode::kNotFound, "organization " + agent.org_id + " not found"));
    return insert_version(db, v);
  });
}

StatusOr<Agent> PostgresStore::get_agent(const std::string& org_id, const std::string& agent_id) {
  std::optional<Agent> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec(sql("SELECT ", kAgentColumns, " FROM agents WHERE org_id = $1 AND id = $2"),
                                                PgParams().add(org_id).add(agent_id)));
    if (r.rows() > 0) out = read_agent(r, 0);
    return Status::ok();
  }));
  if (!out) return Status::not_found("agent " + agent_id + " not found");
  return std::move(*out);
}

StatusOr<Agent> PostgresStore::get_agent_by_name(const std::string& org_id, const std::string& name) {
  std::optional<Agent> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r,
                            db.exec(sql("SELECT ", kAgentColumns, " FROM agents WHERE org_id = $1 AND name = $2"),
                                    PgParams().add(org_id).add(name)));
    if (r.rows() > 0) out = read_agent(r, 0);
    return Status::ok();
  }));
  if (!out) return Status::not_found("agent '" + name + "' not found");
  return std::move(*out);
}

StatusOr<AgentPage> PostgresStore::list_agents(const std::string& org_id, const AgentQuery& query) {
  AGENTD_ASSIGN_OR_RETURN(AgentQuery q, checked_agent_query(query));
  std::string pattern = like_contains_pattern(q.search);
  constexpr char kWhere[] =
      " FROM agents WHERE org_id = $1 AND ($2 OR active)"
      " AND ($3 = '' OR name ILIKE $4 ESCAPE '\\' OR description ILIKE $4 ESCAPE '\\')";
  AgentPage page;
  AGENTD_RETURN_IF_ERROR(run(Mode::kReadTx, [&](PgConnection& db) -> Status {
    page = AgentPage();
    AGENTD_ASSIGN_OR_RETURN(PgResult count, db.exec(std::string("SELECT count(*)") + kWhere,
                                                    PgParams().add(org_id).add(q.include_inactive).add(q.search).add(pattern)));
    page.total = count.int64(0, 0);
    AGENTD_ASSIGN_OR_RETURN(
        PgResult r, db.exec(std::string("SELECT ") + kAgentColumns + kWhere + " ORDER BY created_ms, id LIMIT $5 OFFSET $6",
                            PgParams().add(org_id).add(q.include_inactive).add(q.search).add(pattern).add(q.limit).add(q.offset)));
    for (int i = 0; i < r.rows(); ++i) page.items.push_back(read_agent(r, i));
    return Status::ok();
  }));
  return page;
}

Status PostgresStore::update_agent(const Agent& agent) {
  if (agent.current_version_id.empty()) return Status::invalid_argument("agent has no current version");
  return run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult own,
                            db.exec("SELECT 1 FROM agent_versions v JOIN agents a ON a.id = v.agent_id "
                                    "WHERE v.id = $1 AND a.id = $2 AND a.org_id = $3 "
                                    // Holds the version until COMMIT, so it cannot vanish
                                    // between this check and the UPDATE.
                                    "FOR SHARE OF v",
                                    PgParams().add(agent.current_version_id).add(agent.id).add(agent.org_id)));
    if (own.rows() == 0) {
      AGENTD_ASSIGN_OR_RETURN(PgResult found, db.exec("SELECT 1 FROM agents WHERE id = $1 AND org_id = $2",
                                                      PgParams().add(agent.id).add(agent.org_id)));
      if (found.rows() == 0) return Status::not_found("agent " + agent.id + " not found");
      return Status::invalid_argument("version " + agent.current_version_id + " is not a version of agent " + agent.id);
    }
    PgParams p;
    p.add(agent.name).add(agent.description).add(agent.active).add(agent.updated_ms);
    p.add(agent.current_version_id).add(agent.engine_class_id).add(agent.disable_cache).add(agent.cache_failed_jobs);
    p.add(agent.id).add(agent.org_id);
    Status s = db.exec("UPDATE agents SET name = $1, description = $2, active = $3, updated_ms = $4, "
                       "current_version_id = $5, engine_class_id = $6, disable_cache = $7, "
                       "cache_failed_jobs = $8 WHERE id = $9 AND org_id = $10",
                       p)
                   .status();
    return renamed(std::move(s), StatusCode::kAlreadyExists, "agent '" + agent.name + "' already exists in this organization");
  });
}

Status PostgresStore::delete_agent(const std::string& org_id, const std::string& agent_id) {
  return run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    // Versions (and, later, everything else of the agent) go by ON DELETE CASCADE.
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec("DELETE FROM agents WHERE id = $1 AND org_id = $2",
                                                PgParams().add(agent_id).add(org_id)));
    if (r.affected() == 0) return Status::not_found("agent " + agent_id + " not found");
    return Status::ok();
  });
}

// ---- Versions ----

Status PostgresStore::create_version(const AgentVersion& version, bool make_current) {
  return run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    AGENTD_RETURN_IF_ERROR(insert_version(db, version));
    if (!make_current) return Status::ok();
    return db.exec("UPDATE agents SET current_version_id = $1, updated_ms = GREATEST(updated_ms, $2) WHERE id = $3",
                   PgParams().add(version.id).add(version.created_ms).add(version.agent_id))
        .status();
  });
}

Status PostgresStore::update_version(const AgentVersion& version) {
  return run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    PgParams p;
    p.add(version.version_name).add(version.description);
    add_config(p, version.config);
    p.add(version.id).add(version.agent_id);
    AGENTD_ASSIGN_OR_RETURN(
        PgResult r,
        db.exec("UPDATE agent_versions SET version_name = $1, description = $2, model = $3, instructions = $4, "
                "demonstrations_json = $5, temperature = $6, max_tokens = $7, top_p = $8, "
                "input_definitions_json = $9, output_schema_json = $10, engine_config_json = $11, "
                "conversation_saving = $12 WHERE id = $13 AND agent_id = $14",
                p));
    if (r.affected() == 0) return Status::not_found("version " + version.id + " not found");
    return Status::ok();
  });
}

StatusOr<AgentVersion> PostgresStore::get_version(const std::string& agent_id, const std::string& version_id) {
  std::optional<AgentVersion> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        PgResult r, db.exec(sql("SELECT ", kVersionColumns, " FROM agent_versions WHERE agent_id = $1 AND id = $2"),
                            PgParams().add(agent_id).add(version_id)));
    if (r.rows() == 0) return Status::ok();
    AGENTD_ASSIGN_OR_RETURN(out, read_version(r, 0));
    return Status::ok();
  }));
  if (!out) return Status::not_found("version " + version_id + " not found");
  return std::move(*out);
}

StatusOr<std::vector<AgentVersion>> PostgresStore::list_versions(const std::string& agent_id) {
  std::vector<AgentVersion> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    out.clear();
    AGENTD_ASSIGN_OR_RETURN(
        PgResult r, db.exec(sql("SELECT ", kVersionColumns, " FROM agent_versions WHERE agent_id = $1 ORDER BY number"),
                            PgParams().add(agent_id)));
    for (int i = 0; i < r.rows(); ++i) {
      AGENTD_ASSIGN_OR_RETURN(AgentVersion v, read_version(r, i));
      out.push_back(std::move(v));
    }
    return Status::ok();
  }));
  return out;
}

Status PostgresStore::delete_version(const std::string& agent_id, const std::string& version_id) {
  return run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    // Locks the agent row, so it cannot be pointed at this version meanwhile.
    AGENTD_ASSIGN_OR_RETURN(PgResult a, db.exec("SELECT current_version_id FROM agents WHERE id = $1 FOR UPDATE",
                                                PgParams().add(agent_id)));
    if (a.rows() == 0) return Status::not_found("agent " + agent_id + " not found");
    if (a.text(0, 0) == version_id)
      return Status::failed_precondition("version " + version_id + " is the agent's current version");
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec("DELETE FROM agent_versions WHERE id = $1 AND agent_id = $2",
                                                PgParams().add(version_id).add(agent_id)));
    if (r.affected() == 0) return Status::not_found("version " + version_id + " not found");
    return Status::ok();
  });
}

}  // namespace agentd::store
