// sample_descriptors: read the coarse descriptor map (C, Hc, Wc) at keypoints (N, 2) given as
// (x, y) pixels of the 8*Hc x 8*Wc image, then L2-normalise each row -> (N, C) float32.
//
// Where pixel x reads the coarse map (column coordinate u; rows likewise with y and Hc):
//   center    u = (x - 3.5) / 8                          edge-clamped taps
//   magicleap u = x / 8 - 0.5                            zero taps outside the map
//   superglue u = (x - 3.5) * (Wc - 1) / (8 * Wc - 4.5)  edge-clamped taps
// bilinear: 2x2 taps; bicubic: 4x4 taps, Keys cubic convolution with a = -0.75 (as PyTorch's
// grid_sample). The padding rule applies to every tap. u is first clamped to [-2, Wc + 1]: this
// does not change any result (beyond it every tap is outside or clamped to the same edge) and keeps
// far-away keypoints in integer range. A zero row stays zero.
#pragma once

#include <math.h>

#include <cstdint>

#include "common.h"

namespace sp {

enum class Interpolation : int { kBilinear = 0, kBicubic = 1 };
enum class Convention : int { kCenter = 0, kMagicLeap = 1, kSuperGlue = 2 };

constexpr float kCubicA = -0.75f;

// Separable taps of one keypoint, N = 2 (bilinear) or 4 (bicubic) per axis: rows oy (already
// multiplied by Wc), columns ox, weights wy, wx. Offsets are always inside the map (zero-padded
// taps get weight 0 and a clamped offset).
template <int N>
struct SampleTaps {
  int32_t oy[N], ox[N];
  float wy[N], wx[N];
};

// Continuous coarse coordinate of pixel coordinate p along an axis of `size` coarse cells.
SP_HD inline double sample_coord(float p, int64_t size, Convention conv) {
  const double x = static_cast<double>(p);
  switch (conv) {
    case Convention::kMagicLeap:
      return x / 8.0 - 0.5;
    case Convention::kSuperGlue:
      return (x - 3.5) * static_cast<double>(size - 1) / (8.0 * static_cast<double>(size) - 4.5);
    case Convention::kCenter:
    default:
      return (x - 3.5) / 8.0;
  }
}

// Keys cubic convolution weights for fractional offset t in [0, 1): taps at -1, 0, 1, 2.
SP_HD inline void cubic_weights(double t, double* w) {
  const double a = kCubicA;
  const double d0 = t + 1.0, d1 = t, d2 = 1.0 - t, d3 = 2.0 - t;
  w[0] = ((a * d0 - 5.0 * a) * d0 + 8.0 * a) * d0 - 4.0 * a;  // 1 < |d| < 2
  w[1] = ((a + 2.0) * d1 - (a + 3.0)) * d1 * d1 + 1.0;        // |d| <= 1
  w[2] = ((a + 2.0) * d2 - (a + 3.0)) * d2 * d2 + 1.0;
  w[3] = ((a * d3 - 5.0 * a) * d3 + 8.0 * a) * d3 - 4.0 * a;
}

// Taps along one axis of `size` cells at continuous coordinate u (N = 2: linear, N = 4: cubic);
// offsets are multiplied by `stride`.
template <int N>
SP_HD inline void sample_axis_taps(double u, int64_t size, int64_t stride, bool zero_pad,
                                   int32_t* offset, float* weight) {
  const double hi = static_cast<double>(size) + 1.0;
  u = u < -2.0 ? -2.0 : (u > hi ? hi : u);
  const double f = floor(u);
  const double t = u - f;
  double w[4];
  if (N == 4) {
    cubic_weights(t, w);
  } else {
    w[0] = 1.0 - t;
    w[1] = t;
  }
  const int64_t first = static_cast<int64_t>(f) - (N == 4 ? 1 : 0);
  for (int k = 0; k < N; ++k) {
    const int64_t i = first + k;
    const bool inside = i >= 0 && i < size;
    offset[k] = static_cast<int32_t>(clamp_i64(i, 0, size - 1) * stride);
    weight[k] = (zero_pad && !inside) ? 0.0f : static_cast<float>(w[k]);
  }
}

// All taps of keypoint (x, y) on a (Hc, Wc) map.
template <int N>
SP_HD inline SampleTaps<N> sample_taps(float x, float y, int64_t hc, int64_t wc, Convention conv) {
  SampleTaps<N> taps;
  const bool zero_pad = conv == Convention::kMagicLeap;
  sample_axis_taps<N>(sample_coord(y, hc, conv), hc, wc, zero_pad, taps.oy, taps.wy);
  sample_axis_taps<N>(sample_coord(x, wc, conv), wc, 1, zero_pad, taps.ox, taps.wx);
  return taps;
}

// Interpolated value of one channel plane (Hc, Wc) at the taps: each tap row is the in-order
// weighted sum over its columns, then the rows are summed in order with their weights.
template <int N, typename T>
SP_HD inline float sample_plane(const T* plane, const SampleTaps<N>& taps) {
  float acc = 0.0f;
  for (int a = 0; a < N; ++a) {
    const T* line = plane + taps.oy[a];
    float row = 0.0f;
    for (int b = 0; b < N; ++b) row += taps.wx[b] * load_as_float(line, taps.ox[b]);
    acc += taps.wy[a] * row;
  }
  return acc;
}

// L2-normalises row[0..c) in place (sum of squares in double: no underflow or overflow for any
// finite float). A zero row stays zero. Returns false when the row is not finite.
SP_HD inline bool l2_normalize(float* row, int64_t c) {
  double s[4] = {0.0, 0.0, 0.0, 0.0};  // four partial sums: k % 4, each in k order
  int64_t k = 0;
  for (; k + 4 <= c; k += 4) {
    for (int q = 0; q < 4; ++q) s[q] += static_cast<double>(row[k + q]) * row[k + q];
  }
  for (; k < c; ++k) s[0] += static_cast<double>(row[k]) * row[k];
  const double ss = (s[0] + s[1]) + (s[2] + s[3]);
  if (!(ss <= 1.7976931348623157e308)) return false;  // inf or NaN
  if (ss == 0.0) return true;
  const double inv = 1.0 / sqrt(ss);
  for (k = 0; k < c; ++k) row[k] = static_cast<float>(row[k] * inv);
  return true;
}

// CPU: coarse (C, Hc, Wc) contiguous float32 or float16 bits, keypoints (N, 2) x, y;
// out (N, C) preallocated. Throws std::invalid_argument on NaN/inf in keypoints, or when a
// descriptor is not finite (NaN/inf in the coarse values it reads, or float32 overflow). NaN/inf
// in parts of coarse that no keypoint reads is not looked for (that would cost a full pass).
void sample_descriptors_cpu(const float* coarse, int64_t c, int64_t hc, int64_t wc,
                            const float* keypoints, int64_t n, Interpolation interp,
                            Convention conv, float* out);
void sample_descriptors_cpu(const uint16_t* coarse_f16, int64_t c, int64_t hc, int64_t wc,
                            const float* keypoints, int64_t n, Interpolation interp,
                            Convention conv, float* out);

}  // namespace sp
