// CUDA sub-pixel refinement: one thread per (image, keypoint slot) runs refine_keypoint
// (subpixel_grid.h); slots past the image's count exit at once.
#include <cuda_runtime.h>

#include "subpixel/subpixel_grid.h"
#include "subpixel/subpixel_grid_launch.h"

namespace sp {
namespace {

constexpr int kThreads = 128;

__global__ void subpixel_kernel(const float* __restrict__ heat, const float* image,
                                float* keypoints, const int32_t* __restrict__ counts, int64_t batch,
                                int64_t height, int64_t width, int64_t valid_h, int64_t valid_w,
                                int64_t k_out, SubpixelMethod method) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= batch * k_out) return;
  refine_keypoint(heat, image, keypoints, counts, t / k_out, t % k_out, height, width, valid_h,
                  valid_w, k_out, method);
}

}  // namespace

int subpixel_cuda(const float* heat, const float* image, float* keypoints, const int32_t* counts,
                  int64_t batch, int64_t height, int64_t width, int64_t valid_h, int64_t valid_w,
                  int64_t k_out, SubpixelMethod method, void* stream) {
  const int64_t rows = batch * k_out;
  if (rows == 0) return 0;
  subpixel_kernel<<<static_cast<unsigned>((rows + kThreads - 1) / kThreads), kThreads, 0,
                    static_cast<cudaStream_t>(stream)>>>(
      heat, image, keypoints, counts, batch, height, width, valid_h, valid_w, k_out, method);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace sp
