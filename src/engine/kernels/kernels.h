#pragma once
// Tensor encodings and the kernels that compute with them.
//
// A weight row of `n` elements in encoding T is multiplied with an activation
// row that is first converted to vec_dot_type(T) (Q8_0 for Q4_0/Q5_0/Q8_0,
// Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants, F16 for F16, BF16 for BF16, F32
// for F32), as ggml does, so results track llama.cpp's closely.
//
// Encodings: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K as
// weights; Q8_1 and Q8_K as activation encodings only (quantize/dequantize).
// Block layouts are ggml's, byte for byte (engine/quants.h). BF16 weights meet
// BF16 activations (as in ggml); Q4_1/Q5_1 meet Q8_1 (as in ggml).
//
// Preconditions (programmer errors, not checked per call): n is a multiple of
// block_size(type) and every pointer covers row_bytes(type, n) bytes. Callers
// holding untrusted shapes (GGUF files) check them once with row_bytes() != 0
// and can_matmul() before computing; functions given an unsupported type do
// nothing (dot products return 0).
//
// Every kernel has a plain scalar reference; SIMD versions (AVX2, AVX-512 with
// VNNI) are chosen once at run time from the CPU's features and are tested
// against the reference on random data. Every dot product is bit-identical
// to its reference (exact integer block sums, one fixed float accumulation
// order: kernels_internal.h), whatever the batch size and thread count. The
// order is the same on every instruction set except for Q4_0, Q5_0 and Q8_0
// weights, summed in whole blocks on AVX-512 (sum_order): that order lets
// one float step serve 16 outputs, but costs the one-row kernels of AVX2
// (no VNNI) too much. So a model gives the same logits on any x86 host with
// the same instruction set, and on any host unless it has tensors in those
// three formats. The scalar path needs std::fma, which is slow on CPUs
// without FMA (those also lack AVX2).
// All functions are thread-safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "common/status.h"
#include "engine/gguf/tensor_type.h"

namespace agentd::engine {

class ThreadPool;

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
Isa detected_isa();     // best the CPU supports
Isa active_isa();       // what the kernels use now
void set_active_isa(Isa isa);  // tests and benchmarks; clamps to detected_isa()
const char* isa_name(Isa isa);  // "scalar", "avx2", "avx512"
std::optional<Isa> parse_isa(std::string_view name);  // isa_name's inverse
// The environment variable AGENTD_ISA (scalar, avx2, avx512) caps the ISA the
// kernels start with: active_isa() begins at the lower of it and
// detected_isa(). Ok when unset, empty or valid; otherwise a message naming it
// (an invalid value is ignored by the kernels, so callers report it).
Status check_isa_environment();

// True if `type` can be a weight in vec_dot/matmul.
bool can_matmul(TensorType type);
// Elements per block (1 for F32/F16/BF16); 0 for an unsupported type.
int64_t block_size(TensorType type);

TensorType vec_dot_type(TensorType weight_type);
// Bytes of one row of n elements; 0 if the type is unsupported or n is not a
// multiple of its block size.
size_t row_bytes(TensorType type, int64_t n);

// Converts n floats to `type` (any supported encoding; used for activations and
// by make-model) and back. Weight quantizers (Q4_0..Q6_K) follow ggml's simple
// reference quantizers for the 32-blocks and a plain min/max scheme for the
// K-quants: not ggml's error-minimizing search, but the bytes decode the same
// in ggml.
void quantize_row(TensorType type, const float* x, void* dst, int64_t n);
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// Dot product of one weight row in `type` with one activation row already in
// vec_dot_type(type).
float vec_dot(TensorType type, int64_t n, const void* w_row, const void* x_row);

// How an instruction set sums the products of a `type` row
// (kernels_internal.h): llama.cpp's lane order, or whole blocks (Q4_0, Q5_0
// and Q8_0 on AVX-512).
enum class SumOrder { kLanes, kWholeBlocks };
SumOrder sum_order(TensorType type, Isa isa);
// vec_dot by the scalar reference of the order `isa` uses for `type`: what
// that instruction set's kernels give, bit for bit (for tests).
float reference_vec_dot(Isa isa, TensorType type, int64_t n, const void* w_row, const void* x_row);

// y[i * rows + r] = sum_k W[r][k] * x[i * n + k], for r < rows, i < m.
// W: `rows` rows of `n` elements in `type`, contiguous. x, y: float, row-major.
// Activations are converted once per call; rows are split across `pool`'s
// threads (nullptr: the calling thread only; small products stay there too).
// Each output equals vec_dot of its row and column bit for bit (the matrix
// kernels decode a block of weights once for several activation rows but
// compute every output with the dot product's operations), so results do not
// depend on m, on which rows are computed together, or on the thread count.
// y must not alias x or w.
// Uses a per-thread scratch buffer for the converted activations.
void matmul(TensorType type, const void* w, int64_t rows, int64_t n, const float* x, int64_t m, float* y,
            ThreadPool* pool);

// One weight matrix of a matmul_group: `rows` rows of the group's n elements
// in the group's type; y[i * rows + r] as in matmul.
struct MatmulTarget {
  const void* w;
  int64_t rows;
  float* y;
  // Optional: done(done_ctx, begin, end) runs on the thread that computed
  // rows [begin, end) of y (for every activation row), right after them, so
  // work on those outputs overlaps the rest of the matmul. The ranges cover
  // every row once; each starts at a multiple of done_align when the rows of
  // the group's targets before this one are multiples of it.
  void (*done)(void* ctx, int64_t begin, int64_t end) = nullptr;
  void* done_ctx = nullptr;
  int64_t done_align = 1;
};

// matmul of one x against several matrices of the same type and width (a
// layer's Q, K and V; its gate and up): x is converted once and all rows are
// split across the threads in one round. Each output is what matmul gives.
void matmul_group(TensorType type, int64_t n, std::span<const MatmulTarget> targets, const float* x, int64_t m,
                  ThreadPool* pool);

}  // namespace agentd::engine
