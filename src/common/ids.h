#pragma once
// Identifiers and secrets: random UUIDs, API key secrets and their hashes.
// All functions are thread-safe (OpenSSL's RAND_bytes).

#include <string>
#include <string_view>

namespace agentd {

// A random version-4 UUID, lowercase: "3f2b...-....".
std::string new_uuid();
// True when `s` has the 8-4-4-4-12 hex shape of a UUID.
bool looks_like_uuid(std::string_view s);
// `bytes` random bytes as lowercase hex.
std::string random_hex(size_t bytes);
// SHA-256 of `data` as lowercase hex.
std::string sha256_hex(std::string_view data);

}  // namespace agentd
