#pragma once
// Elementwise activations of the forward pass and the sampler's softmax
// weights, vectorized with run-time dispatch (active_isa()) and bit-identical
// on every instruction set:
//   gate[i] = (g * s) * up[i],  g = gate[i],  s = sigmoid(g) computed as
//   e = fast_exp_nonpositive(-|g|), s = (g >= 0 ? 1 : e) / (1 + e);
//   out[i] = fast_exp_nonpositive((x[i] - shift) / divisor).
// Thread-safety: pure functions.

#include <cstdint>

namespace agentd::engine {

// SiLU(gate) * up, in place in gate; n floats each.
void silu_mul(float* gate, const float* up, int64_t n);

// GELU(gate) * up, in place in gate, as ggml computes GeGLU: GELU's tanh
// form, read from a table of every F16 input with F16 results
// (gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2)))):
// gate <= -10 gives 0, gate >= 10 gives gate * up, anything else
// f32(table[f16(gate)]) * up. Scalar on every instruction set.
void gelu_mul(float* gate, const float* up, int64_t n);

// exp((x[i] - shift) / divisor) for n floats, divisor > 0 and x[i] <= shift
// (larger x gives 1; NaN and anything below -87 after scaling give 0).
void exp_weights(const float* x, float shift, float divisor, float* out, int64_t n);

namespace detail {
void silu_mul_scalar(float* gate, const float* up, int64_t n);
void silu_mul_avx2(float* gate, const float* up, int64_t n);
void silu_mul_avx512(float* gate, const float* up, int64_t n);
void exp_weights_scalar(const float* x, float shift, float divisor, float* out, int64_t n);
void exp_weights_avx2(const float* x, float shift, float divisor, float* out, int64_t n);
void exp_weights_avx512(const float* x, float shift, float divisor, float* out, int64_t n);
}  // namespace detail

}  // namespace agentd::engine
