#include "f16c_reference_avx2.h"

#include <immintrin.h>

namespace agentd::engine::test {

float f16c_half_to_float_avx2(uint16_t h) { return _cvtsh_ss(h); }

uint16_t f16c_float_to_half_avx2(float f) { return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }

}  // namespace agentd::engine::test
