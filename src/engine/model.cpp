// Llama / Qwen2 forward pass. One layer, top to bottom, for T batch tokens:
//   h   = rmsnorm(x) * attn_norm                         [T x n_embd]
//   q,k,v = h Wq (+bq), h Wk (+bk), h Wv (+bv)            [T x q_dim], [T x kv_dim] x2
//   rope(q, k) at each token's position; k, v -> the sequence's cache (F16)
//   a   = softmax(q k^T / sqrt(head_dim), causal) v       per head; GQA shares kv heads
//   x  += a Wo
//   h   = rmsnorm(x) * ffn_norm
//   x  += (silu(h Wgate) * (h Wup)) Wdown
// then logits = rmsnorm(x) * output_norm  Woutput for the rows that want them.
// The arithmetic follows ggml's (float RMSNorm with a double sum, F16 K/V and
// F16-rounded queries and attention weights) so logits track llama.cpp's.

#include "engine/model.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/kernels.h"
#include "engine/quants.h"
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

void rms_norm(const float* x, const float* w, float* out, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] * scale) * w[i];
}

float round_f16(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }

void run_matmul(const Matrix& w, const float* x, int64_t m, float* y, ThreadPool* pool) {
  matmul(w.type, w.data, w.rows, w.cols, x, m, y, pool);
}

void parallel(ThreadPool* pool, int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (pool == nullptr || n <= 1) {
    fn(0, n);
  } else {
    pool->parallel_for(n, fn);
  }
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

  auto arch = f.get_string("general.architecture");
  if (!arch) return Status::invalid_argument(what + ": no general.architecture in the metadata");
  c.architecture = std::string(*arch);
  if (c.architecture == "llama") {
    c.rope_style = RopeStyle::kNormal;
  } else if (c.architecture == "qwen2") {
    c.rope_style = RopeStyle::kNeox;
  } else {
    return Status::unimplemented(what + ": unsupported architecture '" + c.architecture +
                                 "' (supported: llama, qwen2)");
  }
  c.name = std::string(f.get_string("general.name").value_or(""));
  const std::string a = c.architecture + ".";

  auto need_int = [&](const std::string& key, int64_t lo, int64_t hi, int64_t& out) -> Status {
    auto v = f.get_int(key);
    if (!v) return Status::invalid_argument(what + ": metadata '" + key + "' is missing or not an integer");
    if (*v < lo || *v > hi) {
      return Status::invalid_argument(what + ": metadata '" + key + "' = " + std::to_string(*v) +
                                      " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    out = *v;
    return Status::ok();
  };
  AGENTD_RETURN_IF_ERROR(need_int(a + "embedding_length", 1, kMaxDim, c.n_embd));
  AGENTD_RETURN_IF_ERROR(need_int(a + "block_count", 1, 4096, c.n_layer));
  AGENTD_RETURN_IF_ERROR(need_int(a + "attention.head_count", 1, 4096, c.n_head));
  c.n_head_kv = c.n_head;
  if (f.find(a + "attention.head_count_kv")) {
    AGENTD_RETURN_IF_ERROR(need_int(a + "attention.head_count_kv", 1, c.n_head, c.n_head_kv));
  }
  if (c.n_head % c.n_head_kv != 0) {
    return Status::invalid_argument(what + ": head count " + std::to_string(c.n_head) +
                                    " is not a multiple of the KV head count " + std::to_string(c.n_head_kv));
  }
  AGENTD_RETURN_IF_ERROR(need_int(a + "feed_forward_length", 1, kMaxDim, c.n_ff));
  AGENTD_RETURN_IF_ERROR(need_int(a + "context_length", 1, kMaxContext, c.n_ctx_train));
  if (f.find(a + "attention.key_length")) {
    AGENTD_RETURN_IF_ERROR(need_int(a + "attention.key_length", 1, kMaxDim, c.head_dim));
    int64_t vlen = c.head_dim;
    if (f.find(a + "attention.value_length")) {
      AGENTD_RETURN_IF_ERROR(need_int(a + "attention.value_length", 1, kMaxDim, vlen));
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
  if (f.find(a + "rope.dimension_count")) {
    AGENTD_RETURN_IF_ERROR(need_int(a + "rope.dimension_count", 2, c.head_dim, c.n_rot));
  }
  if (c.n_rot % 2 != 0) return Status::invalid_argument(what + ": odd rope dimension count " + std::to_string(c.n_rot));

  auto eps = f.get_float(a + "attention.layer_norm_rms_epsilon");
  if (!eps) return Status::invalid_argument(what + ": metadata '" + a + "attention.layer_norm_rms_epsilon' is missing");
  if (!(*eps > 0.0 && *eps < 1.0)) {
    return Status::invalid_argument(what + ": RMSNorm epsilon " + std::to_string(*eps) + " is out of range");
  }
  c.rms_eps = static_cast<float>(*eps);
  if (auto base = f.get_float(a + "rope.freq_base")) {
    if (!(*base > 1.0 && *base < 1e12)) {
      return Status::invalid_argument(what + ": rope freq base " + std::to_string(*base) + " is out of range");
    }
    c.rope_freq_base = static_cast<float>(*base);
  }
  std::string scaling = std::string(f.get_string(a + "rope.scaling.type").value_or("none"));
  double factor = f.get_float(a + "rope.scaling.factor").value_or(0.0);
  if (auto lin = f.get_float(a + "rope.scale_linear")) {  // older files
    scaling = "linear";
    factor = *lin;
  }
  if (scaling == "linear" && factor != 0.0 && factor != 1.0) {
    if (!(factor > 0.0 && factor < 1e6)) {
      return Status::invalid_argument(what + ": rope scaling factor " + std::to_string(factor) + " is out of range");
    }
    c.rope_freq_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none" && scaling != "linear") {
    return Status::unimplemented(what + ": rope scaling type '" + scaling + "' is not supported");
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

  layers_.resize(static_cast<size_t>(c.n_layer));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    Layer& L = layers_[static_cast<size_t>(l)];
    AGENTD_RETURN_IF_ERROR(vec(p + "attn_norm.weight", c.n_embd, L.attn_norm));
    AGENTD_RETURN_IF_ERROR(matrix(p + "attn_q.weight", c.q_dim(), c.n_embd, L.wq));
    AGENTD_RETURN_IF_ERROR(matrix(p + "attn_k.weight", c.kv_dim(), c.n_embd, L.wk));
    AGENTD_RETURN_IF_ERROR(matrix(p + "attn_v.weight", c.kv_dim(), c.n_embd, L.wv));
    AGENTD_RETURN_IF_ERROR(matrix(p + "attn_output.weight", c.n_embd, c.q_dim(), L.wo));
    const bool biases_required = c.architecture == "qwen2";
    AGENTD_RETURN_IF_ERROR(vec(p + "attn_q.bias", c.q_dim(), L.bq, !biases_required));
    AGENTD_RETURN_IF_ERROR(vec(p + "attn_k.bias", c.kv_dim(), L.bk, !biases_required));
    AGENTD_RETURN_IF_ERROR(vec(p + "attn_v.bias", c.kv_dim(), L.bv, !biases_required));
    AGENTD_RETURN_IF_ERROR(vec(p + "ffn_norm.weight", c.n_embd, L.ffn_norm));
    AGENTD_RETURN_IF_ERROR(matrix(p + "ffn_gate.weight", c.n_ff, c.n_embd, L.w_gate));
    AGENTD_RETURN_IF_ERROR(matrix(p + "ffn_up.weight", c.n_ff, c.n_embd, L.w_up));
    AGENTD_RETURN_IF_ERROR(matrix(p + "ffn_down.weight", c.n_embd, c.n_ff, L.w_down));
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

// Rotates the first n_rot dimensions of each of n_heads heads of x, as ggml's
// rope: theta_i = pos * base^(-2i/n_rot) (times freq_scale, divided by the
// optional frequency factor), computed by repeated multiplication in float.
void Model::rope(float* x, int64_t n_heads, int64_t pos) const {
  const ModelConfig& c = config_;
  const int64_t half = c.n_rot / 2;
  const float theta_scale = std::pow(c.rope_freq_base, -2.0f / static_cast<float>(c.n_rot));
  // cos/sin for each pair, shared by all heads.
  float cs[2 * 512];
  std::vector<float> big;
  float* cache = cs;
  if (half > 512) {
    big.resize(static_cast<size_t>(2 * half));
    cache = big.data();
  }
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < half; ++i) {
    const float ff = rope_freq_factors_.empty() ? 1.0f : rope_freq_factors_[static_cast<size_t>(i)];
    const float t = c.rope_freq_scale * (theta / ff);
    cache[2 * i] = std::cos(t);
    cache[2 * i + 1] = std::sin(t);
    theta *= theta_scale;
  }
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * c.head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float cos_t = cache[2 * i], sin_t = cache[2 * i + 1];
      const int64_t i0 = c.rope_style == RopeStyle::kNormal ? 2 * i : i;
      const int64_t i1 = c.rope_style == RopeStyle::kNormal ? 2 * i + 1 : i + half;
      const float x0 = v[i0], x1 = v[i1];
      v[i0] = x0 * cos_t - x1 * sin_t;
      v[i1] = x0 * sin_t + x1 * cos_t;
    }
  }
}

// Causal attention of every batch token over its own sequence's cache
// (positions 0..pos). q: [T x q_dim] (roped); out: [T x q_dim].
void Model::attention(int64_t layer, std::span<const SequenceBatch> batch, const std::vector<int64_t>& tok_seq,
                      const std::vector<int64_t>& tok_pos, const float* q, float* out, ThreadPool* pool) const {
  const ModelConfig& c = config_;
  const int64_t n_tok = static_cast<int64_t>(tok_seq.size());
  const int64_t group = c.n_head / c.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  parallel(pool, n_tok * c.n_head, [&](int64_t begin, int64_t end) {
    std::vector<float> qh(static_cast<size_t>(c.head_dim));
    std::vector<float> att;
    std::vector<float> acc(static_cast<size_t>(c.head_dim));
    for (int64_t job = begin; job < end; ++job) {
      const int64_t t = job / c.n_head, h = job % c.n_head;
      const KvCache& cache = *batch[static_cast<size_t>(tok_seq[static_cast<size_t>(t)])].cache;
      const int64_t n_kv = tok_pos[static_cast<size_t>(t)] + 1;
      const int64_t kv_off = (h / group) * c.head_dim;
      const float* qsrc = q + t * c.q_dim() + h * c.head_dim;
      // ggml converts the query to F16 for its dot with the F16 keys.
      for (int64_t i = 0; i < c.head_dim; ++i) qh[static_cast<size_t>(i)] = round_f16(qsrc[i]);
      att.resize(static_cast<size_t>(n_kv));
      float max_score = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < n_kv; ++j) {
        const Half* k = cache.key(layer, j) + kv_off;
        float s = 0.0f;
        for (int64_t i = 0; i < c.head_dim; ++i) s += qh[static_cast<size_t>(i)] * fp16_to_fp32(k[i]);
        s *= scale;
        att[static_cast<size_t>(j)] = s;
        max_score = std::max(max_score, s);
      }
      double sum = 0.0;
      for (int64_t j = 0; j < n_kv; ++j) {
        const float e = std::exp(att[static_cast<size_t>(j)] - max_score);
        att[static_cast<size_t>(j)] = e;
        sum += e;
      }
      const float inv = static_cast<float>(1.0 / sum);
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t j = 0; j < n_kv; ++j) {
        // ggml multiplies V (F16) with the weights converted to F16.
        const float p = round_f16(att[static_cast<size_t>(j)] * inv);
        const Half* v = cache.value(layer, j) + kv_off;
        for (int64_t i = 0; i < c.head_dim; ++i) acc[static_cast<size_t>(i)] += p * fp16_to_fp32(v[i]);
      }
      std::copy(acc.begin(), acc.end(), out + t * c.q_dim() + h * c.head_dim);
    }
  });
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

  // Per batch token: its sequence, position and whether it yields logits.
  std::vector<int64_t> tok_seq, tok_pos, out_rows;
  tok_seq.reserve(static_cast<size_t>(n_tok));
  tok_pos.reserve(static_cast<size_t>(n_tok));
  std::vector<float> x(static_cast<size_t>(n_tok * c.n_embd));
  const size_t embd_row = row_bytes(token_embd_.type, c.n_embd);
  for (size_t s = 0; s < batch.size(); ++s) {
    const SequenceBatch& sb = batch[s];
    sb.cache->reserve_more(static_cast<int64_t>(sb.tokens.size()));
    for (size_t i = 0; i < sb.tokens.size(); ++i) {
      const int64_t t = static_cast<int64_t>(tok_seq.size());
      dequantize_row(token_embd_.type, token_embd_.data + static_cast<size_t>(sb.tokens[i]) * embd_row,
                     x.data() + t * c.n_embd, c.n_embd);
      tok_seq.push_back(static_cast<int64_t>(s));
      tok_pos.push_back(sb.cache->size() + static_cast<int64_t>(i));
      if (sb.all_logits || i + 1 == sb.tokens.size()) out_rows.push_back(t);
    }
  }

  std::vector<float> h(x.size());
  std::vector<float> q(static_cast<size_t>(n_tok * c.q_dim()));
  std::vector<float> k(static_cast<size_t>(n_tok * c.kv_dim()));
  std::vector<float> v(k.size());
  std::vector<float> att(q.size());
  std::vector<float> gate(static_cast<size_t>(n_tok * c.n_ff));
  std::vector<float> up(gate.size());
  auto add_bias = [](std::vector<float>& y, const std::vector<float>& b) {
    if (b.empty()) return;
    for (size_t i = 0; i < y.size(); ++i) y[i] += b[i % b.size()];
  };

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const Layer& L = layers_[static_cast<size_t>(l)];
    for (int64_t t = 0; t < n_tok; ++t) {
      rms_norm(&x[t * c.n_embd], L.attn_norm.data(), &h[t * c.n_embd], c.n_embd, c.rms_eps);
    }
    run_matmul(L.wq, h.data(), n_tok, q.data(), pool);
    run_matmul(L.wk, h.data(), n_tok, k.data(), pool);
    run_matmul(L.wv, h.data(), n_tok, v.data(), pool);
    add_bias(q, L.bq);
    add_bias(k, L.bk);
    add_bias(v, L.bv);
    for (int64_t t = 0; t < n_tok; ++t) {
      rope(&q[t * c.q_dim()], c.n_head, tok_pos[t]);
      rope(&k[t * c.kv_dim()], c.n_head_kv, tok_pos[t]);
      KvCache& cache = *batch[static_cast<size_t>(tok_seq[t])].cache;
      Half* kc = cache.key(l, tok_pos[t]);
      Half* vc = cache.value(l, tok_pos[t]);
      for (int64_t i = 0; i < c.kv_dim(); ++i) {
        kc[i] = fp32_to_fp16(k[t * c.kv_dim() + i]);
        vc[i] = fp32_to_fp16(v[t * c.kv_dim() + i]);
      }
    }
    attention(l, batch, tok_seq, tok_pos, q.data(), att.data(), pool);
    run_matmul(L.wo, att.data(), n_tok, h.data(), pool);
    for (size_t i = 0; i < x.size(); ++i) x[i] += h[i];

    for (int64_t t = 0; t < n_tok; ++t) {
      rms_norm(&x[t * c.n_embd], L.ffn_norm.data(), &h[t * c.n_embd], c.n_embd, c.rms_eps);
    }
    run_matmul(L.w_gate, h.data(), n_tok, gate.data(), pool);
    run_matmul(L.w_up, h.data(), n_tok, up.data(), pool);
    for (size_t i = 0; i < gate.size(); ++i) {
      const float g = gate[i];
      gate[i] = (g / (1.0f + std::exp(-g))) * up[i];
    }
    run_matmul(L.w_down, gate.data(), n_tok, h.data(), pool);
    for (size_t i = 0; i < x.size(); ++i) x[i] += h[i];
  }

  std::vector<float> normed(static_cast<size_t>(n_out * c.n_embd));
  for (int64_t r = 0; r < n_out; ++r) {
    rms_norm(&x[out_rows[r] * c.n_embd], output_norm_.data(), &normed[r * c.n_embd], c.n_embd, c.rms_eps);
  }
  logits.resize(static_cast<size_t>(n_out * c.n_vocab));
  run_matmul(output_, normed.data(), n_out, logits.data(), pool);

  for (const SequenceBatch& sb : batch) sb.cache->commit(sb.tokens);
  return Status::ok();
}

}  // namespace agentd::engine
