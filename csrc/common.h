// Shared definitions for the post-processing ops (host and device).
//
// Every op keeps its per-element math in csrc/<op>/<op>.h as `SP_HD inline` functions of
// (index, arguments): the CPU code runs them in plain loops, the CUDA kernels run them per thread.
// Functions marked SP_HD use no std:: containers, no exceptions and no host-only library calls.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define SP_HD __host__ __device__
#else
#define SP_HD
#endif

namespace sp {

// Bit-exact reinterpretation (memcpy is the portable, UB-free way; compilers turn it into a move).
SP_HD inline uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof(u));
  return u;
}

SP_HD inline float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof(f));
  return f;
}

// IEEE 754 binary16 (numpy.float16) bits -> float32, exact for every input (normals, subnormals,
// zeros, inf, NaN). Branch-light: the exponent is rebiased by one float multiply by 2^112.
SP_HD inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;  // exponent + mantissa
  uint32_t r;
  if (em >= 0x7c00u) {
    r = 0x7f800000u | ((em & 0x3ffu) << 13);  // inf / NaN
  } else {
    r = float_bits(bits_float(em << 13) * 5.192296858534828e+33f);  // * 2^112
  }
  return bits_float(r | sign);
}

// Element loaders so one templated function serves float32 and float16 inputs.
SP_HD inline float load_as_float(const float* p, int64_t i) {
  return p[i];
}
SP_HD inline float load_as_float(const uint16_t* p, int64_t i) {
  return half_to_float(p[i]);
}

// Finite test on the bit pattern (exponent not all ones): independent of -ffast-math and
// usable in device code.
SP_HD inline bool is_finite_float(float f) {
  return (float_bits(f) & 0x7f800000u) != 0x7f800000u;
}

// exp(x) for float32, Cephes-style: x = n ln2 + r with |r| <= ln2 / 2, a degree-6 polynomial for
// e^r, 2^n from the exponent bits. Max relative error ~2e-7 (about 1.5 ulp) on [-87.3, 88];
// below -87.3 it returns ~1e-38 instead of a subnormal / 0; above 88 it returns exp(88).
// Branch-free and call-free, so loops over it vectorise on the CPU; identical arithmetic on host
// and device (compile device code with
// --fmad=false where bit equality with the host matters).
SP_HD inline float exp_f32(float x) {
  // Clamp to [-87.33654, 88] with integer min/max on an order-preserving integer image of the
  // bits (float compares do not vectorise under -ftrapping-math); NaN lands in the range too.
  int32_t m = static_cast<int32_t>(float_bits(x));
  m ^= (m >> 31) & 0x7fffffff;
  const int32_t lo = static_cast<int32_t>(0xC2AEAC50u ^ 0x7fffffffu);  // image of -87.33654f
  const int32_t hi = 0x42B00000;                                       // image of 88.0f
  m = m < lo ? lo : m;
  m = m > hi ? hi : m;
  m ^= (m >> 31) & 0x7fffffff;
  x = bits_float(static_cast<uint32_t>(m));
  const float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * 1.44269504088896341f + kRound) - kRound;  // round(x / ln2)
  float r = x - n * 0.693359375f;  // ln2 split in two for an exact reduction
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t e = static_cast<int32_t>(n) + 127;  // in [1, 254] after the clamp
  return p * bits_float(static_cast<uint32_t>(e) << 23);
}

SP_HD inline int64_t clamp_i64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

}  // namespace sp
