// CPU-only SIMD support for the fast paths of the CPU ops (host code; never included by .cu).
//
// The fast paths are written once, as templates on the vector width W, with GCC/Clang vector
// extensions, and compiled three times by SP_CPU_KERNEL: for AVX-512 (W = 16), for AVX2 (W = 8)
// and for the compiler's baseline (W = 4: SSE2 on x86-64, NEON on AArch64, ...); cpu_isa()
// picks the variant at run time. Every vector operation is the IEEE operation of the scalar
// code it replaces, lane by lane and in the same order, so every variant gives results
// bit-identical to the scalar SP_HD functions (this needs -ffp-contract=off, set in
// CMakeLists.txt: no fused multiply-add may be formed). tests/test_ops_fastpaths.py checks it.
//
// SUPERPOINT_RT_CPU_ISA (read once) picks a variant for testing: auto (default) | avx512 | avx2 |
// generic (the vector code for the baseline target) | scalar (the per-element SP_HD loops). A
// request the CPU cannot run falls back to the best variant it can.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "common.h"

#if (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__)
#define SP_HAVE_VECTOR_EXT 1
#else
#define SP_HAVE_VECTOR_EXT 0
#endif

#if SP_HAVE_VECTOR_EXT && (defined(__x86_64__) || defined(__i386__))
#define SP_HAVE_X86_VARIANTS 1
#include <immintrin.h>
#define SP_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c,bmi,bmi2,popcnt")))
#define SP_TARGET_AVX2 __attribute__((target("avx2,fma,f16c,bmi,bmi2,popcnt")))
#else
#define SP_HAVE_X86_VARIANTS 0
#endif

#if SP_HAVE_VECTOR_EXT
#define SP_ALWAYS_INLINE inline __attribute__((always_inline))
// 64-byte vectors passed between always-inline helpers: no ABI is involved, silence the note.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#else
#define SP_ALWAYS_INLINE inline
#endif

namespace sp {

enum class CpuIsa : int { kScalar = 0, kGeneric = 1, kAvx2 = 2, kAvx512 = 3 };

inline const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512:
      return "avx512";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kGeneric:
      return "generic";
    case CpuIsa::kScalar:
    default:
      return "scalar";
  }
}

// The best variant this CPU runs.
inline CpuIsa cpu_isa_supported() {
#if SP_HAVE_X86_VARIANTS
  __builtin_cpu_init();
  // Every feature named in SP_TARGET_AVX2 / SP_TARGET_AVX512 (the compiler may use any of them).
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c") && __builtin_cpu_supports("bmi") &&
                    __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    return CpuIsa::kAvx512;
  }
  return avx2 ? CpuIsa::kAvx2 : CpuIsa::kGeneric;
#elif SP_HAVE_VECTOR_EXT
  return CpuIsa::kGeneric;
#else
  return CpuIsa::kScalar;
#endif
}

// The variant in use (detected once; SUPERPOINT_RT_CPU_ISA may lower it).
inline CpuIsa cpu_isa() {
  static const CpuIsa isa = [] {
    const CpuIsa best = cpu_isa_supported();
    const char* env = std::getenv("SUPERPOINT_RT_CPU_ISA");
    const std::string want = env ? env : "auto";
    CpuIsa req = best;
    if (want == "scalar") req = CpuIsa::kScalar;
    if (want == "generic") req = CpuIsa::kGeneric;
    if (want == "avx2") req = CpuIsa::kAvx2;
    if (want == "avx512") req = CpuIsa::kAvx512;
    return static_cast<int>(req) < static_cast<int>(best) ? req : best;
  }();
  return isa;
}

#if SP_HAVE_VECTOR_EXT
namespace simd {

// Vectors of W lanes (W = 16 for AVX-512, 8 for AVX2, 4 for the baseline): the width is native
// to each variant, so comparisons and selects compile to vector instructions (GCC splits wider
// generic vectors into scalar code for them).
template <int W>
struct Vec {
  typedef float f __attribute__((vector_size(4 * W)));
  typedef int32_t i __attribute__((vector_size(4 * W)));
  typedef uint32_t u __attribute__((vector_size(4 * W)));
  typedef uint16_t h __attribute__((vector_size(2 * W)));
};

// Vector of N elements of type T (a struct: the attribute needs a non-dependent context).
template <typename T, int N>
struct VecN {
  typedef T type __attribute__((vector_size(sizeof(T) * N)));
};

template <int W>
SP_ALWAYS_INLINE typename Vec<W>::f load(const float* p) {
  typename Vec<W>::f v;
  memcpy(&v, p, sizeof(v));
  return v;
}

template <typename VF>
SP_ALWAYS_INLINE void store(float* p, const VF& v) {
  memcpy(p, &v, sizeof(v));
}

template <typename VF>
SP_ALWAYS_INLINE VF splat(float x) {
  return VF{} + x;
}

// Casts between vector types of the same size are bit casts (GCC/Clang vector extensions).
template <typename VF>
struct IntVecs {
  typedef uint32_t u __attribute__((vector_size(sizeof(VF))));
  typedef int32_t i __attribute__((vector_size(sizeof(VF))));
};
template <typename VF>
using UintOf = typename IntVecs<VF>::u;
template <typename VF>
using IntOf = typename IntVecs<VF>::i;

template <typename VF>
SP_ALWAYS_INLINE UintOf<VF> bits(const VF& v) {
  return (UintOf<VF>)v;
}

// half_to_float of common.h, lane by lane (exact for every input).
template <int W>
SP_ALWAYS_INLINE typename Vec<W>::f half_to_float(const typename Vec<W>::h& h16) {
  typedef typename Vec<W>::u VU;
  typedef typename Vec<W>::f VF;
  const VU h = __builtin_convertvector(h16, VU);
  const VU sign = (h & 0x8000u) << 16;
  const VU em = h & 0x7fffu;
  const VU special = 0x7f800000u | ((em & 0x3ffu) << 13);
  const VU normal = (VU)((VF)(em << 13) * 5.192296858534828e+33f);
  const VU r = (em >= 0x7c00u) ? special : normal;
  return (VF)(r | sign);
}

template <int W>
SP_ALWAYS_INLINE typename Vec<W>::f load_as_float(const float* p) {
  return load<W>(p);
}
template <int W>
SP_ALWAYS_INLINE typename Vec<W>::f load_as_float(const uint16_t* p) {
  typename Vec<W>::h h;
  memcpy(&h, p, sizeof(h));
  return half_to_float<W>(h);
}

// exp_f32 of common.h, lane by lane, in place on U vectors, for x <= 0 and not NaN (a softmax
// after max-subtraction): there the integer clamp of exp_f32 is a float max with its lower bound
// and the upper clamp never applies, so every operation below is exp_f32's and the results are
// bit-identical. The U evaluations are interleaved step by step: independent work for the
// out-of-order core to overlap with each chain's latency.
template <int U, typename VF>
SP_ALWAYS_INLINE void exp_f32_nonpositive_n(VF* x) {
  const float lo = bits_float(0xC2AEAC50u);  // exp_f32's lower bound, about -87.33654
  const float kRound = 12582912.0f;
  VF n[U], r[U], p[U];
  for (int u = 0; u < U; ++u) x[u] = x[u] < lo ? splat<VF>(lo) : x[u];
  for (int u = 0; u < U; ++u) n[u] = (x[u] * 1.44269504088896341f + kRound) - kRound;
  for (int u = 0; u < U; ++u) r[u] = x[u] - n[u] * 0.693359375f;
  for (int u = 0; u < U; ++u) r[u] = r[u] - n[u] * -2.12194440e-4f;
  for (int u = 0; u < U; ++u) p[u] = splat<VF>(1.9875691500e-4f) * r[u] + 1.3981999507e-3f;
  for (int u = 0; u < U; ++u) p[u] = p[u] * r[u] + 8.3334519073e-3f;
  for (int u = 0; u < U; ++u) p[u] = p[u] * r[u] + 4.1665795894e-2f;
  for (int u = 0; u < U; ++u) p[u] = p[u] * r[u] + 1.6666665459e-1f;
  for (int u = 0; u < U; ++u) p[u] = p[u] * r[u] + 5.0000001201e-1f;
  for (int u = 0; u < U; ++u) p[u] = p[u] * r[u] * r[u] + r[u] + 1.0f;
  for (int u = 0; u < U; ++u) {
    const IntOf<VF> e = __builtin_convertvector(n[u], IntOf<VF>) + 127;
    x[u] = p[u] * (VF)((UintOf<VF>)e << 23);
  }
}

template <typename VF>
SP_ALWAYS_INLINE VF exp_f32_nonpositive(const VF& x) {
  VF y = x;
  exp_f32_nonpositive_n<1>(&y);
  return y;
}

// All-ones lanes where v is NaN or +-inf.
template <typename VF>
SP_ALWAYS_INLINE UintOf<VF> nonfinite_mask(const VF& v) {
  return (UintOf<VF>)((bits(v) & 0x7f800000u) == 0x7f800000u);
}

// True when some lane of an OR of nonfinite_mask results is set.
template <typename VU>
SP_ALWAYS_INLINE bool any_set(const VU& m) {
  uint64_t w[sizeof(VU) / 8];
  memcpy(w, &m, sizeof(w));
  uint64_t acc = 0;
  for (size_t k = 0; k < sizeof(VU) / 8; ++k) acc |= w[k];
  return acc != 0;
}

// Bit l set when lane l of the comparison result m is true (its sign bit is set). Target
// specific where the target has an instruction for it (the specialisations carry the target
// attribute and are inlined into the kernels compiled for that target).
template <int W>
inline uint32_t movemask(const typename Vec<W>::i& m) {
  int32_t lanes[W];
  memcpy(lanes, &m, sizeof(lanes));
  uint32_t bits = 0;
  for (int l = 0; l < W; ++l) bits |= static_cast<uint32_t>(lanes[l] < 0) << l;
  return bits;
}
#if SP_HAVE_X86_VARIANTS
template <>
SP_TARGET_AVX512 inline uint32_t movemask<16>(const Vec<16>::i& m) {
  return static_cast<uint32_t>(_mm512_movepi32_mask((__m512i)m));
}
template <>
SP_TARGET_AVX2 inline uint32_t movemask<8>(const Vec<8>::i& m) {
  return static_cast<uint32_t>(_mm256_movemask_ps((__m256)m));
}
#if defined(__SSE__) || defined(__x86_64__)
template <>
inline uint32_t movemask<4>(const Vec<4>::i& m) {
  return static_cast<uint32_t>(_mm_movemask_ps((__m128)m));
}
#endif
#endif

// Interleave of blocks of G lanes: from the lower halves of a and b (kHi false: a[0..G), b[0..G),
// a[G..2G), ...) or from the upper halves (kHi true).
constexpr int interleave_index(int w, int g, bool hi, int i) {
  return (i % (2 * g) >= g ? w : 0) + (hi ? w / 2 : 0) + (i / (2 * g)) * g + i % g;
}

template <int G, bool kHi, typename VF, int... I>
SP_ALWAYS_INLINE VF interleave_impl(const VF& a, const VF& b, std::integer_sequence<int, I...>) {
  constexpr int kW = static_cast<int>(sizeof(VF) / 4);
#if defined(__clang__)
  return __builtin_shufflevector(a, b, interleave_index(kW, G, kHi, I)...);
#else
  return __builtin_shuffle(a, b, IntOf<VF>{interleave_index(kW, G, kHi, I)...});
#endif
}

template <int G, bool kHi, typename VF>
SP_ALWAYS_INLINE VF interleave(const VF& a, const VF& b) {
  return interleave_impl<G, kHi>(a, b, std::make_integer_sequence<int, sizeof(VF) / 4>{});
}

}  // namespace simd
#endif  // SP_HAVE_VECTOR_EXT

}  // namespace sp

// Defines `ret name(params)` dispatching on cpu_isa() to `impl<W> args` compiled for AVX-512
// (W = 16), AVX2 (W = 8) and the baseline target (W = 4); `scalar args` runs for CpuIsa::kScalar
// (and where there are no vector extensions). impl must be SP_ALWAYS_INLINE.
#if SP_HAVE_X86_VARIANTS
#define SP_CPU_KERNEL(ret, name, impl, params, args, scalar)            \
  SP_TARGET_AVX512 __attribute__((noinline)) ret name##_avx512 params { \
    return impl<16> args;                                               \
  }                                                                     \
  SP_TARGET_AVX2 __attribute__((noinline)) ret name##_avx2 params {     \
    return impl<8> args;                                                \
  }                                                                     \
  __attribute__((noinline)) ret name##_generic params {                 \
    return impl<4> args;                                                \
  }                                                                     \
  ret name params {                                                     \
    switch (::sp::cpu_isa()) {                                          \
      case ::sp::CpuIsa::kAvx512:                                       \
        return name##_avx512 args;                                      \
      case ::sp::CpuIsa::kAvx2:                                         \
        return name##_avx2 args;                                        \
      case ::sp::CpuIsa::kGeneric:                                      \
        return name##_generic args;                                     \
      default:                                                          \
        return scalar args;                                             \
    }                                                                   \
  }
#elif SP_HAVE_VECTOR_EXT
#define SP_CPU_KERNEL(ret, name, impl, params, args, scalar)                   \
  __attribute__((noinline)) ret name##_generic params {                        \
    return impl<4> args;                                                       \
  }                                                                            \
  ret name params {                                                            \
    if (::sp::cpu_isa() == ::sp::CpuIsa::kGeneric) return name##_generic args; \
    return scalar args;                                                        \
  }
#else
#define SP_CPU_KERNEL(ret, name, impl, params, args, scalar) \
  ret name params {                                          \
    return scalar args;                                      \
  }
#endif
