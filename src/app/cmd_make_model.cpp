// `agentd make-model --out PATH --dim D --layers L --heads H --kv-heads K --ffn F
//   --vocab-from VOCAB.gguf --type F32|F16|Q8_0|Q4_0|Q5_0|Q4_K_M [--seed S]
//   [--head-dim N] [--vocab-size N] [--tied] [--rope-base B]
//   [--context-length N] [--name NAME] [--threads N]`
// Writes a Llama-architecture GGUF with random weights that both this engine
// and llama.cpp load: the benchmark models of bench/run_model_bench.sh. The
// options make the shapes of real models: --head-dim sets the head width
// apart from dim / heads (Qwen3-0.6B: 1024 wide, 16 heads of 128), --tied
// leaves out output.weight (logits from token_embd, which then gets
// output.weight's type), --vocab-size pads the copied vocabulary with unused
// tokens to a real model's size (Qwen3's 151936, Llama 3's 128256), so the
// embedding and output matrices weigh what they weigh in those models.
//
// The vocabulary and tokenizer are copied from VOCAB.gguf (every tokenizer.*
// key, arrays included). Each tensor gets the type llama.cpp's llama-quantize
// would give it for that file type (llama-quant.cpp, llama_tensor_get_type):
//   - 1-D norm weights stay F32;
//   - output.weight: Q8_0 when its rows are not a multiple of 256, else Q6_K
//     (unless the file type is Q8_0);
//   - Q4_K_M: Q4_K, but attn_v and ffn_down in the "use_more_bits" layers
//     (the first and last eighth, and every third in between) get Q6_K;
//   - a K-quant whose row length is not a multiple of 256 falls back:
//     Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0 (then F16 if even that
//     block does not divide the row).
// Tensors are written in llama-quantize's order (non-layer tensors by name,
// then each layer's tensors by name), so the layer counters of those rules
// are the layer numbers.
//
// Weights are normal(0, 0.02) (norms 1 + normal(0, 0.02)), drawn from a
// counter-based generator seeded by (seed, tensor, row): the same seed gives
// the same file whatever the thread count. Quantization uses the engine's
// quantize_row, not llama.cpp's error-minimizing search; the bytes decode the
// same in ggml.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/kernels/kernels.h"
#include "engine/thread_pool.h"

namespace agentd::app {

namespace {

using engine::TensorType;

constexpr int64_t kQK_K = 256;
constexpr float kWeightScale = 0.02f;

// A file type, numbered as llama.cpp's llama_ftype (general.file_type).
struct FileKind {
  std::string name;
  uint32_t ftype;
  TensorType base;  // type of the 2-D tensors before per-tensor rules
  bool quantized;
};

const std::vector<FileKind>& file_kinds() {
  static const std::vector<FileKind> kinds = {
      {"F32", 0, TensorType::kF32, false},   {"F16", 1, TensorType::kF16, false},
      {"Q4_0", 2, TensorType::kQ4_0, true},  {"Q8_0", 7, TensorType::kQ8_0, true},
      {"Q5_0", 8, TensorType::kQ5_0, true},  {"Q4_K_M", 15, TensorType::kQ4_K, true},
  };
  return kinds;
}

struct MakeModelOptions {
  std::string out;
  int64_t dim = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t ffn = 0;
  std::string vocab_from;
  std::string type;
  uint64_t seed = 42;
  int64_t head_dim = 0;    // 0: dim / heads
  int64_t vocab_size = 0;  // 0: the copied vocabulary's size
  bool tied = false;
  float rope_base = 10000.0f;
  int64_t context_length = 2048;
  std::string name;
  int threads = 0;
};

// llama-quant.cpp's use_more_bits: the first and last eighth of the layers
// and every third layer in between.
bool use_more_bits(int64_t i_layer, int64_t n_layer) {
  return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

int64_t block_of(TensorType t) {
  const engine::TensorTypeTraits* tr = engine::tensor_type_traits(t);
  return tr == nullptr ? 1 : tr->block_size;
}

// The type llama-quantize gives a 2-D tensor. `layer` is -1 outside blocks;
// `row` is ne[0].
TensorType tensor_type_for(const FileKind& kind, const std::string& role, int64_t layer, int64_t n_layer,
                           int64_t row) {
  if (!kind.quantized) return kind.base;
  TensorType t = kind.base;
  if (role == "output") {
    if (row % kQK_K != 0) {
      t = TensorType::kQ8_0;
    } else if (kind.base != TensorType::kQ8_0) {
      t = TensorType::kQ6_K;
    }
  } else if ((role == "attn_v" || role == "ffn_down") && kind.ftype == 15 && use_more_bits(layer, n_layer)) {
    t = TensorType::kQ6_K;
  }
  if (row % block_of(t) != 0) {
    switch (t) {
      case TensorType::kQ4_K: t = TensorType::kQ5_0; break;
      case TensorType::kQ5_K: t = TensorType::kQ5_1; break;
      case TensorType::kQ6_K: t = TensorType::kQ8_0; break;
      default: break;  // checked before: the 32-blocks divide every row
    }
    if (row % block_of(t) != 0) t = TensorType::kF16;
  }
  return t;
}

// splitmix64: a counter-based generator, so rows can be drawn in any order.
uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// n standard normal floats (Box-Muller) from the stream `key`.
void normal_row(uint64_t key, float* out, int64_t n) {
  uint64_t counter = mix64(key);
  auto uniform = [&counter]() {  // (0, 1]
    counter = mix64(counter);
    return (static_cast<double>(counter >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  };
  constexpr double kTwoPi = 6.283185307179586;
  for (int64_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double a = kTwoPi * uniform();
    out[i] = static_cast<float>(r * std::cos(a));
    if (i + 1 < n) out[i + 1] = static_cast<float>(r * std::sin(a));
  }
}

struct TensorPlan {
  std::string name;
  std::string role;  // output, output_norm, token_embd, attn_q, ..., ffn_norm
  int64_t layer = -1;
  int64_t row = 0;   // ne[0]
  int64_t rows = 0;  // ne[1] (1 for norms)
  bool norm = false;
};

int64_t head_dim_of(const MakeModelOptions& o) { return o.head_dim > 0 ? o.head_dim : o.dim / o.heads; }

std::vector<TensorPlan> plan_tensors(const MakeModelOptions& o, int64_t n_vocab) {
  const int64_t kv_dim = head_dim_of(o) * o.kv_heads, q_dim = head_dim_of(o) * o.heads;
  std::vector<TensorPlan> plan;
  if (!o.tied) plan.push_back({"output.weight", "output", -1, o.dim, n_vocab, false});
  plan.push_back({"output_norm.weight", "output_norm", -1, o.dim, 1, true});
  // Tied: llama-quantize gives token_embd output.weight's type.
  plan.push_back({"token_embd.weight", o.tied ? "output" : "token_embd", -1, o.dim, n_vocab, false});
  for (int64_t l = 0; l < o.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    // Sorted by name, as llama-quantize walks them.
    plan.push_back({p + "attn_k.weight", "attn_k", l, o.dim, kv_dim, false});
    plan.push_back({p + "attn_norm.weight", "attn_norm", l, o.dim, 1, true});
    plan.push_back({p + "attn_output.weight", "attn_output", l, q_dim, o.dim, false});
    plan.push_back({p + "attn_q.weight", "attn_q", l, o.dim, q_dim, false});
    plan.push_back({p + "attn_v.weight", "attn_v", l, o.dim, kv_dim, false});
    plan.push_back({p + "ffn_down.weight", "ffn_down", l, o.ffn, o.dim, false});
    plan.push_back({p + "ffn_gate.weight", "ffn_gate", l, o.dim, o.ffn, false});
    plan.push_back({p + "ffn_norm.weight", "ffn_norm", l, o.dim, 1, true});
    plan.push_back({p + "ffn_up.weight", "ffn_up", l, o.dim, o.ffn, false});
  }
  return plan;
}

Status check_options(const MakeModelOptions& o, const FileKind& kind) {
  if (o.dim <= 0 || o.layers <= 0 || o.heads <= 0 || o.kv_heads <= 0 || o.ffn <= 0) {
    return Status::invalid_argument("--dim, --layers, --heads, --kv-heads and --ffn must be positive");
  }
  // Limits well above any model this tool is for, so sizes stay in range.
  if (o.dim > 65536 || o.ffn > 262144 || o.layers > 1024 || o.heads > 1024) {
    return Status::invalid_argument("shape too large (limits: --dim 65536, --ffn 262144, --layers 1024, "
                                    "--heads 1024)");
  }
  if (o.head_dim < 0 || o.head_dim > 4096) return Status::invalid_argument("--head-dim must be between 1 and 4096");
  if (o.vocab_size < 0 || o.vocab_size > (int64_t{1} << 22)) {
    return Status::invalid_argument("--vocab-size must be at most 4194304");
  }
  if (o.head_dim == 0 && o.dim % o.heads != 0) {
    return Status::invalid_argument("--dim " + std::to_string(o.dim) + " is not a multiple of --heads " +
                                    std::to_string(o.heads) + " (or give --head-dim)");
  }
  if (o.heads % o.kv_heads != 0) {
    return Status::invalid_argument("--heads " + std::to_string(o.heads) + " is not a multiple of --kv-heads " +
                                    std::to_string(o.kv_heads));
  }
  if (head_dim_of(o) % 2 != 0) {
    return Status::invalid_argument("the head size " + std::to_string(head_dim_of(o)) +
                                    " must be even (rotary embeddings rotate pairs)");
  }
  if (!(o.rope_base > 1.0f && o.rope_base < 1e12f)) return Status::invalid_argument("--rope-base must be above 1");
  if (o.context_length <= 0 || o.context_length > (int64_t{1} << 24)) {
    return Status::invalid_argument("--context-length must be between 1 and 16777216");
  }
  const int64_t block = block_of(kind.quantized ? TensorType::kQ8_0 : kind.base);
  if (o.dim % block != 0 || o.ffn % block != 0) {
    return Status::invalid_argument("--type " + kind.name + " needs --dim and --ffn to be multiples of " +
                                    std::to_string(block) + " (got " + std::to_string(o.dim) + " and " +
                                    std::to_string(o.ffn) + ")");
  }
  return Status::ok();
}

int fail(const Status& s) {
  std::fprintf(stderr, "agentd make-model: %s\n", s.to_string().c_str());
  return 1;
}

int run_make_model(const MakeModelOptions& o) {
  const FileKind* kind = nullptr;
  for (const FileKind& k : file_kinds()) {
    if (k.name == o.type) kind = &k;
  }
  if (kind == nullptr) {
    return fail(Status::invalid_argument("--type '" + o.type + "' is not one of F32, F16, Q8_0, Q4_0, Q5_0, Q4_K_M"));
  }
  if (Status s = check_options(o, *kind); !s.is_ok()) return fail(s);

  auto vocab = engine::GgufFile::open(o.vocab_from);
  if (!vocab.is_ok()) return fail(vocab.status());
  const engine::GgufValue* tokens = (*vocab)->find("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->type != engine::GgufType::kArray || tokens->array_type != engine::GgufType::kString ||
      tokens->strings.empty()) {
    return fail(Status::invalid_argument("'" + o.vocab_from + "' has no tokenizer.ggml.tokens string array"));
  }
  const auto n_copied = static_cast<int64_t>(tokens->strings.size());
  if (o.vocab_size > 0 && o.vocab_size < n_copied) {
    return fail(Status::invalid_argument("--vocab-size " + std::to_string(o.vocab_size) + " is smaller than the " +
                                         std::to_string(n_copied) + " tokens of '" + o.vocab_from + "'"));
  }
  const int64_t n_vocab = o.vocab_size > 0 ? o.vocab_size : n_copied;
  const int64_t head_dim = head_dim_of(o);

  engine::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", o.name.empty() ? "agentd-random-" + std::to_string(o.dim) + "x" +
                                                    std::to_string(o.layers) + "-" + kind->name
                                              : o.name);
  w.set_uint32("general.alignment", 32);
  w.set_uint32("llama.context_length", static_cast<uint32_t>(o.context_length));
  w.set_uint32("llama.embedding_length", static_cast<uint32_t>(o.dim));
  w.set_uint32("llama.block_count", static_cast<uint32_t>(o.layers));
  w.set_uint32("llama.feed_forward_length", static_cast<uint32_t>(o.ffn));
  w.set_uint32("llama.attention.head_count", static_cast<uint32_t>(o.heads));
  w.set_uint32("llama.attention.head_count_kv", static_cast<uint32_t>(o.kv_heads));
  w.set_uint32("llama.rope.dimension_count", static_cast<uint32_t>(head_dim));
  if (o.head_dim > 0) {
    w.set_uint32("llama.attention.key_length", static_cast<uint32_t>(head_dim));
    w.set_uint32("llama.attention.value_length", static_cast<uint32_t>(head_dim));
  }
  w.set_float32("llama.rope.freq_base", o.rope_base);
  w.set_float32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_uint32("llama.vocab_size", static_cast<uint32_t>(n_vocab));
  w.set_uint32("general.file_type", kind->ftype);
  if (kind->quantized) w.set_uint32("general.quantization_version", 2);
  // Padding tokens (--vocab-size): "<unused_N>", type 5 (unused), score 0.
  std::vector<std::string> pad_names;
  for (int64_t i = n_copied; i < n_vocab; ++i) pad_names.push_back("<unused_" + std::to_string(i) + ">");
  for (const auto& [key, value] : (*vocab)->metadata()) {
    if (key.rfind("tokenizer.", 0) != 0) continue;
    engine::GgufValue padded = value;
    if (!pad_names.empty() && value.type == engine::GgufType::kArray &&
        value.array_size == static_cast<uint64_t>(n_copied)) {
      if (key == "tokenizer.ggml.tokens") padded.strings.insert(padded.strings.end(), pad_names.begin(), pad_names.end());
      if (key == "tokenizer.ggml.scores") padded.floats.resize(static_cast<size_t>(n_vocab), 0.0);
      if (key == "tokenizer.ggml.token_type") padded.ints.resize(static_cast<size_t>(n_vocab), 5);
      padded.array_size = static_cast<uint64_t>(n_vocab);
    }
    if (Status s = w.set_value(key, padded); !s.is_ok()) return fail(s);
  }

  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto pool = std::make_shared<engine::ThreadPool>(threads);
  std::map<std::string, int> type_counts;
  const std::vector<TensorPlan> plan = plan_tensors(o, n_vocab);
  for (size_t ti = 0; ti < plan.size(); ++ti) {
    const TensorPlan& p = plan[ti];
    const TensorType type = p.norm ? TensorType::kF32 : tensor_type_for(*kind, p.role, p.layer, o.layers, p.row);
    const size_t row_bytes = engine::row_bytes(type, p.row);
    if (row_bytes == 0) {
      return fail(Status::internal("tensor '" + p.name + "': the engine cannot encode rows of " +
                                   std::to_string(p.row) + " in the chosen type"));
    }
    const uint64_t key = mix64(o.seed) ^ mix64(ti + 1);
    std::vector<uint64_t> dims = {static_cast<uint64_t>(p.row)};
    if (!p.norm) dims.push_back(static_cast<uint64_t>(p.rows));
    const bool norm = p.norm;
    const int64_t row = p.row, rows = p.rows;
    Status added = w.add_tensor(p.name, type, std::move(dims), [=](uint8_t* dst, uint64_t n_bytes) {
      if (n_bytes != row_bytes * static_cast<uint64_t>(rows)) {
        return Status::internal("size mismatch between the writer and the kernels");
      }
      pool->parallel_for(rows, [&](int64_t begin, int64_t end) {
        std::vector<float> x(static_cast<size_t>(row));
        for (int64_t r = begin; r < end; ++r) {
          normal_row(key + static_cast<uint64_t>(r) * 0x9E3779B97F4A7C15ULL, x.data(), row);
          for (float& v : x) v = norm ? 1.0f + kWeightScale * v : kWeightScale * v;
          engine::quantize_row(type, x.data(), dst + static_cast<size_t>(r) * row_bytes, row);
        }
      });
      return Status::ok();
    });
    if (!added.is_ok()) return fail(added);
    ++type_counts[std::string(engine::tensor_type_traits(type)->name)];
  }
  if (Status s = w.write_file(o.out); !s.is_ok()) return fail(s);

  std::string types;
  for (const auto& [name, count] : type_counts) {
    types += (types.empty() ? "" : ", ") + name + " x" + std::to_string(count);
  }
  std::printf("wrote %s: llama, dim %lld, %lld layers, %lld heads (%lld kv), ffn %lld, vocab %lld, %s (%s)\n",
              o.out.c_str(), static_cast<long long>(o.dim), static_cast<long long>(o.layers),
              static_cast<long long>(o.heads), static_cast<long long>(o.kv_heads), static_cast<long long>(o.ffn),
              static_cast<long long>(n_vocab), kind->name.c_str(), types.c_str());
  return 0;
}

}  // namespace

void register_make_model(CLI::App& app) {
  auto opt = std::make_shared<MakeModelOptions>();
  CLI::App* cmd = app.add_subcommand("make-model", "Write a random-weight Llama GGUF model (for benchmarks)");
  cmd->add_option("--out,-o", opt->out, "Output GGUF path")->required();
  cmd->add_option("--dim", opt->dim, "Model width (embedding length)")->required();
  cmd->add_option("--layers", opt->layers, "Transformer blocks")->required();
  cmd->add_option("--heads", opt->heads, "Query heads")->required();
  cmd->add_option("--kv-heads", opt->kv_heads, "Key/value heads")->required();
  cmd->add_option("--ffn", opt->ffn, "Feed-forward width")->required();
  cmd->add_option("--vocab-from", opt->vocab_from, "GGUF file whose tokenizer.* keys are copied")->required();
  cmd->add_option("--type", opt->type, "F32, F16, Q8_0, Q4_0, Q5_0 or Q4_K_M")->required();
  cmd->add_option("--seed", opt->seed, "Weight seed (default 42)");
  cmd->add_option("--head-dim", opt->head_dim, "Head width (default --dim / --heads)");
  cmd->add_option("--vocab-size", opt->vocab_size, "Pad the vocabulary with unused tokens to this size");
  cmd->add_flag("--tied", opt->tied, "No output.weight: logits use token_embd");
  cmd->add_option("--rope-base", opt->rope_base, "llama.rope.freq_base (default 10000)");
  cmd->add_option("--context-length", opt->context_length, "llama.context_length (default 2048)");
  cmd->add_option("--name", opt->name, "general.name");
  cmd->add_option("--threads,-t", opt->threads, "Worker threads (default: all cores)")->check(CLI::Range(1, 1024));
  cmd->callback([opt] { exit_code() = run_make_model(*opt); });
}

}  // namespace agentd::app
