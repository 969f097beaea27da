#pragma once
// The Store on PostgreSQL, for several agentd instances on one database.
//
// Connections: a pool of up to `pool_size` libpq connections, made on
// demand. Every unit of work runs on one leased connection; writes run
// inside BEGIN ... COMMIT. When a connection turns out to be broken (the
// server restarted, a proxy dropped it), the pool forgets its idle
// connections and the work is retried once on a fresh one, but only if the
// failure came before COMMIT was sent, so nothing is ever applied twice.
// A server that cannot be reached gives kUnavailable.
// Cross-process safety comes from the database: conditional UPDATEs for
// credits, unique constraints for names and keys, an advisory lock around
// migrations.
//
// Thread-safety: every method may be called from any thread.

#include <functional>
#include <memory>
#include <string>

#include "store/connection_pool.h"
#include "store/pg_connection.h"
#include "store/store.h"

namespace agentd::store {

struct PostgresOptions {
  std::string url;                 // postgresql://user[:pass]@host:port/dbname[?params]
  size_t pool_size = 8;            // connections at most
  int connect_timeout_s = 5;       // unless the URL sets connect_timeout
  int pool_wait_ms = 10000;        // wait for a free connection, then kUnavailable
  int statement_timeout_ms = 30000;  // a statement (or lock wait) longer than this fails
};

class PostgresStore final : public Store {
 public:
  // Connects once (so a wrong URL or a down server fails here); does not migrate.
  static StatusOr<std::unique_ptr<PostgresStore>> open(const PostgresOptions& options);

  class Key {
    friend class PostgresStore;
    Key() = default;
  };
  PostgresStore(Key, PostgresOptions options);  // use open()

  Status migrate() override;
  Status ping() override;
  std::string kind() const override { return "postgresql"; }

  Status create_org(const Organization& org) override;
  StatusOr<Organization> get_org(const std::string& id) override;
  StatusOr<Organization> get_org_by_name(const std::string& name) override;
  StatusOr<std::vector<Organization>> list_orgs() override;
  StatusOr<Nanos> add_credits(const std::string& org_id, Nanos delta) override;
  StatusOr<Nanos> try_debit(const std::string& org_id, Nanos amount) override;

  Status create_key(const ApiKey& key) override;
  StatusOr<ApiKey> find_key_by_hash(const std::string& hash) override;
  StatusOr<std::vector<ApiKey>> list_keys(const std::string& org_id) override;
  StatusOr<int64_t> revoke_keys(const std::string& prefix) override;

  Status create_agent(const Agent& agent, const AgentVersion& version) override;
  StatusOr<Agent> get_agent(const std::string& org_id, const std::string& agent_id) override;
  StatusOr<Agent> get_agent_by_name(const std::string& org_id, const std::string& name) override;
  StatusOr<AgentPage> list_agents(const std::string& org_id, const AgentQuery& query) override;
  Status update_agent(const Agent& agent) override;
  Status delete_agent(const std::string& org_id, const std::string& agent_id) override;

  Status create_version(const AgentVersion& version, bool make_current) override;
  Status update_version(const AgentVersion& version) override;
  StatusOr<AgentVersion> get_version(const std::string& agent_id, const std::string& version_id) override;
  StatusOr<std::vector<AgentVersion>> list_versions(const std::string& agent_id) override;
  Status delete_version(const std::string& agent_id, const std::string& version_id) override;

  Status append_turns(const std::string& org_id, const std::string& agent_id, const std::string& session_id,
                      const std::vector<SessionTurn>& turns, int64_t now_ms) override;
  StatusOr<Session> get_session(const std::string& org_id, const std::string& agent_id,
                                const std::string& session_id) override;
  StatusOr<std::vector<Session>> list_sessions(const std::string& org_id, const std::string& agent_id,
                                               int64_t limit) override;
  StatusOr<std::vector<SessionTurn>> list_turns(const std::string& org_id, const std::string& agent_id,
                                                const std::string& session_id) override;
  Status delete_session(const std::string& org_id, const std::string& agent_id,
                        const std::string& session_id) override;

  Status record_run(const Run& run) override;
  StatusOr<std::vector<Run>> list_runs(const std::string& org_id, const std::string& agent_id,
                                       int64_t limit) override;
  StatusOr<AgentUsage> agent_usage(const std::string& org_id, const std::string& agent_id) override;
  StatusOr<std::map<std::string, AgentUsage>> agent_usages(const std::string& org_id) override;
  StatusOr<OrgUsage> org_usage(const std::string& org_id) override;

  Status create_jobs(const std::vector<Job>& jobs) override;
  StatusOr<Job> get_job(const std::string& org_id, const std::string& job_id) override;
  StatusOr<std::vector<Job>> list_batch(const std::string& org_id, const std::string& batch_id) override;
  StatusOr<std::vector<Job>> jobs_with_status(int status) override;
  StatusOr<JobPage> list_agent_jobs(const std::string& org_id, const std::string& agent_id,
                                    const JobQuery& query) override;
  StatusOr<std::map<std::string, JobStats>> job_stats(const std::string& org_id) override;
  StatusOr<bool> clear_job_data(const std::string& org_id, const std::string& job_id, int64_t now_ms) override;
  StatusOr<bool> transition_job(const std::string& job_id, int from, int to, int64_t add_attempts,
                                int64_t now_ms) override;
  StatusOr<bool> finish_job(const std::string& job_id, int status, const std::string& result_json,
                            const std::string& error, int64_t now_ms) override;

  using Work = std::function<Status(PgConnection&)>;

 private:
  enum class Mode {
    kRead,         // no explicit transaction; safe to repeat
    kReadTx,       // BEGIN READ ONLY REPEATABLE READ ... COMMIT, for a consistent set of reads
    kWriteTx,      // BEGIN ... COMMIT
  };
  StatusOr<std::unique_ptr<PgConnection>> connect() const;
  Status run(Mode mode, const Work& work);
  Status run_once(PgConnection& conn, Mode mode, const Work& work, bool& commit_sent);

  const PostgresOptions options_;
  ConnectionPool<PgConnection> pool_;
};

}  // namespace agentd::store
