#pragma once
// The Store on SQLite 3: the default, zero set-up backend.
//
// Connections: one writer connection behind a mutex, plus a small pool of
// read-only connections. WAL mode lets readers run beside the writer, and one
// writer is all SQLite allows at a time anyway, so queueing writers on a
// mutex in-process (instead of spinning in busy handlers) is the cheapest
// correct choice. Other processes on the same file are held off by SQLite's
// own locks and busy_timeout; writes that read before they write run in
// BEGIN IMMEDIATE so they take the write lock up front.
// "sqlite::memory:" is a private in-memory database: there every call goes
// through the single writer connection, so it is one database by
// construction (a second connection would see a different, empty one).
//
// Thread-safety: every method may be called from any thread.

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "store/connection_pool.h"
#include "store/sqlite_connection.h"
#include "store/store.h"

namespace agentd::store {

struct SqliteOptions {
  std::string path;            // a file path, or ":memory:"
  int busy_timeout_ms = 5000;  // how long to wait for another process's lock
  size_t readers = 4;          // read-only connections (file databases only)
};

class SqliteStore final : public Store {
 public:
  // Opens (creating the file if needed) and switches to WAL; does not migrate.
  static StatusOr<std::unique_ptr<SqliteStore>> open(const SqliteOptions& options);

  // Only open() can make the key; the constructor is public for make_unique.
  class Key {
    friend class SqliteStore;
    Key() = default;
  };
  SqliteStore(Key, SqliteOptions options, std::unique_ptr<SqliteConnection> writer);

  Status migrate() override;
  Status ping() override;
  std::string kind() const override { return "sqlite"; }

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

  using Work = std::function<Status(SqliteConnection&)>;

 private:
  // Runs `work` on a reader (or the writer for in-memory databases).
  Status read(const Work& work);
  // Runs `work` on the writer inside BEGIN IMMEDIATE ... COMMIT; rolls back
  // when it fails.
  Status write_tx(const Work& work);
  // Runs `work` on the writer without an explicit transaction (one statement).
  Status write(const Work& work);

  const SqliteOptions options_;
  std::mutex write_mu_;
  std::unique_ptr<SqliteConnection> writer_;  // guarded by write_mu_
  std::unique_ptr<ConnectionPool<SqliteConnection>> readers_;  // null for in-memory databases
};

}  // namespace agentd::store
