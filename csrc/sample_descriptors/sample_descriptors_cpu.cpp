// CPU descriptor sampling. Two paths with the same per-channel arithmetic (sample_plane of
// sample_descriptors.h, then l2_normalize), so the same results bit for bit:
//
//  - few keypoints: channel by channel (one (Hc, Wc) plane stays in L1 while every keypoint
//    reads it) into a (C, N) buffer, then a transpose, then l2_normalize per row;
//  - many keypoints: the rows of the map they read are transposed to channel-last (a ring of
//    rows, see sample_by_rows), then each keypoint's channels are interpolated as vectors,
//    normalised and written once; ranges of rows are split between threads (parallel.h).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "parallel.h"
#include "sample_descriptors/sample_descriptors.h"
#include "scratch.h"
#include "simd.h"

namespace sp {
namespace {

// ---- few keypoints: channel-major ----

template <int N, typename T>
void sample_channel_major(const T* coarse, int64_t c, int64_t hc, int64_t wc,
                          const SampleTaps<N>* taps, int64_t n, float* out) {
  thread_local std::vector<float> cn;  // (C, N), reused: no allocation per call
  ScratchGuard<float> cn_guard(&cn);
  cn.resize(static_cast<size_t>(c * n));
  const int64_t plane = hc * wc;
  for (int64_t ch = 0; ch < c; ++ch) {
    const T* p = coarse + ch * plane;
    float* dst = cn.data() + ch * n;
    for (int64_t k = 0; k < n; ++k) dst[k] = sample_plane<N>(p, taps[k]);
  }
  // Tiled transpose (C, N) -> (N, C).
  constexpr int64_t kTile = 32;
  for (int64_t k0 = 0; k0 < n; k0 += kTile) {
    const int64_t k1 = k0 + kTile < n ? k0 + kTile : n;
    for (int64_t c0 = 0; c0 < c; c0 += kTile) {
      const int64_t c1 = c0 + kTile < c ? c0 + kTile : c;
      for (int64_t k = k0; k < k1; ++k) {
        for (int64_t ch = c0; ch < c1; ++ch) out[k * c + ch] = cn[ch * n + k];
      }
    }
  }
}

// ---- many keypoints: channel-last rows ----
//
// Keypoints are taken in the order of their first tap row. A ring of N rows of the map (N taps
// per axis) holds the rows they read channel-last: map row y in slot y % N, laid out as
// (channel group of 16, column, 16 channels), so the transpose reads each plane row
// sequentially and writes whole lines. Per keypoint every tap is then a few 16-channel vectors:
// interpolated, normalised while in L1 and written once. Rows no keypoint reads are never
// transposed; threads take contiguous ranges of rows.

constexpr int kGroupChannels = 16;
constexpr int kGroup = 4;  // keypoints normalised together (independent summation chains)

// Taps with row indices (stride 1) instead of row offsets.
template <int N>
SampleTaps<N> sample_taps_rows(float x, float y, int64_t hc, int64_t wc, Convention conv) {
  SampleTaps<N> taps;
  const bool zero_pad = conv == Convention::kMagicLeap;
  sample_axis_taps<N>(sample_coord(y, hc, conv), hc, 1, zero_pad, taps.oy, taps.wy);
  sample_axis_taps<N>(sample_coord(x, wc, conv), wc, 1, zero_pad, taps.ox, taps.wx);
  return taps;
}

// The first 64-byte aligned address at or after p (buffers get 16 spare floats).
float* align64(float* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  return reinterpret_cast<float*>((a + 63) & ~uintptr_t{63});
}

// Index of channel ch of column x in a ring slot.
inline int64_t slot_index(int64_t ch, int64_t x, int64_t wc) {
  return (ch / kGroupChannels) * wc * kGroupChannels + x * kGroupChannels + ch % kGroupChannels;
}

// Scalar versions (only reached without vector extensions: cpu_isa() is then kScalar and the
// channel-major path runs; kept for SP_CPU_KERNEL's fallback).
template <typename T>
void transpose_row_scalar(const T* coarse, int64_t c, int64_t cp, int64_t hc, int64_t wc, int64_t y,
                          float* slot) {
  for (int64_t ch = 0; ch < cp; ++ch) {
    for (int64_t x = 0; x < wc; ++x) {
      slot[slot_index(ch, x, wc)] = ch < c ? load_as_float(coarse, (ch * hc + y) * wc + x) : 0.0f;
    }
  }
}

template <int N>
int64_t sample_ring_scalar(const float* ring, int64_t c, int64_t cp, int64_t wc,
                           const SampleTaps<N>* taps, const int64_t* order, int64_t count,
                           float* rows, float* out) {
  (void)rows;
  const int64_t slot = wc * cp;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t k = order[i];
    const SampleTaps<N>& t = taps[k];
    for (int64_t ch = 0; ch < c; ++ch) {
      float acc = 0.0f;
      for (int a = 0; a < N; ++a) {
        float line = 0.0f;
        for (int b = 0; b < N; ++b) {
          line += t.wx[b] * ring[(t.oy[a] % N) * slot + slot_index(ch, t.ox[b], wc)];
        }
        acc += t.wy[a] * line;
      }
      out[k * c + ch] = acc;
    }
    if (!l2_normalize(out + k * c, c)) return k;
  }
  return -1;
}

void transpose_row_f32_scalar(const float* coarse, int64_t c, int64_t cp, int64_t hc, int64_t wc,
                              int64_t y, float* slot) {
  transpose_row_scalar(coarse, c, cp, hc, wc, y, slot);
}
void transpose_row_f16_scalar(const uint16_t* coarse, int64_t c, int64_t cp, int64_t hc, int64_t wc,
                              int64_t y, float* slot) {
  transpose_row_scalar(coarse, c, cp, hc, wc, y, slot);
}
int64_t sample_ring2_scalar(const float* ring, int64_t c, int64_t cp, int64_t wc,
                            const SampleTaps<2>* taps, const int64_t* order, int64_t count,
                            float* rows, float* out) {
  return sample_ring_scalar<2>(ring, c, cp, wc, taps, order, count, rows, out);
}
int64_t sample_ring4_scalar(const float* ring, int64_t c, int64_t cp, int64_t wc,
                            const SampleTaps<4>* taps, const int64_t* order, int64_t count,
                            float* rows, float* out) {
  return sample_ring_scalar<4>(ring, c, cp, wc, taps, order, count, rows, out);
}

// Rows [k0, k1) of out (N, C) through l2_normalize; the first row that is not finite, or -1.
int64_t normalize_rows_scalar(float* out, int64_t c, int64_t k0, int64_t k1) {
  for (int64_t k = k0; k < k1; ++k) {
    if (!l2_normalize(out + k * c, c)) return k;
  }
  return -1;
}

#if SP_HAVE_VECTOR_EXT
// Map row y, all channels, into a ring slot: W channels x W columns transposed in registers
// (log2(W) rounds of lane interleaves); the last wc % W columns one by one.
template <int W, typename T>
SP_ALWAYS_INLINE void transpose_row_vec(const T* coarse, int64_t c, int64_t cp, int64_t hc,
                                        int64_t wc, int64_t y, float* slot) {
  typedef typename simd::Vec<W>::f VF;
  const int64_t plane = hc * wc, vec_w = wc / W * W;
  const T* src = coarse + y * wc;
  for (int64_t g = 0; g < cp; g += W) {
    float* dst = slot + slot_index(g, 0, wc);
    for (int64_t x = 0; x < vec_w; x += W) {
      VF v[W];
      for (int p = 0; p < W; ++p) {
        v[p] = g + p < c ? simd::load_as_float<W>(src + (g + p) * plane + x) : VF{};
      }
      for (int round = 1; round < W; round *= 2) {
        VF t[W];
        for (int p = 0; p < W / 2; ++p) {
          t[2 * p] = simd::interleave<1, false>(v[p], v[p + W / 2]);
          t[2 * p + 1] = simd::interleave<1, true>(v[p], v[p + W / 2]);
        }
        for (int p = 0; p < W; ++p) v[p] = t[p];
      }
      for (int l = 0; l < W; ++l) simd::store(dst + (x + l) * kGroupChannels, v[l]);
    }
    for (int64_t x = vec_w; x < wc; ++x) {
      for (int64_t p = g; p < g + W; ++p) {
        dst[x * kGroupChannels + p - g] = p < c ? load_as_float(src, p * plane + x) : 0.0f;
      }
    }
  }
}

// Pieces of l2_normalize. sum_squares: s[r] += x * x over the groups of four floats of rows[r]
// (lane q = channel % 4, in channel order), in double: the products are exact, so a fused
// multiply-add gives the same sums. scale_row: out = float(double(row) * inv). Generic versions,
// and x86 ones with one instruction per step (GCC splits the generic 8-lane conversions).
typedef double vd4 __attribute__((vector_size(32)));

template <int W, int R>
inline void sum_squares(const float* const* rows, int64_t c4, vd4* s) {
  typedef float vf4 __attribute__((vector_size(16)));
  for (int64_t j = 0; j < c4; j += 4) {
    for (int r = 0; r < R; ++r) {
      vf4 v;
      memcpy(&v, rows[r] + j, sizeof(v));
      const vd4 d = __builtin_convertvector(v, vd4);
      s[r] += d * d;
    }
  }
}

template <int W>
inline void scale_row(const float* row, int64_t c, double inv, float* out) {
  typedef float vf4 __attribute__((vector_size(16)));
  int64_t j = 0;
  for (; j + 4 <= c; j += 4) {
    vf4 v;
    memcpy(&v, row + j, sizeof(v));
    v = __builtin_convertvector(__builtin_convertvector(v, vd4) * inv, vf4);
    memcpy(out + j, &v, sizeof(v));
  }
  for (; j < c; ++j) out[j] = static_cast<float>(row[j] * inv);
}

#if SP_HAVE_X86_VARIANTS
template <int R>
SP_TARGET_AVX2 inline void sum_squares_fma(const float* const* rows, int64_t c4, vd4* s) {
  __m256d acc[R];
  for (int r = 0; r < R; ++r) acc[r] = (__m256d)s[r];
  for (int64_t j = 0; j < c4; j += 4) {
    for (int r = 0; r < R; ++r) {
      const __m256d d = _mm256_cvtps_pd(_mm_loadu_ps(rows[r] + j));
      acc[r] = _mm256_fmadd_pd(d, d, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) s[r] = (vd4)acc[r];
}
template <>
SP_TARGET_AVX2 inline void sum_squares<8, 4>(const float* const* rows, int64_t c4, vd4* s) {
  sum_squares_fma<4>(rows, c4, s);
}
template <>
SP_TARGET_AVX2 inline void sum_squares<8, 1>(const float* const* rows, int64_t c4, vd4* s) {
  sum_squares_fma<1>(rows, c4, s);
}
template <>
SP_TARGET_AVX512 inline void sum_squares<16, 4>(const float* const* rows, int64_t c4, vd4* s) {
  sum_squares_fma<4>(rows, c4, s);
}
template <>
SP_TARGET_AVX512 inline void sum_squares<16, 1>(const float* const* rows, int64_t c4, vd4* s) {
  sum_squares_fma<1>(rows, c4, s);
}
template <>
SP_TARGET_AVX2 inline void scale_row<8>(const float* row, int64_t c, double inv, float* out) {
  const __m256d f = _mm256_set1_pd(inv);
  int64_t j = 0;
  for (; j + 4 <= c; j += 4) {
    _mm_storeu_ps(out + j,
                  _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(row + j)), f)));
  }
  for (; j < c; ++j) out[j] = static_cast<float>(row[j] * inv);
}
template <>
SP_TARGET_AVX512 inline void scale_row<16>(const float* row, int64_t c, double inv, float* out) {
  const __m512d f = _mm512_set1_pd(inv);
  int64_t j = 0;
  for (; j + 8 <= c; j += 8) {
    // The maskz forms: the plain ones pass an undefined vector that GCC 12 warns about.
    const __m512d d = _mm512_maskz_cvtps_pd(0xFF, _mm256_loadu_ps(row + j));
    _mm256_storeu_ps(out + j, _mm512_maskz_cvtpd_ps(0xFF, _mm512_mul_pd(d, f)));
  }
  for (; j < c; ++j) out[j] = static_cast<float>(row[j] * inv);
}
#endif

// l2_normalize of rows[r][0, c) written to out[r] for r < R (four double partial sums over
// k % 4 in k order, the tail into the first). The R rows' summation chains are interleaved:
// each is a chain of c / 4 dependent additions. Returns the first r whose row is not finite,
// or -1.
template <int W, int R>
SP_ALWAYS_INLINE int normalize_rows_vec(const float* const* rows, int64_t c, float* const* out) {
  const int64_t c4 = c - c % 4;
  vd4 s[R] = {};
  sum_squares<W, R>(rows, c4, s);
  for (int r = 0; r < R; ++r) {
    const float* row = rows[r];
    double s0 = s[r][0];
    for (int64_t j = c4; j < c; ++j) s0 += static_cast<double>(row[j]) * row[j];
    const double ss = (s0 + s[r][1]) + (s[r][2] + s[r][3]);
    if (!(ss <= DBL_MAX)) return r;  // inf or NaN
    if (ss == 0.0) {
      memcpy(out[r], row, sizeof(float) * c);
      continue;
    }
    scale_row<W>(row, c, 1.0 / sqrt(ss), out[r]);
  }
  return -1;
}

// One keypoint: sample_plane's operations on W channels at a time into row (cp floats).
// sample_plane starts each sum at 0.0f; here each starts at its first term and the result gets
// one final + 0.0f. The same bits: a left-to-right sum that starts at +0 and one that does not
// differ only while every partial sum is zero (in its sign: 0 + -0 = +0); the first non-zero
// term x gives x in both (exactly), and from there on they agree. Only an all-zero sum can end
// with a different sign, and the final + 0.0f makes it +0, as the sum from +0 is.
template <int W, int N>
SP_ALWAYS_INLINE void sample_keypoint_vec(const float* ring, int64_t cp, int64_t wc,
                                          const SampleTaps<N>& t, float* __restrict row) {
  typedef typename simd::Vec<W>::f VF;
  const int64_t slot = wc * cp, group = wc * kGroupChannels;
  const float* src[N][N];
  VF wx[N], wy[N];  // in registers: stores to row cannot change them
  for (int a = 0; a < N; ++a) {
    wx[a] = simd::splat<VF>(t.wx[a]);
    wy[a] = simd::splat<VF>(t.wy[a]);
    for (int b = 0; b < N; ++b) src[a][b] = ring + (t.oy[a] % N) * slot + t.ox[b] * kGroupChannels;
  }
  for (int64_t g = 0; g < cp; g += kGroupChannels) {
    const int64_t base = (g / kGroupChannels) * group;
    for (int s = 0; s < kGroupChannels; s += W) {
      VF acc;
      for (int a = 0; a < N; ++a) {
        VF line = wx[0] * simd::load<W>(src[a][0] + base + s);
        for (int b = 1; b < N; ++b) line += wx[b] * simd::load<W>(src[a][b] + base + s);
        acc = a == 0 ? wy[0] * line : acc + wy[a] * line;
      }
      simd::store(row + g + s, acc + 0.0f);
    }
  }
}

// The keypoints order[0, count) (all read rows held by the ring), sampled into rows (kGroup x
// cp floats), normalised kGroup at a time and written to out. The first that fails, or -1.
template <int W, int N>
SP_ALWAYS_INLINE int64_t sample_ring_vec(const float* ring, int64_t c, int64_t cp, int64_t wc,
                                         const SampleTaps<N>* taps, const int64_t* order,
                                         int64_t count, float* rows, float* out) {
  int64_t i = 0;
  for (; i + kGroup <= count; i += kGroup) {
    const float* src[kGroup];
    float* dst[kGroup];
    for (int q = 0; q < kGroup; ++q) {
      sample_keypoint_vec<W, N>(ring, cp, wc, taps[order[i + q]], rows + q * cp);
      src[q] = rows + q * cp;
      dst[q] = out + order[i + q] * c;
    }
    const int bad = normalize_rows_vec<W, kGroup>(src, c, dst);
    if (bad >= 0) return order[i + bad];
  }
  for (; i < count; ++i) {
    const float* src = rows;
    float* dst = out + order[i] * c;
    sample_keypoint_vec<W, N>(ring, cp, wc, taps[order[i]], rows);
    if (normalize_rows_vec<W, 1>(&src, c, &dst) >= 0) return order[i];
  }
  return -1;
}

template <int W>
SP_ALWAYS_INLINE void transpose_row_f32_vec(const float* coarse, int64_t c, int64_t cp, int64_t hc,
                                            int64_t wc, int64_t y, float* slot) {
  transpose_row_vec<W>(coarse, c, cp, hc, wc, y, slot);
}
template <int W>
SP_ALWAYS_INLINE void transpose_row_f16_vec(const uint16_t* coarse, int64_t c, int64_t cp,
                                            int64_t hc, int64_t wc, int64_t y, float* slot) {
  transpose_row_vec<W>(coarse, c, cp, hc, wc, y, slot);
}
template <int W>
SP_ALWAYS_INLINE int64_t sample_ring2_vec(const float* ring, int64_t c, int64_t cp, int64_t wc,
                                          const SampleTaps<2>* taps, const int64_t* order,
                                          int64_t count, float* rows, float* out) {
  return sample_ring_vec<W, 2>(ring, c, cp, wc, taps, order, count, rows, out);
}
template <int W>
SP_ALWAYS_INLINE int64_t sample_ring4_vec(const float* ring, int64_t c, int64_t cp, int64_t wc,
                                          const SampleTaps<4>* taps, const int64_t* order,
                                          int64_t count, float* rows, float* out) {
  return sample_ring_vec<W, 4>(ring, c, cp, wc, taps, order, count, rows, out);
}
#endif  // SP_HAVE_VECTOR_EXT

SP_CPU_KERNEL(void, transpose_row_f32, transpose_row_f32_vec,
              (const float* coarse, int64_t c, int64_t cp, int64_t hc, int64_t wc, int64_t y,
               float* slot),
              (coarse, c, cp, hc, wc, y, slot), transpose_row_f32_scalar)
SP_CPU_KERNEL(void, transpose_row_f16, transpose_row_f16_vec,
              (const uint16_t* coarse, int64_t c, int64_t cp, int64_t hc, int64_t wc, int64_t y,
               float* slot),
              (coarse, c, cp, hc, wc, y, slot), transpose_row_f16_scalar)
SP_CPU_KERNEL(int64_t, sample_ring2, sample_ring2_vec,
              (const float* ring, int64_t c, int64_t cp, int64_t wc, const SampleTaps<2>* taps,
               const int64_t* order, int64_t count, float* rows, float* out),
              (ring, c, cp, wc, taps, order, count, rows, out), sample_ring2_scalar)
SP_CPU_KERNEL(int64_t, sample_ring4, sample_ring4_vec,
              (const float* ring, int64_t c, int64_t cp, int64_t wc, const SampleTaps<4>* taps,
               const int64_t* order, int64_t count, float* rows, float* out),
              (ring, c, cp, wc, taps, order, count, rows, out), sample_ring4_scalar)

void transpose_row(const float* coarse, int64_t c, int64_t cp, int64_t hc, int64_t wc, int64_t y,
                   float* slot) {
  transpose_row_f32(coarse, c, cp, hc, wc, y, slot);
}
void transpose_row(const uint16_t* coarse, int64_t c, int64_t cp, int64_t hc, int64_t wc, int64_t y,
                   float* slot) {
  transpose_row_f16(coarse, c, cp, hc, wc, y, slot);
}
int64_t sample_ring(const float* ring, int64_t c, int64_t cp, int64_t wc, const SampleTaps<2>* taps,
                    const int64_t* order, int64_t count, float* rows, float* out) {
  return sample_ring2(ring, c, cp, wc, taps, order, count, rows, out);
}
int64_t sample_ring(const float* ring, int64_t c, int64_t cp, int64_t wc, const SampleTaps<4>* taps,
                    const int64_t* order, int64_t count, float* rows, float* out) {
  return sample_ring4(ring, c, cp, wc, taps, order, count, rows, out);
}

constexpr int64_t kKeypointsPerTask = 256;

// Returns the first keypoint whose descriptor is not finite, or -1.
template <int N, typename T>
int64_t sample_by_rows(const T* coarse, int64_t c, int64_t hc, int64_t wc, const float* keypoints,
                       int64_t n, Convention conv, float* out) {
  const int64_t cp = (c + kGroupChannels - 1) / kGroupChannels * kGroupChannels;
  thread_local std::vector<SampleTaps<N>> taps_scratch;
  thread_local std::vector<int64_t> order_scratch, start_scratch;
  std::vector<SampleTaps<N>>& taps = taps_scratch;  // the caller's, also inside the tasks
  std::vector<int64_t>& order = order_scratch;      // keypoints by first tap row, then index
  std::vector<int64_t>& start = start_scratch;      // row y: order[start[y], start[y + 1])
  ScratchGuard<SampleTaps<N>> taps_guard(&taps);
  ScratchGuard<int64_t> order_guard(&order), start_guard(&start);
  taps.resize(static_cast<size_t>(n));
  order.resize(static_cast<size_t>(n));
  start.assign(static_cast<size_t>(hc + 1), 0);
  for (int64_t k = 0; k < n; ++k) {  // counting sort by first tap row
    taps[k] = sample_taps_rows<N>(keypoints[2 * k], keypoints[2 * k + 1], hc, wc, conv);
    ++start[taps[k].oy[0] + 1];
  }
  for (int64_t y = 0; y < hc; ++y) start[y + 1] += start[y];
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t k = 0; k < n; ++k) order[fill[taps[k].oy[0]]++] = k;
  }
  // Contiguous row ranges with about equal keypoint counts; each range re-reads up to N - 1
  // rows of the previous one.
  int64_t tasks = std::min<int64_t>(cpu_num_threads(), n / kKeypointsPerTask);
  tasks = std::max<int64_t>(tasks, 1);
  std::vector<int64_t> first_row(static_cast<size_t>(tasks + 1), hc);
  first_row[0] = 0;
  for (int64_t t = 1, y = 0; t < tasks; ++t) {
    while (y < hc && start[y] < n * t / tasks) ++y;
    first_row[t] = y;
  }
  std::vector<int64_t> bad(static_cast<size_t>(tasks), -1);
  parallel_for(tasks, [&](int64_t t) {
    thread_local std::vector<float> ring_scratch, rows_scratch;  // per thread
    ScratchGuard<float> ring_guard(&ring_scratch), rows_guard(&rows_scratch);
    ring_scratch.resize(static_cast<size_t>(N * wc * cp + 16));
    rows_scratch.resize(static_cast<size_t>(kGroup * cp + 16));
    float* ring = align64(ring_scratch.data());
    float* rows = align64(rows_scratch.data());
    int64_t held[N];  // map row in each slot
    for (int s = 0; s < N; ++s) held[s] = -1;
    for (int64_t y = first_row[t]; y < first_row[t + 1]; ++y) {
      if (start[y + 1] == start[y]) continue;
      for (int64_t yy = y; yy < y + N && yy < hc; ++yy) {
        if (held[yy % N] == yy) continue;
        transpose_row(coarse, c, cp, hc, wc, yy, ring + (yy % N) * wc * cp);
        held[yy % N] = yy;
      }
      const int64_t k = sample_ring(ring, c, cp, wc, taps.data(), order.data() + start[y],
                                    start[y + 1] - start[y], rows, out);
      // Rows come in row order, not keypoint order: keep going to report the smallest index
      // (a row's list is in index order, so its first failure is its smallest).
      if (k >= 0 && (bad[t] < 0 || k < bad[t])) bad[t] = k;
    }
  });
  int64_t first = -1;
  for (int64_t k : bad) {
    if (k >= 0 && (first < 0 || k < first)) first = k;
  }
  return first;
}

// The row path pays a transpose of every row a keypoint reads (~0.15 ms for all of 480x640
// on one Zen 4 core) and ~0.13 us (bilinear) / ~0.25 us (bicubic) per keypoint, the
// channel-major one ~0.8 us / ~2 us per keypoint: measured crossover ~300 / ~75 keypoints at
// 480x640, i.e. N * taps * 4 ~ Hc * Wc.
bool use_rows(int64_t n, int taps, int64_t plane) {
  return cpu_isa() != CpuIsa::kScalar && n * taps * 4 >= plane;
}

template <typename T>
void sample_loop(const T* coarse, int64_t c, int64_t hc, int64_t wc, const float* keypoints,
                 int64_t n, Interpolation interp, Convention conv, float* out) {
  if (c <= 0 || hc <= 0 || wc <= 0) {
    throw std::invalid_argument("sample_descriptors: coarse must have C, Hc, Wc > 0");
  }
  if (hc * wc > (int64_t{1} << 30)) {
    throw std::invalid_argument("sample_descriptors: coarse map too large (Hc * Wc > 2^30)");
  }
  for (int64_t k = 0; k < n; ++k) {
    if (!is_finite_float(keypoints[2 * k]) || !is_finite_float(keypoints[2 * k + 1])) {
      throw std::invalid_argument("sample_descriptors: keypoint " + std::to_string(k) +
                                  " is NaN or inf");
    }
  }
  if (n == 0) return;
  const int64_t plane = hc * wc;
  const bool bicubic = interp == Interpolation::kBicubic;
  int64_t first_bad = -1;
  if (use_rows(n, bicubic ? 16 : 4, plane)) {
    first_bad = bicubic ? sample_by_rows<4>(coarse, c, hc, wc, keypoints, n, conv, out)
                        : sample_by_rows<2>(coarse, c, hc, wc, keypoints, n, conv, out);
  } else {
    if (bicubic) {
      thread_local std::vector<SampleTaps<4>> taps;  // reused: no allocation per call
      ScratchGuard<SampleTaps<4>> taps_guard(&taps);
      taps.resize(static_cast<size_t>(n));
      for (int64_t k = 0; k < n; ++k) {
        taps[k] = sample_taps<4>(keypoints[2 * k], keypoints[2 * k + 1], hc, wc, conv);
      }
      sample_channel_major<4>(coarse, c, hc, wc, taps.data(), n, out);
    } else {
      thread_local std::vector<SampleTaps<2>> taps;
      ScratchGuard<SampleTaps<2>> taps_guard(&taps);
      taps.resize(static_cast<size_t>(n));
      for (int64_t k = 0; k < n; ++k) {
        taps[k] = sample_taps<2>(keypoints[2 * k], keypoints[2 * k + 1], hc, wc, conv);
      }
      sample_channel_major<2>(coarse, c, hc, wc, taps.data(), n, out);
    }
    first_bad = normalize_rows_scalar(out, c, 0, n);
  }
  if (first_bad >= 0) {
    throw std::invalid_argument(
        "sample_descriptors: descriptor " + std::to_string(first_bad) +
        " is not finite: coarse contains NaN or inf near this keypoint (or values near the "
        "float32 limit)");
  }
}

}  // namespace

void sample_descriptors_cpu(const float* coarse, int64_t c, int64_t hc, int64_t wc,
                            const float* keypoints, int64_t n, Interpolation interp,
                            Convention conv, float* out) {
  sample_loop(coarse, c, hc, wc, keypoints, n, interp, conv, out);
}

void sample_descriptors_cpu(const uint16_t* coarse_f16, int64_t c, int64_t hc, int64_t wc,
                            const float* keypoints, int64_t n, Interpolation interp,
                            Convention conv, float* out) {
  sample_loop(coarse_f16, c, hc, wc, keypoints, n, interp, conv, out);
}

}  // namespace sp
