// The forward pass of every family (engine/arch/ says which steps each has).
// One layer, top to bottom, for T batch tokens:
//   h   = rmsnorm(x) * attn_norm                         [T x n_embd]
//   q,k,v = h Wq (+bq), h Wk (+bk), h Wv (+bv)            [T x q_dim], [T x kv_dim] x2
//   [qk_norm] q, k = rmsnorm per head * q_norm, k_norm
//   rope(q, k) at each token's position (the layer's frequencies; not on
//   NoPE layers); [query_scale] q *= query_scale; k, v -> the cache (F16)
//   a   = softmax(q k^T * scale [softcapped], causal [last `window`
//         positions]) v                                  per head; GQA shares kv heads
//   h   = a Wo; [post_norms] h = rmsnorm(h) * post_attention_norm; x += h
//   h   = rmsnorm(x) * ffn_norm
//   h   = (act(h Wgate) * (h Wup)) Wdown, act SiLU or GELU; [post_norms] h = rmsnorm(h) * post_ffw_norm
//   x  += h
// then logits = rmsnorm(x) * output_norm  Woutput [softcapped] for the rows that want them.
// The arithmetic follows ggml's (float RMSNorm with a double sum, F16 K/V and
// F16-rounded queries and attention weights) so logits track llama.cpp's.
// Every step computes each token's row in one fixed order (matmul: kernels.h;
// attention: attention.h; SiLU: activation.h), so a sequence's logits are the
// same bits alone or batched, with any thread count and instruction set.
// Small steps run on the calling thread (kMinParallelWork); activations live
// in a per-thread workspace reused across calls.

#include "engine/model.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <utility>

#include "engine/kernels/activation.h"
#include "engine/arch/architecture.h"
#include "engine/kernels/attention.h"
#include "engine/kernels/kernels.h"
#include "engine/kernels/quants.h"
#include "engine/thread_pool.h"

namespace agentd::engine {

namespace {

constexpr int64_t kMaxContext = int64_t{1} << 24;
constexpr int64_t kMaxDim = int64_t{1} << 20;

std::string shape_string(const std::vector<uint64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// Below this many multiply-adds a step stays on the calling thread: waking
// the pool costs more than it saves.
constexpr int64_t kMinParallelWork = 1 << 16;

// ggml's RMSNorm: squares summed in double (here in 4 lanes, i % 4, then
// (l0 + l1) + (l2 + l3), so the compiler can vectorize it), scale in float.
void rms_norm(const float* x, const float* w, float* out, int64_t n, float eps) {
  double lanes[4] = {0.0, 0.0, 0.0, 0.0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int l = 0; l < 4; ++l) lanes[l] += static_cast<double>(x[i + l]) * x[i + l];
  }
  for (; i < n; ++i) lanes[i % 4] += static_cast<double>(x[i]) * x[i];
  const double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (i = 0; i < n; ++i) out[i] = (x[i] * scale) * w[i];
}

// y = x W^T for one matrix, optionally with work on finished rows
// (MatmulTarget::done: f(begin, end) on the thread that computed them).
struct Product {
  const Matrix* w;
  float* y;
  void (*done)(void* f, int64_t begin, int64_t end) = nullptr;
  void* done_f = nullptr;
  int64_t done_align = 1;
};

template <typename F>
Product product(const Matrix& w, float* y, F& rows_done, int64_t align) {
  return Product{&w, y, [](void* f, int64_t b, int64_t e) { (*static_cast<F*>(f))(b, e); }, &rows_done, align};
}

MatmulTarget target(const Product& p) {
  const Matrix& w = *p.w;
  return MatmulTarget{w.data, w.rows, p.y, p.done, p.done_f, p.done_align};
}

// Several matrices applied to the same x: one matmul_group when they share
// type and width (one conversion of x, one round of the threads).
void run_matmuls(std::initializer_list<Product> ps, const float* x, int64_t m, ThreadPool* pool) {
  const Matrix& first = *ps.begin()->w;
  const bool same = std::all_of(ps.begin(), ps.end(), [&](const Product& p) {
    return p.w->type == first.type && p.w->cols == first.cols;
  });
  MatmulTarget targets[4];
  size_t count = 0;
  for (const Product& p : ps) targets[count++] = target(p);
  if (!same) {
    for (size_t i = 0; i < count; ++i) {
      const Matrix& w = *(ps.begin() + i)->w;
      matmul_group(w.type, w.cols, std::span<const MatmulTarget>(&targets[i], 1), x, m, pool);
    }
    return;
  }
  matmul_group(first.type, first.cols, std::span<const MatmulTarget>(targets, count), x, m, pool);
}

void run_matmul(const Matrix& w, const float* x, int64_t m, float* y, ThreadPool* pool) {
  run_matmuls({Product{&w, y}}, x, m, pool);
}

// fn(begin, end) over [0, n), on the pool when n * work_per_item is large.
template <typename F>
void for_range(ThreadPool* pool, int64_t n, int64_t work_per_item, F&& fn) {
  if (pool == nullptr || n <= 1 || n * work_per_item < kMinParallelWork) {
    fn(int64_t{0}, n);
  } else {
    pool->parallel_for(n, fn);
  }
}

// Grows `v` to at least n elements (never shrinks: the workspace is reused).
template <typename T>
T* at_least(std::vector<T>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  return v.data();
}

// One attention tile of a forward pass: rows of one sequence and KV head.
struct AttentionJob {
  int64_t seq = 0;
  int64_t kv_head = 0;
  int64_t work = 0;  // rows * keys, for load balance decisions
  AttentionTile tile;
};

// Activation buffers of forward(), per calling thread, reused across calls.
struct Workspace {
  std::vector<float> x, h, q, k, v, att, gate, up, normed;
  std::vector<float> rope_cs;  // [token][n_rot / 2][cos, sin]
  std::vector<int64_t> tok_seq, tok_pos, out_rows;
  std::vector<AttentionJob> jobs;
  std::vector<int64_t> part_begin;  // [n_threads + 1]: jobs of each thread
};

Workspace& workspace() {
  thread_local Workspace ws;
  return ws;
}

// A workspace larger than this (a long prefill) is freed after the call
// instead of staying resident on its thread; small batches (decode steps)
// keep theirs.
constexpr size_t kKeepWorkspaceBytes = size_t{16} << 20;

void trim(Workspace& ws) {
  size_t bytes = 0;
  for (const std::vector<float>* v : {&ws.x, &ws.h, &ws.q, &ws.k, &ws.v, &ws.att, &ws.gate, &ws.up, &ws.normed}) {
    bytes += v->capacity() * sizeof(float);
  }
  if (bytes > kKeepWorkspaceBytes) ws = Workspace();
}

}  // namespace

StatusOr<std::unique_ptr<Model>> Model::load(const std::string& path) {
  AGENTD_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::open(path));
  return from_gguf(std::move(file));
}

StatusOr<std::unique_ptr<Model>> Model::from_gguf(std::unique_ptr<GgufFile> file) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  AGENTD_RETURN_IF_ERROR(m->load_weights());
  return m;
}

Status Model::load_weights() {
  const GgufFile& f = *file_;
  const std::string what = "model '" + f.path() + "'";
  ModelConfig& c = config_;

  auto arch_name = f.get_string("general.architecture");
  if (!arch_name) return Status::invalid_argument(what + ": no general.architecture in the metadata");
  c.architecture = std::string(*arch_name);
  const Architecture* arch = find_architecture(c.architecture);
  if (arch == nullptr) {
    return Status::unimplemented(what + ": unsupported architecture '" + c.architecture + "' (supported: " +
                                 architecture_names() + ")");
  }
  c.rope_style = arch->rope_style;
  c.name = std::string(f.get_string("general.name").value_or(""));
  const Hyperparameters hp(f, c.architecture, what);
  const std::string a = c.architecture + ".";

  AGENTD_RETURN_IF_ERROR(hp.need_int("embedding_length", 1, kMaxDim, c.n_embd));
  AGENTD_RETURN_IF_ERROR(hp.need_int("block_count", 1, 4096, c.n_layer));
  AGENTD_RETURN_IF_ERROR(hp.need_int("attention.head_count", 1, 4096, c.n_head));
  c.n_head_kv = c.n_head;
  if (hp.has("attention.head_count_kv")) {
    AGENTD_RETURN_IF_ERROR(hp.need_int("attention.head_count_kv", 1, c.n_head, c.n_head_kv));
  }
  if (c.n_head % c.n_head_kv != 0) {
    return Status::invalid_argument(what + ": head count " + std::to_string(c.n_head) +
                                    " is not a multiple of the KV head count " + std::to_string(c.n_head_kv));
  }
  AGENTD_RETURN_IF_ERROR(hp.need_int("feed_forward_length", 1, kMaxDim, c.n_ff));
  AGENTD_RETURN_IF_ERROR(hp.need_int("context_length", 1, kMaxContext, c.n_ctx_train));
  if (hp.has("attention.key_length")) {
    AGENTD_RETURN_IF_ERROR(hp.need_int("attention.key_length", 1, kMaxDim, c.head_dim));
    int64_t vlen = c.head_dim;
    if (hp.has("attention.value_length")) {
      AGENTD_RETURN_IF_ERROR(hp.need_int("attention.value_length", 1, kMaxDim, vlen));
    }
    if (vlen != c.head_dim) {
      return Status::unimplemented(what + ": key length " + std::to_string(c.head_dim) + " != value length " +
                                   std::to_string(vlen));
    }
  } else {
    if (c.n_embd % c.n_head != 0) {
      return Status::invalid_argument(what + ": embedding length " + std::to_string(c.n_embd) +
                                      " is not a multiple of the head count " + std::to_string(c.n_head));
    }
    c.head_dim = c.n_embd / c.n_head;
  }
  c.n_rot = c.head_dim;
  if (hp.has("rope.dimension_count")) {
    AGENTD_RETURN_IF_ERROR(hp.need_int("rope.dimension_count", 2, c.head_dim, c.n_rot));
  }
  if (c.n_rot % 2 != 0) return Status::invalid_argument(what + ": odd rope dimension count " + std::to_string(c.n_rot));

  auto eps = hp.get_float("attention.layer_norm_rms_epsilon");
  if (!eps) return Status::invalid_argument(what + ": metadata '" + a + "attention.layer_norm_rms_epsilon' is missing");
  if (!(*eps > 0.0 && *eps < 1.0)) {
    return Status::invalid_argument(what + ": RMSNorm epsilon " + std::to_string(*eps) + " is out of range");
  }
  c.rms_eps = static_cast<float>(*eps);
  RopeFrequencies& rope = c.rope.front();
  if (auto base = hp.get_float("rope.freq_base")) {
    if (!(*base > 1.0 && *base < 1e12)) {
      return Status::invalid_argument(what + ": rope freq base " + std::to_string(*base) + " is out of range");
    }
    rope.base = static_cast<float>(*base);
  }
  std::string scaling = std::string(f.get_string(a + "rope.scaling.type").value_or("none"));
  double factor = hp.get_float("rope.scaling.factor").value_or(0.0);
  if (auto lin = hp.get_float("rope.scale_linear")) {  // older files
    scaling = "linear";
    factor = *lin;
  }
  if (scaling == "linear" && factor != 0.0 && factor != 1.0) {
    if (!(factor > 0.0 && factor < 1e6)) {
      return Status::invalid_argument(what + ": rope scaling factor " + std::to_string(factor) + " is out of range");
    }
    rope.scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none" && scaling != "linear") {
    return Status::unimplemented(what + ": rope scaling type '" + scaling + "' is not supported");
  }
  AGENTD_RETURN_IF_ERROR(arch->configure(hp, c));
  if (c.layers.size() != static_cast<size_t>(c.n_layer)) {
    return Status::internal(what + ": architecture '" + c.architecture + "' described " +
                            std::to_string(c.layers.size()) + " layers of " + std::to_string(c.n_layer));
  }

  // Tensors. Every shape is checked against the configuration.
  auto tensor = [&](const std::string& name, std::vector<uint64_t> dims, const GgufTensorInfo** out,
                    bool optional) -> Status {
    const GgufTensorInfo* t = f.find_tensor(name);
    *out = t;
    if (t == nullptr) {
      return optional ? Status::ok() : Status::invalid_argument(what + ": tensor '" + name + "' is missing");
    }
    if (t->dims != dims) {
      return Status::invalid_argument(what + ": tensor '" + name + "' has shape " + shape_string(t->dims) +
                                      ", expected " + shape_string(dims));
    }
    const TensorTypeTraits* tr = tensor_type_traits(t->type);
    if (tr == nullptr || !tr->supported) {
      return Status::unimplemented(what + ": tensor '" + name + "' has unsupported type " +
                                   std::string(tr ? tr->name : "?"));
    }
    return Status::ok();
  };
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols, Matrix& out, bool optional = false) -> Status {
    const GgufTensorInfo* t = nullptr;
    AGENTD_RETURN_IF_ERROR(
        tensor(name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}, &t, optional));
    if (t == nullptr) return Status::ok();
    if (!can_matmul(t->type)) {
      return Status::unimplemented(what + ": tensor '" + name + "' has type " +
                                   std::string(tensor_type_traits(t->type)->name) + ", which the kernels cannot multiply");
    }
    out = Matrix{t->type, t->data, rows, cols};
    return Status::ok();
  };
  // Small vectors (norms, biases) are converted to float once.
  auto vec = [&](const std::string& name, int64_t n, std::vector<float>& out, bool optional = false) -> Status {
    const GgufTensorInfo* t = nullptr;
    AGENTD_RETURN_IF_ERROR(tensor(name, {static_cast<uint64_t>(n)}, &t, optional));
    if (t != nullptr) {
      out.resize(static_cast<size_t>(n));
      dequantize_row(t->type, t->data, out.data(), n);
    }
    return Status::ok();
  };

  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return Status::invalid_argument(what + ": tensor 'token_embd.weight' is missing");
  if (embd->dims.size() != 2 || embd->dims[1] == 0 || embd->dims[1] > (uint64_t{1} << 30)) {
    return Status::invalid_argument(what + ": tensor 'token_embd.weight' has shape " + shape_string(embd->dims));
  }
  c.n_vocab = static_cast<int64_t>(embd->dims[1]);
  AGENTD_RETURN_IF_ERROR(matrix("token_embd.weight", c.n_vocab, c.n_embd, token_embd_));
  AGENTD_RETURN_IF_ERROR(vec("output_norm.weight", c.n_embd, output_norm_));
  AGENTD_RETURN_IF_ERROR(matrix("output.weight", c.n_vocab, c.n_embd, output_, /*optional=*/true));
  c.tied_output = output_.data == nullptr;
  if (c.tied_output) output_ = token_embd_;
  AGENTD_RETURN_IF_ERROR(vec("rope_freqs.weight", c.n_rot / 2, rope_freq_factors_, /*optional=*/true));
  for (float ff : rope_freq_factors_) {
    if (!(ff > 0.0f) || !std::isfinite(ff)) return Status::invalid_argument(what + ": invalid rope frequency factor");
  }

  // A fused matrix is split into views of consecutive rows: the same bytes,
  // each part multiplied as if it were stored alone.
  auto rows_of = [](const Matrix& m, int64_t first, int64_t count) {
    return Matrix{m.type, m.data + static_cast<size_t>(first) * row_bytes(m.type, m.cols), count, m.cols};
  };
  layers_.resize(static_cast<size_t>(c.n_layer));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    Layer& L = layers_[static_cast<size_t>(l)];
    AGENTD_RETURN_IF_ERROR(vec(p + "attn_norm.weight", c.n_embd, L.attn_norm));
    if (c.fused_qkv) {
      Matrix qkv;
      AGENTD_RETURN_IF_ERROR(matrix(p + "attn_qkv.weight", c.q_dim() + 2 * c.kv_dim(), c.n_embd, qkv));
      L.wq = rows_of(qkv, 0, c.q_dim());
      L.wk = rows_of(qkv, c.q_dim(), c.kv_dim());
      L.wv = rows_of(qkv, c.q_dim() + c.kv_dim(), c.kv_dim());
    } else {
      AGENTD_RETURN_IF_ERROR(matrix(p + "attn_q.weight", c.q_dim(), c.n_embd, L.wq));
      AGENTD_RETURN_IF_ERROR(matrix(p + "attn_k.weight", c.kv_dim(), c.n_embd, L.wk));
      AGENTD_RETURN_IF_ERROR(matrix(p + "attn_v.weight", c.kv_dim(), c.n_embd, L.wv));
      AGENTD_RETURN_IF_ERROR(vec(p + "attn_q.bias", c.q_dim(), L.bq, !c.qkv_bias));
      AGENTD_RETURN_IF_ERROR(vec(p + "attn_k.bias", c.kv_dim(), L.bk, !c.qkv_bias));
      AGENTD_RETURN_IF_ERROR(vec(p + "attn_v.bias", c.kv_dim(), L.bv, !c.qkv_bias));
    }
    if (c.qk_norm) {
      AGENTD_RETURN_IF_ERROR(vec(p + "attn_q_norm.weight", c.head_dim, L.q_norm));
      AGENTD_RETURN_IF_ERROR(vec(p + "attn_k_norm.weight", c.head_dim, L.k_norm));
    }
    AGENTD_RETURN_IF_ERROR(matrix(p + "attn_output.weight", c.n_embd, c.q_dim(), L.wo));
    AGENTD_RETURN_IF_ERROR(vec(p + "ffn_norm.weight", c.n_embd, L.ffn_norm));
    if (c.fused_gate_up) {
      Matrix gate_up;
      AGENTD_RETURN_IF_ERROR(matrix(p + "ffn_up.weight", 2 * c.n_ff, c.n_embd, gate_up));
      L.w_gate = rows_of(gate_up, 0, c.n_ff);
      L.w_up = rows_of(gate_up, c.n_ff, c.n_ff);
    } else {
      AGENTD_RETURN_IF_ERROR(matrix(p + "ffn_gate.weight", c.n_ff, c.n_embd, L.w_gate));
      AGENTD_RETURN_IF_ERROR(matrix(p + "ffn_up.weight", c.n_ff, c.n_embd, L.w_up));
    }
    AGENTD_RETURN_IF_ERROR(matrix(p + "ffn_down.weight", c.n_embd, c.n_ff, L.w_down));
    if (c.post_norms) {
      AGENTD_RETURN_IF_ERROR(vec(p + "post_attention_norm.weight", c.n_embd, L.post_attn_norm));
      AGENTD_RETURN_IF_ERROR(vec(p + "post_ffw_norm.weight", c.n_embd, L.post_ffn_norm));
    }
  }
  // Activations are converted to vec_dot_type(W) per row, whose block must
  // divide the row too (Q8_K: 256 for K-quant weights, guaranteed by their own
  // block; checked anyway for odd files).
  auto check_row = [&](const Matrix& m, const std::string& name) -> Status {
    const TensorTypeTraits* tr = tensor_type_traits(vec_dot_type(m.type));
    if (tr == nullptr || m.cols % tr->block_size != 0) {
      return Status::invalid_argument(what + ": tensor '" + name + "' rows of " + std::to_string(m.cols) +
                                      " do not fit its activation encoding");
    }
    return Status::ok();
  };
  AGENTD_RETURN_IF_ERROR(check_row(output_, "output.weight"));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const Layer& L = layers_[static_cast<size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const auto& [m, n] : {std::pair{&L.wq, "attn_q"}, {&L.wk, "attn_k"}, {&L.wv, "attn_v"},
                               {&L.wo, "attn_output"}, {&L.w_gate, "ffn_gate"}, {&L.w_up, "ffn_up"},
                               {&L.w_down, "ffn_down"}}) {
      AGENTD_RETURN_IF_ERROR(check_row(*m, p + n + ".weight"));
    }
  }
  return Status::ok();
}

std::unique_ptr<KvCache> Model::new_cache(int64_t max_tokens) const {
  if (max_tokens <= 0 || max_tokens > config_.n_ctx_train) max_tokens = config_.n_ctx_train;
  return std::make_unique<KvCache>(config_.n_layer, config_.kv_dim(), max_tokens);
}

Status Model::forward(std::span<const SequenceBatch> batch, std::vector<float>& logits, ThreadPool* pool) const {
  const ModelConfig& c = config_;
  if (batch.empty()) return Status::invalid_argument("forward: empty batch");
  // Validate everything before any cache changes.
  int64_t n_tok = 0, n_out = 0;
  for (size_t s = 0; s < batch.size(); ++s) {
    const SequenceBatch& sb = batch[s];
    if (sb.cache == nullptr || sb.cache->n_layer() != c.n_layer || sb.cache->kv_dim() != c.kv_dim()) {
      return Status::invalid_argument("forward: sequence " + std::to_string(s) + " has no cache for this model");
    }
    for (size_t o = 0; o < s; ++o) {
      if (batch[o].cache == sb.cache) return Status::invalid_argument("forward: one cache used twice in a batch");
    }
    if (sb.tokens.empty()) return Status::invalid_argument("forward: sequence " + std::to_string(s) + " has no tokens");
    const int64_t need = sb.cache->size() + static_cast<int64_t>(sb.tokens.size());
    if (need > sb.cache->max_tokens()) {
      return Status::invalid_argument("context overflow: " + std::to_string(need) + " tokens (" +
                                      std::to_string(sb.cache->size()) + " cached + " +
                                      std::to_string(sb.tokens.size()) + " new) exceed the context of " +
                                      std::to_string(sb.cache->max_tokens()) + " tokens");
    }
    for (int32_t id : sb.tokens) {
      if (id < 0 || id >= c.n_vocab) {
        return Status::invalid_argument("forward: token id " + std::to_string(id) + " is outside the vocabulary of " +
                                        std::to_string(c.n_vocab));
      }
    }
    n_tok += static_cast<int64_t>(sb.tokens.size());
    n_out += sb.all_logits ? static_cast<int64_t>(sb.tokens.size()) : 1;
  }

  Workspace& ws = workspace();
  const int64_t n_embd = c.n_embd, q_dim = c.q_dim(), kv_dim = c.kv_dim(), hd = c.head_dim;

  // Per batch token: its sequence, position and whether it yields logits.
  int64_t* tok_seq = at_least(ws.tok_seq, n_tok);
  int64_t* tok_pos = at_least(ws.tok_pos, n_tok);
  int64_t* out_rows = at_least(ws.out_rows, n_out);
  float* x = at_least(ws.x, n_tok * n_embd);
  const size_t embd_row = row_bytes(token_embd_.type, n_embd);
  {
    int64_t t = 0, o = 0;
    for (size_t s = 0; s < batch.size(); ++s) {
      const SequenceBatch& sb = batch[s];
      sb.cache->reserve_more(static_cast<int64_t>(sb.tokens.size()));
      for (size_t i = 0; i < sb.tokens.size(); ++i, ++t) {
        float* xt = x + t * n_embd;
        dequantize_row(token_embd_.type, token_embd_.data + static_cast<size_t>(sb.tokens[i]) * embd_row, xt, n_embd);
        if (c.embedding_scale != 1.0f) {
          for (int64_t j = 0; j < n_embd; ++j) xt[j] *= c.embedding_scale;
        }
        tok_seq[t] = static_cast<int64_t>(s);
        tok_pos[t] = sb.cache->size() + static_cast<int64_t>(i);
        if (sb.all_logits || i + 1 == sb.tokens.size()) out_rows[o++] = t;
      }
    }
  }

  float* h = at_least(ws.h, n_tok * n_embd);
  float* q = at_least(ws.q, n_tok * q_dim);
  float* k = at_least(ws.k, n_tok * kv_dim);
  float* v = at_least(ws.v, n_tok * kv_dim);
  float* att = at_least(ws.att, n_tok * q_dim);
  float* gate = at_least(ws.gate, n_tok * c.n_ff);
  float* up = at_least(ws.up, n_tok * c.n_ff);

  // Rotary cos/sin per token and frequency set, once for all layers and
  // heads, as ggml's rope: theta_i = pos * base^(-2i/n_rot) (times the set's
  // scale, divided by the optional frequency factor), the power by repeated
  // multiplication in float. Set k of token t is at rope_cs + (k * n_tok + t) * n_rot.
  const int64_t half = c.n_rot / 2;
  const auto n_sets = static_cast<int64_t>(c.rope.size());
  float* rope_cs = at_least(ws.rope_cs, n_sets * n_tok * half * 2);
  for (int64_t k = 0; k < n_sets; ++k) {
    const RopeFrequencies& fr = c.rope[static_cast<size_t>(k)];
    const float theta_scale = std::pow(fr.base, -2.0f / static_cast<float>(c.n_rot));
    for (int64_t t = 0; t < n_tok; ++t) {
      float theta = static_cast<float>(tok_pos[t]);
      float* cs = rope_cs + (k * n_tok + t) * half * 2;
      for (int64_t i = 0; i < half; ++i) {
        const float ff = rope_freq_factors_.empty() ? 1.0f : rope_freq_factors_[static_cast<size_t>(i)];
        const float a = fr.scale * (theta / ff);
        cs[2 * i] = std::cos(a);
        cs[2 * i + 1] = std::sin(a);
        theta *= theta_scale;
      }
    }
  }
  const bool neox = c.rope_style == RopeStyle::kNeox;
  auto rope = [&](float* vec, int64_t n_heads, const float* cs) {
    for (int64_t hh = 0; hh < n_heads; ++hh) {
      float* u = vec + hh * hd;
      for (int64_t i = 0; i < half; ++i) {
        const float cos_t = cs[2 * i], sin_t = cs[2 * i + 1];
        const int64_t i0 = neox ? i : 2 * i;
        const int64_t i1 = neox ? i + half : 2 * i + 1;
        const float x0 = u[i0], x1 = u[i1];
        u[i0] = x0 * cos_t - x1 * sin_t;
        u[i1] = x0 * sin_t + x1 * cos_t;
      }
    }
  };

  // Attention tiles: for each sequence and KV head, the query heads of its
  // group for up to kMaxTileRows / group consecutive tokens (groups wider
  // than a tile are split by heads). Built once; the same for every layer.
  // A decode step has only n_head_kv tiles per sequence; when that is too
  // few to keep every thread busy, tiles hold one row each (a row's result
  // does not depend on its tile, attention.h).
  const int64_t group = c.n_head / c.n_head_kv;
  const int n_threads = pool != nullptr ? pool->n_threads() : 1;
  int64_t heads_per_tile = std::min<int64_t>(group, kMaxTileRows);
  int64_t tokens_per_tile = std::max<int64_t>(1, kMaxTileRows / group);
  if (n_threads > 1 && static_cast<int64_t>(batch.size()) * c.n_head_kv < 2 * n_threads &&
      n_tok <= static_cast<int64_t>(batch.size())) {
    heads_per_tile = 1;
    tokens_per_tile = 1;
  }
  ws.jobs.clear();
  int64_t attention_work = 0;
  {
    int64_t t0 = 0;
    for (size_t s = 0; s < batch.size(); ++s) {
      const int64_t n_seq_tok = static_cast<int64_t>(batch[s].tokens.size());
      for (int64_t g = 0; g < c.n_head_kv; ++g) {
        for (int64_t ta = 0; ta < n_seq_tok; ta += tokens_per_tile) {
          for (int64_t h0 = 0; h0 < group; h0 += heads_per_tile) {
            AttentionJob job;
            job.seq = static_cast<int64_t>(s);
            job.kv_head = g;
            for (int64_t t = t0 + ta; t < t0 + std::min(n_seq_tok, ta + tokens_per_tile); ++t) {
              for (int64_t hh = h0; hh < std::min(group, h0 + heads_per_tile); ++hh) {
                const int64_t head = g * group + hh;
                const int r = job.tile.n_rows++;
                job.tile.q[r] = q + t * q_dim + head * hd;
                job.tile.out[r] = att + t * q_dim + head * hd;
                job.tile.n_kv[r] = tok_pos[t] + 1;
                job.work += tok_pos[t] + 1;
              }
            }
            attention_work += job.work;
            ws.jobs.push_back(job);
          }
        }
      }
      t0 += n_seq_tok;
    }
  }
  // Scores are scaled in the attention kernel, or queries before it.
  const float att_scale = c.query_scale > 0.0f ? 1.0f : 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t n_jobs = static_cast<int64_t>(ws.jobs.size());
  // Jobs split into n_threads contiguous parts of about equal work (a
  // prefill's later tokens attend to more keys).
  int64_t* part_begin = at_least(ws.part_begin, n_threads + 1);
  {
    int64_t acc = 0, part = 1;
    part_begin[0] = 0;
    for (int64_t j = 0; j < n_jobs && part < n_threads; ++j) {
      acc += ws.jobs[static_cast<size_t>(j)].work;
      while (part < n_threads && acc * n_threads >= attention_work * part) part_begin[part++] = j + 1;
    }
    while (part <= n_threads) part_begin[part++] = n_jobs;
  }
  const bool attention_parallel = n_threads > 1 && attention_work * hd * 2 >= kMinParallelWork;

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const Layer& L = layers_[static_cast<size_t>(l)];
    const LayerAttention& la = c.layers[static_cast<size_t>(l)];
    const float* layer_cs = rope_cs + la.frequencies * n_tok * half * 2;
    // The previous layer's FFN residual (h holds its output), then the norm.
    for_range(pool, n_tok, n_embd, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        float* xt = x + t * n_embd;
        if (l > 0) {
          const float* ht = h + t * n_embd;
          for (int64_t i = 0; i < n_embd; ++i) xt[i] += ht[i];
        }
        rms_norm(xt, L.attn_norm.data(), h + t * n_embd, n_embd, c.rms_eps);
      }
    });
    // Biases, rotation and the cache write of rows [b, e) of Q, K or V (whole
    // heads), every token, on the thread that computed those rows: the K/V
    // stores' cache misses then overlap the rest of the matmul instead of
    // running on the caller between rounds.
    auto add_bias = [&](float* y, const std::vector<float>& bias, int64_t b, int64_t e) {
      if (bias.empty()) return;
      for (int64_t i = b; i < e; ++i) y[i] += bias[static_cast<size_t>(i)];
    };
    auto head_norm = [&](float* y, const std::vector<float>& w, int64_t b, int64_t e) {
      if (w.empty()) return;
      for (int64_t i = b; i < e; i += hd) rms_norm(y + i, w.data(), y + i, hd, c.rms_eps);
    };
    auto q_done = [&](int64_t b, int64_t e) {
      for (int64_t t = 0; t < n_tok; ++t) {
        float* qt = q + t * q_dim;
        add_bias(qt, L.bq, b, e);
        head_norm(qt, L.q_norm, b, e);
        if (la.rope) rope(qt + b, (e - b) / hd, layer_cs + t * half * 2);
        if (c.query_scale > 0.0f) {
          for (int64_t i = b; i < e; ++i) qt[i] *= c.query_scale;
        }
      }
    };
    auto k_done = [&](int64_t b, int64_t e) {
      for (int64_t t = 0; t < n_tok; ++t) {
        float* kt = k + t * kv_dim;
        add_bias(kt, L.bk, b, e);
        head_norm(kt, L.k_norm, b, e);
        if (la.rope) rope(kt + b, (e - b) / hd, layer_cs + t * half * 2);
        batch[static_cast<size_t>(tok_seq[t])].cache->store_keys(l, tok_pos[t], kt, b, e);
      }
    };
    auto v_done = [&](int64_t b, int64_t e) {
      for (int64_t t = 0; t < n_tok; ++t) {
        float* vt = v + t * kv_dim;
        add_bias(vt, L.bv, b, e);
        batch[static_cast<size_t>(tok_seq[t])].cache->store_values(l, tok_pos[t], vt, b, e);
      }
    };
    run_matmuls({product(L.wq, q, q_done, hd), product(L.wk, k, k_done, hd), product(L.wv, v, v_done, 1)}, h, n_tok,
                pool);
    auto attend_jobs = [&](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j) {
        const AttentionJob& job = ws.jobs[static_cast<size_t>(j)];
        const KvCache& cache = *batch[static_cast<size_t>(job.seq)].cache;
        KvHeadView view;
        view.keys = cache.key_block(l, 0) + job.kv_head * hd * kKeyBlock;
        view.key_block_stride = kKeyBlock * kv_dim;
        view.values = cache.value(l, 0) + job.kv_head * hd;
        view.value_stride = kv_dim;
        view.head_dim = hd;
        view.scale = att_scale;
        view.softcap = c.attn_softcap;
        if (la.window > 0) {  // each row attends to its last `window` positions
          AttentionTile tile = job.tile;
          for (int r = 0; r < tile.n_rows; ++r) tile.kv_begin[r] = std::max<int64_t>(0, tile.n_kv[r] - la.window);
          attend(view, tile);
        } else {
          attend(view, job.tile);
        }
      }
    };
    if (attention_parallel) {
      pool->parallel_for(n_threads, [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) attend_jobs(part_begin[p], part_begin[p + 1]);
      });
    } else {
      attend_jobs(0, n_jobs);
    }
    run_matmul(L.wo, att, n_tok, h, pool);
    // Residual (after the post-attention norm, if any), then the FFN norm, per token.
    for_range(pool, n_tok, n_embd, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        float* xt = x + t * n_embd;
        float* ht = h + t * n_embd;
        if (!L.post_attn_norm.empty()) rms_norm(ht, L.post_attn_norm.data(), ht, n_embd, c.rms_eps);
        for (int64_t i = 0; i < n_embd; ++i) xt[i] += ht[i];
        rms_norm(xt, L.ffn_norm.data(), h + t * n_embd, n_embd, c.rms_eps);
      }
    });
    run_matmuls({Product{&L.w_gate, gate}, Product{&L.w_up, up}}, h, n_tok, pool);
    for_range(pool, n_tok, c.n_ff * 8, [&](int64_t b, int64_t e) {
      if (c.ffn_activation == FfnActivation::kGelu) {
        gelu_mul(gate + b * c.n_ff, up + b * c.n_ff, (e - b) * c.n_ff);
      } else {
        silu_mul(gate + b * c.n_ff, up + b * c.n_ff, (e - b) * c.n_ff);
      }
    });
    run_matmul(L.w_down, gate, n_tok, h, pool);
    if (!L.post_ffn_norm.empty()) {
      for_range(pool, n_tok, n_embd, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) rms_norm(h + t * n_embd, L.post_ffn_norm.data(), h + t * n_embd, n_embd, c.rms_eps);
      });
    }
  }
  for (int64_t r = 0; r < n_out; ++r) {  // the last layer's FFN residual, for the rows that need it
    float* xt = x + out_rows[r] * n_embd;
    const float* ht = h + out_rows[r] * n_embd;
    for (int64_t i = 0; i < n_embd; ++i) xt[i] += ht[i];
  }

  float* normed = at_least(ws.normed, n_out * n_embd);
  for (int64_t r = 0; r < n_out; ++r) {
    rms_norm(x + out_rows[r] * n_embd, output_norm_.data(), normed + r * n_embd, n_embd, c.rms_eps);
  }
  logits.resize(static_cast<size_t>(n_out * c.n_vocab));
  run_matmul(output_, normed, n_out, logits.data(), pool);
  if (c.final_softcap > 0.0f) {
    const float inv = 1.0f / c.final_softcap;
    for (float& v : logits) v = c.final_softcap * std::tanh(v * inv);
  }

  for (const SequenceBatch& sb : batch) sb.cache->commit(sb.tokens);
  trim(ws);
  return Status::ok();
}

}  // namespace agentd::engine
