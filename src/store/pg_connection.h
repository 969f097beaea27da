#pragma once
// Thin RAII wrappers over one libpq connection and its results, with
// parameterized statements only: values always travel as parameters ($1,
// $2, ...), never inside the SQL text.
//
// Ownership: PgConnection owns its PGconn, PgResult its PGresult.
// Thread-safety: a connection is used by one thread at a time (the store's
// pool sees to that); results are independent of their connection.

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace agentd::store {

// Statement parameters in text form; nullopt is SQL NULL.
class PgParams {
 public:
  PgParams& add(std::string_view v) {
    // PostgreSQL text cannot hold NUL, and libpq would silently cut the value
    // there; exec() refuses such parameters instead.
    if (v.find('\0') != std::string_view::npos) has_nul_ = true;
    values_.emplace_back(std::string(v));
    return *this;
  }
  PgParams& add(const std::string& v) { return add(std::string_view(v)); }
  PgParams& add(const char* v) { return add(std::string_view(v)); }
  PgParams& add(int64_t v) {
    values_.emplace_back(std::to_string(v));
    return *this;
  }
  PgParams& add(bool v) {
    values_.emplace_back(v ? "true" : "false");
    return *this;
  }
  PgParams& add(double v);  // shortest text that reads back to the same double
  PgParams& add(std::optional<double> v);

  const std::vector<std::optional<std::string>>& values() const { return values_; }
  bool has_nul() const { return has_nul_; }

 private:
  std::vector<std::optional<std::string>> values_;
  bool has_nul_ = false;
};

class PgResult {
 public:
  explicit PgResult(PGresult* res) : res_(res) {}
  int rows() const { return PQntuples(res_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
  std::string text(int row, int col) const;
  // Integer, boolean and float columns in PostgreSQL's text form; a value
  // that does not parse reads as 0 (the schema makes that impossible).
  int64_t int64(int row, int col) const;
  bool boolean(int row, int col) const;
  double float64(int row, int col) const;
  std::optional<double> optional_float64(int row, int col) const;
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t affected() const;
  PGresult* raw() const { return res_.get(); }

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> res_;
};

class PgConnection {
 public:
  // Connects to `url` (a postgresql:// URI, or key=value string) with a
  // connect timeout; kUnavailable when the server cannot be reached.
  static StatusOr<std::unique_ptr<PgConnection>> connect(const std::string& url, int connect_timeout_s);
  // Takes ownership of a connected handle.
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection() { PQfinish(conn_); }

  // Runs one statement. SQLSTATE classes map to codes: 23505 unique ->
  // kAlreadyExists, 23503 foreign key -> kNotFound, 22xxx (bad data, e.g.
  // invalid UTF-8) and a NUL in a text parameter -> kInvalidArgument, 57014
  // (statement timeout) -> kDeadlineExceeded, 08xxx / 57P0x and a lost
  // connection -> kUnavailable, others -> kInternal.
  StatusOr<PgResult> exec(std::string_view sql, const PgParams& params = PgParams());
  // True once the connection to the server is gone.
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }

 private:
  PGconn* conn_;
};

}  // namespace agentd::store
