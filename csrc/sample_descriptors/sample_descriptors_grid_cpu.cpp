// CPU twin of sample_descriptors.cu: sample_descriptor_value over every (image, slot, channel),
// then normalize_descriptor_row over every (image, slot).
#include "heatmap/heatmap_grid_launch.h"
#include "sample_descriptors/sample_descriptors_grid.h"
#include "sample_descriptors/sample_descriptors_grid_launch.h"

namespace sp {
namespace {

template <int N, typename T>
void run(const T* coarse, const float* keypoints, const int32_t* counts, int64_t batch,
         int64_t channels, int64_t hc, int64_t wc, int64_t k_out, Convention conv, float* out,
         int32_t* error) {
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t n = 0; n < k_out; ++n) {
      for (int64_t c = 0; c < channels; ++c) {
        sample_descriptor_value<N>(coarse, keypoints, counts, b, n, c, channels, hc, wc, k_out,
                                   conv, out);
      }
    }
  }
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t n = 0; n < k_out; ++n) {
      if (!normalize_descriptor_row(out, counts, b, n, channels, k_out)) {
        *error |= kErrorNonFiniteDescriptors;
      }
    }
  }
}

template <typename T>
void dispatch(const T* coarse, const float* keypoints, const int32_t* counts, int64_t batch,
              int64_t channels, int64_t hc, int64_t wc, int64_t k_out, Interpolation interp,
              Convention conv, float* out, int32_t* error) {
  if (interp == Interpolation::kBicubic) {
    run<4>(coarse, keypoints, counts, batch, channels, hc, wc, k_out, conv, out, error);
  } else {
    run<2>(coarse, keypoints, counts, batch, channels, hc, wc, k_out, conv, out, error);
  }
}

}  // namespace

void sample_descriptors_grid_cpu(const void* coarse, bool f16, const float* keypoints,
                                 const int32_t* counts, int64_t batch, int64_t channels, int64_t hc,
                                 int64_t wc, int64_t k_out, Interpolation interp, Convention conv,
                                 float* out, int32_t* error) {
  if (f16) {
    dispatch(static_cast<const uint16_t*>(coarse), keypoints, counts, batch, channels, hc, wc,
             k_out, interp, conv, out, error);
  } else {
    dispatch(static_cast<const float*>(coarse), keypoints, counts, batch, channels, hc, wc, k_out,
             interp, conv, out, error);
  }
}

}  // namespace sp
