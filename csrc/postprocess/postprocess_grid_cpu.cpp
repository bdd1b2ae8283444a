// CPU twin of postprocess.cu: the same stages, in the same order, through the CPU launchers.
#include <stdexcept>
#include <string>

#include "heatmap/heatmap_grid_launch.h"
#include "postprocess/postprocess.h"
#include "sample_descriptors/sample_descriptors_grid_launch.h"
#include "subpixel/subpixel_grid_launch.h"

namespace sp {

void check_postprocess_params(const PostprocessParams& p) {
  if (p.batch < 1 || p.hc < 1 || p.wc < 1 || p.channels < 1) {
    throw std::invalid_argument("postprocess: batch, Hc, Wc and channels must be >= 1");
  }
  if (p.nms_radius < 0 || p.border < 0) {
    throw std::invalid_argument("postprocess: nms_radius and border must be >= 0");
  }
  if (p.valid_h < 1 || p.valid_h > p.height() || p.valid_w < 1 || p.valid_w > p.width()) {
    throw std::invalid_argument(
        "postprocess: valid size must satisfy 1 <= h <= 8 Hc, 1 <= w <= 8 Wc");
  }
  if (p.grid_sweeps < 0) throw std::invalid_argument("postprocess: grid_sweeps must be >= 0");
  if (p.conf_threshold != p.conf_threshold) {
    throw std::invalid_argument("postprocess: conf_threshold is NaN");
  }
  if (detect_key_layout(p.batch, p.height() * p.width()).end_bit > 64) {
    throw std::invalid_argument("postprocess: batch x image size too large for 64-bit sort keys");
  }
  if (p.batch * p.k_out() > (int64_t{1} << 31) - 1) {
    throw std::invalid_argument("postprocess: too many output rows; set max_keypoints");
  }
}

int32_t postprocess_grid_cpu(const void* logits, bool logits_f16, const void* coarse,
                             bool coarse_f16, const float* image, const PostprocessParams& p,
                             NmsSchedule schedule, float* heat, uint8_t* state, float* keypoints,
                             float* scores, float* descriptors, int32_t* counts) {
  check_postprocess_params(p);
  if (p.needs_image() && image == nullptr) {
    throw std::invalid_argument("postprocess: subpixel_method 'forstner' needs the image");
  }
  int32_t error = 0;
  heatmap_threshold_grid_cpu(logits, logits_f16, heat, state, p.batch, p.hc, p.wc, p.valid_h,
                             p.valid_w, p.conf_threshold, &error);
  nms_fixed_point_grid_cpu(heat, state, p.batch, p.height(), p.width(), p.valid_h, p.valid_w,
                           p.nms_radius, schedule);
  detect_grid_cpu(heat, state, p.detect_shape(), keypoints, scores, counts);
  if (p.subpixel) {
    subpixel_grid_cpu(heat, image, keypoints, counts, p.batch, p.height(), p.width(), p.valid_h,
                      p.valid_w, p.k_out(), p.subpixel_method);
  }
  sample_descriptors_grid_cpu(coarse, coarse_f16, keypoints, counts, p.batch, p.channels, p.hc,
                              p.wc, p.k_out(), p.interpolation, p.convention, descriptors, &error);
  return error;
}

}  // namespace sp
