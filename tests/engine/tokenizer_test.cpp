// Tokenizer tests against the reference vectors in testdata/vocab: for each
// ggml-vocab-NAME.gguf, every string of NAME.gguf.inp (separated by the line
// "__ggml_vocab_test__") must encode to the ids on the same line of
// NAME.gguf.out, which the model's Hugging Face tokenizer produced.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstring>
#include <random>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"

namespace agentd::engine {
namespace {

const std::string kVocabDir = std::string(AGENTD_TESTDATA_DIR) + "/vocab/";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// As llama.cpp's test-tokenizer-0: each string is followed by
// "\n__ggml_vocab_test__\n"; line i of the .out file holds the ids of string i.
std::vector<Case> load_cases(const std::string& name) {
  const std::string inp = read_file(kVocabDir + "ggml-vocab-" + name + ".gguf.inp");
  const std::string out = read_file(kVocabDir + "ggml-vocab-" + name + ".gguf.out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  size_t pos = 0;
  while (pos < inp.size()) {
    const size_t hit = inp.find(sep, pos);
    if (hit == std::string::npos) break;
    cases.push_back(Case{inp.substr(pos, hit - pos), {}});
    pos = hit + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line) && i < cases.size()) {
    std::istringstream nums(line);
    int32_t id = 0;
    while (nums >> id) cases[i].ids.push_back(id);
    ++i;
  }
  EXPECT_EQ(i, cases.size()) << name << ": .out has fewer lines than .inp has strings";
  return cases;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& name) {
  auto file = GgufFile::open(kVocabDir + "ggml-vocab-" + name + ".gguf");
  EXPECT_TRUE(file.is_ok()) << file.status().to_string();
  if (!file.is_ok()) return nullptr;
  auto tok = Tokenizer::from_gguf(**file);
  EXPECT_TRUE(tok.is_ok()) << name << ": " << tok.status().to_string();
  if (!tok.is_ok()) return nullptr;
  return std::move(tok).value();
}

// The reference ids of the string `text` in NAME's vectors.
std::vector<int32_t> reference_ids(const std::vector<Case>& cases, const std::string& text) {
  for (const Case& c : cases) {
    if (c.text == text) return c.ids;
  }
  ADD_FAILURE() << "no reference case for '" << text << "'";
  return {};
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class VocabTest : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabTest, EveryReferenceCaseReproduces) {
  const std::string name = GetParam();
  const auto tok = load_tokenizer(name);
  ASSERT_NE(tok, nullptr);
  const std::vector<Case> cases = load_cases(name);
  ASSERT_EQ(cases.size(), 46u);
  int failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<int32_t> got = tok->encode(cases[i].text, false, false);
    if (got != cases[i].ids) {
      ++failures;
      ADD_FAILURE() << name << " case " << i << " '" << cases[i].text << "'\n  expected:" << show(cases[i].ids)
                    << "\n  got:     " << show(got);
    }
  }
  EXPECT_EQ(failures, 0);
}

INSTANTIATE_TEST_SUITE_P(Vocab, VocabTest,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "starcoder", "falcon", "deepseek-llm",
                                           "deepseek-coder", "mpt", "refact", "bert-bge"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

// decode(encode(s)) gives s back where the model's decoder keeps text as is:
// SentencePiece (the space prefix is removed again) and the byte-level BPE
// vocabularies without clean-up of spaces before punctuation.
class RoundTripTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTripTest, DecodeGivesTheTextBack) {
  const std::string name = GetParam();
  const auto tok = load_tokenizer(name);
  ASSERT_NE(tok, nullptr);
  for (const Case& c : load_cases(name)) {
    EXPECT_EQ(tok->decode(tok->encode(c.text, false, false)), c.text) << name;
    // Decoding the reference ids gives the text too.
    EXPECT_EQ(tok->decode(c.ids), c.text) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Vocab, RoundTripTest, ::testing::Values("llama-spm", "phi-3", "deepseek-llm", "deepseek-coder"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

TEST(Tokenizer, BpeDecodeCleansSpacesBeforePunctuationOnly) {
  const auto tok = load_tokenizer("gpt-2");
  ASSERT_NE(tok, nullptr);
  const auto cases = load_cases("gpt-2");
  // Strings with nothing for the clean-up to change come back exactly.
  for (const Case& c : cases) {
    bool cleanable = false;
    for (const char* p : {" ?", " !", " .", " ,", " '"}) cleanable = cleanable || c.text.find(p) != std::string::npos;
    if (!cleanable) {
      EXPECT_EQ(tok->decode(c.ids), c.text);
    }
  }
  // Hugging Face's clean_up_tokenization_spaces: " ," and " 's" lose the space.
  EXPECT_EQ(tok->decode(tok->encode("Hello , world 's", false, false)), "Hello, world's");
}

TEST(Tokenizer, SpmPiecesAndSpecialIds) {
  const auto tok = load_tokenizer("llama-spm");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->type(), VocabType::kSpm);
  EXPECT_EQ(tok->n_vocab(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->eot_id(), -1);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_TRUE(tok->is_end_of_generation(2));
  EXPECT_FALSE(tok->is_end_of_generation(1));
  EXPECT_EQ(tok->linefeed_id(), 13);  // <0x0A>
  EXPECT_EQ(tok->token_text(tok->find_token("\xE2\x96\x81Hello")), "\xE2\x96\x81Hello");
  EXPECT_EQ(tok->token_to_piece(tok->find_token("\xE2\x96\x81Hello")), " Hello");
  EXPECT_EQ(tok->token_to_piece(13), "\n");
  EXPECT_EQ(tok->token_to_piece(3 + 0xE4), "\xE4");  // byte token <0xE4>
  EXPECT_EQ(tok->token_to_piece(1), "");             // control: not rendered
  EXPECT_EQ(tok->token_to_piece(1, true), "<s>");
  EXPECT_EQ(tok->token_to_piece(-5), "");
  EXPECT_EQ(tok->token_to_piece(32000), "");
}

TEST(Tokenizer, SpmAddSpecialPrependsBos) {
  const auto tok = load_tokenizer("llama-spm");
  ASSERT_NE(tok, nullptr);
  const auto cases = load_cases("llama-spm");
  for (const Case& c : cases) {
    EXPECT_EQ(tok->encode(c.text, true, false), concat({1}, c.ids)) << c.text;
  }
  EXPECT_EQ(tok->encode("", true, false), std::vector<int32_t>{1});
  EXPECT_TRUE(tok->encode("", false, false).empty());
}

TEST(Tokenizer, SpmParsesControlTokensOnlyWhenAsked) {
  const auto tok = load_tokenizer("llama-spm");
  ASSERT_NE(tok, nullptr);
  const auto cases = load_cases("llama-spm");
  // After a special token the text gets the space prefix again.
  EXPECT_EQ(tok->encode("<s>Hello world</s>", false, true),
            concat(concat({1}, reference_ids(cases, "Hello world")), {2}));
  const std::vector<int32_t> literal = tok->encode("<s>Hello", false, false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), 1), 0);
  EXPECT_EQ(tok->decode(literal), "<s>Hello");
}

TEST(Tokenizer, Phi3SpecialTokensSwallowFollowingWhitespace) {
  const auto tok = load_tokenizer("phi-3");
  ASSERT_NE(tok, nullptr);
  const auto cases = load_cases("phi-3");
  const int32_t end = tok->find_token("<|end|>");
  ASSERT_EQ(end, 32007);
  EXPECT_TRUE(tok->is_end_of_generation(end));
  EXPECT_TRUE(tok->is_end_of_generation(tok->eos_id()));
  EXPECT_EQ(tok->encode("<|end|>\n  Hello", false, true), concat({end}, reference_ids(cases, "Hello")));
  // "</s>" is user-defined in this vocabulary but, as an end-of-generation
  // token, counts as control: split out only with parse_special.
  EXPECT_TRUE(tok->is_end_of_generation(2));
  EXPECT_EQ(tok->encode("Hello</s>  Hello", false, true),
            concat(concat(reference_ids(cases, "Hello"), {2}), reference_ids(cases, "Hello")));
  const auto literal = tok->encode("Hello</s>", false, false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), 2), 0);
}

TEST(Tokenizer, BpeSpecialTokensAndBos) {
  const auto gpt2 = load_tokenizer("gpt-2");
  ASSERT_NE(gpt2, nullptr);
  const auto cases = load_cases("gpt-2");
  EXPECT_EQ(gpt2->type(), VocabType::kBpe);
  EXPECT_EQ(gpt2->pre_name(), "gpt-2");
  EXPECT_FALSE(gpt2->add_bos());
  EXPECT_EQ(gpt2->eos_id(), 50256);
  EXPECT_TRUE(gpt2->is_end_of_generation(50256));
  EXPECT_EQ(gpt2->eot_id(), 50256);  // "<|endoftext|>" is recognised as EOT
  EXPECT_EQ(gpt2->encode("Hello world", true, false), reference_ids(cases, "Hello world"));
  EXPECT_EQ(gpt2->encode("Hello world<|endoftext|>", false, true), concat(reference_ids(cases, "Hello world"), {50256}));
  const auto literal = gpt2->encode("Hello world<|endoftext|>", false, false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), 50256), 0);
  EXPECT_EQ(gpt2->decode(literal), "Hello world<|endoftext|>");
  EXPECT_EQ(gpt2->token_to_piece(995), " world");  // "Ġworld"
  EXPECT_EQ(gpt2->linefeed_id(), 198);

  const auto coder = load_tokenizer("deepseek-coder");
  ASSERT_NE(coder, nullptr);
  const auto coder_cases = load_cases("deepseek-coder");
  EXPECT_TRUE(coder->add_bos());
  EXPECT_EQ(coder->bos_id(), 32013);
  EXPECT_EQ(coder->encode("Hello world", true, false), concat({32013}, reference_ids(coder_cases, "Hello world")));
  EXPECT_TRUE(coder->is_end_of_generation(32014));
  EXPECT_EQ(coder->token_to_piece(32014), "");
}

TEST(Tokenizer, WordPieceAddsClsAndSep) {
  const auto tok = load_tokenizer("bert-bge");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->type(), VocabType::kWpm);
  const auto cases = load_cases("bert-bge");
  EXPECT_EQ(tok->encode("Hello world", true, false), concat(concat({101}, reference_ids(cases, "Hello world")), {102}));
  EXPECT_EQ(tok->encode("[CLS]Hello world", false, true), concat({101}, reference_ids(cases, "Hello world")));
}

TEST(Tokenizer, InvalidUtf8NeverFails) {
  const auto spm = load_tokenizer("llama-spm");
  ASSERT_NE(spm, nullptr);
  // The byte fallback: "▁" then the byte token <0xFF> (ids 3..258 are <0x00>..<0xFF>).
  EXPECT_EQ(spm->encode("\xFF", false, false), (std::vector<int32_t>{spm->find_token("\xE2\x96\x81"), 3 + 0xFF}));
  EXPECT_EQ(spm->decode(spm->encode("a\xC3(\xFF", false, false)), "a\xC3(\xFF");
  const auto gpt2 = load_tokenizer("gpt-2");
  ASSERT_NE(gpt2, nullptr);
  // Invalid bytes become U+FFFD before the pre-tokenizer, as in llama.cpp.
  EXPECT_EQ(gpt2->encode("\xFF", false, false), gpt2->encode("\xEF\xBF\xBD", false, false));
  EXPECT_FALSE(gpt2->encode(std::string("a\0b\xC0\x80\xED\xA0\x80", 8), false, false).empty());
}

TEST(Tokenizer, ConcurrentEncodesAgree) {
  const auto tok = load_tokenizer("deepseek-coder");  // five regexes per encode
  ASSERT_NE(tok, nullptr);
  const auto cases = load_cases("deepseek-coder");
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 3; ++rep) {
        for (const Case& c : cases) {
          if (tok->encode(c.text, false, false) != c.ids) ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

TEST(Tokenizer, LongWhitespaceRunsAreHandled) {
  const auto tok = load_tokenizer("gpt-2");
  ASSERT_NE(tok, nullptr);
  // 20000 spaces then a word: the regex engine must not give up half way.
  const std::string text = std::string(20000, ' ') + "Hello";
  const auto ids = tok->encode(text, false, false);
  EXPECT_EQ(tok->decode(ids), text);
  EXPECT_EQ(ids.back(), 18435);  // "ĠHello"
}

// The models' golden files hold the prompt ids llama.cpp produced (BOS added,
// special tokens parsed), for a 512-entry vocabulary and Llama's 32000-entry one.
class ModelPromptTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelPromptTest, PromptIdsMatchLlamaCpp) {
  const std::string dir = std::string(AGENTD_TESTDATA_DIR) + "/models/";
  auto file = GgufFile::open(dir + GetParam() + ".gguf");
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  auto tok = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  std::istringstream lines(read_file(dir + GetParam() + ".golden.jsonl"));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const boost::json::object obj = boost::json::parse(line).as_object();
    const std::string prompt(obj.at("prompt").as_string());
    std::vector<int32_t> expected;
    for (const auto& v : obj.at("prompt_ids").as_array()) expected.push_back(static_cast<int32_t>(v.as_int64()));
    const std::vector<int32_t> ids = (*tok)->encode(prompt, true, true);
    EXPECT_EQ(ids, expected) << prompt;
    // Without the BOS the text decodes back exactly.
    EXPECT_EQ((*tok)->decode(std::vector<int32_t>(ids.begin() + 1, ids.end())), prompt);
    ++n;
  }
  EXPECT_GE(n, 4);
}

INSTANTIATE_TEST_SUITE_P(Models, ModelPromptTest, ::testing::Values("stories260K", "tiny-random-Q8_0"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

// Random inputs (ASCII, whitespace runs, multi-byte characters, invalid
// bytes, special-token texts): ids stay in range, nothing crashes, and
// SentencePiece's byte fallback gives valid text back exactly.
class RandomInputTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RandomInputTest, IdsInRangeAndSpmRoundTrips) {
  const std::string name = GetParam();
  const auto tok = load_tokenizer(name);
  ASSERT_NE(tok, nullptr);
  std::mt19937 rng(1234);
  const std::vector<std::string> atoms = {"a", "Z", "9", " ", "  ", "\n", "\t", "'s", ".", "\xC3\xA9", "\xE4\xB8\xAD",
                                          "\xF0\x9F\x98\x81", "\xFF", "\xC3", "\x80", std::string(1, '\0'), "<s>",
                                          "<|endoftext|>", "[CLS]", "\xE2\x80\x8D", "\xCC\x81"};
  for (int iter = 0; iter < 100; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) text += atoms[rng() % atoms.size()];
    for (bool parse_special : {false, true}) {
      const std::vector<int32_t> ids = tok->encode(text, true, parse_special);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok->n_vocab()) << name << " id " << id;
      // (Invalid UTF-8 is cut into symbols by lead bytes, as llama.cpp does,
      // which can swallow a following '▁': only valid text round-trips.)
      const bool valid = utf8::sanitize(text) == text;
      if (tok->type() == VocabType::kSpm && !parse_special && valid) {
        EXPECT_EQ(tok->decode(std::vector<int32_t>(ids.begin() + 1, ids.end())), text) << name;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Vocab, RandomInputTest,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-coder", "mpt", "bert-bge"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

// --- pre-tokenizers without a vocabulary in testdata ----------------------

TEST(PreTokenizer, EveryKnownNameCompiles) {
  for (std::string_view name : pre_tokenizer_names()) {
    auto spec = pre_tokenizer_spec(name);
    ASSERT_TRUE(spec.is_ok()) << name;
    auto pre = PreTokenizer::create(*spec);
    ASSERT_TRUE(pre.is_ok()) << name << ": " << pre.status().to_string();
    // Splitting loses no byte, whatever the script.
    const std::string text = "Hello, y'all! 3333333 \xE6\x88\x91\xE6\x83\xB3 \xD0\xBD\xD0\xB5\n\n\t x";
    std::string joined;
    for (const std::string& w : (*pre)->split(text)) {
      for (uint32_t cpt : utf8::decode(w)) {
        const int b = byte_unicode::decode_cpt(cpt);
        ASSERT_GE(b, 0) << name;
        joined.push_back(static_cast<char>(b));
      }
    }
    EXPECT_EQ(joined, text) << name;
  }
  EXPECT_FALSE(pre_tokenizer_spec("no-such-pre").is_ok());
  EXPECT_TRUE(pre_tokenizer_spec("").is_ok());  // missing: the default, as llama.cpp
}

// Raw (not byte-encoded) words of `text` under pre-tokenizer `name`.
std::vector<std::string> raw_words(std::string_view name, std::string_view text) {
  auto spec = pre_tokenizer_spec(name);
  EXPECT_TRUE(spec.is_ok());
  if (!spec.is_ok()) return {};
  spec->byte_encode = false;
  auto pre = PreTokenizer::create(*spec);
  EXPECT_TRUE(pre.is_ok());
  if (!pre.is_ok()) return {};
  return (*pre)->split(text);
}

using Words = std::vector<std::string>;

TEST(PreTokenizer, DigitGroupingFollowsTheModelFamily) {
  // Llama 3 groups digits by three, Qwen2 and SmolLM (StarCoder rules) split
  // every digit, GPT-2 keeps a run of digits whole.
  EXPECT_EQ(raw_words("llama-bpe", "3333333"), (Words{"333", "333", "3"}));
  EXPECT_EQ(raw_words("qwen2", "2024"), (Words{"2", "0", "2", "4"}));
  EXPECT_EQ(raw_words("smollm", " 42"), (Words{" ", "4", "2"}));
  EXPECT_EQ(raw_words("gpt-2", " 2024"), (Words{" 2024"}));
}

TEST(PreTokenizer, ContractionsAndWhitespace) {
  EXPECT_EQ(raw_words("llama3", "I'M here\n\n  ok"), (Words{"I", "'M", " here", "\n\n", " ", " ok"}));
  EXPECT_EQ(raw_words("qwen2", "we'LL go"), (Words{"we", "'LL", " go"}));
  // GPT-2's contractions are lower case only.
  EXPECT_EQ(raw_words("gpt-2", "we'LL"), (Words{"we", "'", "LL"}));
  // Trailing spaces stay together; before a word one space goes with it.
  EXPECT_EQ(raw_words("gpt-2", "a   b  "), (Words{"a", "  ", " b", "  "}));
}

// --- malformed metadata -------------------------------------------------

// Minimal GGUF v3 writer for metadata-only files.
class GgufBuilder {
 public:
  GgufBuilder& str(const std::string& key, const std::string& value) {
    key_(key, 8);
    string_(value);
    ++n_;
    return *this;
  }
  GgufBuilder& strings(const std::string& key, const std::vector<std::string>& values) {
    key_(key, 9);
    u32_(8);
    u64_(values.size());
    for (const auto& v : values) string_(v);
    ++n_;
    return *this;
  }
  GgufBuilder& ints(const std::string& key, const std::vector<int32_t>& values) {
    key_(key, 9);
    u32_(5);
    u64_(values.size());
    for (int32_t v : values) u32_(static_cast<uint32_t>(v));
    ++n_;
    return *this;
  }
  GgufBuilder& floats(const std::string& key, const std::vector<float>& values) {
    key_(key, 9);
    u32_(6);
    u64_(values.size());
    for (float v : values) {
      uint32_t bits = 0;
      std::memcpy(&bits, &v, 4);
      u32_(bits);
    }
    ++n_;
    return *this;
  }
  std::string build() const {
    std::string out = "GGUF";
    const auto put = [&](uint64_t v, int bytes) {
      for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    };
    put(3, 4);
    put(0, 8);
    put(n_, 8);
    return out + body_;
  }

 private:
  void u32_(uint32_t v) {
    for (int i = 0; i < 4; ++i) body_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  void u64_(uint64_t v) {
    for (int i = 0; i < 8; ++i) body_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  void string_(const std::string& s) {
    u64_(s.size());
    body_ += s;
  }
  void key_(const std::string& k, uint32_t type) {
    string_(k);
    u32_(type);
  }
  std::string body_;
  uint64_t n_ = 0;
};

Status load_status(const GgufBuilder& b) {
  auto file = GgufFile::from_bytes(b.build());
  if (!file.is_ok()) return file.status();
  auto tok = Tokenizer::from_gguf(**file);
  return tok.status();
}

TEST(TokenizerErrors, NameTheProblem) {
  const std::vector<std::string> toks = {"<unk>", "<s>", "</s>", "a", "b", "ab"};
  {
    const Status s = load_status(GgufBuilder().str("tokenizer.ggml.model", "sentencepiece-v9").strings("tokenizer.ggml.tokens", toks));
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("sentencepiece-v9"), std::string::npos) << s.to_string();
  }
  {
    const Status s = load_status(GgufBuilder().str("tokenizer.ggml.model", "gpt2").str("tokenizer.ggml.pre", "klingon").strings("tokenizer.ggml.tokens", toks).strings("tokenizer.ggml.merges", {"a b"}));
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("klingon"), std::string::npos) << s.to_string();
  }
  {
    const Status s = load_status(GgufBuilder().str("tokenizer.ggml.model", "gpt2").str("tokenizer.ggml.pre", "gpt-2").strings("tokenizer.ggml.tokens", toks));
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("tokenizer.ggml.merges"), std::string::npos) << s.to_string();
  }
  {
    const Status s = load_status(GgufBuilder().str("tokenizer.ggml.model", "llama"));
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("tokenizer.ggml.tokens"), std::string::npos) << s.to_string();
  }
  {
    const Status s = load_status(GgufBuilder().str("tokenizer.ggml.model", "llama").strings("tokenizer.ggml.tokens", {"<unk>", "a", "a"}));
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("duplicate"), std::string::npos) << s.to_string();
  }
  {
    const Status s = load_status(GgufBuilder().str("tokenizer.ggml.model", "llama").strings("tokenizer.ggml.tokens", toks).floats("tokenizer.ggml.scores", {0.0f}));
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("tokenizer.ggml.scores"), std::string::npos) << s.to_string();
  }
  {
    const Status s = load_status(GgufBuilder().strings("tokenizer.ggml.tokens", toks));
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("tokenizer.ggml.model"), std::string::npos) << s.to_string();
  }
}

// A hand-made SentencePiece vocabulary: merges follow the scores, not the
// order of pairs in the text.
TEST(Tokenizer, SpmMergesByScore) {
  GgufBuilder b;
  b.str("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "c", "ab", "bc", "\xE2\x96\x81" "a"})
      .floats("tokenizer.ggml.scores", {0, 0, 0, -1, -1, -1, -1, -5, -2, -3})
      .ints("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1, 1, 1, 1});
  auto file = GgufFile::from_bytes(b.build());
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  auto tok = Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  // "▁abc": bc (-2) beats ▁a (-3) beats ab (-5): ▁a + bc.
  EXPECT_EQ((*tok)->encode("abc", false, false), (std::vector<int32_t>{9, 8}));
  // No byte tokens here: an unknown character falls back to <unk>.
  EXPECT_EQ((*tok)->encode("d", false, false), (std::vector<int32_t>{3, 0}));
}

}  // namespace
}  // namespace agentd::engine
