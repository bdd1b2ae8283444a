// CUDA descriptor sampling: one block per (keypoint slot, image), its threads over the channels
// run sample_descriptor_value (coalesced writes of the row); then one thread per row runs
// normalize_descriptor_row. Slots past the image's count exit at once. FP32 or FP16 coarse maps.
#include <cuda_runtime.h>

#include "heatmap/heatmap_grid_launch.h"
#include "sample_descriptors/sample_descriptors_grid.h"
#include "sample_descriptors/sample_descriptors_grid_launch.h"

namespace sp {
namespace {

constexpr int kChannelThreads = 256;
constexpr int kRowThreads = 128;

template <int N, typename T>
__global__ void sample_value_kernel(const T* __restrict__ coarse,
                                    const float* __restrict__ keypoints,
                                    const int32_t* __restrict__ counts, int64_t channels,
                                    int64_t hc, int64_t wc, int64_t k_out, Convention conv,
                                    float* out) {
  const int64_t n = blockIdx.x, b = blockIdx.y;
  if (n >= counts[b]) return;
  for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) {
    sample_descriptor_value<N>(coarse, keypoints, counts, b, n, c, channels, hc, wc, k_out, conv,
                               out);
  }
}

__global__ void normalize_kernel(float* out, const int32_t* __restrict__ counts, int64_t batch,
                                 int64_t channels, int64_t k_out, int32_t* error) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= batch * k_out) return;
  if (!normalize_descriptor_row(out, counts, t / k_out, t % k_out, channels, k_out)) {
    atomicOr(error, kErrorNonFiniteDescriptors);
  }
}

template <typename T>
void launch_values(const T* coarse, const float* keypoints, const int32_t* counts, int64_t batch,
                   int64_t channels, int64_t hc, int64_t wc, int64_t k_out, Interpolation interp,
                   Convention conv, float* out, cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>(k_out), static_cast<unsigned>(batch));
  if (interp == Interpolation::kBicubic) {
    sample_value_kernel<4><<<grid, kChannelThreads, 0, s>>>(coarse, keypoints, counts, channels, hc,
                                                            wc, k_out, conv, out);
  } else {
    sample_value_kernel<2><<<grid, kChannelThreads, 0, s>>>(coarse, keypoints, counts, channels, hc,
                                                            wc, k_out, conv, out);
  }
}

}  // namespace

int sample_descriptors_cuda(const void* coarse, bool f16, const float* keypoints,
                            const int32_t* counts, int64_t batch, int64_t channels, int64_t hc,
                            int64_t wc, int64_t k_out, Interpolation interp, Convention conv,
                            float* out, int32_t* error, void* stream) {
  if (batch == 0 || k_out == 0) return 0;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (f16) {
    launch_values(static_cast<const uint16_t*>(coarse), keypoints, counts, batch, channels, hc, wc,
                  k_out, interp, conv, out, s);
  } else {
    launch_values(static_cast<const float*>(coarse), keypoints, counts, batch, channels, hc, wc,
                  k_out, interp, conv, out, s);
  }
  const int64_t rows = batch * k_out;
  normalize_kernel<<<static_cast<unsigned>((rows + kRowThreads - 1) / kRowThreads), kRowThreads, 0,
                     s>>>(out, counts, batch, channels, k_out, error);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace sp
