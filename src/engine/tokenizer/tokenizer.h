#pragma once
// Tokenizers built from GGUF metadata, reproducing llama.cpp's (and so the
// reference Hugging Face tokenizers') token ids:
//   - SentencePiece-style (`tokenizer.ggml.model` = "llama"): bigram merges by
//     score, byte fallback to <0xXX> tokens, '▁' for spaces, optional space
//     prefix;
//   - byte-level BPE (`gpt2`): a pre-tokenizer (PCRE2 regexes chosen by
//     `tokenizer.ggml.pre`), the GPT-2 byte-to-unicode mapping and merges
//     ranked by `tokenizer.ggml.merges`;
//   - WordPiece (`bert`): BERT normalisation and greedy longest match.
// Special tokens (control, user-defined, unknown) are split out of the text
// before the model's algorithm runs: user-defined ones always, control ones
// only when parse_special is set, as llama.cpp does.
//
// Ownership: a Tokenizer copies everything it needs out of the GgufFile; the
// file may be closed afterwards.
// Thread-safety: immutable after from_gguf(); every const method may be called
// concurrently (regex match state is per call).

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/pretokenizer.h"

namespace agentd::engine {

enum class VocabType { kSpm, kBpe, kWpm };

// Token attributes, bit values as llama.cpp's llama_token_attr.
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrNormalized = 1u << 6,
  kAttrLstrip = 1u << 7,
  kAttrRstrip = 1u << 8,
  kAttrSingleWord = 1u << 9,
};

class Tokenizer {
 public:
  // Reads the vocabulary from `file`. Errors (unknown tokenizer model or
  // pre-tokenizer, missing or malformed arrays, duplicate tokens) name the
  // key and the problem.
  static StatusOr<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& file);

  // Token ids of `text`. add_special: BOS/EOS/SEP as the model asks
  // (add_bos() etc.). parse_special: control tokens written in the text
  // (e.g. "<|im_end|>") become their ids; user-defined tokens always do.
  // Invalid UTF-8 never fails: it is tokenized as llama.cpp does.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes the token stands for; empty for control and unknown tokens
  // and for ids out of range.
  std::string token_to_piece(int32_t id) const;
  // As above; with render_special the text of control tokens is returned too.
  std::string token_to_piece(int32_t id, bool render_special) const;
  // The vocabulary entry itself (e.g. "▁Hello", "Ġworld"); empty when out of range.
  const std::string& token_text(int32_t id) const;
  uint32_t token_attr(int32_t id) const;

  // Text of a token sequence, as llama.cpp's detokenize (control tokens
  // rendered empty, the SentencePiece space prefix removed from the first
  // piece, clean-up of spaces before punctuation where the model asks).
  std::string decode(const std::vector<int32_t>& ids) const;

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t eot_id() const { return eot_id_; }
  int32_t eom_id() const { return eom_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t linefeed_id() const { return linefeed_id_; }
  // EOS, EOT, EOM and the other tokens llama.cpp treats as end of generation.
  bool is_end_of_generation(int32_t id) const { return eog_ids_.count(id) > 0; }
  const std::set<int32_t>& end_of_generation_ids() const { return eog_ids_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  int32_t n_vocab() const { return static_cast<int32_t>(tokens_.size()); }
  VocabType type() const { return type_; }
  const std::string& pre_name() const { return pre_name_; }
  // Non-fatal oddities found while loading (missing pre-tokenizer, bad
  // special ids); the caller decides whether to log them.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Id of a vocabulary entry, or -1.
  int32_t find_token(std::string_view text) const;

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

 private:
  struct TokenData {
    std::string text;
    float score = 0.0f;
    uint32_t attr = kAttrNormal;
  };
  // Transparent hashing so lookups by string_view allocate nothing. The hash
  // equals std::hash<std::string>, so iteration order matches llama.cpp's
  // std::unordered_map (which decides ties in the special-token heuristics).
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

  // A piece of input: raw text (offset/length into the input) or a token
  // already recognised by the special-token partition.
  struct Fragment {
    int32_t token = -1;  // -1 for raw text
    size_t offset = 0;
    size_t length = 0;
  };

  Tokenizer() = default;
  Status load(const GgufFile& file);
  Status load_tokens(const GgufFile& file);
  void detect_special_tokens(const GgufFile& file);
  void build_caches(const GgufFile& file);
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;
  std::string piece(int32_t id) const;  // the bytes of any token, special or not

  // Algorithms, one file each: tokenizer_spm.cpp, tokenizer_bpe.cpp, tokenizer_wpm.cpp.
  void encode_spm(const std::string& text, std::vector<int32_t>& out) const;
  void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
  void encode_wpm(std::string_view text, std::vector<int32_t>& out) const;
  int32_t byte_to_token(uint8_t byte) const;
  int32_t find_bpe_rank(std::string_view left, std::string_view right) const;

  VocabType type_ = VocabType::kSpm;
  std::string model_name_;
  std::string pre_name_;
  std::vector<TokenData> tokens_;
  TokenMap token_to_id_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> bpe_ranks_;  // "left\0right"
  std::unique_ptr<PreTokenizer> pre_;
  size_t max_token_len_ = 0;

  int32_t bos_id_ = -1, eos_id_ = -1, eot_id_ = -1, eom_id_ = -1, unk_id_ = -1;
  int32_t sep_id_ = -1, pad_id_ = -1, mask_id_ = -1, linefeed_id_ = -1;
  int32_t fim_pre_id_ = -1, fim_suf_id_ = -1, fim_mid_id_ = -1;
  int32_t fim_pad_id_ = -1, fim_rep_id_ = -1, fim_sep_id_ = -1;

  bool add_space_prefix_ = false;
  bool add_bos_ = false;
  bool add_eos_ = false;
  bool add_sep_ = false;
  bool ignore_merges_ = false;
  bool clean_spaces_ = false;
  bool wpm_lowercase_ = false;
  bool wpm_strip_accents_ = false;

  std::set<int32_t> eog_ids_;
  std::vector<int32_t> special_tokens_;     // control/user-defined/unknown, longest text first
  std::vector<std::string> warnings_;
};

}  // namespace agentd::engine
