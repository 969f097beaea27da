// The matrix kernels' tiles (kernels_mat_avx2.cpp, kernels_mat_avx512.cpp)
// against the scalar reference dot product, output by output and bit for
// bit, on every instruction set this CPU has: shapes chosen to hit each
// tile edge (partial row tiles and row blocks, every column remainder in the
// batched-decode and the prefill paths, block and float-row counts that are
// not multiples of the 4 accumulators, float rows with a tail), on random
// rows and on llama.cpp-made blocks from the shared test models.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels.h"
#include "engine/kernels/quants.h"
#include "engine/thread_pool.h"

namespace agentd::engine {
namespace {

// The encodings that have matrix kernels.
constexpr TensorType kTiledTypes[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kQ4_0, TensorType::kQ5_0,
                                      TensorType::kQ8_0, TensorType::kQ4_K, TensorType::kQ6_K};

// 1: decode; 2 .. 8: one weight row at a time against column tiles of 4 (3
// for floats) and their remainders; 9 .. 19: row blocks with every column
// remainder of 4.
constexpr int64_t kColumnCounts[] = {1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 19};

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& f : v) f = dist(rng);
  return v;
}

// Restores the instruction set active before the test (AGENTD_ISA may have
// started it below the detected one) when the test ends.
struct IsaGuard {
  Isa before = active_isa();
  ~IsaGuard() { set_active_isa(before); }
};

// y[c * rows + r]: the dot product of row r and column c as `isa` computes
// it, by the scalar reference of its summation order (reference_vec_dot).
std::vector<float> scalar_reference(Isa isa, TensorType t, const uint8_t* w, int64_t rows, int64_t n, const float* x,
                                    int64_t m) {
  IsaGuard guard;
  set_active_isa(Isa::kScalar);  // activation encodings are the same on every ISA
  const TensorType xt = vec_dot_type(t);
  std::vector<uint8_t> xq(row_bytes(xt, n));
  std::vector<float> y(static_cast<size_t>(rows * m));
  for (int64_t c = 0; c < m; ++c) {
    quantize_row(xt, x + c * n, xq.data(), n);
    for (int64_t r = 0; r < rows; ++r) {
      y[static_cast<size_t>(c * rows + r)] =
          reference_vec_dot(isa, t, n, w + row_bytes(t, n) * static_cast<size_t>(r), xq.data());
    }
  }
  return y;
}

// matmul on every SIMD instruction set, with and without threads, against
// that instruction set's scalar reference.
void expect_every_isa_matches(TensorType t, const uint8_t* w, int64_t rows, int64_t n, const float* x, int64_t m,
                              ThreadPool& pool, const std::string& what) {
  IsaGuard guard;
  for (int i = static_cast<int>(Isa::kAvx2); i <= static_cast<int>(detected_isa()); ++i) {
    const std::vector<float> want = scalar_reference(static_cast<Isa>(i), t, w, rows, n, x, m);
    set_active_isa(static_cast<Isa>(i));
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      std::vector<float> got(want.size(), -1.f);
      matmul(t, w, rows, n, x, m, got.data(), p);
      for (size_t k = 0; k < got.size(); ++k) {
        ASSERT_EQ(bits(got[k]), bits(want[k]))
            << what << " " << isa_name(static_cast<Isa>(i)) << (p ? " pool" : "") << " m=" << m << " row "
            << static_cast<int64_t>(k) % rows << " column " << static_cast<int64_t>(k) / rows << ": " << got[k]
            << " vs " << want[k];
      }
    }
  }
}

TEST(MatrixKernels, EveryTileEdgeEqualsTheScalarDotProduct) {
  ASSERT_GE(detected_isa(), Isa::kAvx2) << "this machine should have AVX2";
  ThreadPool pool(2);
  // 141 rows: two row blocks of 64 and 13 more (an odd count for 2-row
  // tiles; 8 + 4 + 1 for the Q8_0 tiles of several activation rows).
  const int64_t rows = 141;
  for (TensorType t : kTiledTypes) {
    std::vector<int64_t> widths;
    if (block_size(t) == 1) {
      // 3 units of 8; 5 and 7 units with tails; 8 units; 128 units (the
      // AVX2 tiles' chunk) and a tail alone in the next chunk.
      widths = {24, 45, 61, 64, 1029};
    } else if (block_size(t) == 32) {
      // 3, 5 and 7 blocks: never a multiple of 4; 13: 6 pairs and a lone
      // block after the last 8 pairs; 65: one past a chunk.
      widths = {96, 160, 224, 416, 2080};
    } else {
      widths = {256, 768};
    }
    for (int64_t n : widths) {
      const size_t rb = row_bytes(t, n);
      const auto wf = random_floats(static_cast<size_t>(rows * n), 50 + static_cast<uint32_t>(n));
      std::vector<uint8_t> w(rb * static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) quantize_row(t, wf.data() + r * n, w.data() + rb * static_cast<size_t>(r), n);
      const int64_t max_m = kColumnCounts[std::size(kColumnCounts) - 1];
      const auto x = random_floats(static_cast<size_t>(max_m * n), 60 + static_cast<uint32_t>(n));
      for (int64_t m : kColumnCounts) {
        expect_every_isa_matches(t, w.data(), rows, n, x.data(), m, pool,
                                 "type " + std::to_string(static_cast<int>(t)) + " n=" + std::to_string(n));
      }
    }
  }
}

// Blocks written by llama.cpp's quantizer (scales, mins and levels a
// reference implementation chose, not ours) through the tiles.
TEST(MatrixKernels, LlamaCppBlocksEqualTheScalarDotProduct) {
  ASSERT_GE(detected_isa(), Isa::kAvx2) << "this machine should have AVX2";
  ThreadPool pool(2);
  const std::string dir = std::string(AGENTD_TESTDATA_DIR) + "/models/";
  int checked = 0;
  for (const char* file : {"tiny-random-F16.gguf", "tiny-random-Q8_0.gguf", "tiny-random-Q4_0.gguf",
                           "tiny-random-Q4_K_M.gguf"}) {
    auto g = GgufFile::open(dir + file);
    ASSERT_TRUE(g.is_ok()) << g.status().message();
    std::vector<TensorType> seen;
    for (const GgufTensorInfo& info : (*g)->tensors()) {
      const bool tiled = std::find(std::begin(kTiledTypes), std::end(kTiledTypes), info.type) != std::end(kTiledTypes);
      if (!tiled || info.dims.size() != 2 || std::find(seen.begin(), seen.end(), info.type) != seen.end()) continue;
      seen.push_back(info.type);
      const int64_t n = static_cast<int64_t>(info.dims[0]);
      const int64_t rows = std::min<int64_t>(static_cast<int64_t>(info.dims[1]), 70);
      const auto x = random_floats(static_cast<size_t>(19 * n), 70);
      for (int64_t m : {1, 3, 8, 11, 19}) {
        expect_every_isa_matches(info.type, info.data, rows, n, x.data(), m, pool, std::string(file) + " " + info.name);
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 5);  // F16 (and F32 norms are 1-D), Q8_0, Q4_0, Q4_K, Q6_K
}

}  // namespace
}  // namespace agentd::engine
