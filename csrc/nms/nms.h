// nms: greedy non-maximum suppression on a heatmap (H, W).
//
// Candidates: pixels with heat >= conf_threshold (">=" as in the original demo; NaN is never a
// candidate, the entry points reject it before). Processing order: descending score, equal scores
// by ascending linear index y * W + x. Greedy: a candidate not yet suppressed is kept and
// suppresses every candidate in the (2r + 1) x (2r + 1) square centred on it (Chebyshev distance
// <= r). r = 0 keeps every candidate. Output: the kept linear indices in processing order.
//
// Equivalence used by parallel versions: a candidate that ranks before every other candidate of
// its square (nms_is_window_max) is always kept; iterating "keep window maxima, drop what they
// suppress, repeat on the rest" reaches the greedy result.
#pragma once

#include <cstdint>
#include <vector>

#include "common.h"

namespace sp {

// Order key of a score: a smaller key means a higher score. -0.0 and +0.0 map to the same key
// (they compare equal as floats, so the index decides between them). Not for NaN.
SP_HD inline uint32_t nms_score_key(float score) {
  if (score == 0.0f) score = 0.0f;  // -0.0 -> +0.0
  uint32_t u = float_bits(score);
  // Monotone map float -> uint32 (ascending), then inverted for descending scores.
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return ~u;
}

// Full processing-order key: ascending key == processing order (score desc, index asc).
SP_HD inline uint64_t nms_sort_key(float score, uint32_t index) {
  return (static_cast<uint64_t>(nms_score_key(score)) << 32) | index;
}

SP_HD inline uint32_t nms_key_index(uint64_t key) {
  return static_cast<uint32_t>(key);
}

// True when (score_a, index_a) is processed before (score_b, index_b).
SP_HD inline bool nms_ranks_before(float score_a, int64_t index_a, float score_b, int64_t index_b) {
  return score_a > score_b || (score_a == score_b && index_a < index_b);
}

// The "is local max" predicate: pixel (y, x) is a candidate and ranks before every other candidate
// in its (2r + 1)^2 square. Such a pixel is kept by the greedy NMS.
SP_HD inline bool nms_is_window_max(const float* heat, int64_t h, int64_t w, int64_t y, int64_t x,
                                    int64_t r, float conf_threshold) {
  const float s = heat[y * w + x];
  if (!(s >= conf_threshold)) return false;
  const int64_t y0 = clamp_i64(y - r, 0, h - 1), y1 = clamp_i64(y + r, 0, h - 1);
  const int64_t x0 = clamp_i64(x - r, 0, w - 1), x1 = clamp_i64(x + r, 0, w - 1);
  const int64_t self = y * w + x;
  for (int64_t yy = y0; yy <= y1; ++yy) {
    for (int64_t xx = x0; xx <= x1; ++xx) {
      const int64_t idx = yy * w + xx;
      const float o = heat[idx];
      if (idx != self && o >= conf_threshold && nms_ranks_before(o, idx, s, self)) return false;
    }
  }
  return true;
}

// Marks the (2r + 1)^2 square around (y, x), clipped to the image, in a (H, W) byte mask.
SP_HD inline void nms_suppress_square(uint8_t* mask, int64_t h, int64_t w, int64_t y, int64_t x,
                                      int64_t r) {
  const int64_t y0 = clamp_i64(y - r, 0, h - 1), y1 = clamp_i64(y + r, 0, h - 1);
  const int64_t x0 = clamp_i64(x - r, 0, w - 1), x1 = clamp_i64(x + r, 0, w - 1);
  for (int64_t yy = y0; yy <= y1; ++yy) {
    uint8_t* row = mask + yy * w;
    for (int64_t xx = x0; xx <= x1; ++xx) row[xx] = 1;
  }
}

// Rectangle of positions that are reported (kept points outside it still suppress): rows
// [y_begin, y_end), columns [x_begin, x_end).
struct NmsReportRect {
  int64_t y_begin, y_end, x_begin, x_end;
  SP_HD bool contains(int64_t y, int64_t x) const {
    return y >= y_begin && y < y_end && x >= x_begin && x < x_end;
  }
};

// CPU greedy NMS on heat (H, W), contiguous. Appends to `kept` the linear indices of the kept
// points that lie inside `report`, in processing order, stopping after `max_report` of them
// (max_report < 0: no limit). O(N log N) in the number of candidates N (radix sort) + O(H * W)
// for the scan and the suppression mask. Throws std::invalid_argument on NaN/inf in heat, a
// negative radius, or H * W >= 2^32.
void nms_cpu(const float* heat, int64_t h, int64_t w, float conf_threshold, int64_t radius,
             const NmsReportRect& report, int64_t max_report, std::vector<int64_t>* kept);

}  // namespace sp
