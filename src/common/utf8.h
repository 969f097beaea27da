#pragma once
// Text that must be valid UTF-8 (JSON, logs) from bytes that may not be: a
// model can emit byte tokens that do not form UTF-8 (a lone continuation
// byte, a sequence cut short at max_tokens).
//
// Thread-safety: pure function.

#include <string>
#include <string_view>

namespace agentd {

// `s` with every byte that does not start a valid UTF-8 sequence (overlong
// forms, surrogates and code points past U+10FFFF included) replaced by
// U+FFFD.
std::string valid_utf8(std::string_view s);

}  // namespace agentd
