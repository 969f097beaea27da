// Scalar reference kernels for every encoding, the run-time ISA dispatch and
// matmul. The SIMD files (kernels_avx2.cpp, kernels_avx512.cpp) replace the
// hot entries of the dispatch table; everything here is the definition they
// are tested against.
//
// Activation quantization (Q8_0, Q8_1, Q8_K) follows ggml bit for bit, since
// the engine is compared with llama.cpp's logits: Q8_0/Q8_1 as ggml's x86
// path computes them (scale 127/amax, round half to even, which is what the
// llama.cpp that made our goldens ran), Q8_K as quantize_row_q8_K_ref.

#include "engine/kernels/kernels.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "engine/kernels/kernels_internal.h"
#include "engine/kernels/quants.h"
#include "engine/thread_pool.h"

namespace agentd::engine {

float detail::accumulate_blocks(float sum, const float* scale, const int32_t* isum, const float* offset,
                                int count) {
  for (int i = 0; i < count; ++i) {
    float term = scale[i] * static_cast<float>(isum[i]);
    AGENTD_NO_FUSE(term);
    if (offset != nullptr) term += offset[i];
    sum += term;
  }
  return sum;
}

namespace {

using detail::KernelTable;

// A K-quant super-block's contribution (see kernels_internal.h).
void add_block(float& sum, float scale, int32_t isum, float offset = 0.f) {
  sum = detail::accumulate_blocks(sum, &scale, &isum, &offset, 1);
}

// The 8 accumulators of the 32-element formats (see kernels_internal.h).
class BlockLanes {
 public:
  void add(int64_t block, float scale, int32_t isum, float offset = 0.f) {
    float term = scale * static_cast<float>(isum);
    AGENTD_NO_FUSE(term);
    term += offset;
    acc_[block % detail::kBlockLanes] += term;
  }
  float total() const {
    return ((acc_[0] + acc_[4]) + (acc_[2] + acc_[6])) + ((acc_[1] + acc_[5]) + (acc_[3] + acc_[7]));
  }

 private:
  float acc_[detail::kBlockLanes] = {};
};

// The 32 lane accumulators of Q4_0/Q5_0/Q8_0 (see kernels_internal.h).
// add() takes the block's 32 integer products in element order.
class Q8Lanes {
 public:
  void add(int64_t block, float scale, const int32_t* products) {
    float* a = acc_ + 8 * (block % 4);
    for (int j = 0; j < 8; ++j) {
      const int32_t lane = products[4 * j] + products[4 * j + 1] + products[4 * j + 2] + products[4 * j + 3];
      a[j] = std::fma(scale, static_cast<float>(lane), a[j]);
    }
  }
  float total() const {
    float t[8];
    for (int j = 0; j < 8; ++j) t[j] = (acc_[j] + acc_[j + 16]) + (acc_[j + 8] + acc_[j + 24]);
    return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
  }

 private:
  float acc_[detail::kQ8Lanes] = {};
};

// The whole-block order of the AVX-512 kernels (kernels_internal.h), with
// the interface of Q8Lanes.
class WholeBlocks {
 public:
  void add(int64_t /*block*/, float scale, const int32_t* products) {
    int32_t isum = 0;
    for (int j = 0; j < 32; ++j) isum += products[j];
    acc_ = std::fma(scale, static_cast<float>(isum), acc_);
  }
  float total() const { return acc_; }

 private:
  float acc_ = 0.f;
};

// ---------------------------------------------------------------- F32/F16/BF16

void quantize_row_f16(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Half*>(dst);
  for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}
void dequantize_row_f16(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const Half*>(src);
  for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_fp32(x[i]);
}
void quantize_row_bf16(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BHalf*>(dst);
  for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_bf16(x[i]);
}
void dequantize_row_bf16(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BHalf*>(src);
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_fp32(x[i]);
}

// Float rows: 32 interleaved FMA accumulators and a fixed reduction
// (kernels_internal.h), which the SIMD kernels reproduce exactly.
template <typename T, typename Widen>
float dot_float_lanes(int64_t n, const void* w, const void* x, Widen widen) {
  const auto* a = static_cast<const T*>(w);
  const auto* b = static_cast<const T*>(x);
  float acc[detail::kFloatLanes] = {};
  for (int64_t i = 0; i < n; ++i) {
    float& lane = acc[i % detail::kFloatLanes];
    lane = std::fma(widen(a[i]), widen(b[i]), lane);
  }
  float t[8];
  for (int j = 0; j < 8; ++j) t[j] = (acc[j] + acc[j + 8]) + (acc[j + 16] + acc[j + 24]);
  return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
}

float dot_f32(int64_t n, const void* w, const void* x) {
  return dot_float_lanes<float>(n, w, x, [](float v) { return v; });
}
float dot_f16(int64_t n, const void* w, const void* x) {
  return dot_float_lanes<Half>(n, w, x, [](Half v) { return fp16_to_fp32(v); });
}
float dot_bf16(int64_t n, const void* w, const void* x) {
  return dot_float_lanes<BHalf>(n, w, x, [](BHalf v) { return bf16_to_fp32(v); });
}

// ---------------------------------------------------------------- Q8_0 / Q8_1

// One block of 32 as ggml's x86 quantize_row_q8_0: returns d, fills q.
float quantize_block_8bit(const float* x, int8_t* q) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.f;
  const float id = (amax != 0.f) ? 127.f / amax : 0.f;
  for (int j = 0; j < 32; ++j) q[j] = static_cast<int8_t>(nearest_int(x[j] * id));
  return d;
}

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q8_0Block*>(dst);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    y[i].d = fp32_to_fp16(quantize_block_8bit(x + i * kQK8_0, y[i].qs));
  }
}
void dequantize_row_q8_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const Q8_0Block*>(src);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[i * kQK8_0 + j] = d * x[i].qs[j];
  }
}

void quantize_row_q8_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q8_1Block*>(dst);
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    const float d = quantize_block_8bit(x + i * kQK8_1, y[i].qs);
    int sum = 0;
    for (int j = 0; j < kQK8_1; ++j) sum += y[i].qs[j];
    y[i].d = fp32_to_fp16(d);
    y[i].s = fp32_to_fp16(d * static_cast<float>(sum));
  }
}
void dequantize_row_q8_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const Q8_1Block*>(src);
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK8_1; ++j) y[i * kQK8_1 + j] = d * x[i].qs[j];
  }
}

template <class Sums>
float dot_q8_0_in(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q8_0Block*>(w);
  const auto* b = static_cast<const Q8_0Block*>(x);
  Sums lanes;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int32_t p[kQK8_0];
    for (int j = 0; j < kQK8_0; ++j) p[j] = a[i].qs[j] * b[i].qs[j];
    lanes.add(i, fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d), p);
  }
  return lanes.total();
}

float dot_q8_0(int64_t n, const void* w, const void* x) { return dot_q8_0_in<Q8Lanes>(n, w, x); }

// ---------------------------------------------------------------- Q8_K

void quantize_row_q8_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q8_KBlock*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max = 0;
    float amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.f) {
      y[i].d = 0;
      std::memset(y[i].qs, 0, sizeof y[i].qs);
      std::memset(y[i].bsums, 0, sizeof y[i].bsums);
      continue;
    }
    // Scaling by -127/max (max is the signed value of largest magnitude) maps
    // it to -127 exactly; the opposite extreme may reach 127.x, hence the clamp.
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) y[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * j + l];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
  }
}
void dequantize_row_q8_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const Q8_KBlock*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    for (int j = 0; j < kQK_K; ++j) y[i * kQK_K + j] = x[i].d * x[i].qs[j];
  }
}

// ---------------------------------------------------------------- Q4_0 / Q4_1

// Truncates v to a level in [0, hi] (ggml's (int8_t)(v) with a clamp),
// without undefined behaviour for NaN or huge values.
int to_level(float v, int hi) {
  if (!(v > 0.f)) return 0;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

// Scale from the signed value of largest magnitude, so that value maps to the
// end of the range that has one more step (ggml's reference quantizer).
float signed_absmax(const float* x, int n) {
  float amax = 0;
  float max = 0;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void quantize_row_q4_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q4_0Block*>(dst);
  for (int64_t i = 0; i < n / kQK4_0; ++i, x += kQK4_0) {
    const float d = signed_absmax(x, kQK4_0) / -8.f;
    const float id = (d != 0.f) ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int q0 = to_level(x[j] * id + 8.5f, 15);
      const int q1 = to_level(x[j + kQK4_0 / 2] * id + 8.5f, 15);
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}
void dequantize_row_q4_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const Q4_0Block*>(src);
  for (int64_t i = 0; i < n / kQK4_0; ++i, y += kQK4_0) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0xf) - 8) * d;
      y[j + kQK4_0 / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}
template <class Sums>
float dot_q4_0_in(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q4_0Block*>(w);
  const auto* b = static_cast<const Q8_0Block*>(x);
  Sums lanes;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int32_t p[kQK4_0];
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      p[j] = ((a[i].qs[j] & 0xf) - 8) * b[i].qs[j];
      p[j + kQK4_0 / 2] = ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + kQK4_0 / 2];
    }
    lanes.add(i, fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d), p);
  }
  return lanes.total();
}
float dot_q4_0(int64_t n, const void* w, const void* x) { return dot_q4_0_in<Q8Lanes>(n, w, x); }

void quantize_row_q4_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q4_1Block*>(dst);
  for (int64_t i = 0; i < n / kQK4_1; ++i, x += kQK4_1) {
    float lo = x[0];
    float hi = x[0];
    for (int j = 1; j < kQK4_1; ++j) {
      lo = std::min(lo, x[j]);
      hi = std::max(hi, x[j]);
    }
    const float d = (hi - lo) / 15.f;
    const float id = (d != 0.f) ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(lo);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      const int q0 = to_level((x[j] - lo) * id + 0.5f, 15);
      const int q1 = to_level((x[j + kQK4_1 / 2] - lo) * id + 0.5f, 15);
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}
void dequantize_row_q4_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const Q4_1Block*>(src);
  for (int64_t i = 0; i < n / kQK4_1; ++i, y += kQK4_1) {
    const float d = fp16_to_fp32(x[i].d);
    const float m = fp16_to_fp32(x[i].m);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0xf) * d + m;
      y[j + kQK4_1 / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}
float dot_q4_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q4_1Block*>(w);
  const auto* b = static_cast<const Q8_1Block*>(x);
  BlockLanes lanes;
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    int isum = 0;
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      isum += (a[i].qs[j] & 0xf) * b[i].qs[j];
      isum += (a[i].qs[j] >> 4) * b[i].qs[j + kQK4_1 / 2];
    }
    lanes.add(i, fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d), isum, fp16_to_fp32(a[i].m) * fp16_to_fp32(b[i].s));
  }
  return lanes.total();
}

// ---------------------------------------------------------------- Q5_0 / Q5_1

uint32_t load_qh(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof v);
  return v;
}
void store_qh(uint8_t* qh, uint32_t v) { std::memcpy(qh, &v, sizeof v); }

void quantize_row_q5_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q5_0Block*>(dst);
  for (int64_t i = 0; i < n / kQK5_0; ++i, x += kQK5_0) {
    const float d = signed_absmax(x, kQK5_0) / -16.f;
    const float id = (d != 0.f) ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int q0 = to_level(x[j] * id + 16.5f, 31);
      const int q1 = to_level(x[j + kQK5_0 / 2] * id + 16.5f, 31);
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0xf) | ((q1 & 0xf) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + kQK5_0 / 2);
    }
    store_qh(y[i].qh, qh);
  }
}
void dequantize_row_q5_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const Q5_0Block*>(src);
  for (int64_t i = 0; i < n / kQK5_0; ++i, y += kQK5_0) {
    const float d = fp16_to_fp32(x[i].d);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int q0 = (x[i].qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int q1 = (x[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      y[j] = static_cast<float>(q0 - 16) * d;
      y[j + kQK5_0 / 2] = static_cast<float>(q1 - 16) * d;
    }
  }
}
template <class Sums>
float dot_q5_0_in(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q5_0Block*>(w);
  const auto* b = static_cast<const Q8_0Block*>(x);
  Sums lanes;
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const uint32_t qh = load_qh(a[i].qh);
    int32_t p[kQK5_0];
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int q0 = (a[i].qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int q1 = (a[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      p[j] = (q0 - 16) * b[i].qs[j];
      p[j + kQK5_0 / 2] = (q1 - 16) * b[i].qs[j + kQK5_0 / 2];
    }
    lanes.add(i, fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d), p);
  }
  return lanes.total();
}
float dot_q5_0(int64_t n, const void* w, const void* x) { return dot_q5_0_in<Q8Lanes>(n, w, x); }

void quantize_row_q5_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q5_1Block*>(dst);
  for (int64_t i = 0; i < n / kQK5_1; ++i, x += kQK5_1) {
    float lo = x[0];
    float hi = x[0];
    for (int j = 1; j < kQK5_1; ++j) {
      lo = std::min(lo, x[j]);
      hi = std::max(hi, x[j]);
    }
    const float d = (hi - lo) / 31.f;
    const float id = (d != 0.f) ? 1.f / d : 0.f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(lo);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int q0 = to_level((x[j] - lo) * id + 0.5f, 31);
      const int q1 = to_level((x[j + kQK5_1 / 2] - lo) * id + 0.5f, 31);
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0xf) | ((q1 & 0xf) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + kQK5_1 / 2);
    }
    store_qh(y[i].qh, qh);
  }
}
void dequantize_row_q5_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const Q5_1Block*>(src);
  for (int64_t i = 0; i < n / kQK5_1; ++i, y += kQK5_1) {
    const float d = fp16_to_fp32(x[i].d);
    const float m = fp16_to_fp32(x[i].m);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int q0 = (x[i].qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int q1 = (x[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      y[j] = static_cast<float>(q0) * d + m;
      y[j + kQK5_1 / 2] = static_cast<float>(q1) * d + m;
    }
  }
}
float dot_q5_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q5_1Block*>(w);
  const auto* b = static_cast<const Q8_1Block*>(x);
  BlockLanes lanes;
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    const uint32_t qh = load_qh(a[i].qh);
    int isum = 0;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int q0 = (a[i].qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int q1 = (a[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      isum += q0 * b[i].qs[j] + q1 * b[i].qs[j + kQK5_1 / 2];
    }
    lanes.add(i, fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d), isum, fp16_to_fp32(a[i].m) * fp16_to_fp32(b[i].s));
  }
  return lanes.total();
}

// ---------------------------------------------------------------- Q4_K / Q5_K

// Packs 8 six-bit scales and mins into the 12-byte layout k_scale_min reads.
void pack_k_scales(const uint8_t* sc, const uint8_t* m, uint8_t* q) {
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = static_cast<uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    q[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xf) | ((m[j + 4] & 0xf) << 4));
  }
}

// A simple asymmetric quantizer for a K-quant super-block of 8 x 32 values
// with `levels` steps (15 for Q4_K, 31 for Q5_K): per sub-block, the range
// [min(0, lo), hi] is split evenly; scales and mins are then quantized to
// 6 bits against the super-block's d and dmin. Writes d, dmin, the packed
// scales and q[256] (0..levels). Not ggml's optimizing quantizer, but its
// output decodes with ggml's dequantizer.
void quantize_k_super_block(const float* x, int levels, Half* d_out, Half* dmin_out, uint8_t* scales,
                            uint8_t* q) {
  float sub_scale[8];
  float sub_min[8];  // >= 0; value = scale * q - min
  for (int j = 0; j < 8; ++j) {
    float lo = 0;
    float hi = 0;
    for (int l = 0; l < 32; ++l) {
      lo = std::min(lo, x[32 * j + l]);
      hi = std::max(hi, x[32 * j + l]);
    }
    sub_min[j] = -lo;
    sub_scale[j] = (hi - lo) / static_cast<float>(levels);
  }
  const float max_scale = *std::max_element(sub_scale, sub_scale + 8);
  const float max_min = *std::max_element(sub_min, sub_min + 8);
  const float d = fp16_to_fp32(fp32_to_fp16(max_scale / 63.f));
  const float dmin = fp16_to_fp32(fp32_to_fp16(max_min / 63.f));
  *d_out = fp32_to_fp16(d);
  *dmin_out = fp32_to_fp16(dmin);
  uint8_t sc[8];
  uint8_t mn[8];
  for (int j = 0; j < 8; ++j) {
    // Round the scale up so the sub-block's top value stays within range.
    sc[j] = static_cast<uint8_t>(d > 0 ? to_level(std::ceil(sub_scale[j] / d), 63) : 0);
    mn[j] = static_cast<uint8_t>(dmin > 0 ? std::clamp(nearest_int(sub_min[j] / dmin), 0, 63) : 0);
    const float step = d * sc[j];
    const float offset = dmin * mn[j];
    for (int l = 0; l < 32; ++l) {
      const int v = step > 0 ? nearest_int((x[32 * j + l] + offset) / step) : 0;
      q[32 * j + l] = static_cast<uint8_t>(std::clamp(v, 0, levels));
    }
  }
  pack_k_scales(sc, mn, scales);
}

void quantize_row_q4_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q4_KBlock*>(dst);
  uint8_t q[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    quantize_k_super_block(x, 15, &y[i].d, &y[i].dmin, y[i].scales, q);
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        y[i].qs[32 * g + l] = static_cast<uint8_t>(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
      }
    }
  }
}
void dequantize_row_q4_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const Q4_KBlock*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const float dmin = fp16_to_fp32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int g = 0; g < 4; ++g, q += 32) {
      uint8_t sc0, m0, sc1, m1;
      k_scale_min(2 * g, x[i].scales, &sc0, &m0);
      k_scale_min(2 * g + 1, x[i].scales, &sc1, &m1);
      const float d0 = d * sc0, d1 = d * sc1, min0 = dmin * m0, min1 = dmin * m1;
      for (int l = 0; l < 32; ++l) *y++ = d0 * static_cast<float>(q[l] & 0xf) - min0;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] >> 4) - min1;
    }
  }
}
// Integer sums per sub-block, scaled by the 6-bit scales; the mins meet the
// activation's bsums. Only the final float steps can differ from SIMD code.
float dot_q4_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q4_KBlock*>(w);
  const auto* b = static_cast<const Q8_KBlock*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t scaled = 0;
    int32_t mins = 0;
    for (int g = 0; g < 4; ++g) {
      uint8_t sc0, m0, sc1, m1;
      k_scale_min(2 * g, a[i].scales, &sc0, &m0);
      k_scale_min(2 * g + 1, a[i].scales, &sc1, &m1);
      const uint8_t* q = a[i].qs + 32 * g;
      const int8_t* v = b[i].qs + 64 * g;
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        s0 += (q[l] & 0xf) * v[l];
        s1 += (q[l] >> 4) * v[l + 32];
      }
      scaled += sc0 * s0 + sc1 * s1;
      mins += m0 * (b[i].bsums[4 * g] + b[i].bsums[4 * g + 1]) + m1 * (b[i].bsums[4 * g + 2] + b[i].bsums[4 * g + 3]);
    }
    const float min_part = fp16_to_fp32(a[i].dmin) * b[i].d * static_cast<float>(mins);
    add_block(sum, fp16_to_fp32(a[i].d) * b[i].d, scaled, -min_part);
  }
  return sum;
}

void quantize_row_q5_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q5_KBlock*>(dst);
  uint8_t q[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    quantize_k_super_block(x, 31, &y[i].d, &y[i].dmin, y[i].scales, q);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        const int lo = q[64 * g + l];
        const int hi = q[64 * g + 32 + l];
        y[i].qs[32 * g + l] = static_cast<uint8_t>((lo & 0xf) | ((hi & 0xf) << 4));
        y[i].qh[l] = static_cast<uint8_t>(y[i].qh[l] | ((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1)));
      }
    }
  }
}
void dequantize_row_q5_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const Q5_KBlock*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const float dmin = fp16_to_fp32(x[i].dmin);
    for (int g = 0; g < 4; ++g) {
      uint8_t sc0, m0, sc1, m1;
      k_scale_min(2 * g, x[i].scales, &sc0, &m0);
      k_scale_min(2 * g + 1, x[i].scales, &sc1, &m1);
      const float d0 = d * sc0, d1 = d * sc1, min0 = dmin * m0, min1 = dmin * m1;
      const uint8_t* q = x[i].qs + 32 * g;
      for (int l = 0; l < 32; ++l) {
        *y++ = d0 * static_cast<float>((q[l] & 0xf) | (((x[i].qh[l] >> (2 * g)) & 1) << 4)) - min0;
      }
      for (int l = 0; l < 32; ++l) {
        *y++ = d1 * static_cast<float>((q[l] >> 4) | (((x[i].qh[l] >> (2 * g + 1)) & 1) << 4)) - min1;
      }
    }
  }
}
float dot_q5_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q5_KBlock*>(w);
  const auto* b = static_cast<const Q8_KBlock*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t scaled = 0;
    int32_t mins = 0;
    for (int g = 0; g < 4; ++g) {
      uint8_t sc0, m0, sc1, m1;
      k_scale_min(2 * g, a[i].scales, &sc0, &m0);
      k_scale_min(2 * g + 1, a[i].scales, &sc1, &m1);
      const uint8_t* q = a[i].qs + 32 * g;
      const int8_t* v = b[i].qs + 64 * g;
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        s0 += ((q[l] & 0xf) | (((a[i].qh[l] >> (2 * g)) & 1) << 4)) * v[l];
        s1 += ((q[l] >> 4) | (((a[i].qh[l] >> (2 * g + 1)) & 1) << 4)) * v[l + 32];
      }
      scaled += sc0 * s0 + sc1 * s1;
      mins += m0 * (b[i].bsums[4 * g] + b[i].bsums[4 * g + 1]) + m1 * (b[i].bsums[4 * g + 2] + b[i].bsums[4 * g + 3]);
    }
    const float min_part = fp16_to_fp32(a[i].dmin) * b[i].d * static_cast<float>(mins);
    add_block(sum, fp16_to_fp32(a[i].d) * b[i].d, scaled, -min_part);
  }
  return sum;
}

// ---------------------------------------------------------------- Q6_K

// The 6-bit value of element e (0..255) of a Q6_K block, 0..63. Within each
// half of 128, element 32 * k + l (k = 0..3, l < 32) keeps its low 4 bits in
// ql[l + 32 * (k & 1)] (low nibble for k < 2, high for k >= 2) and its high 2
// bits in qh[l] at bit 2k.
int q6_k_value(const Q6_KBlock& b, int e) {
  const int half = e / 128;
  const int k = (e % 128) / 32;
  const int l = e % 32;
  const uint8_t ql = b.ql[64 * half + l + 32 * (k & 1)];
  const int lo = (k < 2) ? (ql & 0xf) : (ql >> 4);
  const int hi = (b.qh[32 * half + l] >> (2 * k)) & 3;
  return lo | (hi << 4);
}

void quantize_row_q6_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<Q6_KBlock*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    // Symmetric: 16 sub-block scales from their absolute maxima over 31
    // (q - 32 spans -32..31), then the scales to int8 against d.
    float sub_scale[16];
    for (int j = 0; j < 16; ++j) {
      float amax = 0;
      for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[16 * j + l]));
      sub_scale[j] = amax / 31.f;
    }
    const float max_scale = *std::max_element(sub_scale, sub_scale + 16);
    const float d = fp16_to_fp32(fp32_to_fp16(max_scale / 127.f));
    y[i].d = fp32_to_fp16(d);
    uint8_t q[kQK_K];
    for (int j = 0; j < 16; ++j) {
      const int sc = d > 0 ? to_level(std::ceil(sub_scale[j] / d), 127) : 0;
      y[i].scales[j] = static_cast<int8_t>(sc);
      const float step = d * static_cast<float>(sc);
      for (int l = 0; l < 16; ++l) {
        const int v = step > 0 ? nearest_int(x[16 * j + l] / step) : 0;
        q[16 * j + l] = static_cast<uint8_t>(std::clamp(v, -32, 31) + 32);
      }
    }
    std::memset(y[i].ql, 0, sizeof y[i].ql);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    for (int e = 0; e < kQK_K; ++e) {
      const int half = e / 128, k = (e % 128) / 32, l = e % 32;
      uint8_t& ql = y[i].ql[64 * half + l + 32 * (k & 1)];
      ql = static_cast<uint8_t>(ql | ((q[e] & 0xf) << (k < 2 ? 0 : 4)));
      uint8_t& qh = y[i].qh[32 * half + l];
      qh = static_cast<uint8_t>(qh | ((q[e] >> 4) << (2 * k)));
    }
  }
}
void dequantize_row_q6_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const Q6_KBlock*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int e = 0; e < kQK_K; ++e) {
      *y++ = d * static_cast<float>(x[i].scales[e / 16]) * static_cast<float>(q6_k_value(x[i], e) - 32);
    }
  }
}
float dot_q6_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Q6_KBlock*>(w);
  const auto* b = static_cast<const Q8_KBlock*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += (q6_k_value(a[i], 16 * j + l) - 32) * b[i].qs[16 * j + l];
      isum += a[i].scales[j] * s;
    }
    add_block(sum, fp16_to_fp32(a[i].d) * b[i].d, isum);
  }
  return sum;
}

// ---------------------------------------------------------------- dispatch

KernelTable make_table(Isa isa) {
  KernelTable t;
  t.dot_f32 = dot_f32;
  t.dot_f16 = dot_f16;
  t.dot_bf16 = dot_bf16;
  t.dot_q4_0 = dot_q4_0;
  t.dot_q4_1 = dot_q4_1;
  t.dot_q5_0 = dot_q5_0;
  t.dot_q5_1 = dot_q5_1;
  t.dot_q8_0 = dot_q8_0;
  t.dot_q4_k = dot_q4_k;
  t.dot_q5_k = dot_q5_k;
  t.dot_q6_k = dot_q6_k;
  t.quantize_f16 = quantize_row_f16;
  t.quantize_bf16 = quantize_row_bf16;
  t.quantize_q8_0 = quantize_row_q8_0;
  t.quantize_q8_1 = quantize_row_q8_1;
  t.quantize_q8_k = quantize_row_q8_k;
  if (isa >= Isa::kAvx2) detail::fill_avx2_kernels(t);
  if (isa >= Isa::kAvx512) detail::fill_avx512_kernels(t);
  return t;
}

Isa detect() {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  if (!avx2) return Isa::kScalar;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vnni");
  return avx512 ? Isa::kAvx512 : Isa::kAvx2;
}

// The three tables are built once; switching ISA swaps a pointer.
struct Tables {
  Isa detected;
  KernelTable by_isa[3];
};
const Tables& tables() {
  static const Tables t = [] {
    Tables r;
    r.detected = detect();
    for (int i = 0; i <= static_cast<int>(r.detected); ++i) r.by_isa[i] = make_table(static_cast<Isa>(i));
    return r;
  }();
  return t;
}

std::atomic<int>& active_index() {
  static std::atomic<int> index{[] {
    const char* env = std::getenv("AGENTD_ISA");
    const std::optional<Isa> cap = env == nullptr ? std::nullopt : parse_isa(env);  // "" or invalid: none
    const Isa detected = tables().detected;
    return static_cast<int>(cap && *cap < detected ? *cap : detected);
  }()};
  return index;
}

const KernelTable& active_table() { return tables().by_isa[active_index().load(std::memory_order_relaxed)]; }

struct TypeInfo {
  int64_t block;   // elements per block; 0: not supported
  size_t bytes;    // bytes per block
};

TypeInfo type_info(TensorType type) {
  switch (type) {
    case TensorType::kF32: return {1, 4};
    case TensorType::kF16: return {1, 2};
    case TensorType::kBF16: return {1, 2};
    case TensorType::kQ4_0: return {kQK4_0, sizeof(Q4_0Block)};
    case TensorType::kQ4_1: return {kQK4_1, sizeof(Q4_1Block)};
    case TensorType::kQ5_0: return {kQK5_0, sizeof(Q5_0Block)};
    case TensorType::kQ5_1: return {kQK5_1, sizeof(Q5_1Block)};
    case TensorType::kQ8_0: return {kQK8_0, sizeof(Q8_0Block)};
    case TensorType::kQ8_1: return {kQK8_1, sizeof(Q8_1Block)};
    case TensorType::kQ4_K: return {kQK_K, sizeof(Q4_KBlock)};
    case TensorType::kQ5_K: return {kQK_K, sizeof(Q5_KBlock)};
    case TensorType::kQ6_K: return {kQK_K, sizeof(Q6_KBlock)};
    case TensorType::kQ8_K: return {kQK_K, sizeof(Q8_KBlock)};
    default: return {0, 0};
  }
}

detail::VecDotFn dot_fn(const KernelTable& t, TensorType type) {
  switch (type) {
    case TensorType::kF32: return t.dot_f32;
    case TensorType::kF16: return t.dot_f16;
    case TensorType::kBF16: return t.dot_bf16;
    case TensorType::kQ4_0: return t.dot_q4_0;
    case TensorType::kQ4_1: return t.dot_q4_1;
    case TensorType::kQ5_0: return t.dot_q5_0;
    case TensorType::kQ5_1: return t.dot_q5_1;
    case TensorType::kQ8_0: return t.dot_q8_0;
    case TensorType::kQ4_K: return t.dot_q4_k;
    case TensorType::kQ5_K: return t.dot_q5_k;
    case TensorType::kQ6_K: return t.dot_q6_k;
    default: return nullptr;
  }
}

const detail::MatKernel* mat_kernel(const KernelTable& t, TensorType type) {
  const detail::MatKernel* k = nullptr;
  switch (type) {
    case TensorType::kF32: k = &t.mat_f32; break;
    case TensorType::kF16: k = &t.mat_f16; break;
    case TensorType::kQ4_0: k = &t.mat_q4_0; break;
    case TensorType::kQ5_0: k = &t.mat_q5_0; break;
    case TensorType::kQ8_0: k = &t.mat_q8_0; break;
    case TensorType::kQ4_K: k = &t.mat_q4_k; break;
    case TensorType::kQ6_K: k = &t.mat_q6_k; break;
    default: break;
  }
  return (k != nullptr && k->mat != nullptr) ? k : nullptr;
}

// Per-thread scratch for converted and prepared activations, reused across calls.
std::vector<uint8_t>& activation_scratch() {
  thread_local std::vector<uint8_t> buf;
  return buf;
}
std::vector<uint8_t>& prepared_scratch() {
  thread_local std::vector<uint8_t> buf;
  return buf;
}

// Below this many multiply-adds a call stays on the calling thread: waking
// the pool costs microseconds, more than small matrices take.
constexpr int64_t kMinParallelWork = int64_t{1} << 17;

// Weight rows processed together: each is used against every activation row
// while it is in L1/L2 (a 4096-wide Q4_0 row is 2.3 KB).
constexpr int64_t kRowBlock = 16;

// A threaded matmul hands out its rows in about this many blocks per thread.
// One: each call of a matrix kernel then streams one long run of rows (its
// prefetch runs ahead from the first tile to the last but one, and the
// per-call set-up is paid once), which measured 4-7% faster decode steps
// than 4 blocks per thread, batch 8 and batch 1 alike, on Q8_0, Q4_0 and
// Q4_K_M files of a 135M-parameter model (2 threads, in-process A/B; F32 the
// same). The blocks are still claimed as threads come free, so a thread
// that starts late does not also take the other's half.
constexpr int64_t kBlocksPerThread = 1;

}  // namespace

Isa detected_isa() { return tables().detected; }
Isa active_isa() { return static_cast<Isa>(active_index().load(std::memory_order_relaxed)); }
void set_active_isa(Isa isa) {
  const int want = std::clamp(static_cast<int>(isa), 0, static_cast<int>(tables().detected));
  active_index().store(want, std::memory_order_relaxed);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "unknown";
}

std::optional<Isa> parse_isa(std::string_view name) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (name == isa_name(isa)) return isa;
  }
  return std::nullopt;
}

Status check_isa_environment() {
  const char* env = std::getenv("AGENTD_ISA");
  if (env == nullptr || *env == '\0' || parse_isa(env)) return Status::ok();
  return Status::invalid_argument(std::string("AGENTD_ISA=") + env + ": expected scalar, avx2 or avx512");
}

bool can_matmul(TensorType type) { return dot_fn(tables().by_isa[0], type) != nullptr; }

int64_t block_size(TensorType type) { return type_info(type).block; }

TensorType vec_dot_type(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::kF32: return TensorType::kF32;
    case TensorType::kF16: return TensorType::kF16;
    case TensorType::kBF16: return TensorType::kBF16;
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
    case TensorType::kQ8_0: return TensorType::kQ8_0;
    case TensorType::kQ4_1:
    case TensorType::kQ5_1: return TensorType::kQ8_1;
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K: return TensorType::kQ8_K;
    default: return TensorType::kF32;
  }
}

size_t row_bytes(TensorType type, int64_t n) {
  const TypeInfo info = type_info(type);
  if (info.block == 0 || n < 0 || n % info.block != 0) return 0;
  return static_cast<size_t>(n / info.block) * info.bytes;
}

void quantize_row(TensorType type, const float* x, void* dst, int64_t n) {
  const KernelTable& t = active_table();
  switch (type) {
    case TensorType::kF32: std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float)); return;
    case TensorType::kF16: t.quantize_f16(x, dst, n); return;
    case TensorType::kBF16: t.quantize_bf16(x, dst, n); return;
    case TensorType::kQ4_0: quantize_row_q4_0(x, dst, n); return;
    case TensorType::kQ4_1: quantize_row_q4_1(x, dst, n); return;
    case TensorType::kQ5_0: quantize_row_q5_0(x, dst, n); return;
    case TensorType::kQ5_1: quantize_row_q5_1(x, dst, n); return;
    case TensorType::kQ8_0: t.quantize_q8_0(x, dst, n); return;
    case TensorType::kQ8_1: t.quantize_q8_1(x, dst, n); return;
    case TensorType::kQ4_K: quantize_row_q4_k(x, dst, n); return;
    case TensorType::kQ5_K: quantize_row_q5_k(x, dst, n); return;
    case TensorType::kQ6_K: quantize_row_q6_k(x, dst, n); return;
    case TensorType::kQ8_K: t.quantize_q8_k(x, dst, n); return;
    default: return;
  }
}

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  switch (type) {
    case TensorType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case TensorType::kF16: dequantize_row_f16(src, dst, n); return;
    case TensorType::kBF16: dequantize_row_bf16(src, dst, n); return;
    case TensorType::kQ4_0: dequantize_row_q4_0(src, dst, n); return;
    case TensorType::kQ4_1: dequantize_row_q4_1(src, dst, n); return;
    case TensorType::kQ5_0: dequantize_row_q5_0(src, dst, n); return;
    case TensorType::kQ5_1: dequantize_row_q5_1(src, dst, n); return;
    case TensorType::kQ8_0: dequantize_row_q8_0(src, dst, n); return;
    case TensorType::kQ8_1: dequantize_row_q8_1(src, dst, n); return;
    case TensorType::kQ4_K: dequantize_row_q4_k(src, dst, n); return;
    case TensorType::kQ5_K: dequantize_row_q5_k(src, dst, n); return;
    case TensorType::kQ6_K: dequantize_row_q6_k(src, dst, n); return;
    case TensorType::kQ8_K: dequantize_row_q8_k(src, dst, n); return;
    default: return;
  }
}

float vec_dot(TensorType type, int64_t n, const void* w_row, const void* x_row) {
  const detail::VecDotFn fn = dot_fn(active_table(), type);
  return fn != nullptr ? fn(n, w_row, x_row) : 0.f;
}

SumOrder sum_order(TensorType type, Isa isa) {
  const bool blocks32 = type == TensorType::kQ4_0 || type == TensorType::kQ5_0 || type == TensorType::kQ8_0;
  return blocks32 && isa == Isa::kAvx512 ? SumOrder::kWholeBlocks : SumOrder::kLanes;
}

float reference_vec_dot(Isa isa, TensorType type, int64_t n, const void* w_row, const void* x_row) {
  if (sum_order(type, isa) == SumOrder::kWholeBlocks) {
    switch (type) {
      case TensorType::kQ4_0: return dot_q4_0_in<WholeBlocks>(n, w_row, x_row);
      case TensorType::kQ5_0: return dot_q5_0_in<WholeBlocks>(n, w_row, x_row);
      default: return dot_q8_0_in<WholeBlocks>(n, w_row, x_row);
    }
  }
  const detail::VecDotFn fn = dot_fn(tables().by_isa[0], type);
  return fn != nullptr ? fn(n, w_row, x_row) : 0.f;
}

void matmul(TensorType type, const void* w, int64_t rows, int64_t n, const float* x, int64_t m, float* y,
            ThreadPool* pool) {
  const MatmulTarget target{w, rows, y};
  matmul_group(type, n, std::span<const MatmulTarget>(&target, 1), x, m, pool);
}

void matmul_group(TensorType type, int64_t n, std::span<const MatmulTarget> targets, const float* x, int64_t m,
                  ThreadPool* pool) {
  const KernelTable& table = active_table();
  const detail::VecDotFn dot = dot_fn(table, type);
  const TensorType act_type = vec_dot_type(type);
  const size_t w_stride = row_bytes(type, n);
  const size_t x_stride = row_bytes(act_type, n);
  int64_t rows = 0;
  for (const MatmulTarget& t : targets) rows += t.rows;
  if (dot == nullptr || w_stride == 0 || x_stride == 0 || rows <= 0 || m <= 0) return;

  // 1. Activations to vec_dot_type, once per call (F32 is used in place).
  const uint8_t* xq = reinterpret_cast<const uint8_t*>(x);
  if (act_type != TensorType::kF32) {
    std::vector<uint8_t>& buf = activation_scratch();
    buf.resize(x_stride * static_cast<size_t>(m));
    uint8_t* out = buf.data();
    auto convert = [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) quantize_row(act_type, x + i * n, out + x_stride * i, n);
    };
    if (pool != nullptr && m > 1 && n * m >= kMinParallelWork) {
      pool->parallel_for(m, convert);
    } else {
      convert(0, m);
    }
    xq = out;
  }

  // 2. Optionally to the matrix kernel's own layout, once per call.
  const detail::MatKernel* mk = mat_kernel(table, type);
  if (mk != nullptr && m == 1 && !mk->decode) mk = nullptr;
  size_t xs = x_stride;
  if (mk != nullptr && mk->prepare != nullptr) {
    xs = mk->prepared_bytes(n);
    std::vector<uint8_t>& buf = prepared_scratch();
    buf.resize(xs * static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) mk->prepare(n, xq + x_stride * i, buf.data() + xs * i);
    xq = buf.data();
  }

  // 3. The rows of all targets, one after another, split across threads in
  //    blocks of kRowBlock; each block of weight rows meets every activation
  //    row before the next block is loaded.
  auto target_rows = [&](const MatmulTarget& t, int64_t begin, int64_t end) {
    const auto* wb = static_cast<const uint8_t*>(t.w);
    if (mk != nullptr) {
      mk->mat(n, wb + w_stride * begin, w_stride, end - begin, xq, xs, m, t.y + begin, t.rows);
      return;
    }
    for (int64_t r0 = begin; r0 < end; r0 += kRowBlock) {
      const int64_t r1 = std::min(end, r0 + kRowBlock);
      for (int64_t i = 0; i < m; ++i) {
        const uint8_t* xi = xq + x_stride * i;
        float* yi = t.y + i * t.rows;
        for (int64_t r = r0; r < r1; ++r) yi[r] = dot(n, wb + w_stride * r, xi);
      }
    }
  };
  auto rows_task = [&](int64_t begin, int64_t end) {
    int64_t first = 0;  // index in the concatenation of the current target's row 0
    for (const MatmulTarget& t : targets) {
      const int64_t b = std::max(begin, first);
      const int64_t e = std::min(end, first + t.rows);
      if (b < e) {
        target_rows(t, b - first, e - first);
        if (t.done != nullptr) t.done(t.done_ctx, b - first, e - first);
      }
      first += t.rows;
    }
  };
  if (pool != nullptr && rows * n * m >= kMinParallelWork) {
    // About kBlocksPerThread blocks per thread, claimed as threads come free.
    const int64_t per_block = rows / (kBlocksPerThread * pool->n_threads());
    int64_t unit = kRowBlock;  // blocks start where every target's done_align allows
    for (const MatmulTarget& t : targets) unit = std::lcm(unit, std::max<int64_t>(1, t.done_align));
    const int64_t grain = std::max<int64_t>(1, (per_block + unit - 1) / unit) * unit;
    pool->parallel_for_dynamic(rows, grain, rows_task);
  } else {
    rows_task(0, rows);
  }
}

}  // namespace agentd::engine
