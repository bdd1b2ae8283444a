// Launchers of the sub-pixel refinement (subpixel_grid.h): CUDA (subpixel.cu) and its CPU twin
// (subpixel_grid_cpu.cpp).
#pragma once

#include <cstdint>

#include "subpixel/subpixel_grid.h"

namespace sp {

// heat (B, H, W) float32; keypoints (B, K, 2) from detect (integer-valued x, y in the valid region
// [0, valid_h) x [0, valid_w)), refined in place by `method` for rows n < counts[b]; image
// (B, H, W) float32, the network input, read by kForstner only (may be null otherwise).
void subpixel_grid_cpu(const float* heat, const float* image, float* keypoints,
                       const int32_t* counts, int64_t batch, int64_t height, int64_t width,
                       int64_t valid_h, int64_t valid_w, int64_t k_out, SubpixelMethod method);

// GPU version: device pointers (keypoints and counts written by detect on the same stream),
// stream a cudaStream_t. Returns a cudaError_t value.
int subpixel_cuda(const float* heat, const float* image, float* keypoints, const int32_t* counts,
                  int64_t batch, int64_t height, int64_t width, int64_t valid_h, int64_t valid_w,
                  int64_t k_out, SubpixelMethod method, void* stream);

}  // namespace sp
