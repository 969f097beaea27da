#pragma once
// ggml tensor encodings, numbered as in GGUF files, with their block layout.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace agentd::engine {

enum class TensorType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kBF16 = 30,
};

struct TensorTypeTraits {
  std::string_view name;  // "Q4_K"
  uint32_t block_size;    // elements per block
  uint32_t type_size;     // bytes per block
  bool supported;         // this engine can compute with it
};

// nullptr for a number this engine does not know.
const TensorTypeTraits* tensor_type_traits(uint32_t raw_type);
inline const TensorTypeTraits* tensor_type_traits(TensorType t) { return tensor_type_traits(static_cast<uint32_t>(t)); }

}  // namespace agentd::engine
