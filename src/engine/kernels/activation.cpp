// Scalar reference of the activations (the formula in activation.h) and the
// run-time dispatch.

#include "engine/kernels/activation.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/kernels/fast_exp.h"
#include "engine/kernels/kernels.h"
#include "engine/kernels/quants.h"

namespace agentd::engine {

namespace detail {
void silu_mul_scalar(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float e = fast_exp_nonpositive(-std::fabs(g));
    const float s = (g >= 0.0f ? 1.0f : e) / (1.0f + e);
    gate[i] = (g * s) * up[i];
  }
}

void exp_weights_scalar(const float* x, float shift, float divisor, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = fast_exp_nonpositive((x[i] - shift) / divisor);
}
}  // namespace detail

void silu_mul(float* gate, const float* up, int64_t n) {
  switch (active_isa()) {
    case Isa::kAvx512: detail::silu_mul_avx512(gate, up, n); return;
    case Isa::kAvx2: detail::silu_mul_avx2(gate, up, n); return;
    case Isa::kScalar: detail::silu_mul_scalar(gate, up, n); return;
  }
}

namespace {

// gelu(f32(h)) rounded to F16, for every F16 bit pattern h.
const Half* gelu_table() {
  static const std::vector<Half> table = [] {
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    constexpr float kCoefA = 0.044715f;
    std::vector<Half> t(size_t{1} << 16);
    for (uint32_t i = 0; i < t.size(); ++i) {
      const float x = fp16_to_fp32(static_cast<Half>(i));
      t[i] = fp32_to_fp16(0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoefA * x * x))));
    }
    return t;
  }();
  return table.data();
}

}  // namespace

void gelu_mul(float* gate, const float* up, int64_t n) {
  const Half* table = gelu_table();
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    if (g <= -10.0f) {
      gate[i] = 0.0f;
    } else if (g >= 10.0f) {
      gate[i] = g * up[i];
    } else {
      gate[i] = fp16_to_fp32(table[fp32_to_fp16(g)]) * up[i];
    }
  }
}

void exp_weights(const float* x, float shift, float divisor, float* out, int64_t n) {
  switch (active_isa()) {
    case Isa::kAvx512: detail::exp_weights_avx512(x, shift, divisor, out, n); return;
    case Isa::kAvx2: detail::exp_weights_avx2(x, shift, divisor, out, n); return;
    case Isa::kScalar: detail::exp_weights_scalar(x, shift, divisor, out, n); return;
  }
}

}  // namespace agentd::engine
