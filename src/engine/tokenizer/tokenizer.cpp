// Tokenizer: loading the vocabulary from GGUF metadata, special tokens,
// the special-token partition of the input, token pieces and decoding.
// The per-model algorithms live in tokenizer_spm.cpp, tokenizer_bpe.cpp and
// tokenizer_wpm.cpp. Behaviour follows llama.cpp's llama-vocab.cpp.

#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace agentd::engine {

namespace {

// GGUF token types (tokenizer.ggml.token_type).
enum GgufTokenType : int64_t {
  kTypeUndefined = 0, kTypeNormal = 1, kTypeUnknown = 2, kTypeControl = 3,
  kTypeUserDefined = 4, kTypeUnused = 5, kTypeByte = 6,
};

uint32_t attr_from_type(int64_t type) {
  switch (type) {
    case kTypeUnknown: return kAttrUnknown;
    case kTypeUnused: return kAttrUnused;
    case kTypeNormal: return kAttrNormal;
    case kTypeControl: return kAttrControl;
    case kTypeUserDefined: return kAttrUserDefined;
    case kTypeByte: return kAttrByte;
    default: return kAttrUndefined;
  }
}

const GgufValue* find_array(const GgufFile& file, std::string_view key) {
  const GgufValue* v = file.find(key);
  if (v == nullptr || v->type != GgufType::kArray) return nullptr;
  return v;
}

bool is_integer_type(GgufType t) {
  switch (t) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kUint16: case GgufType::kInt16:
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kUint64: case GgufType::kInt64:
      return true;
    default:
      return false;
  }
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 '▁'

bool is_any_of(std::string_view text, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), text) != names.end();
}

// Every token text the special-token heuristics look for starts with one of
// these bytes; testing it first keeps loading large vocabularies fast.
bool may_be_special_name(std::string_view text) {
  if (text.size() < 3) return false;
  const char c = text[0];
  return c == '<' || c == '[' || c == '_' || c == '\xE2';
}

}  // namespace

Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const GgufFile& file) {
  std::unique_ptr<Tokenizer> tok(new Tokenizer());  // private constructor
  AGENTD_RETURN_IF_ERROR(tok->load(file));
  return tok;
}

Status Tokenizer::load(const GgufFile& file) {
  const std::optional<std::string_view> model = file.get_string("tokenizer.ggml.model");
  if (!model) return Status::invalid_argument("GGUF has no tokenizer.ggml.model: not a model with a vocabulary");
  const std::string_view pre = file.get_string("tokenizer.ggml.pre").value_or("");
  pre_name_ = std::string(pre);
  model_name_ = std::string(file.get_string("general.name").value_or(""));

  // Default special ids per model family, before metadata overrides them.
  if (*model == "llama") {
    type_ = VocabType::kSpm;
    bos_id_ = 1; eos_id_ = 2; unk_id_ = 0;
    add_space_prefix_ = true;
    add_bos_ = true;
  } else if (*model == "gpt2") {
    type_ = VocabType::kBpe;
    bos_id_ = 11; eos_id_ = 11;
    AGENTD_ASSIGN_OR_RETURN(PreTokenizerSpec spec, pre_tokenizer_spec(pre));
    if (pre.empty()) warnings_.push_back("missing tokenizer.ggml.pre; using the default pre-tokenizer");
    clean_spaces_ = spec.clean_spaces;
    ignore_merges_ = spec.ignore_merges;
    add_bos_ = spec.add_bos;
    if (pre == "glm4" || pre == "chatglm-bpe") bos_id_ = -1;
    if (pre == "jina-v1-en" || pre == "jina-v2-code" || pre == "roberta-bpe") add_sep_ = true;
    AGENTD_ASSIGN_OR_RETURN(pre_, PreTokenizer::create(std::move(spec)));
  } else if (*model == "bert") {
    type_ = VocabType::kWpm;
    bos_id_ = 101; unk_id_ = 100; sep_id_ = 102; pad_id_ = 0; mask_id_ = 103;
    add_bos_ = true;
    add_sep_ = true;
    clean_spaces_ = true;
  } else if (*model == "no_vocab" || *model == "none") {
    return Status::invalid_argument("GGUF has no vocabulary (tokenizer.ggml.model = '" + std::string(*model) + "')");
  } else {
    return Status::unimplemented("unknown tokenizer model '" + std::string(*model) +
                                 "' (tokenizer.ggml.model); supported: llama, gpt2, bert");
  }
  if (auto v = file.get_bool("tokenizer.ggml.add_space_prefix")) add_space_prefix_ = *v;

  AGENTD_RETURN_IF_ERROR(load_tokens(file));

  if (type_ == VocabType::kBpe) {
    const GgufValue* merges = find_array(file, "tokenizer.ggml.merges");
    if (merges == nullptr) return Status::invalid_argument("GGUF has no tokenizer.ggml.merges array (needed by a gpt2 tokenizer)");
    if (merges->array_type != GgufType::kString) return Status::invalid_argument("tokenizer.ggml.merges is not an array of strings");
    bpe_ranks_.reserve(merges->strings.size());
    std::string key;
    for (size_t i = 0; i < merges->strings.size(); ++i) {
      const std::string_view m = merges->strings[i];
      // "left right"; the separator is the first space after the first byte.
      const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
      key.clear();
      if (sp != std::string_view::npos) {
        key.append(m.substr(0, sp));
        key.push_back('\0');
        key.append(m.substr(sp + 1));
      } else {
        key.push_back('\0');
      }
      bpe_ranks_.emplace(key, static_cast<int32_t>(i));
    }
  }

  // Special token ids from metadata; out-of-range defaults are dropped.
  struct SpecialKey {
    std::string_view key;
    int32_t* id;
  };
  const std::array<SpecialKey, 17> keys = {{
      {"tokenizer.ggml.bos_token_id", &bos_id_},
      {"tokenizer.ggml.eos_token_id", &eos_id_},
      {"tokenizer.ggml.eot_token_id", &eot_id_},
      {"tokenizer.ggml.eom_token_id", &eom_id_},
      {"tokenizer.ggml.unknown_token_id", &unk_id_},
      {"tokenizer.ggml.seperator_token_id", &sep_id_},
      {"tokenizer.ggml.padding_token_id", &pad_id_},
      {"tokenizer.ggml.mask_token_id", &mask_id_},
      {"tokenizer.ggml.fim_pre_token_id", &fim_pre_id_},
      {"tokenizer.ggml.fim_suf_token_id", &fim_suf_id_},
      {"tokenizer.ggml.fim_mid_token_id", &fim_mid_id_},
      {"tokenizer.ggml.fim_pad_token_id", &fim_pad_id_},
      {"tokenizer.ggml.fim_rep_token_id", &fim_rep_id_},
      {"tokenizer.ggml.fim_sep_token_id", &fim_sep_id_},
      {"tokenizer.ggml.prefix_token_id", &fim_pre_id_},
      {"tokenizer.ggml.suffix_token_id", &fim_suf_id_},
      {"tokenizer.ggml.middle_token_id", &fim_mid_id_},
  }};
  const int64_t n = static_cast<int64_t>(tokens_.size());
  for (const SpecialKey& k : keys) {
    if (*k.id >= n) {
      warnings_.push_back("default " + std::string(k.key) + " = " + std::to_string(*k.id) + " is out of the vocabulary; disabled");
      *k.id = -1;
    }
    const std::optional<int64_t> v = file.get_int(k.key);
    if (!v) continue;
    if (*v < 0 || *v >= n) {
      warnings_.push_back("bad special token " + std::string(k.key) + " = " + std::to_string(*v) + "; keeping " + std::to_string(*k.id));
    } else {
      *k.id = static_cast<int32_t>(*v);
    }
  }
  if (auto v = file.get_bool("tokenizer.ggml.add_bos_token")) add_bos_ = *v;
  if (auto v = file.get_bool("tokenizer.ggml.add_eos_token")) add_eos_ = *v;
  if (auto v = file.get_bool("tokenizer.ggml.add_sep_token")) add_sep_ = *v;
  if (add_bos_ && bos_id_ < 0) return Status::invalid_argument("tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set");
  if (add_eos_ && eos_id_ < 0) return Status::invalid_argument("tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set");
  if (add_sep_ && sep_id_ < 0) return Status::invalid_argument("tokenizer.ggml.add_sep_token is true, but tokenizer.ggml.seperator_token_id is not set");

  if (type_ == VocabType::kWpm) {
    wpm_lowercase_ = file.get_bool("tokenizer.ggml.normalizer.lowercase").value_or(false);
    wpm_strip_accents_ = file.get_bool("tokenizer.ggml.normalizer.strip_accents").value_or(wpm_lowercase_);
    // Files converted before these keys existed were all uncased BERT models.
    if (!file.find("tokenizer.ggml.normalizer.lowercase")) wpm_lowercase_ = wpm_strip_accents_ = true;
  }

  detect_special_tokens(file);
  build_caches(file);
  return Status::ok();
}

Status Tokenizer::load_tokens(const GgufFile& file) {
  const GgufValue* list = find_array(file, "tokenizer.ggml.tokens");
  if (list == nullptr) return Status::invalid_argument("GGUF has no tokenizer.ggml.tokens array");
  if (list->array_type != GgufType::kString) return Status::invalid_argument("tokenizer.ggml.tokens is not an array of strings");
  const size_t n = list->strings.size();
  if (n == 0) return Status::invalid_argument("tokenizer.ggml.tokens is empty");
  if (n > static_cast<size_t>(INT32_MAX)) return Status::invalid_argument("tokenizer.ggml.tokens is too large");

  const GgufValue* scores = find_array(file, "tokenizer.ggml.scores");
  if (scores != nullptr) {
    const bool is_float = scores->array_type == GgufType::kFloat32;
    const bool is_int = scores->array_type == GgufType::kInt32;
    if (!is_float && !is_int) return Status::invalid_argument("tokenizer.ggml.scores must be an array of float32 or int32");
    const size_t count = is_float ? scores->floats.size() : scores->ints.size();
    if (count < n) return Status::invalid_argument("tokenizer.ggml.scores has " + std::to_string(count) + " entries for " + std::to_string(n) + " tokens");
  }
  const GgufValue* types = find_array(file, "tokenizer.ggml.token_type");
  if (types != nullptr) {
    if (!is_integer_type(types->array_type)) return Status::invalid_argument("tokenizer.ggml.token_type must be an array of int32");
    if (types->ints.size() < n) return Status::invalid_argument("tokenizer.ggml.token_type has " + std::to_string(types->ints.size()) + " entries for " + std::to_string(n) + " tokens");
  }

  tokens_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    TokenData& t = tokens_[i];
    t.text = std::string(list->strings[i]);
    if (t.text.empty()) t.text = "[EMPTY_" + std::to_string(i) + "]";
    // Inserted one by one in id order, as llama.cpp does, so the map iterates
    // in the same order as its std::unordered_map.
    const auto [it, inserted] = token_to_id_.emplace(t.text, static_cast<int32_t>(i));
    if (!inserted) {
      return Status::invalid_argument("duplicate token in tokenizer.ggml.tokens: '" + t.text + "' has ids " +
                                      std::to_string(it->second) + " and " + std::to_string(i));
    }
    max_token_len_ = std::max(max_token_len_, t.text.size());
    if (scores != nullptr) {
      t.score = scores->array_type == GgufType::kFloat32 ? static_cast<float>(scores->floats[i])
                                                          : static_cast<float>(scores->ints[i]);
    }
    t.attr = types != nullptr ? attr_from_type(types->ints[i]) : kAttrNormal;
  }
  return Status::ok();
}

void Tokenizer::detect_special_tokens(const GgufFile& file) {
  // Converters do not always fill the EOT/EOM/FIM keys or mark such tokens as
  // control; llama.cpp recognises them by their text. Iterating the hash map
  // (same order as llama.cpp's) decides which one wins when several match.
  const auto mark_control = [&](int32_t id) { tokens_[id].attr |= kAttrControl; };
  // One pass over the map (in its order) to collect the few candidates.
  std::vector<std::pair<std::string_view, int32_t>> candidates;
  for (const auto& [text, id] : token_to_id_) {
    if (may_be_special_name(text)) candidates.emplace_back(text, id);
  }
  for (const auto& [text, id] : candidates) {
    if (eot_id_ < 0 && is_any_of(text, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                        "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                                        "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
                                        "<end_of_utterance>"})) {
      eot_id_ = id;
      mark_control(id);
    }
    if (eom_id_ < 0 && text == "<|eom_id|>") {
      eom_id_ = id;
      mark_control(id);
    }
    if (fim_pre_id_ < 0 && is_any_of(text, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                            "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>",
                                            "\xE2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"})) {
      fim_pre_id_ = id;
      mark_control(id);
    }
    if (fim_suf_id_ < 0 && is_any_of(text, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                            "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>", "<SUF>",
                                            "\xE2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"})) {
      fim_suf_id_ = id;
      mark_control(id);
    }
    if (fim_mid_id_ < 0 && is_any_of(text, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                            "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>",
                                            "\xE2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"})) {
      fim_mid_id_ = id;
      mark_control(id);
    }
    if (fim_pad_id_ < 0 && is_any_of(text, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"})) {
      fim_pad_id_ = id;
      mark_control(id);
    }
    if (fim_rep_id_ < 0 && is_any_of(text, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"})) {
      fim_rep_id_ = id;
      mark_control(id);
    }
    if (fim_sep_id_ < 0 && text == "<|file_sep|>") {
      fim_sep_id_ = id;
      mark_control(id);
    }
  }
  // Control tokens named "unused" are unused.
  for (TokenData& t : tokens_) {
    if ((t.attr & kAttrControl) && t.text.find("unused") != std::string::npos) t.attr |= kAttrUnused;
  }

  // End of generation: FIM pad/repo/sep, tokens recognised by text, EOS/EOT/EOM.
  for (int32_t id : {fim_pad_id_, fim_rep_id_, fim_sep_id_}) {
    if (id >= 0) eog_ids_.insert(id);
  }
  for (const auto& [text, id] : candidates) {
    if (is_any_of(text, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
                         "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
                         "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
                         "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", "[e~["})) {
      eog_ids_.insert(id);
      mark_control(id);
    }
  }
  // gpt-oss: these always render.
  for (const auto& [text, id] : candidates) {
    if (is_any_of(text, {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"})) tokens_[id].attr = kAttrUserDefined;
  }
  for (int32_t id : {eos_id_, eot_id_, eom_id_}) {
    if (id >= 0) eog_ids_.insert(id);
  }
  // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
  {
    bool has_return = false, has_call = false, has_flush = false;
    int32_t end_id = -1;
    for (int32_t id : eog_ids_) {
      const std::string& text = tokens_[id].text;
      if (text == "<|return|>") has_return = true;
      else if (text == "<|call|>" || text == "<|calls|>") has_call = true;
      else if (text == "<|flush|>") has_flush = true;
      else if (text == "<|end|>") end_id = id;
    }
    if (end_id >= 0 && ((has_return && has_call) || (has_call && has_flush))) {
      eog_ids_.erase(end_id);
      tokens_[end_id].attr = kAttrUserDefined;
    }
  }
  // gemma4 / paddleocr: "</s>" is not an end of generation when "<|tool_response>" exists.
  {
    bool has_tool_response = false;
    int32_t s_id = -1;
    for (int32_t id : eog_ids_) {
      const std::string& text = tokens_[id].text;
      if (text == "<|tool_response>") has_tool_response = true;
      else if (text == "</s>") s_id = id;
    }
    if (has_tool_response && s_id >= 0) {
      eog_ids_.erase(s_id);
      tokens_[s_id].attr = kAttrNormal;
    }
  }
  (void)file;
}

void Tokenizer::build_caches(const GgufFile& file) {
  // Tokens split out of raw text before tokenization, longest text first.
  for (int32_t id = 0; id < n_vocab(); ++id) {
    if (tokens_[id].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_tokens_.push_back(id);
  }
  std::stable_sort(special_tokens_.begin(), special_tokens_.end(),
                   [&](int32_t a, int32_t b) { return tokens_[a].text.size() > tokens_[b].text.size(); });

  // Per-model strip attributes (not stored in GGUF): Phi-3's special tokens
  // swallow the whitespace after them.
  std::string name = model_name_;
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string arch(file.get_string("general.architecture").value_or(""));
  const auto set_attr = [&](std::string_view text, uint32_t attr, bool on) {
    const int32_t id = find_token(text);
    if (id < 0) return;
    tokens_[id].attr = on ? (tokens_[id].attr | attr) : (tokens_[id].attr & ~attr);
  };
  const bool jina = pre_name_.find("jina-v2-de") != std::string::npos || pre_name_.find("jina-v2-es") != std::string::npos ||
                    pre_name_.find("jina-v2-code") != std::string::npos || arch.find("nomic-bert-moe") != std::string::npos ||
                    arch.find("jina-bert-v3") != std::string::npos;
  if (jina) {
    set_attr("<mask>", kAttrLstrip, true);
  } else if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (int32_t id : special_tokens_) tokens_[id].attr |= kAttrRstrip;
    set_attr("</s>", kAttrRstrip, true);
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(t, kAttrRstrip, false);
  } else if (name.find("modern-bert") != std::string::npos) {
    set_attr("[MASK]", kAttrLstrip, true);
  }

  // The newline token: the byte token for SentencePiece, else what "\n" encodes to.
  if (type_ == VocabType::kSpm) {
    linefeed_id_ = byte_to_token('\n');
  } else if (type_ == VocabType::kWpm) {
    linefeed_id_ = pad_id_;
  } else {
    const std::vector<int32_t> ids = encode("\n", false, false);
    linefeed_id_ = ids.empty() ? pad_id_ : ids[0];
  }
}

int32_t Tokenizer::find_token(std::string_view text) const {
  const auto it = token_to_id_.find(text);
  return it == token_to_id_.end() ? -1 : it->second;
}

const std::string& Tokenizer::token_text(int32_t id) const {
  static const std::string kEmpty;
  if (id < 0 || id >= n_vocab()) return kEmpty;
  return tokens_[id].text;
}

uint32_t Tokenizer::token_attr(int32_t id) const {
  if (id < 0 || id >= n_vocab()) return kAttrUndefined;
  return tokens_[id].attr;
}

int32_t Tokenizer::byte_to_token(uint8_t byte) const {
  if (type_ == VocabType::kBpe) return find_token(byte_unicode::encode_byte(byte));
  static constexpr char kHex[] = "0123456789ABCDEF";
  const char buf[6] = {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>'};
  int32_t id = find_token(std::string_view(buf, 6));
  if (id >= 0) return id;
  // Vocabularies without byte tokens: the character itself, else unknown.
  const char c = static_cast<char>(byte);
  id = find_token(std::string_view(&c, 1));
  return id >= 0 ? id : unk_id_;
}

int32_t Tokenizer::find_bpe_rank(std::string_view left, std::string_view right) const {
  thread_local std::string key;
  key.assign(left);
  key.push_back('\0');
  key.append(right);
  const auto it = bpe_ranks_.find(std::string_view(key));
  return it == bpe_ranks_.end() ? -1 : it->second;
}

std::string Tokenizer::piece(int32_t id) const {
  const TokenData& t = tokens_[id];
  if (t.attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return t.text;
  if (t.attr & kAttrNormal) {
    if (type_ == VocabType::kBpe) {
      // Undo the byte-to-unicode mapping.
      std::string out;
      for (uint32_t cpt : utf8::decode(t.text)) {
        const int b = byte_unicode::decode_cpt(cpt);
        if (b >= 0) {
          out.push_back(static_cast<char>(b));
        } else {
          // Not a byte-level character: keep it (llama.cpp marks it [UNK_BYTE...]).
          utf8::append(out, cpt);
        }
      }
      return out;
    }
    std::string out = t.text;
    replace_all(out, kSpaceMarker, " ");
    return out;
  }
  if ((t.attr & kAttrByte) && t.text.size() == 6 && t.text.compare(0, 3, "<0x") == 0) {
    const auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = hex(t.text[3]);
    const int lo = hex(t.text[4]);
    if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
  }
  return std::string();
}

std::string Tokenizer::token_to_piece(int32_t id) const { return token_to_piece(id, false); }

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  if (id < 0 || id >= n_vocab()) return std::string();
  if (!render_special && (tokens_[id].attr & (kAttrUnknown | kAttrControl))) return std::string();
  return piece(id);
}

std::vector<Tokenizer::Fragment> Tokenizer::partition(std::string_view text, bool parse_special) const {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back(Fragment{-1, 0, text.size()});
  std::vector<Fragment> next;
  for (int32_t id : special_tokens_) {
    const TokenData& t = tokens_[id];
    // Control and unknown tokens only when asked; user-defined ones always
    // (as Hugging Face's added tokens).
    if (!parse_special && (t.attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view needle = t.text;
    bool any = false;
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t begin = f.offset;
      const size_t end = f.offset + f.length;
      while (begin < end) {
        const size_t hit = text.substr(0, end).find(needle, begin);
        if (hit == std::string_view::npos) break;
        any = true;
        size_t left_len = hit - begin;
        if (t.attr & kAttrLstrip) {
          while (left_len > 0 && std::isspace(static_cast<unsigned char>(text[begin + left_len - 1]))) --left_len;
        }
        if (left_len > 0) next.push_back(Fragment{-1, begin, left_len});
        next.push_back(Fragment{id, 0, 0});
        begin = hit + needle.size();
        if (t.attr & kAttrRstrip) {
          while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
        }
      }
      if (begin < end) next.push_back(Fragment{-1, begin, end - begin});
    }
    if (any) frags.swap(next);
  }
  return frags;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<int32_t> out;
  const std::vector<Fragment> frags = partition(text, parse_special);
  switch (type_) {
    case VocabType::kSpm: {
      bool prev_special = true;  // the first piece gets the space prefix
      if (add_special && add_bos_) out.push_back(bos_id_);
      std::string piece;
      for (const Fragment& f : frags) {
        if (f.token >= 0) {
          out.push_back(f.token);
          prev_special = true;
          continue;
        }
        piece.clear();
        if (add_space_prefix_ && prev_special) piece.push_back(' ');
        piece.append(text.substr(f.offset, f.length));
        replace_all(piece, " ", kSpaceMarker);
        encode_spm(piece, out);
        prev_special = false;
      }
      if (add_special && add_eos_) out.push_back(eos_id_);
      break;
    }
    case VocabType::kBpe: {
      if (add_special && add_bos_) out.push_back(bos_id_);
      for (const Fragment& f : frags) {
        if (f.token >= 0) {
          out.push_back(f.token);
        } else {
          encode_bpe(text.substr(f.offset, f.length), out);
        }
      }
      if (add_special && add_eos_) out.push_back(eos_id_);
      if (add_special && add_sep_) out.push_back(sep_id_);
      break;
    }
    case VocabType::kWpm: {
      if (add_special && bos_id_ >= 0) out.push_back(bos_id_);  // [CLS]
      for (const Fragment& f : frags) {
        if (f.token >= 0) {
          out.push_back(f.token);
        } else {
          encode_wpm(text.substr(f.offset, f.length), out);
        }
      }
      if (add_special && sep_id_ >= 0) out.push_back(sep_id_);  // [SEP]
      break;
    }
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string text;
  bool remove_space = add_space_prefix_;
  for (int32_t id : ids) {
    std::string piece = token_to_piece(id, false);
    if (remove_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    remove_space = false;
    text += piece;
  }
  if (!clean_spaces_) return text;

  // Hugging Face's clean_up_tokenization_spaces, as llama.cpp applies it.
  std::string a;
  a.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char x = text[i];
    if (i > 0 && text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') && !a.empty()) a.pop_back();
    a.push_back(x);
  }
  // " ' " -> "'" (the apostrophe keeps neither neighbouring space).
  std::string b;
  b.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = a[i];
    if (i > 0 && x == '\'' && i + 1 < a.size() && a[i - 1] == ' ' && a[i + 1] == ' ') {
      if (!b.empty()) b.pop_back();
      b.push_back(x);
      ++i;  // drop the space after it
      continue;
    }
    b.push_back(x);
  }
  // " 's", " 'm", " 're", " 've" lose the space.
  std::string c;
  c.reserve(b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    const char x = b[i];
    if (i > 0 && b[i - 1] == ' ' && x == '\'' && i + 1 < b.size()) {
      const char x1 = b[i + 1];
      const char x2 = i + 2 < b.size() ? b[i + 2] : '\0';
      const bool drop = x1 == 's' || x1 == 'm' || (i + 2 < b.size() && ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')));
      if (drop && !c.empty()) c.pop_back();
    }
    c.push_back(x);
  }
  return c;
}

}  // namespace agentd::engine
