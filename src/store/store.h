#pragma once
// The Store: every durable record of agentd. Two implementations, SQLite
// (default, WAL) and PostgreSQL (several instances on one database), chosen
// by URL in open_store(). Schema migrations are versioned and applied by
// migrate(), idempotently, on both.
//
// Thread-safety: every method may be called concurrently from any thread;
// implementations serialize or pool connections as they need.
// Tenancy: methods that take org_id only ever see that organization's rows.
// Errors: kNotFound for a missing row, kAlreadyExists for a unique-key
// clash, kUnavailable when the database cannot be reached, kInternal else.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/records.h"

namespace agentd::store {

class Store {
 public:
  virtual ~Store() = default;

  virtual Status migrate() = 0;
  virtual Status ping() = 0;  // cheap round trip, for /readyz
  virtual std::string kind() const = 0;  // "sqlite" or "postgresql"

  // Organizations.
  virtual Status create_org(const Organization& org) = 0;
  virtual StatusOr<Organization> get_org(const std::string& id) = 0;
  virtual StatusOr<Organization> get_org_by_name(const std::string& name) = 0;
  virtual StatusOr<std::vector<Organization>> list_orgs() = 0;
  // Adds `delta` (may be negative) unconditionally; returns the new balance.
  // kInvalidArgument (balance untouched) if the sum would leave int64.
  virtual StatusOr<Nanos> add_credits(const std::string& org_id, Nanos delta) = 0;
  // Takes `amount` only if the balance stays >= 0, atomically even across
  // processes sharing one database; kInsufficientCredits otherwise.
  // kInvalidArgument for a negative amount.
  virtual StatusOr<Nanos> try_debit(const std::string& org_id, Nanos amount) = 0;

  // API keys.
  virtual Status create_key(const ApiKey& key) = 0;
  // Revoked keys are found too (revoked = true): refusing them is the caller's call.
  virtual StatusOr<ApiKey> find_key_by_hash(const std::string& hash) = 0;
  virtual StatusOr<std::vector<ApiKey>> list_keys(const std::string& org_id) = 0;
  // Revokes every key whose prefix starts with `prefix`; returns how many
  // were newly revoked (already revoked ones are not counted). An empty
  // prefix is kInvalidArgument, never "revoke all".
  virtual StatusOr<int64_t> revoke_keys(const std::string& prefix) = 0;

  // Agents and their versions. create_agent stores both atomically and sets
  // agent.current_version_id = version.id.
  virtual Status create_agent(const Agent& agent, const AgentVersion& version) = 0;
  virtual StatusOr<Agent> get_agent(const std::string& org_id, const std::string& agent_id) = 0;
  virtual StatusOr<Agent> get_agent_by_name(const std::string& org_id, const std::string& name) = 0;
  // Oldest first (created_ms, then id). A limit above 1000 is cut to 1000;
  // a negative offset or limit is kInvalidArgument.
  virtual StatusOr<AgentPage> list_agents(const std::string& org_id, const AgentQuery& query) = 0;
  // Writes name, description, active, updated_ms, current_version_id,
  // engine_class_id, disable_cache and cache_failed_jobs.
  // current_version_id must name one of this agent's versions
  // (kInvalidArgument otherwise); a name taken in the org is kAlreadyExists.
  virtual Status update_agent(const Agent& agent) = 0;
  // Deletes the agent and everything that belongs to it.
  virtual Status delete_agent(const std::string& org_id, const std::string& agent_id) = 0;

  // Adds a version (number = previous max + 1 is assigned by the caller);
  // when make_current, also points the agent at it, atomically, and moves
  // the agent's updated_ms up to the version's created_ms.
  // kNotFound for an unknown agent, kAlreadyExists for a taken number.
  virtual Status create_version(const AgentVersion& version, bool make_current) = 0;
  // Replaces the config/name/description of an existing version.
  virtual Status update_version(const AgentVersion& version) = 0;
  virtual StatusOr<AgentVersion> get_version(const std::string& agent_id, const std::string& version_id) = 0;
  virtual StatusOr<std::vector<AgentVersion>> list_versions(const std::string& agent_id) = 0;  // oldest first
  // Deletes a version that is not its agent's current one (kFailedPrecondition
  // for the current version, kNotFound for an unknown one), atomically.
  virtual Status delete_version(const std::string& agent_id, const std::string& version_id) = 0;

  // Sessions. append_turns creates the session when it is new, appends the
  // turns in order (numbering them after the last one) and moves updated_ms
  // to now_ms, atomically. kNotFound for an unknown agent.
  virtual Status append_turns(const std::string& org_id, const std::string& agent_id, const std::string& session_id,
                              const std::vector<SessionTurn>& turns, int64_t now_ms) = 0;
  virtual StatusOr<Session> get_session(const std::string& org_id, const std::string& agent_id,
                                        const std::string& session_id) = 0;
  // The agent's sessions, most recently updated first; limit cut to 1000.
  virtual StatusOr<std::vector<Session>> list_sessions(const std::string& org_id, const std::string& agent_id,
                                                       int64_t limit) = 0;
  // Oldest first; an unknown session has no turns (empty, not kNotFound).
  virtual StatusOr<std::vector<SessionTurn>> list_turns(const std::string& org_id, const std::string& agent_id,
                                                        const std::string& session_id) = 0;
  // kNotFound when there is no such session.
  virtual Status delete_session(const std::string& org_id, const std::string& agent_id,
                                const std::string& session_id) = 0;

  // Runs and usage.
  virtual Status record_run(const Run& run) = 0;
  // Newest first; agent_id "" = every agent of the org; limit cut to 1000.
  virtual StatusOr<std::vector<Run>> list_runs(const std::string& org_id, const std::string& agent_id,
                                               int64_t limit) = 0;
  virtual StatusOr<AgentUsage> agent_usage(const std::string& org_id, const std::string& agent_id) = 0;
  // agent_usage() of every agent of the org that has runs, in one query (for
  // agent lists); agents without runs are absent.
  virtual StatusOr<std::map<std::string, AgentUsage>> agent_usages(const std::string& org_id) = 0;
  virtual StatusOr<OrgUsage> org_usage(const std::string& org_id) = 0;

  // Jobs.
  virtual Status create_jobs(const std::vector<Job>& jobs) = 0;  // all or none
  virtual StatusOr<Job> get_job(const std::string& org_id, const std::string& job_id) = 0;
  // A batch's jobs in submission order (created_ms, then order in create_jobs).
  virtual StatusOr<std::vector<Job>> list_batch(const std::string& org_id, const std::string& batch_id) = 0;
  // Every job (any organization) with this status, oldest first: for recovery.
  virtual StatusOr<std::vector<Job>> jobs_with_status(int status) = 0;
  // Moves a job from `from` to `to` only if it is still in `from`, setting
  // updated_ms and adding `add_attempts`; returns whether it moved (false
  // when another worker or a cancel got there first). Atomic across
  // processes sharing the database.
  virtual StatusOr<bool> transition_job(const std::string& job_id, int from, int to, int64_t add_attempts,
                                        int64_t now_ms) = 0;
  // One agent's jobs, newest first (created_ms, then id); an optional status
  // filter. kInvalidArgument for a negative offset or limit.
  virtual StatusOr<JobPage> list_agent_jobs(const std::string& org_id, const std::string& agent_id,
                                            const JobQuery& query) = 0;
  // Job count and newest job of every agent of the org that has jobs.
  virtual StatusOr<std::map<std::string, JobStats>> job_stats(const std::string& org_id) = 0;
  // Empties an ended job's inputs, metadata and result (its status and times
  // stay); returns false, changing nothing, when the job has not ended.
  // kNotFound for an unknown job or another organization's.
  virtual StatusOr<bool> clear_job_data(const std::string& org_id, const std::string& job_id, int64_t now_ms) = 0;
  // Ends a started job: status (success/failure), result, error, updated_ms,
  // only if it is still started; returns whether it was.
  virtual StatusOr<bool> finish_job(const std::string& job_id, int status, const std::string& result_json,
                                    const std::string& error, int64_t now_ms) = 0;
};

// "sqlite:///abs/path.db", "sqlite://relative.db", "sqlite::memory:",
// or "postgresql://user[:pass]@host:port/dbname" (also "postgres://").
// Opens, connects and migrates.
StatusOr<std::unique_ptr<Store>> open_store(const std::string& url);

}  // namespace agentd::store
