#pragma once
// A decoder-only transformer loaded from a GGUF file: the Llama family
// (Llama 2/3, Mistral, TinyLlama, SmolLM) and Qwen2 (Q/K/V biases). The
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
#include "engine/gguf.h"
#include "engine/kv_cache.h"
#include "engine/tensor_type.h"

namespace agentd::engine {

class ThreadPool;

// How rotary embeddings pair up the dimensions of a head (ggml's rope modes).
enum class RopeStyle {
  kNormal,  // mode 0: pairs (2i, 2i + 1); llama
  kNeox,    // mode 2: pairs (i, i + n_rot / 2); qwen2
};

struct ModelConfig {
  std::string architecture;  // "llama" | "qwen2"
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
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / linear scaling factor
  RopeStyle rope_style = RopeStyle::kNormal;
  bool tied_output = false;  // no output.weight: logits use token_embd

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
    std::vector<float> ffn_norm;   // [n_embd]
    Matrix w_gate, w_up, w_down;   // [n_ff x n_embd] x2, [n_embd x n_ff]
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
