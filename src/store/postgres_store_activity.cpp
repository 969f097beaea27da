// PostgresStore: sessions, runs, usage and jobs (migration 2).
#include <algorithm>
#include <optional>

#include "store/postgres_store.h"

namespace agentd::store {
namespace {

constexpr char kRunColumns[] =
    "id, org_id, agent_id, version_id, session_id, request_id, endpoint, model, input_tokens, output_tokens, "
    "cost, latency_ms, status, error, created_ms";
constexpr char kJobColumns[] =
    "id, org_id, agent_id, version_id, batch_id, status, inputs_json, result_json, error, attempts, created_ms, "
    "updated_ms, metadata_json";
constexpr char kSessionSelect[] =
    "SELECT s.org_id, s.agent_id, s.session_id, s.created_ms, s.updated_ms,"
    " (SELECT count(*) FROM session_turns t WHERE t.org_id = s.org_id AND t.agent_id = s.agent_id"
    " AND t.session_id = s.session_id) FROM sessions s ";

std::string cat(std::string_view a, std::string_view b, std::string_view c = "") {
  std::string s(a);
  s += b;
  s += c;
  return s;
}

int64_t clamp_limit(int64_t limit) { return std::clamp<int64_t>(limit, 0, 1000); }

Run read_run(const PgResult& r, int i) {
  Run x;
  x.id = r.text(i, 0);
  x.org_id = r.text(i, 1);
  x.agent_id = r.text(i, 2);
  x.version_id = r.text(i, 3);
  x.session_id = r.text(i, 4);
  x.request_id = r.text(i, 5);
  x.endpoint = r.text(i, 6);
  x.model = r.text(i, 7);
  x.input_tokens = r.int64(i, 8);
  x.output_tokens = r.int64(i, 9);
  x.cost = r.int64(i, 10);
  x.latency_ms = r.int64(i, 11);
  x.status = r.text(i, 12);
  x.error = r.text(i, 13);
  x.created_ms = r.int64(i, 14);
  return x;
}

Job read_job(const PgResult& r, int i) {
  Job j;
  j.id = r.text(i, 0);
  j.org_id = r.text(i, 1);
  j.agent_id = r.text(i, 2);
  j.version_id = r.text(i, 3);
  j.batch_id = r.text(i, 4);
  j.status = static_cast<int>(r.int64(i, 5));
  j.inputs_json = r.text(i, 6);
  j.result_json = r.text(i, 7);
  j.error = r.text(i, 8);
  j.attempts = r.int64(i, 9);
  j.created_ms = r.int64(i, 10);
  j.updated_ms = r.int64(i, 11);
  j.metadata_json = r.text(i, 12);
  return j;
}

Session read_session(const PgResult& r, int i) {
  return Session{r.text(i, 0), r.text(i, 1), r.text(i, 2), r.int64(i, 3), r.int64(i, 4), r.int64(i, 5)};
}

}  // namespace

// ---- Sessions ----

Status PostgresStore::append_turns(const std::string& org_id, const std::string& agent_id,
                                   const std::string& session_id, const std::vector<SessionTurn>& turns,
                                   int64_t now_ms) {
  return run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult a, db.exec("SELECT 1 FROM agents WHERE id = $1 AND org_id = $2",
                                                PgParams().add(agent_id).add(org_id)));
    if (a.rows() == 0) return Status::not_found("agent " + agent_id + " not found");
    // The upsert locks the session row, so concurrent appends to one session
    // take turns and number their turns without clashing.
    AGENTD_RETURN_IF_ERROR(db.exec("INSERT INTO sessions (org_id, agent_id, session_id, created_ms, updated_ms)"
                                   " VALUES ($1, $2, $3, $4, $4) ON CONFLICT (org_id, agent_id, session_id)"
                                   " DO UPDATE SET updated_ms = excluded.updated_ms",
                                   PgParams().add(org_id).add(agent_id).add(session_id).add(now_ms))
                               .status());
    AGENTD_ASSIGN_OR_RETURN(PgResult m, db.exec("SELECT coalesce(max(seq), 0) FROM session_turns"
                                                " WHERE org_id = $1 AND agent_id = $2 AND session_id = $3",
                                                PgParams().add(org_id).add(agent_id).add(session_id)));
    int64_t seq = m.int64(0, 0);
    for (const SessionTurn& t : turns) {
      PgParams p;
      p.add(org_id).add(agent_id).add(session_id).add(++seq).add(t.role).add(t.content).add(t.tokens);
      p.add(t.created_ms != 0 ? t.created_ms : now_ms);
      AGENTD_RETURN_IF_ERROR(db.exec("INSERT INTO session_turns (org_id, agent_id, session_id, seq, role, content,"
                                     " tokens, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                                     p)
                                 .status());
    }
    return Status::ok();
  });
}

StatusOr<Session> PostgresStore::get_session(const std::string& org_id, const std::string& agent_id,
                                             const std::string& session_id) {
  std::optional<Session> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        PgResult r, db.exec(cat(kSessionSelect, "WHERE s.org_id = $1 AND s.agent_id = $2 AND s.session_id = $3"),
                            PgParams().add(org_id).add(agent_id).add(session_id)));
    if (r.rows() > 0) out = read_session(r, 0);
    return Status::ok();
  }));
  if (!out) return Status::not_found("session '" + session_id + "' not found");
  return std::move(*out);
}

StatusOr<std::vector<Session>> PostgresStore::list_sessions(const std::string& org_id, const std::string& agent_id,
                                                            int64_t limit) {
  std::vector<Session> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        PgResult r,
        db.exec(cat(kSessionSelect,
                    "WHERE s.org_id = $1 AND s.agent_id = $2 ORDER BY s.updated_ms DESC, s.session_id LIMIT $3"),
                PgParams().add(org_id).add(agent_id).add(clamp_limit(limit))));
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_session(r, i));
    return Status::ok();
  }));
  return out;
}

StatusOr<std::vector<SessionTurn>> PostgresStore::list_turns(const std::string& org_id, const std::string& agent_id,
                                                             const std::string& session_id) {
  std::vector<SessionTurn> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r,
                            db.exec("SELECT seq, role, content, tokens, created_ms FROM session_turns"
                                    " WHERE org_id = $1 AND agent_id = $2 AND session_id = $3 ORDER BY seq",
                                    PgParams().add(org_id).add(agent_id).add(session_id)));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(SessionTurn{r.int64(i, 0), r.text(i, 1), r.text(i, 2), r.int64(i, 3), r.int64(i, 4)});
    }
    return Status::ok();
  }));
  return out;
}

Status PostgresStore::delete_session(const std::string& org_id, const std::string& agent_id,
                                     const std::string& session_id) {
  return run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r,
                            db.exec("DELETE FROM sessions WHERE org_id = $1 AND agent_id = $2 AND session_id = $3",
                                    PgParams().add(org_id).add(agent_id).add(session_id)));
    if (r.affected() == 0) return Status::not_found("session '" + session_id + "' not found");
    return Status::ok();
  });
}

// ---- Runs and usage ----

Status PostgresStore::record_run(const Run& x) {
  return run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    PgParams p;
    p.add(x.id).add(x.org_id).add(x.agent_id).add(x.version_id).add(x.session_id).add(x.request_id);
    p.add(x.endpoint).add(x.model).add(x.input_tokens).add(x.output_tokens).add(x.cost).add(x.latency_ms);
    p.add(x.status).add(x.error).add(x.created_ms);
    return db.exec(cat("INSERT INTO runs (", kRunColumns,
                       ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"),
                   p)
        .status();
  });
}

StatusOr<std::vector<Run>> PostgresStore::list_runs(const std::string& org_id, const std::string& agent_id,
                                                    int64_t limit) {
  std::vector<Run> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec(cat("SELECT ", kRunColumns,
                                                    " FROM runs WHERE org_id = $1 AND ($2 = '' OR agent_id = $2)"
                                                    " ORDER BY created_ms DESC, id DESC LIMIT $3"),
                                                PgParams().add(org_id).add(agent_id).add(clamp_limit(limit))));
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_run(r, i));
    return Status::ok();
  }));
  return out;
}

StatusOr<AgentUsage> PostgresStore::agent_usage(const std::string& org_id, const std::string& agent_id) {
  AgentUsage u;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r,
                            db.exec("SELECT count(*), coalesce(max(created_ms), 0), coalesce(avg(latency_ms), 0),"
                                    " coalesce(sum(CASE WHEN status = 'ok' THEN 1 ELSE 0 END), 0),"
                                    " coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0)"
                                    " FROM runs WHERE org_id = $1 AND agent_id = $2",
                                    PgParams().add(org_id).add(agent_id)));
    u.usage_count = u.total_requests = r.int64(0, 0);
    u.last_used_ms = r.int64(0, 1);
    u.average_latency_ms = r.float64(0, 2);
    int64_t ok = r.int64(0, 3);
    u.input_tokens = r.int64(0, 4);
    u.output_tokens = r.int64(0, 5);
    u.success_rate = u.total_requests > 0 ? static_cast<double>(ok) / static_cast<double>(u.total_requests) : 0.0;
    return Status::ok();
  }));
  return u;
}

StatusOr<std::map<std::string, AgentUsage>> PostgresStore::agent_usages(const std::string& org_id) {
  std::map<std::string, AgentUsage> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r,
                            db.exec("SELECT agent_id, count(*), max(created_ms), avg(latency_ms),"
                                    " sum(CASE WHEN status = 'ok' THEN 1 ELSE 0 END),"
                                    " sum(input_tokens), sum(output_tokens)"
                                    " FROM runs WHERE org_id = $1 AND agent_id <> '' GROUP BY agent_id",
                                    PgParams().add(org_id)));
    for (int i = 0; i < r.rows(); ++i) {
      AgentUsage u;
      u.usage_count = u.total_requests = r.int64(i, 1);
      u.last_used_ms = r.int64(i, 2);
      u.average_latency_ms = r.float64(i, 3);
      u.success_rate = static_cast<double>(r.int64(i, 4)) / static_cast<double>(u.total_requests);
      u.input_tokens = r.int64(i, 5);
      u.output_tokens = r.int64(i, 6);
      out.emplace(r.text(i, 0), u);
    }
    return Status::ok();
  }));
  return out;
}

StatusOr<OrgUsage> PostgresStore::org_usage(const std::string& org_id) {
  OrgUsage u;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r,
                            db.exec("SELECT model, count(*), sum(CASE WHEN status = 'ok' THEN 0 ELSE 1 END),"
                                    " sum(input_tokens), sum(output_tokens), sum(cost)"
                                    " FROM runs WHERE org_id = $1 GROUP BY model ORDER BY model",
                                    PgParams().add(org_id)));
    for (int i = 0; i < r.rows(); ++i) {
      ModelUsage m{r.text(i, 0), r.int64(i, 1), r.int64(i, 3), r.int64(i, 4), r.int64(i, 5)};
      u.requests += m.requests;
      u.failed_requests += r.int64(i, 2);
      u.input_tokens += m.input_tokens;
      u.output_tokens += m.output_tokens;
      u.cost += m.cost;
      u.by_model.push_back(std::move(m));
    }
    return Status::ok();
  }));
  return u;
}

// ---- Jobs ----

Status PostgresStore::create_jobs(const std::vector<Job>& jobs) {
  return run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    int64_t seq = 0;
    for (const Job& j : jobs) {
      PgParams p;
      p.add(j.id).add(j.org_id).add(j.agent_id).add(j.version_id).add(j.batch_id).add(static_cast<int64_t>(j.status));
      p.add(j.inputs_json).add(j.result_json).add(j.error).add(j.attempts).add(j.created_ms).add(j.updated_ms);
      p.add(j.metadata_json).add(seq++);
      AGENTD_RETURN_IF_ERROR(
          db.exec(cat("INSERT INTO jobs (", kJobColumns,
                      ", batch_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"),
                  p)
              .status());
    }
    return Status::ok();
  });
}

StatusOr<Job> PostgresStore::get_job(const std::string& org_id, const std::string& job_id) {
  std::optional<Job> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec(cat("SELECT ", kJobColumns, " FROM jobs WHERE org_id = $1 AND id = $2"),
                                                PgParams().add(org_id).add(job_id)));
    if (r.rows() > 0) out = read_job(r, 0);
    return Status::ok();
  }));
  if (!out) return Status::not_found("job " + job_id + " not found");
  return std::move(*out);
}

StatusOr<std::vector<Job>> PostgresStore::list_batch(const std::string& org_id, const std::string& batch_id) {
  std::vector<Job> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        PgResult r, db.exec(cat("SELECT ", kJobColumns,
                                " FROM jobs WHERE org_id = $1 AND batch_id = $2 AND batch_id <> ''"
                                " ORDER BY created_ms, batch_seq, id"),
                            PgParams().add(org_id).add(batch_id)));
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_job(r, i));
    return Status::ok();
  }));
  return out;
}

StatusOr<std::vector<Job>> PostgresStore::jobs_with_status(int status) {
  std::vector<Job> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec(cat("SELECT ", kJobColumns,
                                                    " FROM jobs WHERE status = $1 ORDER BY created_ms, batch_seq, id"),
                                                PgParams().add(static_cast<int64_t>(status))));
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_job(r, i));
    return Status::ok();
  }));
  return out;
}

StatusOr<bool> PostgresStore::transition_job(const std::string& job_id, int from, int to, int64_t add_attempts,
                                             int64_t now_ms) {
  bool moved = false;
  AGENTD_RETURN_IF_ERROR(run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec("UPDATE jobs SET status = $1, attempts = attempts + $2,"
                                                " updated_ms = $3 WHERE id = $4 AND status = $5",
                                                PgParams()
                                                    .add(static_cast<int64_t>(to))
                                                    .add(add_attempts)
                                                    .add(now_ms)
                                                    .add(job_id)
                                                    .add(static_cast<int64_t>(from))));
    moved = r.affected() > 0;
    return Status::ok();
  }));
  return moved;
}

StatusOr<bool> PostgresStore::finish_job(const std::string& job_id, int status, const std::string& result_json,
                                         const std::string& error, int64_t now_ms) {
  bool moved = false;
  AGENTD_RETURN_IF_ERROR(run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec("UPDATE jobs SET status = $1, result_json = $2, error = $3,"
                                                " updated_ms = $4 WHERE id = $5 AND status = $6",
                                                PgParams()
                                                    .add(static_cast<int64_t>(status))
                                                    .add(result_json)
                                                    .add(error)
                                                    .add(now_ms)
                                                    .add(job_id)
                                                    .add(static_cast<int64_t>(kJobStarted))));
    moved = r.affected() > 0;
    return Status::ok();
  }));
  return moved;
}

StatusOr<JobPage> PostgresStore::list_agent_jobs(const std::string& org_id, const std::string& agent_id,
                                                 const JobQuery& query) {
  if (query.offset < 0 || query.limit < 0) return Status::invalid_argument("offset and limit must be >= 0");
  const int64_t limit = std::clamp<int64_t>(query.limit, 0, 1000);
  constexpr char kWhere[] = " FROM jobs WHERE org_id = $1 AND agent_id = $2 AND ($3 < 0 OR status = $3)";
  JobPage page;
  AGENTD_RETURN_IF_ERROR(run(Mode::kReadTx, [&](PgConnection& db) -> Status {
    page = JobPage();
    const auto status = static_cast<int64_t>(query.status);
    AGENTD_ASSIGN_OR_RETURN(PgResult count, db.exec(cat("SELECT count(*)", kWhere, ""),
                                                    PgParams().add(org_id).add(agent_id).add(status)));
    page.total = count.int64(0, 0);
    AGENTD_ASSIGN_OR_RETURN(
        PgResult r, db.exec(cat("SELECT ", kJobColumns,
                                cat(kWhere, " ORDER BY created_ms DESC, batch_seq DESC, id DESC", " LIMIT $4 OFFSET $5")),
                            PgParams().add(org_id).add(agent_id).add(status).add(limit).add(query.offset)));
    for (int i = 0; i < r.rows(); ++i) page.items.push_back(read_job(r, i));
    return Status::ok();
  }));
  return page;
}

StatusOr<std::map<std::string, JobStats>> PostgresStore::job_stats(const std::string& org_id) {
  std::map<std::string, JobStats> out;
  AGENTD_RETURN_IF_ERROR(run(Mode::kRead, [&](PgConnection& db) -> Status {
    out.clear();
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec("SELECT agent_id, count(*), max(created_ms) FROM jobs"
                                                " WHERE org_id = $1 GROUP BY agent_id",
                                                PgParams().add(org_id)));
    for (int i = 0; i < r.rows(); ++i) out[r.text(i, 0)] = JobStats{r.int64(i, 1), r.int64(i, 2)};
    return Status::ok();
  }));
  return out;
}

StatusOr<bool> PostgresStore::clear_job_data(const std::string& org_id, const std::string& job_id, int64_t now_ms) {
  bool cleared = false;
  AGENTD_RETURN_IF_ERROR(run(Mode::kWriteTx, [&](PgConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(PgResult found, db.exec("SELECT 1 FROM jobs WHERE org_id = $1 AND id = $2",
                                                    PgParams().add(org_id).add(job_id)));
    if (found.rows() == 0) return Status::not_found("job " + job_id + " not found");
    AGENTD_ASSIGN_OR_RETURN(PgResult r, db.exec("UPDATE jobs SET inputs_json = '{}', metadata_json = '{}',"
                                                " result_json = '', updated_ms = GREATEST(updated_ms, $1)"
                                                " WHERE org_id = $2 AND id = $3 AND status NOT IN ($4, $5)",
                                                PgParams()
                                                    .add(now_ms)
                                                    .add(org_id)
                                                    .add(job_id)
                                                    .add(static_cast<int64_t>(kJobPending))
                                                    .add(static_cast<int64_t>(kJobStarted))));
    cleared = r.affected() > 0;
    return Status::ok();
  }));
  return cleared;
}

}  // namespace agentd::store
