// matmul throughput per encoding and instruction set. Prints GFLOP/s
// (2 * rows * n * m per call) and weight rows per second.
//
//   kernels_bench --benchmark_filter='Q4_0/avx512'
//
// Arguments of each case: rows, n, m (activation rows: 1 = one decode
// step, 8 = a batched decode step, 16 or 128 = a prefill chunk), threads.

#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/kernels/kernels.h"
#include "engine/thread_pool.h"

namespace agentd::engine {
namespace {

struct Case {
  const char* name;
  TensorType type;
};

constexpr Case kCases[] = {
    {"F32", TensorType::kF32},   {"F16", TensorType::kF16},   {"BF16", TensorType::kBF16},
    {"Q8_0", TensorType::kQ8_0}, {"Q4_0", TensorType::kQ4_0}, {"Q4_1", TensorType::kQ4_1},
    {"Q5_0", TensorType::kQ5_0}, {"Q5_1", TensorType::kQ5_1}, {"Q4_K", TensorType::kQ4_K},
    {"Q5_K", TensorType::kQ5_K}, {"Q6_K", TensorType::kQ6_K},
};

void run_matmul(benchmark::State& state, TensorType type, Isa isa) {
  const int64_t rows = state.range(0);
  const int64_t n = state.range(1);
  const int64_t m = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  set_active_isa(isa);
  if (active_isa() != isa) {
    state.SkipWithError("instruction set not available on this CPU");
    return;
  }
  if (row_bytes(type, n) == 0) {
    state.SkipWithError("n is not a multiple of the encoding's block size");
    return;
  }
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> row(static_cast<size_t>(n));
  const size_t rb = row_bytes(type, n);
  std::vector<uint8_t> w(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& f : row) f = dist(rng);
    quantize_row(type, row.data(), w.data() + rb * static_cast<size_t>(r), n);
  }
  std::vector<float> x(static_cast<size_t>(n * m));
  for (auto& f : x) f = dist(rng);
  std::vector<float> y(static_cast<size_t>(rows * m));
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  const MatmulTarget target{w.data(), rows, y.data()};
  for (auto _ : state) {
    matmul_group(type, n, std::span<const MatmulTarget>(&target, 1), x.data(), m, pool.get());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(rows) * static_cast<double>(n) * static_cast<double>(m);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weights_MB"] = static_cast<double>(w.size()) / 1e6;
  set_active_isa(detected_isa());
}

// Cost of one parallel_for round trip with trivial work: the floor under
// every threaded matmul call.
void parallel_for_overhead(benchmark::State& state) {
  ThreadPool pool(static_cast<int>(state.range(0)));
  std::vector<int64_t> sink(64);
  for (auto _ : state) {
    pool.parallel_for(64, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) sink[static_cast<size_t>(i)] += i;
    });
  }
  benchmark::DoNotOptimize(sink.data());
}
BENCHMARK(parallel_for_overhead)->Arg(1)->Arg(2)->Arg(4)->UseRealTime()->Unit(benchmark::kMicrosecond);

int register_all() {
  const Isa isas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512};
  for (const Case& c : kCases) {
    for (Isa isa : isas) {
      const std::string name = std::string("matmul/") + c.name + "/" + isa_name(isa);
      auto* b = benchmark::RegisterBenchmark(name.c_str(),
                                             [c, isa](benchmark::State& s) { run_matmul(s, c.type, isa); });
      b->ArgNames({"rows", "n", "m", "threads"});
      b->Args({1024, 4096, 1, 1})->Args({1024, 4096, 1, 2})->Args({256, 4096, 16, 2});
      // SmolLM2-135M's FFN up and down projections (K-quants only fit the
      // second): decode, batch-8 decode, a prefill chunk.
      for (int64_t m : {1, 8, 128}) b->Args({1536, 576, m, 1})->Args({576, 1536, m, 1});
      b->Args({32000, 576, 1, 2});  // its output layer, one decode step
      // A matrix several times the size of the L3 cache (85 MB in Q4_0 to
      // 604 MB in F32), rows as above: how fast a kernel streams weights from
      // memory, alone and with 8 activation rows (batched decode), on one and
      // two threads.
      const bool streams = isa != Isa::kScalar && (c.type == TensorType::kF32 || c.type == TensorType::kQ8_0 ||
                                                   c.type == TensorType::kQ4_0);
      if (streams) b->Args({262144, 576, 1, 1})->Args({262144, 576, 1, 2})->Args({262144, 576, 8, 1})->Args({262144, 576, 8, 2});
      b->Unit(benchmark::kMicrosecond)->UseRealTime();  // pool threads' CPU time is not the caller's
    }
  }
  return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace agentd::engine

BENCHMARK_MAIN();
