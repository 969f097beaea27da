// What constrained decoding costs per generated token, apart from the model:
// the token mask (a trie walk the first time a grammar state is seen, a copy
// after), advancing the grammar by the chosen token, and sampling with the
// mask. On a 32000-token SentencePiece vocabulary (tiny-random-Q8_0) and a
// 151936-token byte-level BPE one the size of Qwen2/Qwen3's: GPT-2's 50257
// tokens (testdata/vocab) and, to fill it, pairs of them (no Qwen vocabulary
// file is at hand; the pairs keep a BPE vocabulary's spread of lengths).
//
//   grammar_bench --benchmark_filter=decode
//
//   mask_cold/V/S: a mask computed from scratch (the state's first visit),
//     S = 0 the start of an object, 1 inside a free string, 2 inside a number;
//   decode/V: per token of a constrained random walk through an invoice
//     schema (masks cached as in a run): allowed() + sample(mask) + advance();
//   sample_free/V: Sampler::sample alone, the same row, for comparison.

#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "engine/gguf/gguf.h"
#include "engine/grammar/json_schema.h"
#include "engine/grammar/token_constraint.h"
#include "engine/sampler.h"
#include "engine/tokenizer/tokenizer.h"

namespace agentd::engine {
namespace {

const char* kSchema = R"({"type":"object","properties":{
  "invoice_id":{"type":"string","pattern":"^INV-[0-9]{4}$"},
  "customer":{"type":"string","maxLength":60},
  "notes":{"type":"string"},
  "lines":{"type":"array","maxItems":5,"items":{"type":"object","properties":{
     "sku":{"type":"string","format":"uuid"},"qty":{"type":"integer","minimum":1,"maximum":99},
     "price":{"type":"number","minimum":0,"maximum":10000}},"required":["sku","qty","price"],
     "additionalProperties":false}},
  "paid":{"type":"boolean"}},"required":["invoice_id","customer","notes","lines","paid"],
  "additionalProperties":false})";

std::shared_ptr<const grammar::TokenVocabulary> vocabulary(int64_t size) {
  static std::map<int64_t, std::shared_ptr<const grammar::TokenVocabulary>> cache;
  if (auto it = cache.find(size); it != cache.end()) return it->second;
  const std::string dir = AGENTD_TESTDATA_DIR;
  const std::string file = size == 32000 ? dir + "/models/tiny-random-Q8_0.gguf" : dir + "/vocab/ggml-vocab-gpt-2.gguf";
  auto gguf = GgufFile::open(file);
  if (!gguf.is_ok()) return nullptr;
  auto tok = Tokenizer::from_gguf(**gguf);
  if (!tok.is_ok()) return nullptr;
  std::shared_ptr<const grammar::TokenVocabulary> v;
  if (size == 32000) {
    v = grammar::TokenVocabulary::from_tokenizer(**tok);
  } else {
    std::vector<std::string> pieces;
    for (int32_t id = 0; id < (*tok)->n_vocab(); ++id) pieces.push_back((*tok)->token_to_piece(id));
    const size_t base = pieces.size();
    std::mt19937 rng(17);
    while (pieces.size() < static_cast<size_t>(size)) pieces.push_back(pieces[rng() % base] + pieces[rng() % base]);
    const auto& eog = (*tok)->end_of_generation_ids();
    v = std::make_shared<grammar::TokenVocabulary>(std::move(pieces), std::vector<int32_t>(eog.begin(), eog.end()));
  }
  cache[size] = v;
  return v;
}

std::shared_ptr<const grammar::Grammar> schema_grammar() {
  static auto g = grammar::compile_json_schema(boost::json::parse(kSchema));
  return g.is_ok() ? *g : nullptr;
}

void mask_cold(benchmark::State& state) {
  auto vocab = vocabulary(state.range(0));
  if (!vocab || vocab->size() != state.range(0)) return state.SkipWithError("vocabulary file missing");
  const char* prefixes[] = {"", R"({"invoice_id":"INV-1234","customer":"Ann )", R"({"invoice_id":"INV-1234","customer":"","notes":"","lines":[{"sku":"123e4567-e89b-12d3-a456-426614174000","qty":1,"price":12)"};
  const std::string prefix = prefixes[state.range(1)];
  std::vector<uint32_t> bits;
  for (auto _ : state) {
    state.PauseTiming();
    grammar::TokenConstraint c(schema_grammar(), vocab);
    grammar::Automaton probe(schema_grammar());
    int32_t s = c.start();
    // Walk the prefix byte by byte through single-byte tokens.
    for (char ch : prefix) {
      for (int32_t id = 0; id < vocab->size(); ++id) {
        if (vocab->piece(id).size() == 1 && vocab->piece(id)[0] == ch) {
          s = c.advance(s, id);
          break;
        }
      }
    }
    state.ResumeTiming();
    benchmark::DoNotOptimize(c.allowed(s, grammar::TokenConstraint::kNoBudget, bits));
  }
}
BENCHMARK(mask_cold)->ArgNames({"vocab", "state"})->ArgsProduct({{32000, 151936}, {0, 1, 2}})->Unit(benchmark::kMicrosecond);

std::vector<float> logits_row(int64_t n) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> row(static_cast<size_t>(n));
  for (float& x : row) x = normal(rng);
  return row;
}

void decode(benchmark::State& state) {
  auto vocab = vocabulary(state.range(0));
  if (!vocab || vocab->size() != state.range(0)) return state.SkipWithError("vocabulary file missing");
  grammar::TokenConstraint c(schema_grammar(), vocab);
  std::vector<float> row = logits_row(vocab->size());
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 9;
  Sampler sampler(p);
  std::vector<uint32_t> bits;
  std::mt19937 rng(5);
  int32_t s = c.start();
  int64_t left = 400;
  int64_t tokens = 0;
  for (auto _ : state) {
    if (left == 0 || c.closed(s)) {  // a new answer
      s = c.start();
      left = 400;
    }
    c.allowed(s, left, bits);
    // A different row each step, cheaply: rotate the logits.
    std::rotate(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(rng() % 97), row.end());
    const int32_t id = sampler.sample(row, bits.data());
    s = vocab->is_end(id) ? c.start() : c.advance(s, id);
    --left;
    ++tokens;
  }
  const auto st = c.stats();
  state.counters["mask_hit_rate"] =
      static_cast<double>(st.mask_cache_hits) / static_cast<double>(std::max<int64_t>(1, st.mask_cache_hits + st.masks_computed));
  state.counters["states"] = static_cast<double>(st.states);
}
BENCHMARK(decode)->ArgName("vocab")->Arg(32000)->Arg(151936)->Unit(benchmark::kMicrosecond);

void sample_free(benchmark::State& state) {
  std::vector<float> row = logits_row(state.range(0));
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 9;
  Sampler sampler(p);
  std::mt19937 rng(5);
  for (auto _ : state) {
    std::rotate(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(rng() % 97), row.end());
    benchmark::DoNotOptimize(sampler.sample(row));
  }
}
BENCHMARK(sample_free)->ArgName("vocab")->Arg(32000)->Arg(151936)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace agentd::engine

BENCHMARK_MAIN();
