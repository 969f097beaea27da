// Gemma: token embeddings scaled by sqrt(width), GeGLU (ggml's tanh GELU),
// RoPE in pairs (i, i + n_rot / 2), queries scaled after RoPE, tied output.
// The norms' weights are stored with Gemma's "+ 1" already added by the
// converter, so they are plain RMSNorm weights here.
//   gemma2: RMSNorm on each branch's output too (post_attention_norm,
//           post_ffw_norm), attention scores soft-capped (attn_logit_softcapping,
//           50) and logits (final_logit_softcapping, 30), a sliding window
//           (attention.sliding_window, 4096) on even layers.
//   gemma3: the post-norms, per-head Q/K RMSNorm before RoPE, five sliding-window
//           layers in six with RoPE base rope.freq_base_swa (10000) and no
//           scaling, the sixth global with the file's base and linear scaling;
//           logits soft-capped only if the file says so.
// A soft-cap of 0 turns it off.
// The 27B models scale queries by 1 / sqrt(width / heads) instead of
// 1 / sqrt(head width), told apart by their layer count as llama.cpp does.

#include <cmath>

#include "engine/arch/families.h"

namespace agentd::engine::arch {

namespace {

constexpr double kMaxCap = 1e6;

void gemma_block(ModelConfig& c, int64_t layers_of_27b) {
  c.embedding_scale = std::sqrt(static_cast<float>(c.n_embd));
  c.ffn_activation = FfnActivation::kGelu;
  const bool is_27b = layers_of_27b > 0 && c.n_layer == layers_of_27b;
  c.query_scale = 1.0f / std::sqrt(static_cast<float>(is_27b ? c.n_embd / c.n_head : c.head_dim));
  uniform_layers(c);
}

// Layer l slides when l % period < period - 1 (llama.cpp's swa pattern).
void sliding_layers(ModelConfig& c, int64_t period, int64_t window, int frequencies) {
  for (int64_t l = 0; l < c.n_layer; ++l) {
    if (l % period < period - 1) {
      LayerAttention& a = c.layers[static_cast<size_t>(l)];
      a.window = window;
      a.frequencies = frequencies;
    }
  }
}

}  // namespace

Status configure_gemma(const Hyperparameters&, ModelConfig& c) {
  gemma_block(c, 0);
  return Status::ok();
}

Status configure_gemma2(const Hyperparameters& hp, ModelConfig& c) {
  gemma_block(c, 46);
  c.post_norms = true;
  c.attn_softcap = 50.0f;
  c.final_softcap = 30.0f;
  AGENTD_RETURN_IF_ERROR(hp.optional_float("attn_logit_softcapping", 0.0, kMaxCap, c.attn_softcap));
  AGENTD_RETURN_IF_ERROR(hp.optional_float("final_logit_softcapping", 0.0, kMaxCap, c.final_softcap));
  int64_t window = 4096;
  if (hp.has("attention.sliding_window")) {
    AGENTD_RETURN_IF_ERROR(hp.need_int("attention.sliding_window", 1, int64_t{1} << 24, window));
  }
  sliding_layers(c, 2, window, 0);
  return Status::ok();
}

Status configure_gemma3(const Hyperparameters& hp, ModelConfig& c) {
  gemma_block(c, 62);
  c.post_norms = true;
  c.qk_norm = true;
  AGENTD_RETURN_IF_ERROR(hp.optional_float("final_logit_softcapping", 0.0, kMaxCap, c.final_softcap));
  int64_t window = 0;
  if (hp.has("attention.sliding_window")) {
    AGENTD_RETURN_IF_ERROR(hp.need_int("attention.sliding_window", 0, int64_t{1} << 24, window));
  }
  if (window > 0) {
    RopeFrequencies local{10000.0f, 1.0f};
    AGENTD_RETURN_IF_ERROR(hp.optional_float("rope.freq_base_swa", 1.0, 1e12, local.base));
    c.rope.push_back(local);
    sliding_layers(c, 6, window, static_cast<int>(c.rope.size()) - 1);
  }
  return Status::ok();
}

}  // namespace agentd::engine::arch
