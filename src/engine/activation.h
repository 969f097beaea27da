#pragma once
// Elementwise activations of the forward pass, vectorized with run-time
// dispatch (active_isa()) and bit-identical on every instruction set:
//   gate[i] = (g * s) * up[i],  g = gate[i],  s = sigmoid(g) computed as
//   e = fast_exp_nonpositive(-|g|), s = (g >= 0 ? 1 : e) / (1 + e).
// Thread-safety: pure functions.

#include <cstdint>

namespace agentd::engine {

// SiLU(gate) * up, in place in gate; n floats each.
void silu_mul(float* gate, const float* up, int64_t n);

namespace detail {
void silu_mul_scalar(float* gate, const float* up, int64_t n);
void silu_mul_avx2(float* gate, const float* up, int64_t n);
void silu_mul_avx512(float* gate, const float* up, int64_t n);
}  // namespace detail

}  // namespace agentd::engine
