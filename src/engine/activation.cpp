// Scalar reference of the activations (the formula in activation.h) and the
// run-time dispatch.

#include "engine/activation.h"

#include <cmath>

#include "engine/fast_exp.h"
#include "engine/kernels.h"

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

void exp_weights(const float* x, float shift, float divisor, float* out, int64_t n) {
  switch (active_isa()) {
    case Isa::kAvx512: detail::exp_weights_avx512(x, shift, divisor, out, n); return;
    case Isa::kAvx2: detail::exp_weights_avx2(x, shift, divisor, out, n); return;
    case Isa::kScalar: detail::exp_weights_scalar(x, shift, divisor, out, n); return;
  }
}

}  // namespace agentd::engine
