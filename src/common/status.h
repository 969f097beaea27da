#pragma once
// Errors as values. A Status carries a code and a human message; StatusOr<T>
// carries either a value or a non-OK Status. The request path and the engine
// return these instead of throwing; each dialect maps codes to its own HTTP
// status and error body (see api/errors).

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace agentd {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,      // malformed or out-of-range input (400/422)
  kNotFound,             // 404
  kAlreadyExists,        // duplicate name and similar conflicts (409)
  kUnauthenticated,      // missing or unknown API key (401)
  kPermissionDenied,     // another organization's data, not an admin (403)
  kInsufficientCredits,  // balance cannot cover the run (402)
  kRateLimited,          // per-key limit reached (429)
  kPayloadTooLarge,      // 413
  kUnavailable,          // store down, queue full, upstream unreachable (503)
  kDeadlineExceeded,     // timeouts (504)
  kFailedPrecondition,   // state does not allow the operation
  kUnimplemented,
  kCancelled,
  kDataLoss,             // corrupted or truncated file
  kInternal,             // a bug or an unexpected failure (500)
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  static Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status already_exists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
  static Status permission_denied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
  static Status insufficient_credits(std::string m) { return {StatusCode::kInsufficientCredits, std::move(m)}; }
  static Status rate_limited(std::string m) { return {StatusCode::kRateLimited, std::move(m)}; }
  static Status payload_too_large(std::string m) { return {StatusCode::kPayloadTooLarge, std::move(m)}; }
  static Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status deadline_exceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
  static Status failed_precondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
  static Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NOT_FOUND: agent 'x' not found"
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or an error. Accessing value() of an error is a programmer error.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).is_ok() && "StatusOr built from an OK status");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace agentd

// Propagates a non-OK Status out of the enclosing function.
#define AGENTD_RETURN_IF_ERROR(expr)              \
  do {                                            \
    ::agentd::Status agentd_status_ = (expr);     \
    if (!agentd_status_.is_ok()) return agentd_status_; \
  } while (0)

#define AGENTD_CONCAT_INNER(a, b) a##b
#define AGENTD_CONCAT(a, b) AGENTD_CONCAT_INNER(a, b)
// AGENTD_ASSIGN_OR_RETURN(auto x, f()); binds the value or returns the error.
#define AGENTD_ASSIGN_OR_RETURN(lhs, expr) \
  AGENTD_ASSIGN_OR_RETURN_IMPL(AGENTD_CONCAT(agentd_statusor_, __LINE__), lhs, expr)
#define AGENTD_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.is_ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
