// Phi-3 (and Phi-3.5, Phi-4-mini): the Llama block with one fused QKV matrix
// (attn_qkv: Q rows, then K, then V) and one fused gate/up matrix (ffn_up:
// gate rows, then up), RoPE in pairs (i, i + n_rot / 2) over the first
// rope.dimension_count dimensions of each head, queries scaled after RoPE.
// Like llama.cpp, the sliding window some files declare
// (attention.sliding_window) is not applied: llama.cpp turned Phi's window off
// and these files are checked against it.
// Long-context RoPE (rope_factors_long/short, Phi-3.5 and Phi-4-mini's
// "longrope") is refused with a message rather than run without it.

#include <cmath>

#include "engine/arch/families.h"

namespace agentd::engine::arch {

Status configure_phi3(const Hyperparameters& hp, ModelConfig& c) {
  if (hp.has_tensor("rope_factors_long.weight") || hp.has_tensor("rope_factors_short.weight")) {
    return Status::unimplemented(hp.what() +
                                 ": long-context RoPE (rope_factors_long/short, Phi's longrope) is not supported yet");
  }
  c.fused_qkv = true;
  c.fused_gate_up = true;
  c.query_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  uniform_layers(c);
  return Status::ok();
}

}  // namespace agentd::engine::arch
