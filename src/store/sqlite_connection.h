#pragma once
// Thin RAII wrappers over one SQLite connection and its prepared statements,
// with result codes turned into Status values.
//
// Ownership: SqliteConnection owns its sqlite3 handle; a SqliteStatement
// borrows its connection and must not outlive it.
// Thread-safety: a connection is opened with SQLITE_OPEN_NOMUTEX, so it and
// its statements are used by one thread at a time (the store's pool and
// writer mutex see to that).

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace agentd::store {

// Maps a SQLite result code to a Status: unique/primary-key clashes ->
// kAlreadyExists, foreign-key failures -> kNotFound, busy/locked/cannot open
// -> kUnavailable, corruption -> kDataLoss, anything else -> kInternal.
Status sqlite_status(sqlite3* db, int rc, std::string_view what);

class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Binds the next positional parameter (?1, ?2, ... in order).
  SqliteStatement& bind(std::string_view v);
  SqliteStatement& bind(const std::string& v) { return bind(std::string_view(v)); }
  SqliteStatement& bind(const char* v) { return bind(std::string_view(v)); }
  SqliteStatement& bind(int64_t v);
  SqliteStatement& bind(bool v) { return bind(static_cast<int64_t>(v ? 1 : 0)); }
  SqliteStatement& bind(double v);
  SqliteStatement& bind(std::optional<double> v);

  // Steps once: true when a row is ready, false when done.
  StatusOr<bool> step();
  // Steps to completion, ignoring rows.
  Status run();

  int64_t column_int(int col) const;
  bool column_bool(int col) const { return column_int(col) != 0; }
  double column_double(int col) const;
  std::optional<double> column_optional_double(int col) const;
  std::string column_text(int col) const;

 private:
  friend class SqliteConnection;
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int next_param_ = 1;
  int bind_error_ = SQLITE_OK;  // the first bind failure, reported by step()
};

class SqliteConnection {
 public:
  // Opens `path` (a file path or ":memory:") with foreign keys on and the
  // busy timeout set. `read_only` connections refuse writes (query_only).
  static StatusOr<std::unique_ptr<SqliteConnection>> open(const std::string& path, bool read_only,
                                                          int busy_timeout_ms);
  // Takes ownership of an open handle.
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  ~SqliteConnection();

  StatusOr<SqliteStatement> prepare(std::string_view sql);
  // Runs one statement without parameters.
  Status exec(std::string_view sql);
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int64_t changes() const;
  sqlite3* raw() const { return db_; }

 private:
  sqlite3* db_;
};

}  // namespace agentd::store
