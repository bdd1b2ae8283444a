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
// kCentroid5: the same over the 5x5 window.
// Offsets are clipped to [-0.5, 0.5] (kCentroid5: [-1, 1]). Float64 arithmetic, the same operations
// in the same order as superpoint_rt/subpixel.py (refine_subpixel), which the tests hold it to.
// Shared by the CUDA kernel (subpixel.cu) and the CPU twin (subpixel_grid_cpu.cpp).
#pragma once

#include <cstdint>

#include "common.h"

namespace sp {

// The names of superpoint_rt.subpixel.SUBPIXEL_METHODS ("parabola", "centroid", "centroid5").
enum class SubpixelMethod : int32_t { kParabola = 0, kCentroid = 1, kCentroid5 = 2 };

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

// heat (B, H, W) float32 (valid region [0, valid_h) x [0, valid_w)); keypoints (B, K, 2) x, y,
// integer-valued, inside the valid region, refined in place for slots n < counts[b].
SP_HD inline void refine_keypoint(const float* heat, float* keypoints, const int32_t* counts,
                                  int64_t b, int64_t n, int64_t height, int64_t width,
                                  int64_t valid_h, int64_t valid_w, int64_t k_out,
                                  SubpixelMethod method) {
  if (n >= counts[b]) return;
  float* kp = keypoints + 2 * (b * k_out + n);
  const int64_t x = static_cast<int64_t>(kp[0] + 0.5f), y = static_cast<int64_t>(kp[1] + 0.5f);
  const float* row = heat + (b * height + y) * width;
  if (method == SubpixelMethod::kCentroid || method == SubpixelMethod::kCentroid5) {
    const bool wide = method == SubpixelMethod::kCentroid5;
    double dx, dy;
    centroid_offset(row, x, y, width, valid_h, valid_w, wide ? 2 : 1, wide ? 1.0 : 0.5, &dx, &dy);
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
