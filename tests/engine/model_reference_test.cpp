// Small random models written as GGUF images, run through the engine and
// through a plain double-precision transcription of each family here
// (llama2.c style): GQA ratios, head sizes, partial rotary dimensions, Qwen2's
// biases and NEOX rotation, tied output, Qwen3's head norms, Gemma 2's scaled
// embeddings, GeGLU, post-norms, soft-caps and sliding windows, SmolLM3's
// NoPE layers. Weights are F32 so the only differences are the engine's F16
// K/V cache, its F16 GELU table and roundings. (The families with llama.cpp
// goldens in testdata/models/arch are checked against those in
// model_golden_test.cpp.)

#include "engine/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/thread_pool.h"

namespace agentd::engine {
namespace {

ThreadPool& pool() {
  static ThreadPool p(2);
  return p;
}

struct TinyConfig {
  std::string arch = "llama";
  int64_t n_embd = 48, n_head = 6, n_head_kv = 2, head_dim = 8, n_ff = 40, n_vocab = 37, n_layer = 2;
  int64_t n_rot = 8;
  bool explicit_key_length = false;
  bool biases = false;
  bool tied = false;
  double rope_base = 10000.0;
  double eps = 1e-5;
  // gemma2: written as attn_logit_softcapping, final_logit_softcapping and
  // attention.sliding_window (even layers slide).
  double attn_softcap = 0.0, final_softcap = 0.0;
  int64_t window = 0;

  bool neox() const { return arch == "qwen2" || arch == "qwen3" || arch == "gemma2"; }
  bool qk_norm() const { return arch == "qwen3"; }
  bool gemma() const { return arch == "gemma2"; }
  bool rope_on(int64_t layer) const { return arch != "smollm3" || (layer + 1) % 4 != 0; }
  bool slides(int64_t layer) const { return gemma() && window > 0 && layer % 2 == 0; }
};

struct TinyWeights {
  std::vector<std::pair<std::string, std::vector<float>>> tensors;  // name, data
  std::map<std::string, std::vector<uint64_t>> dims;
  const std::vector<float>& get(const std::string& n) const {
    for (const auto& t : tensors) {
      if (t.first == n) return t.second;
    }
    static const std::vector<float> kEmpty;
    return kEmpty;
  }
};

TinyWeights random_weights(const TinyConfig& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  TinyWeights w;
  auto add = [&](const std::string& name, std::vector<uint64_t> dims, float scale, float offset = 0.0f) {
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    std::vector<float> v(n);
    for (float& x : v) x = offset + scale * u(rng);
    w.dims[name] = dims;
    w.tensors.emplace_back(name, std::move(v));
  };
  const uint64_t e = c.n_embd, q = c.n_head * c.head_dim, kv = c.n_head_kv * c.head_dim;
  add("token_embd.weight", {e, static_cast<uint64_t>(c.n_vocab)}, 1.0f);
  add("output_norm.weight", {e}, 0.2f, 1.0f);
  if (!c.tied) add("output.weight", {e, static_cast<uint64_t>(c.n_vocab)}, 0.5f);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", {e}, 0.2f, 1.0f);
    add(p + "attn_q.weight", {e, q}, 0.4f);
    add(p + "attn_k.weight", {e, kv}, 0.4f);
    add(p + "attn_v.weight", {e, kv}, 0.4f);
    if (c.biases) {
      add(p + "attn_q.bias", {q}, 0.3f);
      add(p + "attn_k.bias", {kv}, 0.3f);
      add(p + "attn_v.bias", {kv}, 0.3f);
    }
    if (c.qk_norm()) {
      add(p + "attn_q_norm.weight", {static_cast<uint64_t>(c.head_dim)}, 0.2f, 1.0f);
      add(p + "attn_k_norm.weight", {static_cast<uint64_t>(c.head_dim)}, 0.2f, 1.0f);
    }
    if (c.gemma()) {
      add(p + "post_attention_norm.weight", {e}, 0.2f, 1.0f);
      add(p + "post_ffw_norm.weight", {e}, 0.2f, 1.0f);
    }
    add(p + "attn_output.weight", {q, e}, 0.3f);
    add(p + "ffn_norm.weight", {e}, 0.2f, 1.0f);
    add(p + "ffn_gate.weight", {e, static_cast<uint64_t>(c.n_ff)}, 0.4f);
    add(p + "ffn_up.weight", {e, static_cast<uint64_t>(c.n_ff)}, 0.4f);
    add(p + "ffn_down.weight", {static_cast<uint64_t>(c.n_ff), e}, 0.3f);
  }
  return w;
}

std::string write_gguf(const TinyConfig& c, const TinyWeights& w) {
  std::string out = "GGUF";
  auto put = [&](auto v) { out.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  auto str = [&](const std::string& s) {
    put(static_cast<uint64_t>(s.size()));
    out += s;
  };
  std::vector<std::pair<std::string, uint32_t>> ints = {
      {c.arch + ".embedding_length", static_cast<uint32_t>(c.n_embd)},
      {c.arch + ".block_count", static_cast<uint32_t>(c.n_layer)},
      {c.arch + ".attention.head_count", static_cast<uint32_t>(c.n_head)},
      {c.arch + ".attention.head_count_kv", static_cast<uint32_t>(c.n_head_kv)},
      {c.arch + ".feed_forward_length", static_cast<uint32_t>(c.n_ff)},
      {c.arch + ".context_length", 64u},
      {c.arch + ".rope.dimension_count", static_cast<uint32_t>(c.n_rot)},
  };
  if (c.explicit_key_length) {
    ints.push_back({c.arch + ".attention.key_length", static_cast<uint32_t>(c.head_dim)});
    ints.push_back({c.arch + ".attention.value_length", static_cast<uint32_t>(c.head_dim)});
  }
  if (c.window > 0) ints.push_back({c.arch + ".attention.sliding_window", static_cast<uint32_t>(c.window)});
  std::vector<std::pair<std::string, float>> floats = {
      {c.arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.eps)},
      {c.arch + ".rope.freq_base", static_cast<float>(c.rope_base)},
  };
  if (c.gemma()) {
    floats.push_back({c.arch + ".attn_logit_softcapping", static_cast<float>(c.attn_softcap)});
    floats.push_back({c.arch + ".final_logit_softcapping", static_cast<float>(c.final_softcap)});
  }
  put(uint32_t{3});
  put(static_cast<uint64_t>(w.tensors.size()));
  put(static_cast<uint64_t>(ints.size() + floats.size() + 1));
  str("general.architecture");
  put(uint32_t{8});
  str(c.arch);
  for (const auto& [k, v] : ints) {
    str(k);
    put(uint32_t{4});
    put(v);
  }
  for (const auto& [k, v] : floats) {
    str(k);
    put(uint32_t{6});
    put(v);
  }
  uint64_t offset = 0;
  for (const auto& [name, data] : w.tensors) {
    str(name);
    const auto& d = w.dims.at(name);
    put(static_cast<uint32_t>(d.size()));
    for (uint64_t x : d) put(x);
    put(uint32_t{0});  // F32
    put(offset);
    offset += (data.size() * 4 + 31) / 32 * 32;
  }
  while (out.size() % 32) out.push_back('\0');
  for (const auto& [name, data] : w.tensors) {
    out.append(reinterpret_cast<const char*>(data.data()), data.size() * 4);
    while (out.size() % 32) out.push_back('\0');
  }
  return out;
}

// The architecture written out plainly, in double precision.
class ReferenceModel {
 public:
  ReferenceModel(const TinyConfig& c, const TinyWeights& w) : c_(c), w_(w), k_(c.n_layer), v_(c.n_layer) {}

  std::vector<double> step(int32_t token) {
    const int64_t e = c_.n_embd, hd = c_.head_dim, q_dim = c_.n_head * hd, kv_dim = c_.n_head_kv * hd;
    const int64_t pos = n_pos_++;
    std::vector<double> x(static_cast<size_t>(e));
    const auto& emb = w_.get("token_embd.weight");
    const double emb_scale = c_.gemma() ? std::sqrt(static_cast<double>(e)) : 1.0;
    for (int64_t i = 0; i < e; ++i) x[i] = emb[token * e + i] * emb_scale;
    for (int64_t l = 0; l < c_.n_layer; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      auto h = norm(x, w_.get(p + "attn_norm.weight"));
      auto q = matvec(p + "attn_q.weight", h, q_dim);
      auto k = matvec(p + "attn_k.weight", h, kv_dim);
      auto v = matvec(p + "attn_v.weight", h, kv_dim);
      if (c_.biases) {
        for (int64_t i = 0; i < q_dim; ++i) q[i] += w_.get(p + "attn_q.bias")[i];
        for (int64_t i = 0; i < kv_dim; ++i) k[i] += w_.get(p + "attn_k.bias")[i];
        for (int64_t i = 0; i < kv_dim; ++i) v[i] += w_.get(p + "attn_v.bias")[i];
      }
      if (c_.qk_norm()) {
        for (int64_t hh = 0; hh < c_.n_head; ++hh) head_norm(&q[hh * hd], w_.get(p + "attn_q_norm.weight"));
        for (int64_t hh = 0; hh < c_.n_head_kv; ++hh) head_norm(&k[hh * hd], w_.get(p + "attn_k_norm.weight"));
      }
      if (c_.rope_on(l)) {
        for (int64_t hh = 0; hh < c_.n_head; ++hh) rotate(&q[hh * hd], pos);
        for (int64_t hh = 0; hh < c_.n_head_kv; ++hh) rotate(&k[hh * hd], pos);
      }
      const int64_t first = c_.slides(l) ? std::max<int64_t>(0, pos - c_.window + 1) : 0;
      k_[l].push_back(k);
      v_[l].push_back(v);
      std::vector<double> att(static_cast<size_t>(q_dim), 0.0);
      for (int64_t hh = 0; hh < c_.n_head; ++hh) {
        const int64_t kvh = hh / (c_.n_head / c_.n_head_kv);
        std::vector<double> s(static_cast<size_t>(pos + 1));
        double mx = -1e300;
        for (int64_t j = first; j <= pos; ++j) {
          double d = 0;
          for (int64_t i = 0; i < hd; ++i) d += q[hh * hd + i] * k_[l][j][kvh * hd + i];
          s[j] = d / std::sqrt(static_cast<double>(hd));
          if (c_.attn_softcap > 0) s[j] = c_.attn_softcap * std::tanh(s[j] / c_.attn_softcap);
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int64_t j = first; j <= pos; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int64_t j = first; j <= pos; ++j) {
          for (int64_t i = 0; i < hd; ++i) att[hh * hd + i] += s[j] / sum * v_[l][j][kvh * hd + i];
        }
      }
      auto o = matvec(p + "attn_output.weight", att, e);
      if (c_.gemma()) o = norm(o, w_.get(p + "post_attention_norm.weight"));
      for (int64_t i = 0; i < e; ++i) x[i] += o[i];
      h = norm(x, w_.get(p + "ffn_norm.weight"));
      auto g = matvec(p + "ffn_gate.weight", h, c_.n_ff);
      auto u = matvec(p + "ffn_up.weight", h, c_.n_ff);
      for (int64_t i = 0; i < c_.n_ff; ++i) g[i] = (c_.gemma() ? gelu(g[i]) : g[i] / (1.0 + std::exp(-g[i]))) * u[i];
      auto d = matvec(p + "ffn_down.weight", g, e);
      if (c_.gemma()) d = norm(d, w_.get(p + "post_ffw_norm.weight"));
      for (int64_t i = 0; i < e; ++i) x[i] += d[i];
    }
    auto h = norm(x, w_.get("output_norm.weight"));
    auto logits = matvec(c_.tied ? "token_embd.weight" : "output.weight", h, c_.n_vocab);
    if (c_.final_softcap > 0) {
      for (double& v : logits) v = c_.final_softcap * std::tanh(v / c_.final_softcap);
    }
    return logits;
  }

 private:
  std::vector<double> norm(const std::vector<double>& x, const std::vector<float>& w) const {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + c_.eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * w[i];
    return y;
  }
  void head_norm(double* v, const std::vector<float>& w) const {
    const std::vector<double> y = norm(std::vector<double>(v, v + c_.head_dim), w);
    std::copy(y.begin(), y.end(), v);
  }
  static double gelu(double x) { return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * x * (1.0 + 0.044715 * x * x))); }
  std::vector<double> matvec(const std::string& name, const std::vector<double>& x, int64_t rows) const {
    const auto& W = w_.get(name);
    const int64_t cols = static_cast<int64_t>(x.size());
    std::vector<double> y(static_cast<size_t>(rows), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < cols; ++i) y[r] += W[r * cols + i] * x[i];
    }
    return y;
  }
  // Llama pairs neighbours (2i, 2i+1); Qwen2 (NEOX) pairs i with i + n_rot/2.
  void rotate(double* v, int64_t pos) const {
    const int64_t half = c_.n_rot / 2;
    for (int64_t i = 0; i < half; ++i) {
      const double theta = static_cast<double>(pos) * std::pow(c_.rope_base, -2.0 * i / static_cast<double>(c_.n_rot));
      const int64_t a = c_.neox() ? i : 2 * i;
      const int64_t b = c_.neox() ? i + half : 2 * i + 1;
      const double x0 = v[a], x1 = v[b];
      v[a] = x0 * std::cos(theta) - x1 * std::sin(theta);
      v[b] = x0 * std::sin(theta) + x1 * std::cos(theta);
    }
  }

  TinyConfig c_;
  const TinyWeights& w_;
  int64_t n_pos_ = 0;
  std::vector<std::vector<std::vector<double>>> k_, v_;  // [layer][pos][kv_dim]
};

void check_against_reference(const TinyConfig& c, uint32_t seed) {
  const TinyWeights w = random_weights(c, seed);
  auto file = GgufFile::from_bytes(write_gguf(c, w));
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  auto m = Model::from_gguf(std::move(file).value());
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ((*m)->config().tied_output, c.tied);
  EXPECT_EQ((*m)->config().head_dim, c.head_dim);
  EXPECT_EQ((*m)->config().rope_style, c.neox() ? RopeStyle::kNeox : RopeStyle::kNormal);

  std::mt19937 rng(seed + 1);
  std::vector<int32_t> tokens(9);
  for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(c.n_vocab));
  ReferenceModel ref(c, w);
  std::vector<std::vector<double>> want;
  for (int32_t t : tokens) want.push_back(ref.step(t));

  // Prefill the first six in one batch (all logits), then three single steps.
  auto cache = (*m)->new_cache();
  std::vector<float> logits;
  SequenceBatch sb{cache.get(), std::span<const int32_t>(tokens).first(6), true};
  ASSERT_TRUE((*m)->forward({&sb, 1}, logits, &pool()).is_ok());
  double worst = 0.0;
  auto compare = [&](const float* got, const std::vector<double>& exp, size_t pos) {
    for (int64_t i = 0; i < c.n_vocab; ++i) {
      worst = std::max(worst, std::abs(got[i] - exp[i]));
      ASSERT_NEAR(got[i], exp[i], 0.02) << c.arch << " position " << pos << " token " << i;
    }
  };
  for (size_t p = 0; p < 6; ++p) compare(&logits[p * c.n_vocab], want[p], p);
  for (size_t p = 6; p < tokens.size(); ++p) {
    SequenceBatch one{cache.get(), {&tokens[p], 1}, false};
    ASSERT_TRUE((*m)->forward({&one, 1}, logits, nullptr).is_ok());
    compare(logits.data(), want[p], p);
  }
  std::printf("%s n_head %lld/%lld head_dim %lld n_rot %lld: worst |diff| %.5f\n", c.arch.c_str(),
              static_cast<long long>(c.n_head), static_cast<long long>(c.n_head_kv),
              static_cast<long long>(c.head_dim), static_cast<long long>(c.n_rot), worst);
}

TEST(ModelReferenceTest, LlamaWithGroupedQueryAttention) {
  TinyConfig c;  // 6 query heads share 2 KV heads, untied output
  check_against_reference(c, 1);
}

TEST(ModelReferenceTest, LlamaWithKeyLengthAndPartialRotation) {
  TinyConfig c;
  c.n_embd = 32;
  c.n_head = 4;
  c.n_head_kv = 4;
  c.head_dim = 16;  // q_dim 64 != n_embd
  c.explicit_key_length = true;
  c.n_rot = 8;  // only half of each head rotates
  c.n_ff = 24;
  c.n_vocab = 29;
  c.n_layer = 3;
  check_against_reference(c, 2);
}

TEST(ModelReferenceTest, Qwen2WithBiasesNeoxAndTiedOutput) {
  TinyConfig c;
  c.arch = "qwen2";
  c.n_embd = 64;
  c.n_head = 4;
  c.n_head_kv = 1;
  c.head_dim = 16;
  c.n_rot = 16;
  c.n_ff = 96;
  c.n_vocab = 50;
  c.biases = true;
  c.tied = true;
  c.rope_base = 1000000.0;
  c.eps = 1e-6;
  check_against_reference(c, 3);
}

TEST(ModelReferenceTest, Qwen3WithHeadNormsAndWideQueries) {
  TinyConfig c;
  c.arch = "qwen3";
  c.n_embd = 32;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.head_dim = 16;  // q_dim 64, twice the width
  c.explicit_key_length = true;
  c.n_rot = 16;
  c.tied = true;
  c.eps = 1e-6;
  check_against_reference(c, 6);
}

// Gemma 2 with caps low enough to bite (random weights' scores and logits
// reach several units) and a window of 3 on even layers over 9 positions.
TEST(ModelReferenceTest, Gemma2WithSoftcapsWindowsPostNormsAndGelu) {
  TinyConfig c;
  c.arch = "gemma2";
  c.n_embd = 32;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.head_dim = 8;
  c.n_rot = 8;
  c.n_layer = 3;
  c.tied = true;
  c.attn_softcap = 1.5;
  c.final_softcap = 4.0;
  c.window = 3;
  c.eps = 1e-6;
  check_against_reference(c, 7);
}

TEST(ModelReferenceTest, SmolLM3WithNoRopeLayers) {
  TinyConfig c;
  c.arch = "smollm3";
  c.n_layer = 4;  // layer 3 has no RoPE
  check_against_reference(c, 8);
}

TEST(ModelReferenceTest, UnsupportedArchitectureAndMissingTensorAreNamed) {
  TinyConfig c;
  TinyWeights w = random_weights(c, 4);
  c.arch = "gpt2";
  auto f = GgufFile::from_bytes(write_gguf(c, w));
  ASSERT_TRUE(f.is_ok());
  auto m = Model::from_gguf(std::move(f).value());
  ASSERT_FALSE(m.is_ok());
  EXPECT_NE(m.status().message().find("gpt2"), std::string::npos) << m.status().message();

  TinyConfig q;
  q.arch = "qwen2";
  TinyWeights nb = random_weights(q, 5);  // qwen2 without its biases
  auto f2 = GgufFile::from_bytes(write_gguf(q, nb));
  ASSERT_TRUE(f2.is_ok());
  auto m2 = Model::from_gguf(std::move(f2).value());
  ASSERT_FALSE(m2.is_ok());
  EXPECT_NE(m2.status().message().find("attn_q.bias"), std::string::npos) << m2.status().message();
}

}  // namespace
}  // namespace agentd::engine
