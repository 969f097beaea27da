#include "core/orgs.h"

#include <cmath>

#include "common/ids.h"
#include "core/field_error.h"

namespace agentd::core {
namespace {

constexpr double kMaxUsd = 1e9;

bool valid_org_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

Status check_limit(std::string_view field, int64_t v) {
  if (v < 0) return field_error(field, "must be >= 0 (0 means unlimited)");
  return Status::ok();
}

}  // namespace

StatusOr<store::Nanos> usd_to_nanos(double usd) {
  if (!std::isfinite(usd) || std::fabs(usd) > kMaxUsd)
    return field_error("credits", "must be a finite amount of at most 1e9 USD");
  return static_cast<store::Nanos>(std::llround(usd * 1e9));
}

double nanos_to_usd(store::Nanos nanos) { return static_cast<double>(nanos) / 1e9; }

StatusOr<store::Organization> OrgService::create_org(std::string_view name, double credits_usd) {
  if (name.empty() || name.size() > 64) return field_error("name", "must be 1 to 64 characters");
  for (char c : name)
    if (!valid_org_name_char(c)) return field_error("name", "may hold only letters, digits, '_', '-' and '.'");
  AGENTD_ASSIGN_OR_RETURN(store::Nanos credits, usd_to_nanos(credits_usd));
  if (credits < 0) return field_error("credits", "must be >= 0");
  auto existing = store_.get_org_by_name(std::string(name));
  if (existing.is_ok()) return Status::already_exists("organization '" + std::string(name) + "' already exists");
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  store::Organization org;
  org.id = new_uuid();
  org.name = std::string(name);
  org.credits = credits;
  org.created_ms = clock_.now_ms();
  AGENTD_RETURN_IF_ERROR(store_.create_org(org));
  return org;
}

StatusOr<store::Organization> OrgService::get_org(const std::string& id) {
  if (!looks_like_uuid(id)) return Status::not_found("organization '" + id + "' not found");
  return store_.get_org(id);
}

StatusOr<store::Organization> OrgService::get_org_by_name(const std::string& name) {
  auto org = store_.get_org_by_name(name);
  if (!org.is_ok() && org.status().code() == StatusCode::kNotFound)
    return Status::not_found("organization '" + name + "' not found");
  return org;
}

StatusOr<std::vector<store::Organization>> OrgService::list_orgs() { return store_.list_orgs(); }

StatusOr<store::Organization> OrgService::add_credits(const std::string& org_id, double usd) {
  AGENTD_ASSIGN_OR_RETURN(store::Nanos delta, usd_to_nanos(usd));
  if (delta <= 0) return field_error("credits", "must be > 0");
  AGENTD_ASSIGN_OR_RETURN(store::Organization org, get_org(org_id));
  AGENTD_ASSIGN_OR_RETURN(store::Nanos balance, store_.add_credits(org.id, delta));
  org.credits = balance;
  return org;
}

StatusOr<NewKey> OrgService::create_key(const std::string& org_id, const KeyOptions& options) {
  AGENTD_RETURN_IF_ERROR(check_limit("rpm", options.rpm));
  AGENTD_RETURN_IF_ERROR(check_limit("tpm", options.tpm));
  AGENTD_RETURN_IF_ERROR(check_limit("concurrency", options.concurrency));
  AGENTD_ASSIGN_OR_RETURN(store::Organization org, get_org(org_id));
  NewKey out;
  out.secret = std::string(kKeySecretPrefix) + random_hex(24);
  out.key.id = new_uuid();
  out.key.org_id = org.id;
  out.key.prefix = out.secret.substr(0, kKeyPrefixLength);
  out.key.hash = hash_secret(out.secret);
  out.key.admin = options.admin;
  out.key.rpm = options.rpm;
  out.key.tpm = options.tpm;
  out.key.concurrency = options.concurrency;
  out.key.created_ms = clock_.now_ms();
  AGENTD_RETURN_IF_ERROR(store_.create_key(out.key));
  return out;
}

StatusOr<std::vector<store::ApiKey>> OrgService::list_keys(const std::string& org_id) {
  AGENTD_ASSIGN_OR_RETURN(store::Organization org, get_org(org_id));
  return store_.list_keys(org.id);
}

StatusOr<int64_t> OrgService::revoke_keys(const std::string& prefix) {
  // A bare "agd_" (or less) would match every key of every organization.
  if (prefix.size() <= kKeySecretPrefix.size() || prefix.compare(0, kKeySecretPrefix.size(), kKeySecretPrefix) != 0)
    return field_error("prefix", "must start with 'agd_' and name at least one more character");
  AGENTD_ASSIGN_OR_RETURN(int64_t n, store_.revoke_keys(prefix));
  if (n == 0) return Status::not_found("no key has prefix '" + prefix + "'");
  return n;
}

Status OrgService::revoke_org_key(const std::string& org_id, const std::string& prefix) {
  AGENTD_ASSIGN_OR_RETURN(std::vector<store::ApiKey> keys, list_keys(org_id));
  for (const auto& k : keys) {
    // Stored prefixes all have the same length and are unique, so revoking
    // by an exact stored prefix touches this one key only.
    if (k.prefix == prefix && prefix.size() == kKeyPrefixLength) {
      auto n = store_.revoke_keys(prefix);
      return n.status();
    }
  }
  return Status::not_found("no key has prefix '" + prefix + "'");
}

std::string OrgService::hash_secret(std::string_view secret) { return sha256_hex(secret); }

}  // namespace agentd::core
