// detect: keypoints from a heatmap (H, W) = nms, then border removal, then top-k by score.
//
//   1. greedy NMS (nms.h) with conf_threshold and nms_radius on the whole heatmap;
//   2. drop kept points with x < border, x >= W' - border, y < border or y >= H' - border, where
//      (H', W') = valid_size (defaults to (H, W); smaller when the image was padded); this is
//      after NMS, as in the original demo, so border points still suppress their neighbours;
//   3. keep the first max_keypoints (all when max_keypoints < 0).
// Output in processing order (descending score, equal scores by ascending y * W + x):
// keypoints (N, 2) float32 (x, y), scores (N,) float32.
#pragma once

#include <cstdint>
#include <vector>

#include "common.h"
#include "nms/nms.h"

namespace sp {

// Reported region of detect as an NmsReportRect (may be empty).
SP_HD inline NmsReportRect detect_report_rect(int64_t valid_h, int64_t valid_w, int64_t border) {
  return NmsReportRect{border, valid_h - border, border, valid_w - border};
}

// Writes keypoint `n` (linear index idx into a row width w) as (x, y) and its score.
SP_HD inline void detect_write_keypoint(const float* heat, int64_t w, int64_t idx, int64_t n,
                                        float* keypoints_xy, float* scores) {
  keypoints_xy[2 * n] = static_cast<float>(idx % w);
  keypoints_xy[2 * n + 1] = static_cast<float>(idx / w);
  scores[n] = heat[idx];
}

struct DetectResult {
  std::vector<float> keypoints_xy;  // (N, 2) row-major
  std::vector<float> scores;        // (N,)
};

// CPU detect on one heatmap (H, W), contiguous. valid_h in [1, H], valid_w in [1, W]; border >= 0;
// max_keypoints < 0 means no limit. Throws std::invalid_argument on bad arguments / NaN / inf.
DetectResult detect_cpu(const float* heat, int64_t h, int64_t w, float conf_threshold,
                        int64_t nms_radius, int64_t border, int64_t valid_h, int64_t valid_w,
                        int64_t max_keypoints);

}  // namespace sp
