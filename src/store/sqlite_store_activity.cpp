// SqliteStore: sessions, runs, usage and jobs (migration 2).
#include <algorithm>
#include <optional>

#include "store/sqlite_store.h"

namespace agentd::store {
namespace {

constexpr char kRunColumns[] =
    "id, org_id, agent_id, version_id, session_id, request_id, endpoint, model, input_tokens, output_tokens, "
    "cost, latency_ms, status, error, created_ms";
constexpr char kJobColumns[] =
    "id, org_id, agent_id, version_id, batch_id, status, inputs_json, result_json, error, attempts, created_ms, "
    "updated_ms, metadata_json";

std::string cat(std::string_view a, std::string_view b, std::string_view c) {
  std::string s(a);
  s += b;
  s += c;
  return s;
}

void ignore_status(const Status&) {}

int64_t clamp_limit(int64_t limit) { return std::clamp<int64_t>(limit, 0, 1000); }

Run read_run(const SqliteStatement& st) {
  Run r;
  r.id = st.column_text(0);
  r.org_id = st.column_text(1);
  r.agent_id = st.column_text(2);
  r.version_id = st.column_text(3);
  r.session_id = st.column_text(4);
  r.request_id = st.column_text(5);
  r.endpoint = st.column_text(6);
  r.model = st.column_text(7);
  r.input_tokens = st.column_int(8);
  r.output_tokens = st.column_int(9);
  r.cost = st.column_int(10);
  r.latency_ms = st.column_int(11);
  r.status = st.column_text(12);
  r.error = st.column_text(13);
  r.created_ms = st.column_int(14);
  return r;
}

Job read_job(const SqliteStatement& st) {
  Job j;
  j.id = st.column_text(0);
  j.org_id = st.column_text(1);
  j.agent_id = st.column_text(2);
  j.version_id = st.column_text(3);
  j.batch_id = st.column_text(4);
  j.status = static_cast<int>(st.column_int(5));
  j.inputs_json = st.column_text(6);
  j.result_json = st.column_text(7);
  j.error = st.column_text(8);
  j.attempts = st.column_int(9);
  j.created_ms = st.column_int(10);
  j.updated_ms = st.column_int(11);
  j.metadata_json = st.column_text(12);
  return j;
}

Session read_session(const SqliteStatement& st) {
  Session s;
  s.org_id = st.column_text(0);
  s.agent_id = st.column_text(1);
  s.session_id = st.column_text(2);
  s.created_ms = st.column_int(3);
  s.updated_ms = st.column_int(4);
  s.turn_count = st.column_int(5);
  return s;
}

constexpr char kSessionSelect[] =
    "SELECT s.org_id, s.agent_id, s.session_id, s.created_ms, s.updated_ms,"
    " (SELECT count(*) FROM session_turns t WHERE t.org_id = s.org_id AND t.agent_id = s.agent_id"
    " AND t.session_id = s.session_id) FROM sessions s ";

template <typename T, typename Reader>
Status collect(SqliteStatement& st, std::vector<T>& out, Reader reader) {
  while (true) {
    AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return Status::ok();
    out.push_back(reader(st));
  }
}

}  // namespace

// ---- Sessions ----

Status SqliteStore::append_turns(const std::string& org_id, const std::string& agent_id,
                                 const std::string& session_id, const std::vector<SessionTurn>& turns,
                                 int64_t now_ms) {
  return write_tx([&](SqliteConnection& db) -> Status {
    {
      AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare("SELECT 1 FROM agents WHERE id = ? AND org_id = ?"));
      st.bind(agent_id).bind(org_id);
      AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) return Status::not_found("agent " + agent_id + " not found");
    }
    {
      AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                              db.prepare("INSERT INTO sessions (org_id, agent_id, session_id, created_ms, updated_ms)"
                                         " VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, agent_id, session_id)"
                                         " DO UPDATE SET updated_ms = excluded.updated_ms"));
      st.bind(org_id).bind(agent_id).bind(session_id).bind(now_ms).bind(now_ms);
      AGENTD_RETURN_IF_ERROR(st.run());
    }
    int64_t seq = 0;
    {
      AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                              db.prepare("SELECT coalesce(max(seq), 0) FROM session_turns"
                                         " WHERE org_id = ? AND agent_id = ? AND session_id = ?"));
      st.bind(org_id).bind(agent_id).bind(session_id);
      AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
      if (row) seq = st.column_int(0);
    }
    for (const SessionTurn& t : turns) {
      AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                              db.prepare("INSERT INTO session_turns (org_id, agent_id, session_id, seq, role,"
                                         " content, tokens, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
      st.bind(org_id).bind(agent_id).bind(session_id).bind(++seq).bind(t.role).bind(t.content).bind(t.tokens);
      st.bind(t.created_ms != 0 ? t.created_ms : now_ms);
      AGENTD_RETURN_IF_ERROR(st.run());
    }
    return Status::ok();
  });
}

StatusOr<Session> SqliteStore::get_session(const std::string& org_id, const std::string& agent_id,
                                           const std::string& session_id) {
  std::optional<Session> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.prepare(cat(kSessionSelect, "WHERE s.org_id = ? AND s.agent_id = ? AND s.session_id = ?", "")));
    st.bind(org_id).bind(agent_id).bind(session_id);
    AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) out = read_session(st);
    return Status::ok();
  }));
  if (!out) return Status::not_found("session '" + session_id + "' not found");
  return std::move(*out);
}

StatusOr<std::vector<Session>> SqliteStore::list_sessions(const std::string& org_id, const std::string& agent_id,
                                                          int64_t limit) {
  std::vector<Session> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.prepare(cat(kSessionSelect,
                       "WHERE s.org_id = ? AND s.agent_id = ? ORDER BY s.updated_ms DESC, s.session_id LIMIT ?", "")));
    st.bind(org_id).bind(agent_id).bind(clamp_limit(limit));
    return collect(st, out, read_session);
  }));
  return out;
}

StatusOr<std::vector<SessionTurn>> SqliteStore::list_turns(const std::string& org_id, const std::string& agent_id,
                                                           const std::string& session_id) {
  std::vector<SessionTurn> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("SELECT seq, role, content, tokens, created_ms FROM session_turns"
                                       " WHERE org_id = ? AND agent_id = ? AND session_id = ? ORDER BY seq"));
    st.bind(org_id).bind(agent_id).bind(session_id);
    return collect(st, out, [](const SqliteStatement& s) {
      return SessionTurn{s.column_int(0), s.column_text(1), s.column_text(2), s.column_int(3), s.column_int(4)};
    });
  }));
  return out;
}

Status SqliteStore::delete_session(const std::string& org_id, const std::string& agent_id,
                                   const std::string& session_id) {
  return write([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        SqliteStatement st, db.prepare("DELETE FROM sessions WHERE org_id = ? AND agent_id = ? AND session_id = ?"));
    st.bind(org_id).bind(agent_id).bind(session_id);
    AGENTD_RETURN_IF_ERROR(st.run());
    if (db.changes() == 0) return Status::not_found("session '" + session_id + "' not found");
    return Status::ok();
  });
}

// ---- Runs and usage ----

Status SqliteStore::record_run(const Run& r) {
  return write([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.prepare(cat("INSERT INTO runs (", kRunColumns, ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")));
    st.bind(r.id).bind(r.org_id).bind(r.agent_id).bind(r.version_id).bind(r.session_id).bind(r.request_id);
    st.bind(r.endpoint).bind(r.model).bind(r.input_tokens).bind(r.output_tokens).bind(r.cost).bind(r.latency_ms);
    st.bind(r.status).bind(r.error).bind(r.created_ms);
    return st.run();
  });
}

StatusOr<std::vector<Run>> SqliteStore::list_runs(const std::string& org_id, const std::string& agent_id,
                                                  int64_t limit) {
  std::vector<Run> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare(cat("SELECT ", kRunColumns,
                                           " FROM runs WHERE org_id = ? AND (? = '' OR agent_id = ?)"
                                           " ORDER BY created_ms DESC, id DESC LIMIT ?")));
    st.bind(org_id).bind(agent_id).bind(agent_id).bind(clamp_limit(limit));
    return collect(st, out, read_run);
  }));
  return out;
}

StatusOr<AgentUsage> SqliteStore::agent_usage(const std::string& org_id, const std::string& agent_id) {
  AgentUsage u;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("SELECT count(*), coalesce(max(created_ms), 0), coalesce(avg(latency_ms), 0),"
                                       " coalesce(sum(CASE WHEN status = 'ok' THEN 1 ELSE 0 END), 0),"
                                       " coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0)"
                                       " FROM runs WHERE org_id = ? AND agent_id = ?"));
    st.bind(org_id).bind(agent_id);
    AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return Status::internal("aggregate returned no row");
    u.usage_count = u.total_requests = st.column_int(0);
    u.last_used_ms = st.column_int(1);
    u.average_latency_ms = st.column_double(2);
    int64_t ok = st.column_int(3);
    u.input_tokens = st.column_int(4);
    u.output_tokens = st.column_int(5);
    u.success_rate = u.total_requests > 0 ? static_cast<double>(ok) / static_cast<double>(u.total_requests) : 0.0;
    return Status::ok();
  }));
  return u;
}

StatusOr<std::map<std::string, AgentUsage>> SqliteStore::agent_usages(const std::string& org_id) {
  std::map<std::string, AgentUsage> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("SELECT agent_id, count(*), max(created_ms), avg(latency_ms),"
                                       " sum(CASE WHEN status = 'ok' THEN 1 ELSE 0 END),"
                                       " sum(input_tokens), sum(output_tokens)"
                                       " FROM runs WHERE org_id = ? AND agent_id <> '' GROUP BY agent_id"));
    st.bind(org_id);
    while (true) {
      AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) return Status::ok();
      AgentUsage u;
      u.usage_count = u.total_requests = st.column_int(1);
      u.last_used_ms = st.column_int(2);
      u.average_latency_ms = st.column_double(3);
      u.success_rate = static_cast<double>(st.column_int(4)) / static_cast<double>(u.total_requests);
      u.input_tokens = st.column_int(5);
      u.output_tokens = st.column_int(6);
      out.emplace(st.column_text(0), u);
    }
  }));
  return out;
}

StatusOr<OrgUsage> SqliteStore::org_usage(const std::string& org_id) {
  OrgUsage u;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("SELECT model, count(*), sum(CASE WHEN status = 'ok' THEN 0 ELSE 1 END),"
                                       " sum(input_tokens), sum(output_tokens), sum(cost)"
                                       " FROM runs WHERE org_id = ? GROUP BY model ORDER BY model"));
    st.bind(org_id);
    while (true) {
      AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) return Status::ok();
      ModelUsage m{st.column_text(0), st.column_int(1), st.column_int(3), st.column_int(4), st.column_int(5)};
      u.requests += m.requests;
      u.failed_requests += st.column_int(2);
      u.input_tokens += m.input_tokens;
      u.output_tokens += m.output_tokens;
      u.cost += m.cost;
      u.by_model.push_back(std::move(m));
    }
  }));
  return u;
}

// ---- Jobs ----

Status SqliteStore::create_jobs(const std::vector<Job>& jobs) {
  return write_tx([&](SqliteConnection& db) -> Status {
    int64_t seq = 0;
    for (const Job& j : jobs) {
      AGENTD_ASSIGN_OR_RETURN(
          SqliteStatement st,
          db.prepare(cat("INSERT INTO jobs (", kJobColumns, ", batch_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")));
      st.bind(j.id).bind(j.org_id).bind(j.agent_id).bind(j.version_id).bind(j.batch_id);
      st.bind(static_cast<int64_t>(j.status)).bind(j.inputs_json).bind(j.result_json).bind(j.error);
      st.bind(j.attempts).bind(j.created_ms).bind(j.updated_ms).bind(j.metadata_json).bind(seq++);
      AGENTD_RETURN_IF_ERROR(st.run());
    }
    return Status::ok();
  });
}

StatusOr<Job> SqliteStore::get_job(const std::string& org_id, const std::string& job_id) {
  std::optional<Job> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare(cat("SELECT ", kJobColumns, " FROM jobs WHERE org_id = ? AND id = ?")));
    st.bind(org_id).bind(job_id);
    AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) out = read_job(st);
    return Status::ok();
  }));
  if (!out) return Status::not_found("job " + job_id + " not found");
  return std::move(*out);
}

StatusOr<std::vector<Job>> SqliteStore::list_batch(const std::string& org_id, const std::string& batch_id) {
  std::vector<Job> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.prepare(cat("SELECT ", kJobColumns,
                       " FROM jobs WHERE org_id = ? AND batch_id = ? AND batch_id <> '' ORDER BY created_ms, batch_seq, id")));
    st.bind(org_id).bind(batch_id);
    return collect(st, out, read_job);
  }));
  return out;
}

StatusOr<std::vector<Job>> SqliteStore::jobs_with_status(int status) {
  std::vector<Job> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare(cat("SELECT ", kJobColumns, " FROM jobs WHERE status = ? ORDER BY created_ms, batch_seq, id")));
    st.bind(static_cast<int64_t>(status));
    return collect(st, out, read_job);
  }));
  return out;
}

StatusOr<bool> SqliteStore::transition_job(const std::string& job_id, int from, int to, int64_t add_attempts,
                                           int64_t now_ms) {
  bool moved = false;
  AGENTD_RETURN_IF_ERROR(write([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("UPDATE jobs SET status = ?, attempts = attempts + ?, updated_ms = ?"
                                       " WHERE id = ? AND status = ?"));
    st.bind(static_cast<int64_t>(to)).bind(add_attempts).bind(now_ms).bind(job_id).bind(static_cast<int64_t>(from));
    AGENTD_RETURN_IF_ERROR(st.run());
    moved = db.changes() > 0;
    return Status::ok();
  }));
  return moved;
}

StatusOr<bool> SqliteStore::finish_job(const std::string& job_id, int status, const std::string& result_json,
                                       const std::string& error, int64_t now_ms) {
  bool moved = false;
  AGENTD_RETURN_IF_ERROR(write([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("UPDATE jobs SET status = ?, result_json = ?, error = ?, updated_ms = ?"
                                       " WHERE id = ? AND status = ?"));
    st.bind(static_cast<int64_t>(status)).bind(result_json).bind(error).bind(now_ms).bind(job_id);
    st.bind(static_cast<int64_t>(kJobStarted));
    AGENTD_RETURN_IF_ERROR(st.run());
    moved = db.changes() > 0;
    return Status::ok();
  }));
  return moved;
}

StatusOr<JobPage> SqliteStore::list_agent_jobs(const std::string& org_id, const std::string& agent_id,
                                               const JobQuery& query) {
  if (query.offset < 0 || query.limit < 0) return Status::invalid_argument("offset and limit must be >= 0");
  const int64_t limit = clamp_limit(query.limit);
  constexpr char kWhere[] = " FROM jobs WHERE org_id = ?1 AND agent_id = ?2 AND (?3 < 0 OR status = ?3)";
  JobPage page;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    // One read transaction, so the count and the page see the same snapshot.
    AGENTD_RETURN_IF_ERROR(db.exec("BEGIN"));
    Status s = [&]() -> Status {
      {
        AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare(cat("SELECT count(*)", kWhere, "")));
        st.bind(org_id).bind(agent_id).bind(static_cast<int64_t>(query.status));
        AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
        page.total = row ? st.column_int(0) : 0;
      }
      AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                              db.prepare(cat("SELECT ", kJobColumns,
                                             cat(kWhere, " ORDER BY created_ms DESC, batch_seq DESC, id DESC", 
                                                 " LIMIT ?4 OFFSET ?5"))));
      st.bind(org_id).bind(agent_id).bind(static_cast<int64_t>(query.status)).bind(limit).bind(query.offset);
      return collect(st, page.items, read_job);
    }();
    ignore_status(db.exec(s.is_ok() ? "COMMIT" : "ROLLBACK"));
    return s;
  }));
  return page;
}

StatusOr<std::map<std::string, JobStats>> SqliteStore::job_stats(const std::string& org_id) {
  std::map<std::string, JobStats> out;
  AGENTD_RETURN_IF_ERROR(read([&](SqliteConnection& db) -> Status {
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("SELECT agent_id, count(*), max(created_ms) FROM jobs WHERE org_id = ?"
                                       " GROUP BY agent_id"));
    st.bind(org_id);
    while (true) {
      AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) return Status::ok();
      out[st.column_text(0)] = JobStats{st.column_int(1), st.column_int(2)};
    }
  }));
  return out;
}

StatusOr<bool> SqliteStore::clear_job_data(const std::string& org_id, const std::string& job_id, int64_t now_ms) {
  bool cleared = false;
  AGENTD_RETURN_IF_ERROR(write_tx([&](SqliteConnection& db) -> Status {
    {
      AGENTD_ASSIGN_OR_RETURN(SqliteStatement st, db.prepare("SELECT status FROM jobs WHERE org_id = ? AND id = ?"));
      st.bind(org_id).bind(job_id);
      AGENTD_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) return Status::not_found("job " + job_id + " not found");
    }
    AGENTD_ASSIGN_OR_RETURN(SqliteStatement st,
                            db.prepare("UPDATE jobs SET inputs_json = '{}', metadata_json = '{}', result_json = '',"
                                       " updated_ms = max(updated_ms, ?) WHERE org_id = ? AND id = ?"
                                       " AND status NOT IN (?, ?)"));
    st.bind(now_ms).bind(org_id).bind(job_id).bind(static_cast<int64_t>(kJobPending));
    st.bind(static_cast<int64_t>(kJobStarted));
    AGENTD_RETURN_IF_ERROR(st.run());
    cleared = db.changes() > 0;
    return Status::ok();
  }));
  return cleared;
}

}  // namespace agentd::store
