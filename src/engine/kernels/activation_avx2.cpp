// AVX2 activations; same bits as the scalar reference (activation.h).

#include <immintrin.h>

#include "engine/kernels/activation.h"
#include "engine/kernels/fast_exp.h"

namespace agentd::engine::detail {

void silu_mul_avx2(float* gate, const float* up, int64_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = fast_exp_nonpositive(_mm256_or_ps(g, sign));
    const __m256 pos = _mm256_cmp_ps(g, _mm256_setzero_ps(), _CMP_GE_OQ);
    const __m256 s = _mm256_div_ps(_mm256_blendv_ps(e, one, pos), _mm256_add_ps(one, e));
    _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_mul_ps(g, s), _mm256_loadu_ps(up + i)));
  }
  if (i < n) silu_mul_scalar(gate + i, up + i, n - i);  // same formula, same bits
}

void exp_weights_avx2(const float* x, float shift, float divisor, float* out, int64_t n) {
  const __m256 s = _mm256_set1_ps(shift);
  const __m256 d = _mm256_set1_ps(divisor);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, fast_exp_nonpositive(_mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), s), d)));
  }
  if (i < n) exp_weights_scalar(x + i, shift, divisor, out + i, n - i);
}

}  // namespace agentd::engine::detail
