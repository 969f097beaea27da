// The Llama family: Llama 2/3/3.1/3.2 (3.1's RoPE frequency factors are the
// optional rope_freqs.weight model.cpp loads for any family), Mistral,
// TinyLlama, SmolLM2, and SmolLM3, a Llama whose every fourth layer has no
// rotary embedding (NoPE). The block: RMSNorm, Q/K/V (optional biases),
// RoPE in pairs (2i, 2i + 1), attention, RMSNorm, SwiGLU.

#include "engine/arch/families.h"

namespace agentd::engine::arch {

Status configure_llama(const Hyperparameters&, ModelConfig& c) {
  uniform_layers(c);
  return Status::ok();
}

// llama.cpp fixes the NoPE period at 4 (no GGUF key states it): layer l has
// no RoPE when (l + 1) % 4 == 0.
Status configure_smollm3(const Hyperparameters&, ModelConfig& c) {
  constexpr int64_t kNoRopeEvery = 4;
  uniform_layers(c);
  for (int64_t l = 0; l < c.n_layer; ++l) c.layers[static_cast<size_t>(l)].rope = (l + 1) % kNoRopeEvery != 0;
  return Status::ok();
}

}  // namespace agentd::engine::arch
