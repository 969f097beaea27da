// Kernels: block layouts against hand-made ggml blocks, conversions against
// the CPU's own F16C instructions, round-trip error bounds, vec_dot against
// the dot product of dequantized rows, and every SIMD path against the scalar
// reference on random data.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels.h"
#include "engine/kernels/quants.h"
#include "engine/thread_pool.h"
#include "f16c_reference_avx2.h"

namespace agentd::engine {
namespace {

constexpr TensorType kWeightTypes[] = {
    TensorType::kF32,  TensorType::kF16,  TensorType::kBF16, TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0,
    TensorType::kQ5_1, TensorType::kQ8_0, TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K,
};

std::string type_name(TensorType t) { return "type " + std::to_string(static_cast<int>(t)); }

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& f : v) f = dist(rng);
  return v;
}

std::vector<uint8_t> quantize(TensorType type, const std::vector<float>& x) {
  std::vector<uint8_t> out(row_bytes(type, static_cast<int64_t>(x.size())));
  quantize_row(type, x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

std::vector<float> dequantize(TensorType type, const std::vector<uint8_t>& q, size_t n) {
  std::vector<float> out(n);
  dequantize_row(type, q.data(), out.data(), static_cast<int64_t>(n));
  return out;
}

// Restores the instruction set active before the test (AGENTD_ISA may have
// started it below the detected one) when the test ends.
struct IsaGuard {
  Isa before = active_isa();
  ~IsaGuard() { set_active_isa(before); }
};

std::vector<Isa> available_isas() {
  std::vector<Isa> v;
  for (int i = 0; i <= static_cast<int>(detected_isa()); ++i) v.push_back(static_cast<Isa>(i));
  return v;
}

// ------------------------------------------------------------ conversions


TEST(Kernels, Fp16ToFp32MatchesF16cForEveryHalf) {
  ASSERT_TRUE(__builtin_cpu_supports("f16c"));
  for (uint32_t h = 0; h < 65536; ++h) {
    const float ours = fp16_to_fp32(static_cast<Half>(h));
    const float hw = test::f16c_half_to_float_avx2(static_cast<uint16_t>(h));
    if (std::isnan(hw)) {
      EXPECT_TRUE(std::isnan(ours)) << h;
    } else {
      ASSERT_EQ(float_bits(ours), float_bits(hw)) << "half 0x" << std::hex << h;
    }
  }
}

TEST(Kernels, Fp32ToFp16MatchesF16cRounding) {
  ASSERT_TRUE(__builtin_cpu_supports("f16c"));
  std::mt19937 rng(7);
  std::vector<float> cases = {0.f, -0.f, 1.f, -2.f, 0.1f, 1.f / 3, 65504.f, 65519.f, 65520.f, 1e6f, -1e6f,
                              5.960464477539063e-8f, 2.98023223876953125e-8f, 2.9802326e-8f, 6.1035156e-5f,
                              6.1e-5f, 1e-7f, 3e-8f, std::numeric_limits<float>::infinity()};
  // Random bit patterns across the whole exponent range, plus exact ties.
  for (int i = 0; i < 200000; ++i) {
    const uint32_t bits = rng();
    cases.push_back(bits_float(bits));
    cases.push_back(bits_float((bits & 0xffffe000u) | 0x1000u));  // halfway between two halves
  }
  for (float f : cases) {
    if (std::isnan(f)) continue;
    ASSERT_EQ(fp32_to_fp16(f), test::f16c_float_to_half_avx2(f)) << "float bits 0x" << std::hex << float_bits(f);
  }
  EXPECT_EQ(fp32_to_fp16(1.f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(65504.f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(-2.f), 0xc000);
}

TEST(Kernels, Bf16RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_bf16(1.f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(-2.f), 0xc000);
  EXPECT_EQ(fp32_to_bf16(bits_float(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(fp32_to_bf16(bits_float(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(fp32_to_bf16(bits_float(0x3f808001u)), 0x3f81);
  EXPECT_EQ(bf16_to_fp32(0x4049), bits_float(0x40490000u));
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(std::nanf("")))));
}

// ------------------------------------------------------------ layouts

TEST(Kernels, Q4_0KnownBlockDecodes) {
  Q4_0Block b{};
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row(TensorType::kQ4_0, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.5f) << j;
    EXPECT_EQ(y[j + 16], (15 - j - 8) * 0.5f) << j;
  }
}

TEST(Kernels, Q5_0KnownBlockDecodes) {
  Q5_0Block b{};
  b.d = 0x3c00;  // 1.0
  const uint32_t qh = 0x8000'0001u;  // fifth bit of element 0 and of element 31
  std::memcpy(b.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (j << 4));
  float y[32];
  dequantize_row(TensorType::kQ5_0, &b, y, 32);
  EXPECT_EQ(y[0], 0.f);           // 16 - 16
  EXPECT_EQ(y[1], -15.f);         // 1 - 16
  EXPECT_EQ(y[16], -16.f);        // 0 - 16
  EXPECT_EQ(y[31], 15.f);         // (15 | 16) - 16
  EXPECT_EQ(y[30], 14.f - 16.f);  // no fifth bit
}

TEST(Kernels, Q8_0AndQ4_1KnownBlocksDecode) {
  Q8_0Block b{};
  b.d = 0xc000;  // -2
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j - 16);
  float y[32];
  dequantize_row(TensorType::kQ8_0, &b, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], -2.f * (j - 16));

  Q4_1Block c{};
  c.d = 0x3400;  // 0.25
  c.m = 0xbc00;  // -1
  for (int j = 0; j < 16; ++j) c.qs[j] = static_cast<uint8_t>(j | (3 << 4));
  dequantize_row(TensorType::kQ4_1, &c, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.25f * j - 1.f);
    EXPECT_EQ(y[j + 16], 0.25f * 3 - 1.f);
  }
}

TEST(Kernels, Q4_KKnownBlockDecodes) {
  Q4_KBlock b{};
  b.d = 0x3c00;     // 1
  b.dmin = 0x3800;  // 0.5
  // Sub-block j: scale j + 1, min 2j; sub-blocks 4..7 need the high bits.
  const uint8_t sc[8] = {1, 2, 3, 4, 5, 6, 7, 63};
  const uint8_t mn[8] = {0, 2, 4, 6, 8, 10, 12, 62};
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xf) | ((mn[j + 4] & 0xf) << 4));
  }
  for (int l = 0; l < 128; ++l) b.qs[l] = static_cast<uint8_t>((l % 16) | ((15 - l % 16) << 4));
  std::vector<float> y(256);
  dequantize_row(TensorType::kQ4_K, &b, y.data(), 256);
  for (int e = 0; e < 256; ++e) {
    const int sub = e / 32;
    const int l = e % 32;
    const bool high = (e % 64) >= 32;
    const int q = high ? 15 - (l % 16) : (l % 16);
    EXPECT_EQ(y[e], 1.f * sc[sub] * q - 0.5f * mn[sub]) << e;
  }
}

TEST(Kernels, Q5_KKnownBlockDecodes) {
  Q5_KBlock b{};
  b.d = 0x3c00;     // 1
  b.dmin = 0x4000;  // 2
  // Scales 1..8, mins 8..1, all below 16 so only the first 8 bytes matter.
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(j + 1);
    b.scales[j + 4] = static_cast<uint8_t>(8 - j);
    b.scales[j + 8] = static_cast<uint8_t>((j + 5) | ((4 - j) << 4));
  }
  for (int l = 0; l < 128; ++l) b.qs[l] = static_cast<uint8_t>((l * 7) & 0xff);
  for (int l = 0; l < 32; ++l) b.qh[l] = static_cast<uint8_t>((l * 29 + 3) & 0xff);
  std::vector<float> y(256);
  dequantize_row(TensorType::kQ5_K, &b, y.data(), 256);
  // ggml's loop: per 64 elements, masks u1/u2 walk up qh two bits at a time.
  int e = 0;
  uint8_t u1 = 1, u2 = 2;
  for (int g = 0; g < 4; ++g, u1 = static_cast<uint8_t>(u1 << 2), u2 = static_cast<uint8_t>(u2 << 2)) {
    const int sc0 = 2 * g + 1, sc1 = 2 * g + 2, m0 = 8 - 2 * g, m1 = 7 - 2 * g;
    for (int l = 0; l < 32; ++l, ++e) {
      const int q = (b.qs[32 * g + l] & 0xf) + ((b.qh[l] & u1) ? 16 : 0);
      EXPECT_EQ(y[static_cast<size_t>(e)], 1.f * sc0 * q - 2.f * m0) << e;
    }
    for (int l = 0; l < 32; ++l, ++e) {
      const int q = (b.qs[32 * g + l] >> 4) + ((b.qh[l] & u2) ? 16 : 0);
      EXPECT_EQ(y[static_cast<size_t>(e)], 1.f * sc1 * q - 2.f * m1) << e;
    }
  }
}

TEST(Kernels, Q6_KKnownBlockDecodes) {
  Q6_KBlock b{};
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j - 8);
  // ggml's layout: for the half h and l < 32, element 128h + l takes ql[64h + l]
  // low / qh[32h + l] bits 0-1, +32 takes ql[64h + l + 32] low / bits 2-3,
  // +64 takes ql[64h + l] high / bits 4-5, +96 takes ql[64h + l + 32] high / bits 6-7.
  for (int i = 0; i < 128; ++i) b.ql[i] = static_cast<uint8_t>((i % 16) | (((i + 5) % 16) << 4));
  for (int i = 0; i < 64; ++i) b.qh[i] = static_cast<uint8_t>(i * 37);
  std::vector<float> y(256);
  dequantize_row(TensorType::kQ6_K, &b, y.data(), 256);
  for (int h = 0; h < 2; ++h) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t* ql = b.ql + 64 * h;
      const uint8_t qh = b.qh[32 * h + l];
      const int q[4] = {(ql[l] & 0xf) | ((qh & 3) << 4), (ql[l + 32] & 0xf) | (((qh >> 2) & 3) << 4),
                        (ql[l] >> 4) | (((qh >> 4) & 3) << 4), (ql[l + 32] >> 4) | (((qh >> 6) & 3) << 4)};
      for (int k = 0; k < 4; ++k) {
        const int e = 128 * h + 32 * k + l;
        EXPECT_EQ(y[e], 0.5f * b.scales[e / 16] * (q[k] - 32)) << e;
      }
    }
  }
}

// ------------------------------------------------------------ activations

TEST(Kernels, Q8_0ActivationRoundsHalfToEvenLikeGgmlX86) {
  std::vector<float> x(32);
  x[0] = 127.f;  // amax 127: scale exactly 1
  for (int j = 1; j < 32; ++j) x[j] = static_cast<float>(j) - 0.5f;  // all ties
  for (Isa isa : available_isas()) {
    IsaGuard guard;
    set_active_isa(isa);
    const auto q = quantize(TensorType::kQ8_0, x);
    Q8_0Block b;
    std::memcpy(&b, q.data(), sizeof b);
    EXPECT_EQ(b.d, fp32_to_fp16(1.f));
    EXPECT_EQ(b.qs[0], 127);
    for (int j = 1; j < 32; ++j) {
      const int want = (j % 2 == 1) ? j - 1 : j;  // 0.5->0, 1.5->2, 2.5->2, ...
      EXPECT_EQ(b.qs[j], want) << isa_name(isa) << " j=" << j;
    }
  }
}

TEST(Kernels, Q8_KActivationFollowsGgmlReference) {
  std::vector<float> x(256, 0.f);
  x[0] = -2.f;  // signed max: scale -127 / -2 = 63.5
  x[1] = 1.f;   // 63.5 -> 64 (ties to even)
  x[2] = 2.f;   // 127
  x[3] = 0.5f / 63.5f;  // 0.5 -> 0
  x[17] = 1.5f / 63.5f;  // 1.5 -> 2
  for (Isa isa : available_isas()) {
    IsaGuard guard;
    set_active_isa(isa);
    const auto q = quantize(TensorType::kQ8_K, x);
    Q8_KBlock b;
    std::memcpy(&b, q.data(), sizeof b);
    EXPECT_FLOAT_EQ(b.d, 1.f / 63.5f);
    EXPECT_EQ(b.qs[0], -127);
    EXPECT_EQ(b.qs[1], 64);
    EXPECT_EQ(b.qs[2], 127);
    EXPECT_EQ(b.qs[3], 0);
    EXPECT_EQ(b.qs[17], 2);
    EXPECT_EQ(b.bsums[0], -127 + 64 + 127);
    EXPECT_EQ(b.bsums[1], 2);
  }
  const auto zero = quantize(TensorType::kQ8_K, std::vector<float>(256, 0.f));
  EXPECT_TRUE(std::all_of(zero.begin(), zero.end(), [](uint8_t c) { return c == 0; }));
}

// The activation encodings must come out byte-identical on every ISA.
TEST(Kernels, ActivationQuantizationIsIdenticalOnEveryIsa) {
  const TensorType types[] = {TensorType::kF16, TensorType::kBF16, TensorType::kQ8_0, TensorType::kQ8_1,
                              TensorType::kQ8_K};
  auto x = random_floats(4096, 11, -3.f, 3.f);
  x[5] = 0.f;
  std::fill(x.begin() + 256, x.begin() + 512, 0.f);  // an all-zero block
  for (TensorType t : types) {
    IsaGuard guard;
    set_active_isa(Isa::kScalar);
    const auto ref = quantize(t, x);
    for (Isa isa : available_isas()) {
      set_active_isa(isa);
      EXPECT_EQ(quantize(t, x), ref) << type_name(t) << " on " << isa_name(isa);
    }
  }
}

// ------------------------------------------------------------ round trips

struct RoundTripBound {
  TensorType type;
  double max_rms;  // for uniform values in [-1, 1]
  double max_abs;
};

TEST(Kernels, RoundTripErrorIsBoundedPerType) {
  // Bounds from the step size: for uniform [-1, 1] values a b-level grid has
  // rms error step / sqrt(12); margins cover scale rounding.
  const RoundTripBound bounds[] = {
      {TensorType::kF32, 0, 0},         {TensorType::kF16, 3e-4, 5e-4},  {TensorType::kBF16, 2.5e-3, 4e-3},
      {TensorType::kQ8_0, 3e-3, 5e-3},  {TensorType::kQ8_1, 3e-3, 5e-3}, {TensorType::kQ8_K, 3e-3, 5e-3},
      {TensorType::kQ4_0, 0.045, 0.13}, {TensorType::kQ4_1, 0.045, 0.075}, {TensorType::kQ5_0, 0.022, 0.07},
      {TensorType::kQ5_1, 0.022, 0.04}, {TensorType::kQ4_K, 0.05, 0.1},  {TensorType::kQ5_K, 0.025, 0.05},
      {TensorType::kQ6_K, 0.012, 0.025},
  };
  const auto x = random_floats(4096, 3);
  for (const auto& b : bounds) {
    const auto y = dequantize(b.type, quantize(b.type, x), x.size());
    double sq = 0, mx = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double e = std::fabs(static_cast<double>(x[i]) - y[i]);
      sq += e * e;
      mx = std::max(mx, e);
    }
    const double rms = std::sqrt(sq / static_cast<double>(x.size()));
    EXPECT_LE(rms, b.max_rms) << type_name(b.type);
    EXPECT_LE(mx, b.max_abs) << type_name(b.type);
    if (b.type != TensorType::kF32) {
      EXPECT_GT(rms, 0) << type_name(b.type);
    }
  }
}

TEST(Kernels, KQuantsKeepOffsetAndScaleOfSkewedData) {
  // Values in [2, 3] and [-7, -6]: one-sided ranges exercise the mins.
  auto x = random_floats(512, 5, 2.f, 3.f);
  for (size_t i = 256; i < 512; ++i) x[i] = x[i] - 9.f;
  for (TensorType t : {TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K, TensorType::kQ4_1}) {
    const auto y = dequantize(t, quantize(t, x), x.size());
    double mx = 0;
    for (size_t i = 0; i < x.size(); ++i) mx = std::max(mx, std::fabs(static_cast<double>(x[i]) - y[i]));
    EXPECT_LE(mx, 0.5) << type_name(t);
  }
  // All zeros stay zeros.
  for (TensorType t : kWeightTypes) {
    const std::vector<float> z(256, 0.f);
    const auto y = dequantize(t, quantize(t, z), z.size());
    for (float v : y) ASSERT_EQ(v, 0.f) << type_name(t);
  }
}

TEST(Kernels, NonFiniteInputsAreContainedToTheirBlock) {
  // NaN, infinities and huge values in the first block must not disturb the
  // rest (and, under the sanitizers, must not hit undefined behaviour).
  auto x = random_floats(512, 8);
  x[0] = std::nanf("");
  x[1] = std::numeric_limits<float>::infinity();
  x[2] = -std::numeric_limits<float>::infinity();
  x[3] = 3e38f;
  const TensorType types[] = {TensorType::kF16,  TensorType::kBF16, TensorType::kQ8_0, TensorType::kQ8_1,
                              TensorType::kQ8_K, TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0,
                              TensorType::kQ5_1, TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K};
  for (TensorType t : types) {
    const auto y = dequantize(t, quantize(t, x), x.size());
    for (size_t i = 256; i < 512; ++i) ASSERT_NEAR(y[i], x[i], 0.15) << type_name(t) << " " << i;
  }
}

// ------------------------------------------------------------ dot products

double dequantized_dot(TensorType t, const std::vector<uint8_t>& wq, const std::vector<uint8_t>& xq, size_t n) {
  const auto w = dequantize(t, wq, n);
  const auto x = dequantize(vec_dot_type(t), xq, n);
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(w[i]) * x[i];
  if (vec_dot_type(t) == TensorType::kQ8_1) {
    // ggml's Q8_1 stores sum(x) of each block rounded to fp16 (s), and the
    // weight's offset m meets that rounded sum rather than the exact one.
    const size_t w_block = t == TensorType::kQ4_1 ? sizeof(Q4_1Block) : sizeof(Q5_1Block);
    for (size_t b = 0; b < n / 32; ++b) {
      Half m;  // second field of Q4_1Block and Q5_1Block
      std::memcpy(&m, wq.data() + b * w_block + sizeof(Half), sizeof m);
      Q8_1Block xb;
      std::memcpy(&xb, xq.data() + b * sizeof(Q8_1Block), sizeof xb);
      double exact_sum = 0;
      for (size_t i = 0; i < 32; ++i) exact_sum += x[32 * b + i];
      s += static_cast<double>(fp16_to_fp32(m)) * (fp16_to_fp32(xb.s) - exact_sum);
    }
  }
  return s;
}

TEST(Kernels, VecDotEqualsDotOfDequantizedRows) {
  for (Isa isa : available_isas()) {
    IsaGuard guard;
    set_active_isa(isa);
    for (TensorType t : kWeightTypes) {
      for (int64_t n : {256, 768, 4096}) {
        const auto w = random_floats(static_cast<size_t>(n), 100 + static_cast<uint32_t>(n));
        const auto x = random_floats(static_cast<size_t>(n), 200 + static_cast<uint32_t>(n), -2.f, 2.f);
        const auto wq = quantize(t, w);
        const auto xq = quantize(vec_dot_type(t), x);
        const double want = dequantized_dot(t, wq, xq, static_cast<size_t>(n));
        const float got = vec_dot(t, n, wq.data(), xq.data());
        // Terms are up to 2 in size; float accumulation over n of them.
        EXPECT_NEAR(got, want, 2e-6 * static_cast<double>(n) + 1e-4 * std::fabs(want))
            << type_name(t) << " n=" << n << " " << isa_name(isa);
      }
    }
  }
}

TEST(Kernels, QuantizedDotTracksFloatDot) {
  // The end-to-end error of quantizing both sides stays within the type's precision.
  const int64_t n = 4096;
  const auto w = random_floats(n, 41);
  const auto x = random_floats(n, 42);
  double exact = 0, scale = 0;
  for (int64_t i = 0; i < n; ++i) {
    exact += static_cast<double>(w[i]) * x[i];
    scale += std::fabs(static_cast<double>(w[i]) * x[i]);
  }
  for (TensorType t : kWeightTypes) {
    const auto wq = quantize(t, w);
    const auto xq = quantize(vec_dot_type(t), x);
    EXPECT_NEAR(vec_dot(t, n, wq.data(), xq.data()), exact, 0.02 * scale) << type_name(t);
  }
}

// Every SIMD kernel against the scalar one, through matmul, on an odd row
// count (whole tiles of 8 and 16 rows and a rest) and several widths (odd
// and even block counts, float rows of odd length, rows longer than one
// chunk of a tile). All must agree bit for bit: exact integer block sums and one
// fixed float accumulation order (kernels_internal.h).
TEST(Kernels, SimdMatmulMatchesScalar) {
  ASSERT_GE(detected_isa(), Isa::kAvx2) << "this machine should have AVX2";
  const int64_t rows = 37;
  const int64_t max_m = 17;
  for (TensorType t : kWeightTypes) {
    for (int64_t n : {7, 45, 100, 32, 64, 96, 256, 288, 768, 4096}) {
      if (n % block_size(t) != 0) continue;
      const auto w = random_floats(static_cast<size_t>(rows * n), 300 + static_cast<uint32_t>(n), -1.5f, 1.5f);
      std::vector<uint8_t> wq(row_bytes(t, n) * rows);
      for (int64_t r = 0; r < rows; ++r) quantize_row(t, w.data() + r * n, wq.data() + r * row_bytes(t, n), n);
      const auto x = random_floats(static_cast<size_t>(max_m * n), 400 + static_cast<uint32_t>(n), -2.f, 2.f);
      // Bound: |sum| of products of the dequantized values, times float epsilon growth.
      std::vector<float> wd(static_cast<size_t>(n));
      std::vector<float> xd(static_cast<size_t>(n));
      std::vector<double> abs_sum(static_cast<size_t>(rows * max_m));
      std::vector<double> want(static_cast<size_t>(rows * max_m));
      std::vector<uint8_t> xq(row_bytes(vec_dot_type(t), n));
      for (int64_t i = 0; i < max_m; ++i) {
        quantize_row(vec_dot_type(t), x.data() + i * n, xq.data(), n);
        dequantize_row(vec_dot_type(t), xq.data(), xd.data(), n);
        for (int64_t r = 0; r < rows; ++r) {
          dequantize_row(t, wq.data() + r * row_bytes(t, n), wd.data(), n);
          double s = 0, d = 0;
          for (int64_t k = 0; k < n; ++k) {
            s += std::fabs(static_cast<double>(wd[k]) * xd[k]);
            d += static_cast<double>(wd[k]) * xd[k];
          }
          abs_sum[static_cast<size_t>(i * rows + r)] = s;
          want[static_cast<size_t>(i * rows + r)] = d;
        }
      }
      IsaGuard guard;
      set_active_isa(Isa::kScalar);
      std::vector<float> ref(static_cast<size_t>(rows * max_m));
      matmul(t, wq.data(), rows, n, x.data(), max_m, ref.data(), nullptr);
      for (size_t k = 0; k < ref.size(); ++k) {
        // The reference itself is a dot product of the decoded rows (Q8_1's
        // rounded block sums are covered in VecDotEqualsDotOfDequantizedRows).
        if (vec_dot_type(t) != TensorType::kQ8_1) {
          EXPECT_NEAR(ref[k], want[k], 1e-5 * abs_sum[k] + 1e-6) << type_name(t) << " n=" << n;
        }
      }
      // Every ISA and every batch size (the tiled kernels' full and partial
      // tiles) gives each output bit for bit: the scalar reference of the
      // ISA's summation order (the scalar kernels' own, or whole blocks).
      for (Isa isa : available_isas()) {
        std::vector<float> isa_ref = ref;
        if (sum_order(t, isa) != SumOrder::kLanes) {
          for (int64_t i = 0; i < max_m; ++i) {
            quantize_row(vec_dot_type(t), x.data() + i * n, xq.data(), n);
            for (int64_t r = 0; r < rows; ++r) {
              const size_t k = static_cast<size_t>(i * rows + r);
              isa_ref[k] = reference_vec_dot(isa, t, n, wq.data() + r * row_bytes(t, n), xq.data());
              EXPECT_NEAR(isa_ref[k], want[k], 1e-5 * abs_sum[k] + 1e-6) << type_name(t) << " n=" << n;
            }
          }
        }
        set_active_isa(isa);
        ASSERT_EQ(active_isa(), isa);
        for (int64_t m : {1, 2, 3, 5, 8, 17}) {
          std::vector<float> got(static_cast<size_t>(rows * m));
          matmul(t, wq.data(), rows, n, x.data(), m, got.data(), nullptr);
          for (size_t k = 0; k < got.size(); ++k) {
            ASSERT_EQ(float_bits(got[k]), float_bits(isa_ref[k]))
                << type_name(t) << " n=" << n << " m=" << m << " " << isa_name(isa) << " out " << k << ": "
                << got[k] << " vs " << isa_ref[k];
          }
        }
      }
    }
  }
}

TEST(Kernels, MatmulWithPoolEqualsVecDotPerElement) {
  ThreadPool pool(3);
  for (TensorType t : {TensorType::kQ4_0, TensorType::kQ5_0, TensorType::kQ8_0, TensorType::kQ4_K, TensorType::kQ6_K,
                       TensorType::kF16, TensorType::kF32}) {
    // Enough work to engage the pool; rows span several row blocks and end
    // in partial tiles; 544 has an odd number of 32-blocks.
    const int64_t n = block_size(t) == kQK_K ? 512 : 544, rows = 301;
    const size_t rb = row_bytes(t, n);
    std::vector<uint8_t> wq(rb * rows);
    const auto w = random_floats(static_cast<size_t>(rows * n), 9);
    for (int64_t r = 0; r < rows; ++r) quantize_row(t, w.data() + r * n, wq.data() + r * rb, n);
    for (int64_t m : {1, 2, 3, 5, 8, 17}) {
      const auto x = random_floats(static_cast<size_t>(m * n), 10 + static_cast<uint32_t>(m));
      std::vector<float> y1(static_cast<size_t>(m * rows)), y2(y1.size());
      matmul(t, wq.data(), rows, n, x.data(), m, y1.data(), &pool);
      matmul(t, wq.data(), rows, n, x.data(), m, y2.data(), nullptr);
      std::vector<uint8_t> xq(row_bytes(vec_dot_type(t), n));
      for (int64_t i = 0; i < m; ++i) {
        quantize_row(vec_dot_type(t), x.data() + i * n, xq.data(), n);
        for (int64_t r = 0; r < rows; ++r) {
          const float want = vec_dot(t, n, wq.data() + r * rb, xq.data());
          ASSERT_EQ(y1[static_cast<size_t>(i * rows + r)], want) << type_name(t);
          ASSERT_EQ(y2[static_cast<size_t>(i * rows + r)], want) << type_name(t);
        }
      }
    }
  }
}

// A group (Q, K and V of a layer) splits the rows of all its matrices across
// the threads at once; each output must still be what matmul gives alone.
TEST(Kernels, MatmulGroupEqualsOneMatmulPerMatrix) {
  ThreadPool pool(2);
  for (TensorType t : {TensorType::kQ8_0, TensorType::kQ4_K, TensorType::kF32}) {
    const int64_t n = block_size(t) == kQK_K ? 512 : 544;
    const size_t rb = row_bytes(t, n);
    const int64_t rows[3] = {301, 77, 40};  // boundaries off the row blocks
    std::vector<std::vector<uint8_t>> wq(3);
    for (int j = 0; j < 3; ++j) {
      const auto w = random_floats(static_cast<size_t>(rows[j] * n), 20 + static_cast<uint32_t>(j));
      wq[j].resize(rb * static_cast<size_t>(rows[j]));
      for (int64_t r = 0; r < rows[j]; ++r) quantize_row(t, w.data() + r * n, wq[j].data() + r * rb, n);
    }
    for (int64_t m : {1, 3, 8, 17}) {
      const auto x = random_floats(static_cast<size_t>(m * n), 30 + static_cast<uint32_t>(m));
      std::vector<std::vector<float>> got(3), want(3);
      MatmulTarget targets[3];
      for (int j = 0; j < 3; ++j) {
        got[j].assign(static_cast<size_t>(m * rows[j]), -1.f);
        want[j].resize(got[j].size());
        matmul(t, wq[j].data(), rows[j], n, x.data(), m, want[j].data(), nullptr);
        targets[j] = MatmulTarget{wq[j].data(), rows[j], got[j].data()};
      }
      matmul_group(t, n, targets, x.data(), m, &pool);
      for (int j = 0; j < 3; ++j) {
        for (size_t k = 0; k < got[j].size(); ++k) {
          ASSERT_EQ(float_bits(got[j][k]), float_bits(want[j][k])) << type_name(t) << " m=" << m << " matrix " << j;
        }
      }
    }
  }
}

TEST(Kernels, ShapeChecks) {
  EXPECT_EQ(row_bytes(TensorType::kQ4_0, 64), 36u);
  EXPECT_EQ(row_bytes(TensorType::kQ4_K, 512), 288u);
  EXPECT_EQ(row_bytes(TensorType::kQ6_K, 256), 210u);
  EXPECT_EQ(row_bytes(TensorType::kQ8_K, 256), 292u);
  EXPECT_EQ(row_bytes(TensorType::kF16, 3), 6u);
  EXPECT_EQ(row_bytes(TensorType::kQ4_0, 33), 0u);
  EXPECT_EQ(row_bytes(TensorType::kQ4_K, 128), 0u);
  EXPECT_EQ(row_bytes(TensorType::kQ2_K, 256), 0u);
  EXPECT_FALSE(can_matmul(TensorType::kQ2_K));
  EXPECT_FALSE(can_matmul(TensorType::kQ8_K));
  for (TensorType t : kWeightTypes) EXPECT_TRUE(can_matmul(t)) << type_name(t);
  EXPECT_EQ(vec_dot_type(TensorType::kQ5_1), TensorType::kQ8_1);
  EXPECT_EQ(vec_dot_type(TensorType::kQ5_K), TensorType::kQ8_K);
}

// ------------------------------------------------------------ ggml's own bytes

// The shared tiny-random model exists in F16, Q8_0, Q4_0 and Q4_K_M (Q4_K +
// Q6_K), all written by llama.cpp's quantizer from the same weights. Decoding
// each quantized tensor with our dequantizers must reproduce the F16 tensor
// up to that encoding's precision; a wrong nibble order, scale packing or bit
// position would make the error as large as the weights themselves.
TEST(Kernels, DequantizesLlamaCppQuantizedModelsToTheF16Weights) {
  const std::string dir = std::string(AGENTD_TESTDATA_DIR) + "/models/";
  auto f16 = GgufFile::open(dir + "tiny-random-F16.gguf");
  ASSERT_TRUE(f16.is_ok()) << f16.status().message();
  struct Expect {
    const char* file;
    TensorType type;
    double max_rel_rms;  // rms(error) / rms(weights) over a tensor
  };
  const Expect files[] = {
      {"tiny-random-Q8_0.gguf", TensorType::kQ8_0, 0.01},
      {"tiny-random-Q4_0.gguf", TensorType::kQ4_0, 0.1},
      {"tiny-random-Q4_K_M.gguf", TensorType::kQ4_K, 0.085},
      {"tiny-random-Q4_K_M.gguf", TensorType::kQ6_K, 0.025},
  };
  for (const Expect& e : files) {
    auto q = GgufFile::open(dir + e.file);
    ASSERT_TRUE(q.is_ok()) << q.status().message();
    int checked = 0;
    for (const GgufTensorInfo& t : (*q)->tensors()) {
      if (t.type != e.type) continue;
      const GgufTensorInfo* ref = (*f16)->find_tensor(t.name);
      ASSERT_NE(ref, nullptr) << t.name;
      ASSERT_EQ(ref->n_elements, t.n_elements) << t.name;
      if (ref->type != TensorType::kF16 && ref->type != TensorType::kF32) continue;
      const int64_t n = static_cast<int64_t>(t.dims[0]);
      const int64_t rows = static_cast<int64_t>(t.n_elements) / n;
      // At most 64 rows per tensor keeps the test fast.
      const int64_t step = std::max<int64_t>(1, rows / 64);
      std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
      double err = 0, norm = 0;
      for (int64_t r = 0; r < rows; r += step) {
        dequantize_row(t.type, t.data + row_bytes(t.type, n) * static_cast<size_t>(r), a.data(), n);
        dequantize_row(ref->type, ref->data + row_bytes(ref->type, n) * static_cast<size_t>(r), b.data(), n);
        for (int64_t k = 0; k < n; ++k) {
          const double d = static_cast<double>(a[static_cast<size_t>(k)]) - b[static_cast<size_t>(k)];
          err += d * d;
          norm += static_cast<double>(b[static_cast<size_t>(k)]) * b[static_cast<size_t>(k)];
        }
      }
      ASSERT_GT(norm, 0) << t.name;
      EXPECT_LE(std::sqrt(err / norm), e.max_rel_rms) << e.file << " " << t.name;
      if (checked == 0) {
        // ggml-made blocks through every ISA's dot product (9 rows, 2
        // activations): identical to the scalar reference of its order.
        const int64_t mrows = std::min<int64_t>(rows, 9), m = 2;
        const auto x = random_floats(static_cast<size_t>(n * m), 77);
        IsaGuard guard;
        set_active_isa(Isa::kScalar);
        std::vector<uint8_t> xq(row_bytes(vec_dot_type(t.type), n) * static_cast<size_t>(m));
        for (int64_t i = 0; i < m; ++i) {
          quantize_row(vec_dot_type(t.type), x.data() + i * n, xq.data() + row_bytes(vec_dot_type(t.type), n) * i, n);
        }
        for (Isa isa : available_isas()) {
          std::vector<float> ref(static_cast<size_t>(mrows * m));
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t r = 0; r < mrows; ++r) {
              ref[static_cast<size_t>(i * mrows + r)] =
                  reference_vec_dot(isa, t.type, n, t.data + row_bytes(t.type, n) * static_cast<size_t>(r),
                                    xq.data() + row_bytes(vec_dot_type(t.type), n) * static_cast<size_t>(i));
            }
          }
          set_active_isa(isa);
          std::vector<float> got(ref.size());
          matmul(t.type, t.data, mrows, n, x.data(), m, got.data(), nullptr);
          for (size_t k = 0; k < ref.size(); ++k) {
            EXPECT_EQ(float_bits(got[k]), float_bits(ref[k])) << t.name << " " << isa_name(isa);
          }
        }
      }
      ++checked;
    }
    EXPECT_GT(checked, 0) << e.file << " has no tensor of type " << type_name(e.type);
  }
}

// ------------------------------------------------------------ thread pool

TEST(ThreadPool, CoversEveryIndexOnceWithGrain) {
  ThreadPool pool(4);
  for (int64_t n : {1, 3, 4, 17, 1000}) {
    for (int64_t grain : {1, 16}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
        EXPECT_EQ(b % grain, 0);
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    }
  }
}

TEST(ThreadPool, DynamicBlocksCoverEveryIndexOnce) {
  ThreadPool pool(3);
  for (int64_t n : {1, 7, 64, 1000, 1001}) {
    for (int64_t grain : {1, 16, 100, 5000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> calls{0};
      pool.parallel_for_dynamic(n, grain, [&](int64_t b, int64_t e) {
        EXPECT_EQ(b % grain, 0);
        EXPECT_EQ(e, std::min(n, b + grain));
        calls.fetch_add(1);
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      EXPECT_EQ(calls.load(), (n + grain - 1) / grain) << n << " " << grain;
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << n << " " << grain;
    }
  }
}

TEST(ThreadPool, NestedCallsRunInlineAndSeveralCallersShareThePool) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  pool.parallel_for(4, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      pool.parallel_for(10, [&](int64_t b2, int64_t e2) { total += e2 - b2; });
    }
  });
  EXPECT_EQ(total.load(), 40);

  std::atomic<int64_t> sum{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&] {
      for (int k = 0; k < 50; ++k) pool.parallel_for(100, [&](int64_t b, int64_t e) { sum += e - b; });
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(sum.load(), 3 * 50 * 100);
}

}  // namespace
}  // namespace agentd::engine
