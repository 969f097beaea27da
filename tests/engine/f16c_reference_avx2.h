#pragma once
// The CPU's own half <-> float conversions (F16C), the reference the scalar
// conversions are held to. Call only where the CPU has F16C.

#include <cstdint>

namespace agentd::engine::test {

float f16c_half_to_float_avx2(uint16_t h);
uint16_t f16c_float_to_half_avx2(float f);

}  // namespace agentd::engine::test
