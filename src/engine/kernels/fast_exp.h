#pragma once
// exp(x) for x <= 0 (larger x is clamped to 0), computed the same way, bit
// for bit, by the scalar code and by the AVX2 / AVX-512 versions below:
// x = n ln2 + r (n = nearest integer to x log2(e), r by two fmas), a degree-6
// Taylor polynomial for e^r (Horner, fma), times 2^n built in the exponent
// bits. x < -87 (and NaN) gives 0. Relative error about 2e-7.
//
// The SIMD versions are only compiled in files built for that instruction set
// (*_avx2.cpp, *_avx512.cpp). Their results pass through an empty asm so the
// compiler cannot fuse the final product into a following add, which the
// scalar code (built without FMA contraction) never does.

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace agentd::engine::fast_exp_detail {
constexpr float kMin = -87.0f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693145751953125f;  // ln 2 split so n * kLn2Hi is exact
constexpr float kLn2Lo = 1.428606765330187045e-06f;
constexpr float kC2 = 0.5f;            // 1/2!
constexpr float kC3 = 1.66666672e-1f;  // 1/3!
constexpr float kC4 = 4.16666679e-2f;  // 1/4!
constexpr float kC5 = 8.33333377e-3f;  // 1/5!
constexpr float kC6 = 1.38888892e-3f;  // 1/6!
}  // namespace agentd::engine::fast_exp_detail

namespace agentd::engine {

inline float fast_exp_nonpositive(float x) {
  using namespace fast_exp_detail;
  if (!(x >= kMin)) return 0.0f;  // also NaN
  if (x > 0.0f) x = 0.0f;
  const float n = std::nearbyint(x * kLog2e);
  float r = std::fma(n, -kLn2Hi, x);
  r = std::fma(n, -kLn2Lo, r);
  float p = kC6;
  p = std::fma(p, r, kC5);
  p = std::fma(p, r, kC4);
  p = std::fma(p, r, kC3);
  p = std::fma(p, r, kC2);
  p = std::fma(p, r, 1.0f);
  p = std::fma(p, r, 1.0f);
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float two_n;
  std::memcpy(&two_n, &bits, sizeof(two_n));
  return p * two_n;
}

#if defined(__AVX512F__)
inline __m512 fast_exp_nonpositive(__m512 x) {
  using namespace fast_exp_detail;
  const __mmask16 valid = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kMin), _CMP_GE_OQ);
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_setzero_ps()), _mm512_set1_ps(kMin));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-kLn2Hi), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(-kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kC6);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kC5));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kC4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kC3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kC2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  __m512 e = _mm512_maskz_mul_ps(valid, p, _mm512_castsi512_ps(bits));
  asm("" : "+v"(e));
  return e;
}
#endif

#if defined(__AVX2__) && defined(__FMA__)
inline __m256 fast_exp_nonpositive(__m256 x) {
  using namespace fast_exp_detail;
  const __m256 valid = _mm256_cmp_ps(x, _mm256_set1_ps(kMin), _CMP_GE_OQ);
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_setzero_ps()), _mm256_set1_ps(kMin));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Hi), x);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kC6);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC5));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 e = _mm256_and_ps(valid, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
  asm("" : "+x"(e));
  return e;
}
#endif

}  // namespace agentd::engine
