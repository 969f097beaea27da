// AVX-512 activations; same bits as the scalar reference (activation.h).

#include <immintrin.h>

#include "engine/kernels/activation.h"
#include "engine/kernels/fast_exp.h"

namespace agentd::engine::detail {

void silu_mul_avx512(float* gate, const float* up, int64_t n) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 e = fast_exp_nonpositive(_mm512_or_ps(g, sign));
    const __mmask16 pos = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_GE_OQ);
    const __m512 s = _mm512_div_ps(_mm512_mask_blend_ps(pos, e, one), _mm512_add_ps(one, e));
    _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(_mm512_mul_ps(g, s), _mm512_maskz_loadu_ps(m, up + i)));
  }
}

void exp_weights_avx512(const float* x, float shift, float divisor, float* out, int64_t n) {
  const __m512 s = _mm512_set1_ps(shift);
  const __m512 d = _mm512_set1_ps(divisor);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 v = _mm512_div_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s), d);
    _mm512_mask_storeu_ps(out + i, m, fast_exp_nonpositive(v));
  }
}

}  // namespace agentd::engine::detail
