#pragma once
// Private to the kernels: the table of per-ISA entry points that kernels.cpp
// dispatches through. kernels.cpp fills it with the scalar reference, then
// kernels_avx2.cpp and kernels_avx512.cpp overwrite the entries they speed up
// (so anything they leave alone falls back to the previous level).
//
// Functions that fill the table must only be called when the CPU supports
// their instruction set; the functions they install have the same contract as
// the scalar ones (n a multiple of the block size, pointers valid).

#include <cstdint>

namespace agentd::engine::detail {

// Dot product of one weight row with one activation row in vec_dot_type.
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);
// n floats -> one row in an activation encoding.
using QuantizeFn = void (*)(const float* x, void* dst, int64_t n);

struct KernelTable {
  VecDotFn dot_f32 = nullptr;
  VecDotFn dot_f16 = nullptr;   // F16 x F16
  VecDotFn dot_bf16 = nullptr;  // BF16 x BF16
  VecDotFn dot_q4_0 = nullptr;  // x Q8_0
  VecDotFn dot_q4_1 = nullptr;  // x Q8_1
  VecDotFn dot_q5_0 = nullptr;  // x Q8_0
  VecDotFn dot_q5_1 = nullptr;  // x Q8_1
  VecDotFn dot_q8_0 = nullptr;  // x Q8_0
  VecDotFn dot_q4_k = nullptr;  // x Q8_K
  VecDotFn dot_q5_k = nullptr;  // x Q8_K
  VecDotFn dot_q6_k = nullptr;  // x Q8_K
  QuantizeFn quantize_f16 = nullptr;
  QuantizeFn quantize_bf16 = nullptr;
  QuantizeFn quantize_q8_0 = nullptr;
  QuantizeFn quantize_q8_1 = nullptr;
  QuantizeFn quantize_q8_k = nullptr;
};

void fill_avx2_kernels(KernelTable& table);
void fill_avx512_kernels(KernelTable& table);

}  // namespace agentd::engine::detail
