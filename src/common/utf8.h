#pragma once
// UTF-8, one decoder and one encoder for the whole project (the Jinja
// interpreter's string methods, the grammar compilers, the model's output).
//
// Text that must be valid UTF-8 (JSON, logs) comes from bytes that may not
// be: a model can emit byte tokens that do not form UTF-8 (a lone
// continuation byte, a sequence cut short at max_tokens).
//
// Thread-safety: pure functions.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace agentd {

// Decodes the code point at `pos` and advances `pos`. A byte that does not
// start a valid sequence (overlong forms, surrogates and code points past
// U+10FFFF included) decodes as itself (0x80..0xFF) and advances by one, so
// untrusted text is never rejected.
uint32_t utf8_decode(std::string_view s, size_t& pos);
// Appends the UTF-8 bytes of `cp`.
void utf8_append(std::string& out, uint32_t cp);

// `s` with every byte that does not start a valid UTF-8 sequence (overlong
// forms, surrogates and code points past U+10FFFF included) replaced by
// U+FFFD.
std::string valid_utf8(std::string_view s);

}  // namespace agentd
