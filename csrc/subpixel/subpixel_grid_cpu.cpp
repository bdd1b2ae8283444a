// CPU twin of subpixel.cu: refine_keypoint over every (image, slot).
#include "subpixel/subpixel_grid.h"
#include "subpixel/subpixel_grid_launch.h"

namespace sp {

void subpixel_grid_cpu(const float* heat, const float* image, float* keypoints,
                       const int32_t* counts, int64_t batch, int64_t height, int64_t width,
                       int64_t valid_h, int64_t valid_w, int64_t k_out, SubpixelMethod method) {
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t n = 0; n < k_out; ++n) {
      refine_keypoint(heat, image, keypoints, counts, b, n, height, width, valid_h, valid_w, k_out,
                      method);
    }
  }
}

}  // namespace sp
