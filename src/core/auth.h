#pragma once
// Authenticator: turns the value of an Authorization header into the
// Principal the request acts as. Missing, malformed, unknown and revoked keys
// are all kUnauthenticated, with a message that never echoes the key.
//
// Borrows the Store (it must outlive the Authenticator); thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/store.h"

namespace agentd::core {

struct Principal {
  std::string org_id;
  std::string key_id;
  std::string key_prefix;  // for logs and the agent's `creator`; never the secret
  bool admin = false;
  bool server_admin = false;  // an admin key of the configured admin organization
  int64_t rpm = 0;            // limits of the key, 0 = unlimited
  int64_t tpm = 0;
  int64_t concurrency = 0;
};

class Authenticator {
 public:
  // admin_org: name of the organization whose admin keys may manage every
  // organization (config [server] admin_org; "" = none, and then an admin
  // key manages only its own organization).
  Authenticator(store::Store& store, std::string admin_org) : store_(store), admin_org_(std::move(admin_org)) {}

  // `authorization` is the header's value ("Bearer agd_..."), nullopt when
  // the header is absent.
  StatusOr<Principal> authenticate(const std::optional<std::string>& authorization) const;

  // The key alone (no "Bearer ").
  StatusOr<Principal> authenticate_secret(std::string_view secret) const;

 private:
  store::Store& store_;
  std::string admin_org_;
};

}  // namespace agentd::core
