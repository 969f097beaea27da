#pragma once
// Block layouts of ggml's tensor encodings, byte for byte as ggml stores them
// in GGUF files, and the half-precision conversions they need.
//
// A block holds `k*` consecutive elements of a row. All structs are plain
// data with no padding (checked below), so a row in a memory-mapped file can
// be read through a pointer to its blocks; the fields are little-endian as on
// every machine this engine runs on.
//
// The conversion helpers are `static inline` on purpose: the SIMD translation
// units include this header too and are compiled with AVX2/AVX-512 flags, and a
// shared (weak) inline copy compiled there could be picked by the linker for
// callers that run on CPUs without those instructions.

#include <cstdint>
#include <cstring>

namespace agentd::engine {

constexpr int kQK4_0 = 32;
constexpr int kQK4_1 = 32;
constexpr int kQK5_0 = 32;
constexpr int kQK5_1 = 32;
constexpr int kQK8_0 = 32;
constexpr int kQK8_1 = 32;
constexpr int kQK_K = 256;  // super-block of the K-quants
constexpr int kKScaleBytes = 12;  // 8 six-bit scales + 8 six-bit mins (Q4_K, Q5_K)

using Half = uint16_t;  // IEEE 754 binary16 bits
using BHalf = uint16_t;  // bfloat16 bits

// x = d * (q - 8), q: 4 bits. qs[j] low nibble is element j, high nibble element j + 16.
struct Q4_0Block {
  Half d;
  uint8_t qs[kQK4_0 / 2];
};
// x = d * q + m, q: 4 bits, nibbles as Q4_0.
struct Q4_1Block {
  Half d;
  Half m;
  uint8_t qs[kQK4_1 / 2];
};
// x = d * (q - 16), q: 5 bits; low 4 bits as Q4_0, bit 4 of element j is bit j of qh (LE uint32).
struct Q5_0Block {
  Half d;
  uint8_t qh[4];
  uint8_t qs[kQK5_0 / 2];
};
// x = d * q + m, q: 5 bits laid out as Q5_0.
struct Q5_1Block {
  Half d;
  Half m;
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};
// x = d * q, q: int8.
struct Q8_0Block {
  Half d;
  int8_t qs[kQK8_0];
};
// Activations for Q4_1/Q5_1: x = d * q, and s = d * sum(q).
struct Q8_1Block {
  Half d;
  Half s;
  int8_t qs[kQK8_1];
};
// 256 elements in 8 sub-blocks of 32: x = d * sc[j] * q - dmin * m[j], q: 4 bits.
// Within each 64 elements, qs[32 bytes] holds the first 32 in low nibbles and
// the next 32 in high nibbles. scales packs sc[8] and m[8], 6 bits each.
struct Q4_KBlock {
  Half d;
  Half dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};
// As Q4_K with a fifth bit: for the 64-element group g, bit 2g of qh[l] belongs
// to element 64g + l and bit 2g + 1 to element 64g + 32 + l.
struct Q5_KBlock {
  Half d;
  Half dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
// 256 elements in 16 sub-blocks of 16: x = d * scales[j] * (q - 32), q: 6 bits
// (low 4 in ql, high 2 in qh; see dequantize_q6_k in kernels.cpp for the order).
struct Q6_KBlock {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  Half d;
};
// Activations for the K-quants: x = d * q; bsums[j] = sum of qs[16j .. 16j+15].
struct Q8_KBlock {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(Q4_0Block) == 18);
static_assert(sizeof(Q4_1Block) == 20);
static_assert(sizeof(Q5_0Block) == 22);
static_assert(sizeof(Q5_1Block) == 24);
static_assert(sizeof(Q8_0Block) == 34);
static_assert(sizeof(Q8_1Block) == 36);
static_assert(sizeof(Q4_KBlock) == 144);
static_assert(sizeof(Q5_KBlock) == 176);
static_assert(sizeof(Q6_KBlock) == 210);
static_assert(sizeof(Q8_KBlock) == 292);

static inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
static inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// binary16 -> float, exact (subnormals, infinities and NaN included).
static inline float fp16_to_fp32(Half h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (mant << 13));
  if (exp != 0) return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return bits_float(sign);
  // Subnormal: value = mant * 2^-24, exact in float.
  const float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
  return (sign != 0) ? -v : v;
}

// float -> binary16 with round-to-nearest-even, as the F16C instruction
// vcvtps2ph (what ggml uses on x86) does; overflow gives infinity.
static inline Half fp32_to_fp16(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<Half>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));  // NaN
  if (abs >= 0x477ff000u) return static_cast<Half>(sign | 0x7c00u);  // rounds to >= 65536: inf
  if (abs < 0x38800000u) {
    // Result is subnormal or zero: value / 2^-24 rounded to nearest even.
    if (abs < 0x33000000u) return static_cast<Half>(sign);  // < 2^-25: rounds to zero
    const uint32_t exp = abs >> 23;
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exp;  // 14..24
    uint32_t q = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return static_cast<Half>(sign | q);
  }
  // Normal: rebias exponent, round mantissa from 23 to 10 bits (carry may
  // bump the exponent, which is the right result).
  uint32_t r = abs - 0x38000000u;  // exponent 127 -> 15
  const uint32_t rem = r & 0x1fffu;
  r >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return static_cast<Half>(sign | r);
}

static inline float bf16_to_fp32(BHalf h) { return bits_float(static_cast<uint32_t>(h) << 16); }

// float -> bfloat16, round-to-nearest-even; NaN stays a quiet NaN (as ggml).
static inline BHalf fp32_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<BHalf>((u >> 16) | 64u);
  return static_cast<BHalf>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

// Round to nearest, ties to even, for |x| < 2^22 (ggml's nearest_int).
static inline int nearest_int(float x) {
  const float v = x + 12582912.f;  // 1.5 * 2^23: the mantissa now holds the integer
  return static_cast<int>(float_bits(v) & 0x007fffffu) - 0x00400000;
}

// Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block.
static inline void k_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace agentd::engine
