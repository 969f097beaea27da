#include "core/auth.h"

#include <cctype>

#include "core/orgs.h"

namespace agentd::core {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

StatusOr<Principal> Authenticator::authenticate(const std::optional<std::string>& authorization) const {
  if (!authorization || trim(*authorization).empty())
    return Status::unauthenticated("missing API key: send 'Authorization: Bearer <key>'");
  std::string_view v = trim(*authorization);
  constexpr std::string_view kBearer = "bearer ";
  if (v.size() <= kBearer.size() || !iequals(v.substr(0, kBearer.size()), kBearer))
    return Status::unauthenticated("malformed Authorization header: expected 'Bearer <key>'");
  return authenticate_secret(trim(v.substr(kBearer.size())));
}

StatusOr<Principal> Authenticator::authenticate_secret(std::string_view secret) const {
  // Bound the work an attacker can ask for; real secrets are 52 characters.
  if (secret.empty() || secret.size() > 256) return Status::unauthenticated("invalid API key");
  auto key = store_.find_key_by_hash(OrgService::hash_secret(secret));
  if (!key.is_ok()) {
    if (key.status().code() == StatusCode::kNotFound) return Status::unauthenticated("invalid API key");
    return key.status();
  }
  if (key->revoked) return Status::unauthenticated("invalid API key");
  Principal p;
  p.org_id = key->org_id;
  p.key_id = key->id;
  p.key_prefix = key->prefix;
  p.admin = key->admin;
  if (key->admin && !admin_org_.empty()) {
    auto org = store_.get_org(key->org_id);
    if (!org.is_ok() && org.status().code() != StatusCode::kNotFound) return org.status();
    p.server_admin = org.is_ok() && org->name == admin_org_;
  }
  p.rpm = key->rpm;
  p.tpm = key->tpm;
  p.concurrency = key->concurrency;
  return p;
}

}  // namespace agentd::core
