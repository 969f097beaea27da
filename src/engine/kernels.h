#pragma once
// Tensor encodings and the kernels that compute with them.
//
// A weight row of `n` elements in encoding T is multiplied with an activation
// row that is first converted to vec_dot_type(T) (Q8_0 for Q4_0/Q5_0/Q5_1/Q8_0,
// Q8_K for the K-quants, F16 for F16, BF16 for BF16, F32 for F32), as ggml does,
// so results track llama.cpp's closely.
//
// Every kernel has a plain scalar reference; SIMD versions (AVX2, AVX-512 with
// VNNI) are chosen once at run time from the CPU's features and are tested
// against the reference on random data. All functions are thread-safe.

#include <cstddef>
#include <cstdint>

#include "engine/tensor_type.h"

namespace agentd::engine {

class ThreadPool;

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
Isa detected_isa();     // best the CPU supports
Isa active_isa();       // what the kernels use now
void set_active_isa(Isa isa);  // tests and benchmarks; clamps to detected_isa()

TensorType vec_dot_type(TensorType weight_type);
// Bytes of one row of n elements; n must be a multiple of the block size.
size_t row_bytes(TensorType type, int64_t n);

// Converts n floats to `type` (any supported encoding; used for activations and
// by make-model) and back.
void quantize_row(TensorType type, const float* x, void* dst, int64_t n);
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// Dot product of one weight row in `type` with one activation row already in
// vec_dot_type(type).
float vec_dot(TensorType type, int64_t n, const void* w_row, const void* x_row);

// y[i * rows + r] = sum_k W[r][k] * x[i * n + k], for r < rows, i < m.
// W: `rows` rows of `n` elements in `type`, contiguous. x, y: float, row-major.
// Activations are converted once per call; rows are split across `pool`'s
// threads (nullptr: the calling thread only).
void matmul(TensorType type, const void* w, int64_t rows, int64_t n, const float* x, int64_t m, float* y,
            ThreadPool* pool);

}  // namespace agentd::engine
