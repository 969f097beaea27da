// The attention tile: every instruction set computes the scalar reference's
// bits (the fixed order of attention.h), for any tile composition, and the
// reference matches a plain double-precision softmax attention.

#include "engine/kernels/attention.h"

#include "engine/kernels/activation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/kernels/kernels.h"

namespace agentd::engine {
namespace {

// A random cache of one KV head (plus a neighbour head, to exercise the
// strides) in the layout KvCache uses, and random queries.
struct Fixture {
  int64_t head_dim, n_pos, kv_dim;
  std::vector<Half> keys;    // [block][kv_dim][16]
  std::vector<Half> values;  // [pos][kv_dim]
  std::vector<float> q;      // [row][head_dim]

  Fixture(int64_t d, int64_t n, int rows, uint32_t seed) : head_dim(d), n_pos(n), kv_dim(2 * d) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    const int64_t blocks = (n + kKeyBlock - 1) / kKeyBlock;
    keys.resize(static_cast<size_t>(blocks * kKeyBlock * kv_dim));
    // Unwritten tail positions hold garbage (NaN) that must never matter.
    std::fill(keys.begin(), keys.end(), Half{0x7e00});
    values.resize(static_cast<size_t>(n * kv_dim));
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t i = 0; i < kv_dim; ++i) {
        keys[static_cast<size_t>((p / kKeyBlock) * kKeyBlock * kv_dim + i * kKeyBlock + p % kKeyBlock)] =
            fp32_to_fp16(g(rng));
        values[static_cast<size_t>(p * kv_dim + i)] = fp32_to_fp16(g(rng));
      }
    }
    q.resize(static_cast<size_t>(rows * d));
    for (float& x : q) x = 2.0f * g(rng);
  }

  KvHeadView view(int64_t head) const {
    KvHeadView v;
    v.keys = keys.data() + head * head_dim * kKeyBlock;
    v.key_block_stride = kKeyBlock * kv_dim;
    v.values = values.data() + head * head_dim;
    v.value_stride = kv_dim;
    v.head_dim = head_dim;
    v.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    return v;
  }
};

using Impl = void (*)(const KvHeadView&, const AttentionTile&, float*);

// Runs rows [0, n_rows) of the fixture with n_kv[r] (and kv_begin[r], when
// given), in tiles of `per_tile`.
std::vector<float> run(Impl impl, const Fixture& f, int64_t head, const std::vector<int64_t>& n_kv, int per_tile,
                       const std::vector<int64_t>& kv_begin = {}, float softcap = 0.0f) {
  const int n_rows = static_cast<int>(n_kv.size());
  std::vector<float> out(static_cast<size_t>(n_rows * f.head_dim), -1.0f);
  for (int r0 = 0; r0 < n_rows; r0 += per_tile) {
    AttentionTile tile;
    tile.n_rows = std::min(per_tile, n_rows - r0);
    for (int r = 0; r < tile.n_rows; ++r) {
      tile.q[r] = f.q.data() + (r0 + r) * f.head_dim;
      tile.out[r] = out.data() + (r0 + r) * f.head_dim;
      tile.n_kv[r] = n_kv[static_cast<size_t>(r0 + r)];
      if (!kv_begin.empty()) tile.kv_begin[r] = kv_begin[static_cast<size_t>(r0 + r)];
    }
    KvHeadView view = f.view(head);
    view.softcap = softcap;
    std::vector<float> scratch(static_cast<size_t>(detail::attention_scratch_floats(view, tile)));
    impl(view, tile, scratch.data());
  }
  return out;
}

std::vector<Impl> implementations() {
  std::vector<Impl> impls = {detail::attend_scalar};
  if (detected_isa() >= Isa::kAvx2) impls.push_back(detail::attend_avx2);
  if (detected_isa() >= Isa::kAvx512) impls.push_back(detail::attend_avx512);
  return impls;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(AttentionTest, ExpMatchesStdExp) {
  for (float x = -90.0f; x <= 0.5f; x += 0.0371f) {
    const double want = x > 0.0f ? 1.0 : (x < -87.0f ? 0.0 : std::exp(static_cast<double>(x)));
    EXPECT_NEAR(attention_exp(x), want, want * 4e-7 + 1e-38) << x;
  }
  EXPECT_EQ(attention_exp(0.0f), 1.0f);
  EXPECT_EQ(attention_exp(-INFINITY), 0.0f);
  EXPECT_EQ(attention_exp(NAN), 0.0f);
}

// Head sizes with and without a SIMD tail; contexts shorter than one key
// block, exactly one, and long; every tile size.
TEST(AttentionTest, EveryIsaAndTileSizeGivesTheReferenceBits) {
  const auto impls = implementations();
  for (int64_t d : {8, 12, 16, 64, 80}) {
    for (int64_t n : {1, 5, 16, 37, 300}) {
      const int rows = 11;
      Fixture f(d, n, rows, static_cast<uint32_t>(d * 1000 + n));
      std::vector<int64_t> n_kv(rows);
      for (int r = 0; r < rows; ++r) n_kv[static_cast<size_t>(r)] = std::max<int64_t>(1, n - (r * 7) % n);
      const std::vector<float> want = run(detail::attend_scalar, f, 1, n_kv, 1);
      for (size_t i = 0; i < impls.size(); ++i) {
        for (int per_tile : {1, 3, kMaxTileRows}) {
          SCOPED_TRACE("impl " + std::to_string(i) + " d " + std::to_string(d) + " n " + std::to_string(n) +
                       " tile " + std::to_string(per_tile));
          EXPECT_TRUE(same_bits(run(impls[i], f, 1, n_kv, per_tile), want));
        }
      }
    }
  }
}

// Plain double-precision attention of the fixture's rows over keys
// [kv_begin[r], n_kv[r]), scores soft-capped when softcap > 0; compared with
// the scalar reference (F16 rounding of the query and weights bounds the
// difference).
void expect_double_precision(const Fixture& f, const std::vector<int64_t>& n_kv, const std::vector<int64_t>& kv_begin,
                             float softcap) {
  const int64_t d = f.head_dim;
  const int rows = static_cast<int>(n_kv.size());
  const std::vector<float> got = run(detail::attend_scalar, f, 0, n_kv, rows, kv_begin, softcap);
  for (int r = 0; r < rows; ++r) {
    const int64_t nk = n_kv[static_cast<size_t>(r)];
    const int64_t first = kv_begin.empty() ? 0 : kv_begin[static_cast<size_t>(r)];
    std::vector<double> s(static_cast<size_t>(nk), 0.0);
    double mx = -1e300;
    for (int64_t j = first; j < nk; ++j) {
      double dot = 0;
      for (int64_t i = 0; i < d; ++i) {
        const double k = fp16_to_fp32(f.keys[static_cast<size_t>((j / 16) * 16 * f.kv_dim + i * 16 + j % 16)]);
        dot += f.q[static_cast<size_t>(r * d + i)] * k;
      }
      double score = dot / std::sqrt(static_cast<double>(d));
      if (softcap > 0.0f) score = softcap * std::tanh(score / softcap);
      s[static_cast<size_t>(j)] = score;
      mx = std::max(mx, score);
    }
    double sum = 0;
    for (int64_t j = first; j < nk; ++j) sum += (s[static_cast<size_t>(j)] = std::exp(s[static_cast<size_t>(j)] - mx));
    for (int64_t i = 0; i < d; ++i) {
      double want = 0;
      for (int64_t j = first; j < nk; ++j) {
        want += s[static_cast<size_t>(j)] / sum * fp16_to_fp32(f.values[static_cast<size_t>(j * f.kv_dim + i)]);
      }
      EXPECT_NEAR(got[static_cast<size_t>(r * d + i)], want, 5e-3) << "row " << r << " dim " << i;
    }
  }
}

TEST(AttentionTest, ReferenceMatchesDoublePrecisionSoftmax) {
  Fixture f(64, 200, 4, 7);
  expect_double_precision(f, {1, 17, 150, 200}, {}, 0.0f);
}

// Sliding windows (Gemma, kv_begin) and soft-capped scores (Gemma 2).
TEST(AttentionTest, WindowAndSoftcapMatchDoublePrecision) {
  Fixture f(64, 200, 4, 8);
  expect_double_precision(f, {1, 17, 150, 200}, {0, 1, 134, 40}, 0.0f);
  expect_double_precision(f, {1, 17, 150, 200}, {0, 0, 0, 0}, 3.0f);
  expect_double_precision(f, {1, 17, 150, 200}, {0, 16, 100, 199}, 3.0f);
}

TEST(AttentionTest, EveryIsaGivesTheReferenceBitsWithWindowAndSoftcap) {
  const auto impls = implementations();
  for (int64_t d : {16, 64, 80}) {
    for (int64_t n : {5, 37, 300}) {
      const int rows = 11;
      Fixture f(d, n, rows, static_cast<uint32_t>(d * 31 + n));
      std::vector<int64_t> n_kv(rows), begin(rows);
      for (int r = 0; r < rows; ++r) {
        n_kv[static_cast<size_t>(r)] = std::max<int64_t>(1, n - (r * 7) % n);
        begin[static_cast<size_t>(r)] = (r * 13) % n_kv[static_cast<size_t>(r)];  // a window, or none (0)
      }
      for (float cap : {0.0f, 2.5f}) {
        const std::vector<float> want = run(detail::attend_scalar, f, 1, n_kv, 1, begin, cap);
        for (size_t i = 0; i < impls.size(); ++i) {
          for (int per_tile : {1, 3, kMaxTileRows}) {
            SCOPED_TRACE("impl " + std::to_string(i) + " d " + std::to_string(d) + " n " + std::to_string(n) +
                         " tile " + std::to_string(per_tile) + " cap " + std::to_string(cap));
            EXPECT_TRUE(same_bits(run(impls[i], f, 1, n_kv, per_tile, begin, cap), want));
          }
        }
      }
    }
  }
}

// GELU(gate) * up as ggml's GeGLU: the F16 table of the tanh form, exact at
// F16 inputs, within F16 rounding of the exact formula elsewhere.
TEST(ActivationTest, GeluMulFollowsGgmlsTable) {
  auto gelu = [](double x) { return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * x * (1.0 + 0.044715 * x * x))); };
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-12.0f, 12.0f);
  std::vector<float> gate(4096), up(4096);
  for (size_t i = 0; i < gate.size(); ++i) {
    gate[i] = u(rng);
    up[i] = u(rng) / 4.0f;
  }
  gate[0] = -10.0f;
  gate[1] = 10.0f;
  gate[2] = 0.0f;
  std::vector<float> out = gate;
  gelu_mul(out.data(), up.data(), static_cast<int64_t>(out.size()));
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 10.0f * up[1]);
  EXPECT_EQ(out[2], 0.0f);
  for (size_t i = 3; i < gate.size(); ++i) {
    const double want = gelu(gate[i]) * up[i];
    // The input is rounded to F16 (relative 2^-11), and so is gelu's value.
    EXPECT_NEAR(out[i], want, 2e-3 * (std::abs(gate[i]) + 1.0) * std::abs(up[i]) + 1e-6) << gate[i];
  }
}

// SiLU(gate) * up (the FFN activation, activation.h): every instruction set
// gives the scalar reference's bits, which track the exact formula.
TEST(ActivationTest, SiluMulIsBitIdenticalAndAccurate) {
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.0f, 4.0f);
  for (int64_t n : {1, 7, 16, 37, 1536}) {
    std::vector<float> gate(static_cast<size_t>(n)), up(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      gate[static_cast<size_t>(i)] = g(rng);
      up[static_cast<size_t>(i)] = g(rng);
    }
    gate[0] = n > 1 ? -100.0f : 100.0f;  // saturated ends
    std::vector<float> want = gate;
    detail::silu_mul_scalar(want.data(), up.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double x = gate[static_cast<size_t>(i)];
      const double exact = x / (1.0 + std::exp(-x)) * up[static_cast<size_t>(i)];
      EXPECT_NEAR(want[static_cast<size_t>(i)], exact, 1e-6 * std::abs(exact) + 1e-30) << x;
    }
    if (detected_isa() >= Isa::kAvx2) {
      std::vector<float> got = gate;
      detail::silu_mul_avx2(got.data(), up.data(), n);
      EXPECT_TRUE(same_bits(got, want)) << "avx2 n " << n;
    }
    if (detected_isa() >= Isa::kAvx512) {
      std::vector<float> got = gate;
      detail::silu_mul_avx512(got.data(), up.data(), n);
      EXPECT_TRUE(same_bits(got, want)) << "avx512 n " << n;
    }
  }
}

// The sampler's softmax weights (activation.h): every instruction set gives
// the scalar reference's bits, which track exp; NaN and the far tail give 0.
TEST(ActivationTest, ExpWeightsAreBitIdenticalAndAccurate) {
  std::mt19937 rng(12);
  std::normal_distribution<float> g(0.0f, 6.0f);
  for (int64_t n : {1, 5, 16, 39, 32000}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = g(rng);
    x[0] = std::numeric_limits<float>::quiet_NaN();
    if (n > 1) x[1] = -std::numeric_limits<float>::infinity();
    const float shift = n > 2 ? *std::max_element(x.begin() + 2, x.end()) : 0.0f;  // as the sampler's maximum
    const float divisor = 0.7f;
    std::vector<float> want(static_cast<size_t>(n));
    detail::exp_weights_scalar(x.data(), shift, divisor, want.data(), n);
    EXPECT_EQ(want[0], 0.0f);
    for (int64_t i = 1; i < n; ++i) {
      const float arg = (x[static_cast<size_t>(i)] - shift) / divisor;  // rounded as the function rounds it
      const double exact = std::exp(static_cast<double>(arg));
      EXPECT_NEAR(want[static_cast<size_t>(i)], exact < 1e-37 ? 0.0 : exact, 1e-6 * exact + 1e-37) << x[static_cast<size_t>(i)];
    }
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
      if (detected_isa() < isa) continue;
      std::vector<float> got(static_cast<size_t>(n), -1.0f);
      (isa == Isa::kAvx2 ? detail::exp_weights_avx2 : detail::exp_weights_avx512)(x.data(), shift, divisor, got.data(), n);
      EXPECT_TRUE(same_bits(got, want)) << isa_name(isa) << " n " << n;
    }
  }
}

}  // namespace
}  // namespace agentd::engine
