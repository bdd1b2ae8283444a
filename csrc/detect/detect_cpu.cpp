// CPU detect: NMS that reports only points inside the border and stops after max_keypoints.
#include "detect/detect.h"

#include <stdexcept>

namespace sp {

DetectResult detect_cpu(const float* heat, int64_t h, int64_t w, float conf_threshold,
                        int64_t nms_radius, int64_t border, int64_t valid_h, int64_t valid_w,
                        int64_t max_keypoints) {
  if (border < 0) throw std::invalid_argument("detect: border must be >= 0");
  if (valid_h < 1 || valid_h > h || valid_w < 1 || valid_w > w) {
    throw std::invalid_argument("detect: valid_size must satisfy 1 <= h <= H and 1 <= w <= W");
  }
  std::vector<int64_t> kept;
  nms_cpu(heat, h, w, conf_threshold, nms_radius, detect_report_rect(valid_h, valid_w, border),
          max_keypoints, &kept);
  DetectResult out;
  const int64_t n = static_cast<int64_t>(kept.size());
  out.keypoints_xy.resize(static_cast<size_t>(2 * n));
  out.scores.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    detect_write_keypoint(heat, w, kept[i], i, out.keypoints_xy.data(), out.scores.data());
  }
  return out;
}

}  // namespace sp
