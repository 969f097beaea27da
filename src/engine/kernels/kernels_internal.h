#pragma once
// Private to the kernels: the table of per-ISA entry points that kernels.cpp
// dispatches through (dot products, conversions, matrix kernels). kernels.cpp
// fills it with the scalar reference, then kernels_avx2.cpp (with
// kernels_mat_avx2.cpp) and kernels_avx512.cpp (with kernels_mat_avx512.cpp)
// overwrite the entries they speed up (so anything they leave alone falls
// back to the previous level).
//
// Functions that fill the table must only be called when the CPU supports
// their instruction set; the functions they install have the same contract as
// the scalar ones (n a multiple of the block size, pointers valid).

#include <cstddef>
#include <cstdint>

// An empty asm statement the optimizer cannot see through: it keeps a float
// product from being fused with the following add into an FMA (the flags of
// the SIMD files allow fusing), so every path rounds the same way.
#define AGENTD_NO_FUSE(v) asm("" : "+x"(v))

namespace agentd::engine::detail {

// Dot product of one weight row with one activation row in vec_dot_type.
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);
// n floats -> one row in an activation encoding.
using QuantizeFn = void (*)(const float* x, void* dst, int64_t n);

// y[c * y_stride + r] = dot(W row r, activation row c) for r < rows, c < m.
// W rows are w_stride bytes apart; activation rows x_stride bytes apart, in
// vec_dot_type or, if the kernel has `prepare`, in the layout it makes.
// Each output is computed with exactly the operations of the type's dot
// product, so results do not depend on m, rows or how they are tiled.
using MatFn = void (*)(int64_t n, const void* w, size_t w_stride, int64_t rows, const void* x, size_t x_stride,
                       int64_t m, float* y, int64_t y_stride);
// One activation row in vec_dot_type -> the kernel's layout (prepared_bytes(n) bytes).
using PrepareFn = void (*)(int64_t n, const void* x, void* dst);
using PreparedBytesFn = size_t (*)(int64_t n);
struct MatKernel {
  MatFn mat = nullptr;
  PrepareFn prepare = nullptr;  // nullptr: mat reads vec_dot_type rows
  PreparedBytesFn prepared_bytes = nullptr;
  bool decode = true;  // false: m == 1 runs vec_dot row by row (measured faster)
};

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
  // Matrix kernels (m > 1 and m = 1 through matmul); nullptr: matmul calls
  // the type's dot product per output.
  MatKernel mat_f32, mat_f16, mat_q4_0, mat_q5_0, mat_q8_0, mat_q4_k, mat_q6_k;
};

// The float part of the quantized dot products is fixed here, so that every
// kernel of an instruction set rounds identically and results are
// bit-identical to the scalar reference of its order (each block's integer
// sum is exact everywhere):
//
// Q4_0, Q5_0 and Q8_0 (x Q8_0) on AVX-512, whole blocks: block b's exact
// integer sum isum_b and scale_b = d_w * d_x (one rounding) give
//   acc = fma(scale_b, float(isum_b), acc),
// one float accumulator from +0, block after block (scalar reference:
// reference_vec_dot). Several weight rows then fit the lanes of one
// register, one output each, with no reduction across lanes; a one-row
// kernel reduces 8 partial sums per block instead, which AVX2 (no VNNI)
// pays too dearly for, so scalar and AVX2 keep the lane order below.
//
// Q4_0, Q5_0, and Q8_0 on scalar and AVX2 (x Q8_0), as llama.cpp's SIMD
// order: block b of 32 has 8 exact integer lane sums L_j = sum of the
// products of elements 4j .. 4j+3;
// with scale_b = d_w * d_x (one rounding), lane j goes into accumulator
//   a[8 * (b % 4) + j] = fma(scale_b, float(L_j), a[8 * (b % 4) + j])
// of 32 float accumulators starting at +0. Then
//   t[j] = (a[j] + a[j+16]) + (a[j+8] + a[j+24])   for j < 8,
// and the result is ((t0 + t4) + (t2 + t6)) + ((t1 + t5) + (t3 + t7)).
// (AVX2: 4 accumulators by b % 4.)
constexpr int kQ8Lanes = 32;

// Q4_1, Q5_1 (x Q8_1): block b adds
//   term = scale_b * isum_b + offset_b   (two roundings, never a fused FMA)
// to accumulator b % 8 of 8 float accumulators starting at +0; the result is
//   ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)),
// i.e. exactly what an 8-lane vector accumulator and the usual horizontal
// sum compute.
constexpr int kBlockLanes = 8;

// Float rows (F32, F16, BF16): both operands are widened to float (exact);
// element i is fused-multiply-added (one rounding) into accumulator i % 32,
// all starting at +0; then t[j] = (a[j] + a[j+8]) + (a[j+16] + a[j+24]) for
// j < 8, and the result is ((t0 + t4) + (t2 + t6)) + ((t1 + t5) + (t3 + t7)).
constexpr int kFloatLanes = 32;

// K-quants: super-blocks are added one after another:
//   sum + (scale[0] * isum[0] + offset[0]) + (scale[1] * isum[1] + offset[1]) + ...
// (offset nullptr: none). Defined in kernels.cpp and called by every ISA.
float accumulate_blocks(float sum, const float* scale, const int32_t* isum, const float* offset, int count);

void fill_avx2_kernels(KernelTable& table);  // calls fill_avx2_mat_kernels
void fill_avx2_mat_kernels(KernelTable& table);
void fill_avx512_kernels(KernelTable& table);  // calls fill_avx512_mat_kernels
void fill_avx512_mat_kernels(KernelTable& table);

}  // namespace agentd::engine::detail
