// Block layouts of the ggml tensor encodings (ggml-common.h's block_* structs):
// type_size is the byte size of one block of block_size elements.

#include "engine/gguf/tensor_type.h"

namespace agentd::engine {

namespace {

struct Entry {
  uint32_t raw;
  TensorTypeTraits traits;
};

// `supported` follows the kernels (kernels.h can_matmul): Q8_1 and Q8_K exist
// as activation encodings only, and Q2_K/Q3_K have no dot product yet. Files
// holding them still parse; Model::load rejects them by name.
constexpr Entry kEntries[] = {
    {0, {"F32", 1, 4, true}},
    {1, {"F16", 1, 2, true}},
    {2, {"Q4_0", 32, 2 + 16, true}},              // d:f16, 32 x 4-bit
    {3, {"Q4_1", 32, 2 + 2 + 16, true}},          // d, m:f16, 32 x 4-bit
    {6, {"Q5_0", 32, 2 + 4 + 16, true}},          // d, qh[4], 32 x 4-bit
    {7, {"Q5_1", 32, 2 + 2 + 4 + 16, true}},      // d, m, qh[4], 32 x 4-bit
    {8, {"Q8_0", 32, 2 + 32, true}},              // d, 32 x int8
    {9, {"Q8_1", 32, 2 + 2 + 32, false}},         // d, s, 32 x int8
    {10, {"Q2_K", 256, 16 + 64 + 2 + 2, false}},  // scales, qs, d, dmin
    {11, {"Q3_K", 256, 32 + 64 + 12 + 2, false}},  // hmask, qs, scales, d
    {12, {"Q4_K", 256, 2 + 2 + 12 + 128, true}},  // d, dmin, scales, qs
    {13, {"Q5_K", 256, 2 + 2 + 12 + 32 + 128, true}},
    {14, {"Q6_K", 256, 128 + 64 + 16 + 2, true}},  // ql, qh, scales, d
    {15, {"Q8_K", 256, 4 + 256 + 32, false}},      // d:f32, qs, bsums[16]:i16
    {30, {"BF16", 1, 2, true}},
};

}  // namespace

const TensorTypeTraits* tensor_type_traits(uint32_t raw_type) {
  for (const Entry& e : kEntries) {
    if (e.raw == raw_type) return &e.traits;
  }
  return nullptr;
}

}  // namespace agentd::engine
