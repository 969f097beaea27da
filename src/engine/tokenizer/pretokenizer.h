#pragma once
// Pre-tokenizers of byte-level BPE vocabularies: the text is cut into words by
// a cascade of regexes chosen by the GGUF key `tokenizer.ggml.pre` (each regex
// re-splits every piece the previous one produced; text between matches stays
// a piece of its own), then each word's bytes are mapped to the printable
// code points of GPT-2's byte-to-unicode table. Regexes run on PCRE2 with UTF,
// UCP (so \p{L}, \s are Unicode-aware) and JIT.
//
// Thread-safety: immutable after create(); split() may be called from any
// thread (match data is allocated per call).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace agentd::engine {

// Per pre-tokenizer settings that llama.cpp ties to the pre-tokenizer name.
struct PreTokenizerSpec {
  std::vector<std::string> regexes;  // applied in order
  bool byte_encode = true;           // GPT-2 byte-to-unicode mapping of the words
  bool ignore_merges = false;        // a word that is a whole token is emitted as is
  bool clean_spaces = true;          // decode removes " ?" " !" " ." " ," ... spaces
  bool add_bos = false;              // default for tokenizer.ggml.add_bos_token
};

// Looks up the spec for a `tokenizer.ggml.pre` value; an empty name is the
// default pre-tokenizer (as llama.cpp, which warns). NotFound for unknown names.
StatusOr<PreTokenizerSpec> pre_tokenizer_spec(std::string_view pre_name);
// Every `tokenizer.ggml.pre` value pre_tokenizer_spec() knows.
std::vector<std::string_view> pre_tokenizer_names();

class PreTokenizer {
 public:
  // Compiles the spec's regexes; InvalidArgument names a regex PCRE2 rejects.
  static StatusOr<std::unique_ptr<PreTokenizer>> create(PreTokenizerSpec spec);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Words of `text` (any bytes: invalid UTF-8 becomes U+FFFD first, as in
  // llama.cpp), byte-encoded when the spec says so.
  std::vector<std::string> split(std::string_view text) const;
  const PreTokenizerSpec& spec() const { return spec_; }

 private:
  struct Compiled;
  PreTokenizer() = default;
  PreTokenizerSpec spec_;
  std::vector<std::unique_ptr<Compiled>> compiled_;
};

namespace utf8 {
// Length of the UTF-8 sequence that starts with `lead` (1 for stray bytes),
// as llama.cpp's unicode_len_utf8.
size_t sequence_length(uint8_t lead);
// Decodes `text` into code points; an invalid sequence yields U+FFFD and
// consumes one byte (llama.cpp's unicode_cpts_from_utf8).
std::vector<uint32_t> decode(std::string_view text);
void append(std::string& out, uint32_t cpt);
// `text` with every invalid sequence replaced by U+FFFD (valid for PCRE2).
std::string sanitize(std::string_view text);
}  // namespace utf8

namespace byte_unicode {
// GPT-2's reversible byte <-> printable code point mapping, UTF-8 encoded.
const std::string& encode_byte(uint8_t byte);
// The byte a code point stands for, or -1 when it is not in the table.
int decode_cpt(uint32_t cpt);
}  // namespace byte_unicode

}  // namespace agentd::engine
