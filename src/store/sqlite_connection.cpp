#include "store/sqlite_connection.h"

#include <utility>

namespace agentd::store {

Status sqlite_status(sqlite3* db, int rc, std::string_view what) {
  int ext = rc;
  std::string detail = sqlite3_errstr(rc);
  if (db != nullptr && (sqlite3_extended_errcode(db) & 0xff) == (rc & 0xff)) {
    ext = sqlite3_extended_errcode(db);
    detail = sqlite3_errmsg(db);
  }
  std::string msg = std::string(what) + ": " + detail;
  switch (ext) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Status::already_exists(std::move(msg));
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return Status::not_found(std::move(msg));
    default:
      break;
  }
  switch (ext & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
      return Status::unavailable(std::move(msg));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::data_loss(std::move(msg));
    default:
      return Status::internal(std::move(msg));
  }
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), next_param_(other.next_param_), bind_error_(other.bind_error_) {
  other.stmt_ = nullptr;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement& SqliteStatement::bind(std::string_view v) {
  int rc = sqlite3_bind_text64(stmt_, next_param_++, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::bind(int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, next_param_++, v);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::bind(double v) {
  int rc = sqlite3_bind_double(stmt_, next_param_++, v);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::bind(std::optional<double> v) {
  if (v) return bind(*v);
  int rc = sqlite3_bind_null(stmt_, next_param_++);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

StatusOr<bool> SqliteStatement::step() {
  if (bind_error_ != SQLITE_OK) return sqlite_status(db_, bind_error_, "binding a parameter");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_status(db_, rc, "sqlite");
}

Status SqliteStatement::run() {
  while (true) {
    AGENTD_ASSIGN_OR_RETURN(bool row, step());
    if (!row) return Status::ok();
  }
}

int64_t SqliteStatement::column_int(int col) const { return sqlite3_column_int64(stmt_, col); }

double SqliteStatement::column_double(int col) const { return sqlite3_column_double(stmt_, col); }

std::optional<double> SqliteStatement::column_optional_double(int col) const {
  if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(stmt_, col);
}

std::string SqliteStatement::column_text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  int n = sqlite3_column_bytes(stmt_, col);
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::open(const std::string& path, bool read_only,
                                                                   int busy_timeout_ms) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = Status::unavailable("cannot open SQLite database '" + path + "': " +
                                   (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return s;
  }
  auto conn = std::make_unique<SqliteConnection>(db);
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  AGENTD_RETURN_IF_ERROR(conn->exec("PRAGMA foreign_keys = ON"));
  if (read_only) AGENTD_RETURN_IF_ERROR(conn->exec("PRAGMA query_only = ON"));
  return conn;
}

SqliteConnection::~SqliteConnection() { sqlite3_close_v2(db_); }

StatusOr<SqliteStatement> SqliteConnection::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return sqlite_status(db_, rc, "preparing SQL");
  }
  return SqliteStatement(db_, stmt);
}

Status SqliteConnection::exec(std::string_view sql) {
  AGENTD_ASSIGN_OR_RETURN(SqliteStatement stmt, prepare(sql));
  return stmt.run();
}

int64_t SqliteConnection::changes() const { return sqlite3_changes64(db_); }

}  // namespace agentd::store
