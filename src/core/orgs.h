#pragma once
// Organizations and their API keys. A key's secret is "agd_" followed by 48
// random hex digits; only its SHA-256 and its first kKeyPrefixLength
// characters (shown in listings, used to revoke) are stored, so the secret
// can be shown once, when it is made.
//
// Borrows the Store and Clock (they must outlive the service). Stateless
// apart from them, so every method is thread-safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"

namespace agentd::core {

inline constexpr std::string_view kKeySecretPrefix = "agd_";
inline constexpr size_t kKeyPrefixLength = 12;  // "agd_" + 8 hex digits

struct KeyOptions {
  bool admin = false;
  int64_t rpm = 0;  // 0 = unlimited, as in store::ApiKey
  int64_t tpm = 0;
  int64_t concurrency = 0;
};

struct NewKey {
  store::ApiKey key;   // as stored (hash, prefix, ...)
  std::string secret;  // the whole secret; never stored, never shown again
};

// USD <-> nano-dollars. usd_to_nanos fails on NaN, infinities and amounts
// beyond +-1e9 USD.
StatusOr<store::Nanos> usd_to_nanos(double usd);
double nanos_to_usd(store::Nanos nanos);

class OrgService {
 public:
  OrgService(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Names: 1..64 characters of [A-Za-z0-9_.-]; unique (kAlreadyExists).
  // credits_usd >= 0.
  StatusOr<store::Organization> create_org(std::string_view name, double credits_usd);
  StatusOr<store::Organization> get_org(const std::string& id);
  StatusOr<store::Organization> get_org_by_name(const std::string& name);
  StatusOr<std::vector<store::Organization>> list_orgs();
  // Adds usd (> 0) to the balance; returns the organization after.
  StatusOr<store::Organization> add_credits(const std::string& org_id, double usd);

  // Limits must be >= 0.
  StatusOr<NewKey> create_key(const std::string& org_id, const KeyOptions& options);
  StatusOr<std::vector<store::ApiKey>> list_keys(const std::string& org_id);
  // Revokes every key whose prefix starts with `prefix` (at least the
  // "agd_" part and one more character). Returns how many; kNotFound if none.
  StatusOr<int64_t> revoke_keys(const std::string& prefix);
  // Revokes the one key of `org_id` whose stored prefix equals `prefix`
  // exactly; kNotFound if that organization has no such key. For callers
  // that may act on one organization only (an organization's admin key).
  Status revoke_org_key(const std::string& org_id, const std::string& prefix);

  // SHA-256 hex of a secret, as stored in ApiKey::hash.
  static std::string hash_secret(std::string_view secret);

 private:
  store::Store& store_;
  const Clock& clock_;
};

}  // namespace agentd::core
