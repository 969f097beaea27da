// Cost per generated token of choosing it: Sampler::sample and the
// token_logprob every generated token gets, on one row of logits.
//
//   sampler_bench --benchmark_filter='sample/151936'
//
// Arguments: vocab (32000: Llama's SentencePiece; 151936: Qwen2's),
// spread (the logits' standard deviation x 10: 30 is a peaked row, 5 a flat
// one, where the walks go deep), temperature x 10 (0: greedy) and top_p x 100.

#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "engine/sampler.h"

namespace agentd::engine {
namespace {

std::vector<float> row(int64_t vocab, double spread) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, static_cast<float>(spread));
  std::vector<float> logits(static_cast<size_t>(vocab));
  for (float& l : logits) l = normal(rng);
  return logits;
}

void sample(benchmark::State& state) {
  const std::vector<float> logits = row(state.range(0), static_cast<double>(state.range(1)) / 10);
  SamplingParams p;
  p.temperature = static_cast<float>(state.range(2)) / 10;
  p.top_p = static_cast<float>(state.range(3)) / 100;
  p.seed = 42;
  Sampler s(p);
  for (auto _ : state) benchmark::DoNotOptimize(s.sample(logits));
}
BENCHMARK(sample)
    ->ArgNames({"vocab", "spread", "temp", "top_p"})
    ->ArgsProduct({{32000, 151936}, {30, 5}, {0, 7}, {100, 90}})
    ->Unit(benchmark::kMicrosecond);

void logprob(benchmark::State& state) {
  const std::vector<float> logits = row(state.range(0), 3.0);
  int32_t id = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(token_logprob(logits, id));
    id = (id + 1) % static_cast<int32_t>(logits.size());
  }
}
BENCHMARK(logprob)->ArgName("vocab")->Arg(32000)->Arg(151936)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace agentd::engine

BENCHMARK_MAIN();
