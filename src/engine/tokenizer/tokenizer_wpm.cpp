// WordPiece (BERT; llama.cpp's llm_tokenizer_wpm): BERT's basic normalisation
// (lowercase, accents stripped, punctuation and CJK characters isolated,
// whitespace split, control characters dropped), then per word the greedy
// longest match of "▁word" against the vocabulary; a word with an unmatched
// rest becomes [UNK].
//
// Limit: without a Unicode normalisation library, accents are stripped from
// combining marks and precomposed Latin letters (Latin-1, Latin Extended-A,
// Vietnamese) only, not from e.g. precomposed Greek or Cyrillic letters.

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <clocale>
#include <cwctype>
#include <locale.h>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace agentd::engine {

namespace {

// Unicode character classes from PCRE2's tables (UCP), one compiled pattern
// per class, shared read-only by all threads.
class CharClasses {
 public:
  CharClasses()
      : punct_(compile(R"(\p{P})")), symbol_(compile(R"(\p{S})")), space_(compile(R"(\s)")),
        control_(compile(R"([\p{Cc}\p{Cf}\p{Co}\p{Cs}])")), mark_(compile(R"(\p{Mn})")) {
    utf8_locale_ = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  }
  ~CharClasses() {
    for (pcre2_code* c : {punct_, symbol_, space_, control_, mark_}) {
      if (c != nullptr) pcre2_code_free(c);
    }
    if (utf8_locale_ != static_cast<locale_t>(nullptr)) freelocale(utf8_locale_);
  }
  CharClasses(const CharClasses&) = delete;
  CharClasses& operator=(const CharClasses&) = delete;

  bool punct(uint32_t c) const { return test(punct_, c); }
  bool symbol(uint32_t c) const { return test(symbol_, c); }
  bool space(uint32_t c) const { return test(space_, c); }
  bool control(uint32_t c) const { return test(control_, c); }
  bool mark(uint32_t c) const { return test(mark_, c); }
  uint32_t lower(uint32_t c) const {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (utf8_locale_ == static_cast<locale_t>(nullptr)) return c;
    return static_cast<uint32_t>(towlower_l(static_cast<wint_t>(c), utf8_locale_));
  }

 private:
  static pcre2_code* compile(const char* re) {
    int err = 0;
    PCRE2_SIZE off = 0;
    return pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re), PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &off,
                         nullptr);
  }
  static bool test(pcre2_code* code, uint32_t c) {
    if (code == nullptr || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) return false;
    std::string s;
    utf8::append(s, c);
    pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
    if (md == nullptr) return false;
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, PCRE2_ANCHORED, md, nullptr);
    pcre2_match_data_free(md);
    return rc > 0;
  }
  pcre2_code* punct_;
  pcre2_code* symbol_;
  pcre2_code* space_;
  pcre2_code* control_;
  pcre2_code* mark_;
  locale_t utf8_locale_;
};

const CharClasses& char_classes() {
  static const CharClasses kClasses;
  return kClasses;
}

// Base letter of precomposed Latin letters: Latin-1 Supplement, Latin
// Extended-A and the Vietnamese letters of Latin Extended Additional; 0 where
// the character has no canonical decomposition ('.' in the tables).
uint32_t latin_base(uint32_t c) {
  static constexpr std::string_view kLatin1 =  // U+00C0..U+00FF
      "AAAAAA.CEEEEIIII.NOOOOO..UUUUY.."
      "aaaaaa.ceeeeiiii.nooooo..uuuuy.y";
  static constexpr std::string_view kExtendedA =  // U+0100..U+017F
      "AaAaAaCcCcCcCcDd..EeEeEeEeEeGgGg"
      "GgGgHh..IiIiIiIiI...JjKk.LlLlLl."
      "...NnNnNn...OoOoOo..RrRrRrSsSsSs"
      "SsTtTt..UuUuUuUuUuUuWwYyYZzZzZz.";
  if (c >= 0xC0 && c <= 0xFF) return kLatin1[c - 0xC0] == '.' ? 0 : static_cast<uint32_t>(kLatin1[c - 0xC0]);
  if (c >= 0x100 && c <= 0x17F) return kExtendedA[c - 0x100] == '.' ? 0 : static_cast<uint32_t>(kExtendedA[c - 0x100]);
  if (c >= 0x1EA0 && c <= 0x1EF9) {
    // Upper/lower pairs: 12 A, 8 E, 2 I, 12 O, 7 U, 4 Y (Ạạ Ảả ... Ỹỹ).
    static constexpr std::pair<char, int> kRuns[] = {{'A', 12}, {'E', 8}, {'I', 2}, {'O', 12}, {'U', 7}, {'Y', 4}};
    uint32_t pair = (c - 0x1EA0) / 2;
    for (const auto& [letter, count] : kRuns) {
      if (pair < static_cast<uint32_t>(count)) return static_cast<uint32_t>(letter) + ((c & 1) ? 32 : 0);
      pair -= static_cast<uint32_t>(count);
    }
  }
  return 0;
}

bool is_chinese_char(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace

void Tokenizer::encode_wpm(std::string_view text, std::vector<int32_t>& out) const {
  const CharClasses& cc = char_classes();
  std::vector<std::string> words(1);
  for (uint32_t cpt : utf8::decode(text)) {
    if (cc.space(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cpt == 0 || cpt == 0xFFFD || cc.control(cpt)) continue;
    if (wpm_strip_accents_) {
      if (cc.mark(cpt)) continue;
      if (const uint32_t base = latin_base(cpt); base != 0) cpt = base;
    }
    std::string s;
    utf8::append(s, wpm_lowercase_ ? cc.lower(cpt) : cpt);
    if (cc.punct(cpt) || (cpt < 0x7F && cc.symbol(cpt)) || is_chinese_char(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = s;
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }

  for (const std::string& word : words) {
    if (word.empty()) continue;
    const std::string w = std::string("\xE2\x96\x81") + word;
    const size_t n = w.size();
    const size_t start = out.size();
    for (size_t i = 0; i < n; ++i) {
      bool match = false;
      for (size_t j = std::min(n, i + max_token_len_ + 1); j > i; --j) {
        const int32_t id = find_token(std::string_view(w).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          match = true;
          i = j - 1;
          break;
        }
      }
      if (!match) {
        out.resize(start);
        break;
      }
    }
    if (out.size() == start && unk_id_ >= 0) out.push_back(unk_id_);
  }
}

}  // namespace agentd::engine
