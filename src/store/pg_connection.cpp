#include "store/pg_connection.h"

#include <charconv>
#include <cstring>

namespace agentd::store {
namespace {

// Notices ("relation already exists, skipping") would go to stderr.
void drop_notice(void*, const char*) {}

}  // namespace

PgParams& PgParams::add(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  values_.emplace_back(ec == std::errc() ? std::string(buf, end) : std::string("NaN"));
  return *this;
}

PgParams& PgParams::add(std::optional<double> v) {
  if (v) return add(*v);
  values_.emplace_back(std::nullopt);
  return *this;
}

std::string PgResult::text(int row, int col) const {
  const char* p = PQgetvalue(res_.get(), row, col);
  return std::string(p, static_cast<size_t>(PQgetlength(res_.get(), row, col)));
}

int64_t PgResult::int64(int row, int col) const {
  const char* p = PQgetvalue(res_.get(), row, col);
  int64_t v = 0;
  std::from_chars(p, p + PQgetlength(res_.get(), row, col), v);
  return v;
}

bool PgResult::boolean(int row, int col) const { return PQgetvalue(res_.get(), row, col)[0] == 't'; }

double PgResult::float64(int row, int col) const {
  const char* p = PQgetvalue(res_.get(), row, col);
  double v = 0;
  std::from_chars(p, p + PQgetlength(res_.get(), row, col), v);
  return v;
}

std::optional<double> PgResult::optional_float64(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return float64(row, col);
}

int64_t PgResult::affected() const {
  const char* p = PQcmdTuples(res_.get());
  int64_t v = 0;
  std::from_chars(p, p + std::strlen(p), v);
  return v;
}

StatusOr<std::unique_ptr<PgConnection>> PgConnection::connect(const std::string& url, int connect_timeout_s) {
  // Keywords are applied in order and a repeated one keeps its last value, so
  // a connect_timeout inside the URL wins over this default.
  std::string timeout = std::to_string(connect_timeout_s);
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), url.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (raw == nullptr) return Status::unavailable("PostgreSQL: out of memory while connecting");
  auto conn = std::make_unique<PgConnection>(raw);
  if (PQstatus(raw) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(raw);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Status::unavailable("cannot connect to PostgreSQL: " + msg);
  }
  PQsetNoticeProcessor(raw, drop_notice, nullptr);
  return conn;
}

StatusOr<PgResult> PgConnection::exec(std::string_view sql, const PgParams& params) {
  if (params.has_nul()) return Status::invalid_argument("text values must not contain NUL characters");
  std::string text(sql);
  std::vector<const char*> values;
  values.reserve(params.values().size());
  for (const std::optional<std::string>& v : params.values()) values.push_back(v ? v->c_str() : nullptr);
  PgResult res(PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                            nullptr, 0));
  ExecStatusType st = PQresultStatus(res.raw());
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;

  std::string msg = PQerrorMessage(conn_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (broken() || res.raw() == nullptr) return Status::unavailable("PostgreSQL connection lost: " + msg);
  const char* state = PQresultErrorField(res.raw(), PG_DIAG_SQLSTATE);
  std::string_view code = state != nullptr ? state : "";
  msg = "PostgreSQL: " + msg;
  if (code == "23505") return Status::already_exists(std::move(msg));
  if (code == "23503") return Status::not_found(std::move(msg));
  if (code.starts_with("22")) return Status::invalid_argument(std::move(msg));
  if (code == "57014") return Status::deadline_exceeded(std::move(msg));  // statement_timeout
  if (code == "55P03") return Status::deadline_exceeded(std::move(msg));  // lock_timeout
  if (code.starts_with("08") || code.starts_with("57P0")) return Status::unavailable(std::move(msg));
  return Status::internal(std::move(msg));
}

}  // namespace agentd::store
