#pragma once
// A decoder-only transformer loaded from a GGUF file: Llama (Llama 2/3,
// Mistral, TinyLlama, SmolLM2), SmolLM3, Qwen2, Qwen3, Gemma, Gemma 2,
// Gemma 3 (text) and Phi-3. What each family's files hold and how its block
// differs is stated in engine/arch/; one forward pass serves them all. The
// configuration comes from the file's metadata and the weights stay in the
// memory mapping, in whatever encoding the file stores them.
//
// forward() takes a batch: the new tokens of one or more sequences, each with
// its own KvCache. All tokens go through every weight matrix together (one
// matmul with m = total tokens), so a prompt is prefilled in one call and
// several sequences can share one decode step.
//
// Ownership: a Model owns its GgufFile. Thread-safety: a Model is immutable
// after load; forward() may be called from several threads at once as long as
// no KvCache is used by two calls at the same time (a shared ThreadPool
// serializes their parallel sections). forward() keeps its activation buffers
// in a per-thread workspace reused by later calls on that thread (up to 16 MiB
// stay allocated; a larger one, from a long prefill, is freed after the call).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/gguf/gguf.h"
#include "engine/kv_cache.h"
#include "engine/gguf/tensor_type.h"

namespace agentd::engine {

class ThreadPool;

// How rotary embeddings pair up the dimensions of a head (ggml's rope modes).
enum class RopeStyle {
  kNormal,  // mode 0: pairs (2i, 2i + 1); llama
  kNeox,    // mode 2: pairs (i, i + n_rot / 2); qwen2, qwen3, gemma, phi3
};

// The feed-forward gate: SwiGLU, or GeGLU with ggml's tanh GELU.
enum class FfnActivation { kSilu, kGelu };

// Rotary frequencies: theta_i = pos * base^(-2i / n_rot) * scale.
struct RopeFrequencies {
  float base = 10000.0f;
  float scale = 1.0f;  // 1 / linear scaling factor
};

// How one layer attends.
struct LayerAttention {
  bool rope = true;     // false: no rotary embedding (SmolLM3's NoPE layers)
  int frequencies = 0;  // index into ModelConfig::rope
  int64_t window = 0;   // > 0: a token attends to the last `window` positions (itself included)
};

struct ModelConfig {
  std::string architecture;  // general.architecture (engine/arch/ lists the families)
  std::string name;          // general.name, may be empty
  int64_t n_vocab = 0;
  int64_t n_embd = 0;     // model width
  int64_t n_layer = 0;
  int64_t n_head = 0;     // query heads
  int64_t n_head_kv = 0;  // key/value heads (grouped-query attention when < n_head)
  int64_t head_dim = 0;   // per head; n_embd / n_head unless the file says otherwise
  int64_t n_ff = 0;       // feed-forward width
  int64_t n_ctx_train = 0;  // context length the model was trained for
  int64_t n_rot = 0;        // rotated dimensions per head (<= head_dim)
  float rms_eps = 1e-5f;
  RopeStyle rope_style = RopeStyle::kNormal;
  std::vector<RopeFrequencies> rope{RopeFrequencies{}};  // [0]: the file's rope.freq_base and scaling
  bool tied_output = false;  // no output.weight: logits use token_embd

  // The block, as the architecture's file (engine/arch/) states it.
  bool qkv_bias = false;       // attn_{q,k,v}.bias required (qwen2; optional elsewhere)
  bool qk_norm = false;        // attn_q_norm / attn_k_norm: RMSNorm of each head before RoPE
  bool post_norms = false;     // post_attention_norm / post_ffw_norm on each branch's output
  bool fused_qkv = false;      // one attn_qkv matrix: Q rows, then K, then V
  bool fused_gate_up = false;  // one ffn_up matrix: gate rows, then up
  FfnActivation ffn_activation = FfnActivation::kSilu;
  float embedding_scale = 1.0f;  // token embeddings are multiplied by it (Gemma: sqrt(n_embd))
  // > 0: queries are multiplied by it after RoPE and scores are not scaled
  // (Gemma, Phi-3, as llama.cpp builds them); 0: scores times 1 / sqrt(head_dim).
  float query_scale = 0.0f;
  float attn_softcap = 0.0f;   // > 0: scores soft-capped (Gemma 2)
  float final_softcap = 0.0f;  // > 0: logits soft-capped (Gemma 2)
  std::vector<LayerAttention> layers;  // [n_layer]

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
};

// A weight matrix in the mapping: `rows` rows of `cols` elements in `type`.
struct Matrix {
  TensorType type = TensorType::kF32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

// New tokens of one sequence for forward(). Positions continue from
// cache->size(); the tokens are appended to the cache.
struct SequenceBatch {
  KvCache* cache = nullptr;
  std::span<const int32_t> tokens;
  bool all_logits = false;  // logits for every token, not only the last
};

class Model {
 public:
  // Opens, maps and checks `path`. Errors name the file and the problem
  // (unknown architecture, missing or misshapen tensor, unsupported type...).
  static StatusOr<std::unique_ptr<Model>> load(const std::string& path);
  static StatusOr<std::unique_ptr<Model>> from_gguf(std::unique_ptr<GgufFile> file);

  const ModelConfig& config() const { return config_; }
  const GgufFile& gguf() const { return *file_; }

  // A cache for one sequence of at most max_tokens positions (<= 0: the
  // trained context length).
  std::unique_ptr<KvCache> new_cache(int64_t max_tokens = 0) const;

  // Runs the batch. `logits` is resized to rows of n_vocab floats: for each
  // sequence in order, one row per token when all_logits, else one row for
  // its last token. Fails without touching any cache when a token id is out
  // of range, a sequence is empty, or a cache would overflow (the message
  // states both numbers). `pool` may be nullptr (calling thread only).
  Status forward(std::span<const SequenceBatch> batch, std::vector<float>& logits, ThreadPool* pool) const;

 private:
  struct Layer {
    std::vector<float> attn_norm;  // [n_embd]
    Matrix wq, wk, wv, wo;         // [q_dim x n_embd], [kv_dim x n_embd] x2, [n_embd x q_dim]
    std::vector<float> bq, bk, bv; // biases, empty when the file has none
    std::vector<float> q_norm, k_norm;  // [head_dim] when qk_norm
    std::vector<float> post_attn_norm;  // [n_embd] when post_norms
    std::vector<float> ffn_norm;   // [n_embd]
    Matrix w_gate, w_up, w_down;   // [n_ff x n_embd] x2, [n_embd x n_ff]
    std::vector<float> post_ffn_norm;   // [n_embd] when post_norms
  };

  Model() = default;
  Status load_weights();

  std::unique_ptr<GgufFile> file_;
  ModelConfig config_;
  Matrix token_embd_;  // [n_vocab x n_embd]
  Matrix output_;      // [n_vocab x n_embd]; token_embd_ when tied
  std::vector<float> output_norm_;
  std::vector<float> rope_freq_factors_;  // [n_rot / 2] or empty (rope_freqs.weight, Llama 3.1)
  std::vector<Layer> layers_;
};

}  // namespace agentd::engine
