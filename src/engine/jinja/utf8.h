#pragma once
// UTF-8 helpers for Python-style string semantics: len(), indexing and
// slicing count code points, not bytes. Invalid bytes count as one unit each
// so that untrusted text is never rejected or altered by slicing.
// All functions are pure and thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/utf8.h"

namespace agentd::engine::jinja::utf8 {

// Byte offsets of each code point, plus s.size() at the end: the i-th code
// point is s.substr(offsets[i], offsets[i+1] - offsets[i]).
std::vector<size_t> code_point_offsets(std::string_view s);
size_t length(std::string_view s);
// The project's decoder and encoder (common/utf8.h): invalid bytes decode as
// themselves (0x80..0xFF) and advance by one.
inline uint32_t decode(std::string_view s, size_t& pos) { return utf8_decode(s, pos); }
inline void append(std::string& out, uint32_t cp) { utf8_append(out, cp); }

// Python's str.isspace() for the code points it covers.
bool is_space(uint32_t cp);
// Case mapping for ASCII, Latin-1, Greek and Cyrillic; other scripts unchanged.
uint32_t to_upper(uint32_t cp);
uint32_t to_lower(uint32_t cp);
bool is_alpha(uint32_t cp);  // letters that have a case in the ranges above, or ASCII letters
std::string upper(std::string_view s);
std::string lower(std::string_view s);

}  // namespace agentd::engine::jinja::utf8
