// Qwen 2 / 2.5: the Llama block with Q/K/V biases and RoPE in pairs
// (i, i + n_rot / 2). Qwen 3: no biases, an RMSNorm over each query and key
// head before RoPE (attn_q_norm, attn_k_norm), and a head width of its own
// (attention.key_length; 128 with a model width of 1024 in Qwen3-0.6B).

#include "engine/arch/families.h"

namespace agentd::engine::arch {

Status configure_qwen2(const Hyperparameters&, ModelConfig& c) {
  c.qkv_bias = true;
  uniform_layers(c);
  return Status::ok();
}

Status configure_qwen3(const Hyperparameters&, ModelConfig& c) {
  c.qk_norm = true;
  uniform_layers(c);
  return Status::ok();
}

}  // namespace agentd::engine::arch
