// Memory read bandwidth of this machine, the wall a decode step runs into:
// THREADS threads each sum their share of a BYTES buffer (far larger than the
// caches), best of REPS passes. Prints one JSON line:
//   {"threads": T, "bytes": B, "gb_per_s": best, "runs": [...]}
//
//   build/bench/membw_bench [THREADS] [MIB] [REPS]     (default: all cores, 512, 5)
//
// bench/run_model_bench.sh divides each decode figure's bytes of weights per
// second by it.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
  }
  for (; i < n; ++i) a += p[i];
  return a + b + c + d;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t mib = argc > 2 ? static_cast<size_t>(std::atol(argv[2])) : 512;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 5;
  if (threads < 1 || mib < 1 || reps < 1) {
    std::fprintf(stderr, "usage: membw_bench [THREADS] [MIB] [REPS]\n");
    return 2;
  }
  const size_t words = mib * (size_t{1} << 20) / sizeof(uint64_t);
  std::vector<uint64_t> buf(words);
  for (size_t i = 0; i < words; ++i) buf[i] = i;  // resident, not zero pages
  std::vector<double> runs;
  volatile uint64_t sink = 0;
  for (int r = 0; r < reps; ++r) {
    std::vector<uint64_t> sums(static_cast<size_t>(threads));
    std::vector<std::thread> pool;
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const size_t begin = words * static_cast<size_t>(t) / static_cast<size_t>(threads);
        const size_t end = words * static_cast<size_t>(t + 1) / static_cast<size_t>(threads);
        sums[static_cast<size_t>(t)] = sum_words(buf.data() + begin, end - begin);
      });
    }
    for (std::thread& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (uint64_t v : sums) sink = sink + v;
    runs.push_back(static_cast<double>(words * sizeof(uint64_t)) / s / 1e9);
  }
  std::printf("{\"threads\": %d, \"bytes\": %zu, \"gb_per_s\": %.2f, \"runs\": [", threads, words * sizeof(uint64_t),
              *std::max_element(runs.begin(), runs.end()));
  for (size_t i = 0; i < runs.size(); ++i) std::printf("%s%.2f", i ? ", " : "", runs[i]);
  std::printf("]}\n");
  return 0;
}
