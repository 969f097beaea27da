// Pre-tokenizer regexes per `tokenizer.ggml.pre`, as llama.cpp (llama-vocab.cpp)
// lists them for each pre-type, and the GPT-2 byte-to-unicode table.

#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <array>
#include <utility>

namespace agentd::engine {

namespace {

// The GPT-2 pattern; several pre-types use it alone or after other regexes.
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
// Llama 3's pattern; the case-insensitive group spelled out so that Unicode
// case folding (e.g. U+017F matching 's') cannot change the split.
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// CJK ideographs, the ranges up to them and Hangul, as DeepSeek writes them:
// [一-龥ࠀ-一가-퟿].
constexpr const char* kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
// DeepSeek LLM's cased letters, code point for code point as in its
// tokenizer.json (written with escapes so no editor can normalise them).
constexpr const char* kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D})"
    R"(\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3})"
    R"(\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D})"
    R"(\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184})"
    R"(\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D})"
    R"(\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF})"
    R"(\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F})"
    R"(\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
// [!-/:-~！-／：-～‘-‟　-。]
constexpr const char* kDeepseekPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
// [^(\s|.,!?…。，、।۔،)]
constexpr const char* kBloom =
    R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{0964}\x{06D4}\x{060C})]+)";
constexpr const char* kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt4o =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

enum class Family {
  kDefault, kLlama3, kDeepseekLlm, kDeepseekCoder, kFalcon, kStarcoder, kGpt2,
  kQwen2, kBloom, kViking, kTekken, kChameleon, kGpt4o,
};

struct NameEntry {
  std::string_view name;
  Family family;
  bool clean_spaces;
  bool ignore_merges;
  bool add_bos;
};

// `tokenizer.ggml.pre` values and their settings, as llama.cpp maps them.
constexpr NameEntry kNames[] = {
    {"default", Family::kDefault, true, false, false},
    {"llama3", Family::kLlama3, true, true, true},
    {"llama-v3", Family::kLlama3, true, true, true},
    {"llama-bpe", Family::kLlama3, true, true, true},
    {"falcon3", Family::kLlama3, true, true, true},
    {"falcon-h1", Family::kLlama3, true, true, true},
    {"pixtral", Family::kLlama3, true, true, true},
    {"midm-2.0", Family::kLlama3, true, true, true},
    {"lfm2", Family::kLlama3, true, true, true},
    {"dbrx", Family::kLlama3, true, false, false},
    {"smaug-bpe", Family::kLlama3, true, false, false},
    {"glm4", Family::kLlama3, true, false, false},
    {"chatglm-bpe", Family::kLlama3, true, false, false},
    {"deepseek-llm", Family::kDeepseekLlm, false, false, false},
    {"deepseek-coder", Family::kDeepseekCoder, false, false, false},
    {"falcon", Family::kFalcon, true, false, false},
    {"mpt", Family::kGpt2, true, false, false},
    {"starcoder", Family::kStarcoder, true, false, false},
    {"refact", Family::kStarcoder, true, false, false},
    {"command-r", Family::kStarcoder, false, false, false},
    {"smollm", Family::kStarcoder, false, false, false},
    {"codeshell", Family::kStarcoder, true, false, false},
    {"exaone", Family::kStarcoder, true, false, false},
    {"minerva-7b", Family::kStarcoder, true, false, false},
    {"gpt-2", Family::kGpt2, true, false, false},
    {"phi-2", Family::kGpt2, true, false, false},
    {"jina-es", Family::kGpt2, true, false, false},
    {"jina-de", Family::kGpt2, true, false, false},
    {"gigachat", Family::kGpt2, true, false, false},
    {"jina-v2-es", Family::kGpt2, true, false, false},
    {"jina-v2-de", Family::kGpt2, true, false, false},
    {"jina-v1-en", Family::kGpt2, true, false, false},
    {"jina-v2-code", Family::kGpt2, true, false, false},
    {"roberta-bpe", Family::kGpt2, true, false, false},
    {"a.x-4.0", Family::kGpt2, true, false, false},
    {"mellum", Family::kGpt2, true, false, false},
    {"exaone4", Family::kGpt2, true, false, false},
    {"olmo", Family::kGpt2, true, false, false},
    {"jais", Family::kGpt2, true, false, false},
    {"trillion", Family::kGpt2, false, false, false},
    {"qwen2", Family::kQwen2, false, false, false},
    {"deepseek-r1-qwen", Family::kQwen2, false, false, false},
    {"stablelm2", Family::kQwen2, true, false, false},
    {"megrez", Family::kQwen2, true, false, false},
    {"hunyuan", Family::kQwen2, false, false, false},
    {"poro-chat", Family::kBloom, false, false, false},
    {"bloom", Family::kBloom, true, false, false},
    {"gpt3-finnish", Family::kBloom, true, false, false},
    {"viking", Family::kViking, false, false, false},
    {"tekken", Family::kTekken, false, true, true},
    {"chameleon", Family::kChameleon, false, false, true},
    {"gpt-4o", Family::kGpt4o, false, false, false},
    {"llama4", Family::kGpt4o, false, false, false},
};

std::vector<std::string> family_regexes(Family family) {
  switch (family) {
    case Family::kLlama3: return {kLlama3};
    case Family::kDeepseekLlm:
      return {R"([\r\n])", kDeepseekLetters, kDeepseekPunct, R"(\s+$)", kDeepseekCjk, R"(\p{N}+)"};
    case Family::kDeepseekCoder:
      return {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"};
    case Family::kFalcon: return {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, R"([0-9][0-9][0-9])"};
    case Family::kStarcoder: return {R"(\p{N})", kGpt2};
    case Family::kGpt2: return {kGpt2};
    case Family::kQwen2: return {kQwen2};
    case Family::kBloom: return {kBloom};
    case Family::kViking: return {kBloom, R"(\p{N})"};
    case Family::kTekken: return {kTekken};
    case Family::kChameleon:
      return {R"(<sentinel:[0-9]+>)", R"((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)", R"(([\t\n]|    |  ))",
              R"(\p{N})", R"([\p{P}!-/:-@\[-`{-~])", kGpt2};
    case Family::kGpt4o: return {kGpt4o};
    case Family::kDefault: break;
  }
  return {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", R"([0-9][0-9][0-9])"};
}

struct MatchDataDeleter {
  void operator()(pcre2_match_data* md) const { pcre2_match_data_free(md); }
};
using MatchData = std::unique_ptr<pcre2_match_data, MatchDataDeleter>;

}  // namespace

StatusOr<PreTokenizerSpec> pre_tokenizer_spec(std::string_view pre_name) {
  const std::string_view name = pre_name.empty() ? std::string_view("default") : pre_name;
  for (const NameEntry& e : kNames) {
    if (e.name == name) {
      PreTokenizerSpec spec;
      spec.regexes = family_regexes(e.family);
      spec.clean_spaces = e.clean_spaces;
      spec.ignore_merges = e.ignore_merges;
      spec.add_bos = e.add_bos;
      return spec;
    }
  }
  return Status::not_found("unknown pre-tokenizer type '" + std::string(pre_name) +
                           "' (tokenizer.ggml.pre)");
}

std::vector<std::string_view> pre_tokenizer_names() {
  std::vector<std::string_view> names;
  for (const NameEntry& e : kNames) names.push_back(e.name);
  return names;
}

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() {
    if (code != nullptr) pcre2_code_free(code);
  }
};

PreTokenizer::~PreTokenizer() = default;

StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::create(PreTokenizerSpec spec) {
  std::unique_ptr<PreTokenizer> pre(new PreTokenizer());  // private constructor
  for (const std::string& re : spec.regexes) {
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    // DOLLAR_ENDONLY: '$' means the end of the piece, as in ECMAScript and
    // Oniguruma, not "before a final newline".
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re.data()), re.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err,
                                     &err_offset, nullptr);
    if (code == nullptr) {
      std::array<PCRE2_UCHAR, 256> msg{};
      pcre2_get_error_message(err, msg.data(), msg.size());
      return Status::invalid_argument("pre-tokenizer regex '" + re + "' rejected at offset " +
                                      std::to_string(err_offset) + ": " +
                                      reinterpret_cast<const char*>(msg.data()));
    }
    auto compiled = std::make_unique<Compiled>();
    compiled->code = code;
    // Without JIT (unsupported CPU, no executable memory) matching still works.
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    pre->compiled_.push_back(std::move(compiled));
  }
  pre->spec_ = std::move(spec);
  return pre;
}

namespace {

// Appends to `out` the pieces of subject[0, len): every match and every
// stretch between matches. Offsets are relative to `base`.
void split_piece(pcre2_code* code, pcre2_match_data* md, const char* subject, size_t len, size_t base,
                 std::vector<std::pair<size_t, size_t>>& out) {
  const auto* s = reinterpret_cast<PCRE2_SPTR>(subject);
  size_t gap = 0;
  size_t pos = 0;
  while (pos < len) {
    int rc = pcre2_match(code, s, len, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      // Very long runs can exhaust the JIT stack; the interpreter uses the heap.
      rc = pcre2_match(code, s, len, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
    }
    if (rc < 0) break;  // no match (or a resource limit): the rest is one piece
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t start = ov[0];
    const size_t end = ov[1];
    if (end <= start) {  // empty match: not a piece; step one character on
      if (start >= len) break;
      pos = start + utf8::sequence_length(static_cast<uint8_t>(subject[start]));
      continue;
    }
    if (start > gap) out.emplace_back(base + gap, start - gap);
    out.emplace_back(base + start, end - start);
    gap = pos = end;
  }
  if (gap < len) out.emplace_back(base + gap, len - gap);
}

}  // namespace

std::vector<std::string> PreTokenizer::split(std::string_view text) const {
  const std::string clean = utf8::sanitize(text);
  std::vector<std::pair<size_t, size_t>> pieces;
  if (!clean.empty()) pieces.emplace_back(0, clean.size());
  std::vector<std::pair<size_t, size_t>> next;
  for (const auto& compiled : compiled_) {
    MatchData md(pcre2_match_data_create_from_pattern(compiled->code, nullptr));
    if (md == nullptr) continue;  // out of memory: leave the pieces as they are
    next.clear();
    for (const auto& [off, len] : pieces) {
      split_piece(compiled->code, md.get(), clean.data() + off, len, off, next);
    }
    pieces.swap(next);
  }
  std::vector<std::string> words;
  words.reserve(pieces.size());
  for (const auto& [off, len] : pieces) {
    if (!spec_.byte_encode) {
      words.emplace_back(clean, off, len);
      continue;
    }
    std::string word;
    word.reserve(len * 2);
    for (size_t i = 0; i < len; ++i) word += byte_unicode::encode_byte(static_cast<uint8_t>(clean[off + i]));
    words.push_back(std::move(word));
  }
  return words;
}

namespace utf8 {

size_t sequence_length(uint8_t lead) {
  static constexpr std::array<uint8_t, 16> kLen = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

std::vector<uint32_t> decode(std::string_view text) {
  std::vector<uint32_t> cpts;
  cpts.reserve(text.size());
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const auto cont = [&](size_t i) { return i < text.size() && (byte(i) & 0xC0) == 0x80; };
  size_t i = 0;
  while (i < text.size()) {
    const uint8_t b = byte(i);
    if ((b & 0x80) == 0) {
      cpts.push_back(b);
      i += 1;
    } else if ((b & 0x40) == 0) {
      cpts.push_back(0xFFFD);
      i += 1;
    } else if ((b & 0x20) == 0 && cont(i + 1)) {
      cpts.push_back(((b & 0x1Fu) << 6) | (byte(i + 1) & 0x3Fu));
      i += 2;
    } else if ((b & 0x20) == 0) {
      cpts.push_back(0xFFFD);
      i += 1;
    } else if ((b & 0x10) == 0 && cont(i + 1) && cont(i + 2)) {
      cpts.push_back(((b & 0x0Fu) << 12) | ((byte(i + 1) & 0x3Fu) << 6) | (byte(i + 2) & 0x3Fu));
      i += 3;
    } else if ((b & 0x10) == 0) {
      cpts.push_back(0xFFFD);
      i += 1;
    } else if ((b & 0x08) == 0 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      cpts.push_back(((b & 0x07u) << 18) | ((byte(i + 1) & 0x3Fu) << 12) | ((byte(i + 2) & 0x3Fu) << 6) |
                     (byte(i + 3) & 0x3Fu));
      i += 4;
    } else {
      cpts.push_back(0xFFFD);
      i += 1;
    }
  }
  return cpts;
}

void append(std::string& out, uint32_t cpt) {
  if (cpt < 0x80) {
    out += static_cast<char>(cpt);
  } else if (cpt < 0x800) {
    out += static_cast<char>(0xC0 | (cpt >> 6));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  } else if (cpt < 0x10000) {
    out += static_cast<char>(0xE0 | (cpt >> 12));
    out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cpt >> 18));
    out += static_cast<char>(0x80 | ((cpt >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  }
}

std::string sanitize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (uint32_t cpt : decode(text)) {
    // Surrogates and values past U+10FFFF are not valid UTF-8 for PCRE2.
    if ((cpt >= 0xD800 && cpt <= 0xDFFF) || cpt > 0x10FFFF) cpt = 0xFFFD;
    append(out, cpt);
  }
  return out;
}

}  // namespace utf8

namespace byte_unicode {

namespace {

struct Table {
  std::array<std::string, 256> encoded;
  std::array<int16_t, 512> decoded;  // code point -> byte, -1 if none
  Table() {
    decoded.fill(-1);
    // Printable Latin-1 bytes stand for themselves; the rest (controls,
    // space, DEL, NBSP, soft hyphen...) take code points from 256 upwards.
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      const uint32_t cpt = printable ? b : next++;
      utf8::append(encoded[b], cpt);
      decoded[cpt] = static_cast<int16_t>(b);
    }
  }
};

const Table& table() {
  static const Table kTable;
  return kTable;
}

}  // namespace

const std::string& encode_byte(uint8_t byte) { return table().encoded[byte]; }

int decode_cpt(uint32_t cpt) {
  if (cpt >= 512) return -1;
  return table().decoded[cpt];
}

}  // namespace byte_unicode

}  // namespace agentd::engine
