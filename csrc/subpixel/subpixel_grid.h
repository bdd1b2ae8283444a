// Sub-pixel keypoint refinement, data-parallel: one thread per (image, keypoint slot) moves an
// integer keypoint (x, y) off the pixel grid, by one of three methods (SubpixelMethod):
//
// kParabola: to the vertices of two parabolas through the heatmap, one through (x-1, x, x+1) on
// row y and one through (y-1, y, y+1) on column x:
//
//   dx = (h[y, x-1] - h[y, x+1]) / (2 (h[y, x-1] - 2 h[y, x] + h[y, x+1])),   likewise dy,
//
// each 0 where the three values are not strictly concave or a neighbour lies outside the valid
// (unpadded) region;
// kCentroid: to the heat-weighted mean of the 3x3 window (neighbours outside the valid region
// weigh 0; no move when the window sums to 0);
// kCentroid5: the same over the 5x5 window;
// kForstner: kCentroid5, then one Förstner corner step on the image the heatmap came from, with the
// centroid as a prior: over the 7x7 window centred on the centroid's pixel (binomial weights
// C(6, 3 + i) C(6, 3 + j),
// pixels outside the valid region weigh 0) with 3x3 Sobel gradients g_k (neighbours clamped to the
// valid region) at offsets p_k, A = sum w g g^T, b = sum w g g^T p_k, lam = prior trace(A) / 2,
// q = (A + lam I)^-1 (b + lam p_centroid); the step q - p_centroid is clipped to [-1.5, 1.5] per
// axis and the point to the valid region (no step when A = 0).
// Offsets are clipped to [-0.5, 0.5] (kCentroid5: [-1, 1]). Float64 arithmetic, the same operations
// in the same order as superpoint_rt/subpixel.py (refine_subpixel), which the tests hold it to.
// Shared by the CUDA kernel (subpixel.cu) and the CPU twin (subpixel_grid_cpu.cpp).
#pragma once

#include <cstdint>

#include "common.h"

namespace sp {

// The names of superpoint_rt.subpixel.SUBPIXEL_METHODS ("parabola", "centroid", "centroid5",
// "forstner").
enum class SubpixelMethod : int32_t { kParabola = 0, kCentroid = 1, kCentroid5 = 2, kForstner = 3 };

// The 5x5 centroid's half-width and largest offset (superpoint_rt.subpixel._CENTROID_WINDOWS).
constexpr int kCentroid5Radius = 2;
constexpr double kCentroid5Limit = 1.0;

// superpoint_rt.subpixel.FORSTNER_RADIUS, FORSTNER_PRIOR, FORSTNER_LIMIT.
constexpr int kForstnerRadius = 3;
constexpr double kForstnerPrior = 0.5;
constexpr double kForstnerLimit = 1.5;

// d clipped to [-limit, limit].
SP_HD inline double clip_to(double d, double limit) {
  return d < -limit ? -limit : (d > limit ? limit : d);
}

// d clipped to [-0.5, 0.5]: the refined point stays in its pixel.
SP_HD inline double clip_half(double d) {
  return clip_to(d, 0.5);
}

// Offset of the vertex of the parabola through (-1, lo), (0, c), (1, hi); 0 unless `ok` and
// concave.
SP_HD inline double subpixel_offset(double lo, double c, double hi, bool ok) {
  const double den = lo - 2.0 * c + hi;
  if (!ok || !(den < 0.0)) return 0.0;
  return clip_half(0.5 * (lo - hi) / den);
}

// Heat-weighted mean offset (dx, dy) of the (2 radius + 1)^2 window around (x, y); rows i, then
// columns j, each from -radius to radius (the NumPy loop's order); clipped to [-limit, limit].
// `row` points at heat[y, 0] of a (., width) plane.
SP_HD inline void centroid_offset(const float* row, int64_t x, int64_t y, int64_t width,
                                  int64_t valid_h, int64_t valid_w, int radius, double limit,
                                  double* dx, double* dy) {
  double total = 0.0, sum_x = 0.0, sum_y = 0.0;
  for (int i = -radius; i <= radius; ++i) {
    for (int j = -radius; j <= radius; ++j) {
      const int64_t yy = y + i, xx = x + j;
      const bool inside = yy >= 0 && yy < valid_h && xx >= 0 && xx < valid_w;
      const double v = inside ? static_cast<double>(row[i * width + xx]) : 0.0;
      total += v;
      sum_x += v * static_cast<double>(j);
      sum_y += v * static_cast<double>(i);
    }
  }
  *dx = total > 0.0 ? clip_to(sum_x / total, limit) : 0.0;
  *dy = total > 0.0 ? clip_to(sum_y / total, limit) : 0.0;
}

// Binomial weight C(6, 3 + k) of the Förstner window, k in -3..3.
SP_HD inline double forstner_weight(int k) {
  switch (k < 0 ? -k : k) {
    case 0:
      return 20.0;
    case 1:
      return 15.0;
    case 2:
      return 6.0;
    default:
      return 1.0;
  }
}

SP_HD inline int64_t clamp_index(int64_t v, int64_t n) {
  return v < 0 ? 0 : (v >= n ? n - 1 : v);
}

// Unscaled 3x3 Sobel gradients of `plane` (a (., width) float32 image) at (u, v) in the valid
// region, neighbours clamped to it.
SP_HD inline void sobel_at(const float* plane, int64_t u, int64_t v, int64_t width, int64_t valid_h,
                           int64_t valid_w, double* gx, double* gy) {
  const int64_t xm = clamp_index(u - 1, valid_w), xp = clamp_index(u + 1, valid_w);
  const int64_t ym = clamp_index(v - 1, valid_h), yp = clamp_index(v + 1, valid_h);
  const float* top = plane + ym * width;
  const float* mid = plane + v * width;
  const float* bot = plane + yp * width;
  *gx = (static_cast<double>(top[xp]) + 2.0 * static_cast<double>(mid[xp]) +
         static_cast<double>(bot[xp])) -
        (static_cast<double>(top[xm]) + 2.0 * static_cast<double>(mid[xm]) +
         static_cast<double>(bot[xm]));
  *gy = (static_cast<double>(bot[xm]) + 2.0 * static_cast<double>(bot[u]) +
         static_cast<double>(bot[xp])) -
        (static_cast<double>(top[xm]) + 2.0 * static_cast<double>(top[u]) +
         static_cast<double>(top[xp]));
}

// The Förstner step with the prior offsets (dx0, dy0) from integer (x, y) (see the top of this
// file): the new offsets (*dx, *dy), not yet clamped to the valid region. `plane` points at the
// image's (0, 0) of a (., width) plane.
SP_HD inline void forstner_offset(const float* plane, int64_t x, int64_t y, int64_t width,
                                  int64_t valid_h, int64_t valid_w, double dx0, double dy0,
                                  double* dx, double* dy) {
  double a00 = 0.0, a01 = 0.0, a11 = 0.0, b0 = 0.0, b1 = 0.0;
  for (int i = -kForstnerRadius; i <= kForstnerRadius; ++i) {
    for (int j = -kForstnerRadius; j <= kForstnerRadius; ++j) {
      const int64_t yy = y + i, xx = x + j;
      const bool inside = yy >= 0 && yy < valid_h && xx >= 0 && xx < valid_w;
      double gx, gy;
      sobel_at(plane, clamp_index(xx, valid_w), clamp_index(yy, valid_h), width, valid_h, valid_w,
               &gx, &gy);
      const double wk = inside ? forstner_weight(i) * forstner_weight(j) : 0.0;
      const double gxx = wk * (gx * gx), gxy = wk * (gx * gy), gyy = wk * (gy * gy);
      a00 += gxx;
      a01 += gxy;
      a11 += gyy;
      b0 += gxx * static_cast<double>(j) + gxy * static_cast<double>(i);
      b1 += gxy * static_cast<double>(j) + gyy * static_cast<double>(i);
    }
  }
  const double lam = kForstnerPrior * 0.5 * (a00 + a11);
  if (!(lam > 0.0)) {
    *dx = dx0;
    *dy = dy0;
    return;
  }
  const double m00 = a00 + lam, m11 = a11 + lam;
  const double r0 = b0 + lam * dx0, r1 = b1 + lam * dy0;
  const double det = m00 * m11 - a01 * a01;
  const double qx = (m11 * r0 - a01 * r1) / det;
  const double qy = (m00 * r1 - a01 * r0) / det;
  *dx = dx0 + clip_to(qx - dx0, kForstnerLimit);
  *dy = dy0 + clip_to(qy - dy0, kForstnerLimit);
}

// v clamped to [0, hi].
SP_HD inline double clamp_coord(double v, double hi) {
  return v < 0.0 ? 0.0 : (v > hi ? hi : v);
}

// heat (B, H, W) float32 (valid region [0, valid_h) x [0, valid_w)); keypoints (B, K, 2) x, y,
// integer-valued, inside the valid region, refined in place for slots n < counts[b]. image
// (B, H, W) float32, the network's input (read by kForstner only; may be null otherwise).
SP_HD inline void refine_keypoint(const float* heat, const float* image, float* keypoints,
                                  const int32_t* counts, int64_t b, int64_t n, int64_t height,
                                  int64_t width, int64_t valid_h, int64_t valid_w, int64_t k_out,
                                  SubpixelMethod method) {
  if (n >= counts[b]) return;
  float* kp = keypoints + 2 * (b * k_out + n);
  const int64_t x = static_cast<int64_t>(kp[0] + 0.5f), y = static_cast<int64_t>(kp[1] + 0.5f);
  const float* row = heat + (b * height + y) * width;
  if (method == SubpixelMethod::kForstner) {
    double dx0, dy0, dx, dy;
    centroid_offset(row, x, y, width, valid_h, valid_w, kCentroid5Radius, kCentroid5Limit, &dx0,
                    &dy0);
    // the window is centred on the prior's pixel (half to even, as np.rint)
    const int64_t xc = clamp_index(x + (dx0 > 0.5 ? 1 : 0) - (dx0 < -0.5 ? 1 : 0), valid_w);
    const int64_t yc = clamp_index(y + (dy0 > 0.5 ? 1 : 0) - (dy0 < -0.5 ? 1 : 0), valid_h);
    dx0 = dx0 - static_cast<double>(xc - x);
    dy0 = dy0 - static_cast<double>(yc - y);
    forstner_offset(image + b * height * width, xc, yc, width, valid_h, valid_w, dx0, dy0, &dx,
                    &dy);
    kp[0] = static_cast<float>(
        clamp_coord(static_cast<double>(xc) + dx, static_cast<double>(valid_w) - 1.0));
    kp[1] = static_cast<float>(
        clamp_coord(static_cast<double>(yc) + dy, static_cast<double>(valid_h) - 1.0));
    return;
  }
  if (method == SubpixelMethod::kCentroid || method == SubpixelMethod::kCentroid5) {
    const bool wide = method == SubpixelMethod::kCentroid5;
    double dx, dy;
    centroid_offset(row, x, y, width, valid_h, valid_w, wide ? kCentroid5Radius : 1,
                    wide ? kCentroid5Limit : 0.5, &dx, &dy);
    kp[0] = static_cast<float>(static_cast<double>(x) + dx);
    kp[1] = static_cast<float>(static_cast<double>(y) + dy);
    return;
  }
  const double c = row[x];
  const bool has_x = x > 0 && x < valid_w - 1, has_y = y > 0 && y < valid_h - 1;
  const double left = has_x ? row[x - 1] : c, right = has_x ? row[x + 1] : c;
  const double up = has_y ? row[x - width] : c, down = has_y ? row[x + width] : c;
  const double dx = subpixel_offset(left, c, right, has_x);
  const double dy = subpixel_offset(up, c, down, has_y);
  kp[0] = static_cast<float>(static_cast<double>(x) + dx);
  kp[1] = static_cast<float>(static_cast<double>(y) + dy);
}

}  // namespace sp
