// Launchers of the data-parallel detect (detect_grid.h): select the kept points inside the border,
// sort them (device_algorithms.h), write the first max_keypoints of each image.
#pragma once

#include <cstddef>
#include <cstdint>

#include "detect/detect_grid.h"

namespace sp {

// Sizes of a detect call: B images of H x W (heat/state layout), valid region, NMS radius, border,
// max_keypoints (< 0: all).
struct DetectGridShape {
  int64_t batch, hgt, wid, valid_h, valid_w, radius, border, max_keypoints;
  // key slots per image: the bound on kept points of the valid region (detect_grid.h)
  int64_t capacity() const { return detect_capacity(valid_h, valid_w, radius); }
  // output rows per image: min(capacity, max_keypoints)
  int64_t k_out() const {
    const int64_t cap = capacity();
    return max_keypoints < 0 || max_keypoints > cap ? cap : max_keypoints;
  }
};

// Scratch of the GPU version: keys, their double buffer, per-image counts, CUB's temporary storage.
size_t detect_workspace_bytes(const DetectGridShape& shape);

// CPU twin. heat float32 and state uint8 (B, H, W) after the NMS fixed point. Outputs:
// keypoints (B, K, 2) x, y; scores (B, K); counts (B,) with K = shape.k_out(); rows past
// counts[b] are left untouched.
void detect_grid_cpu(const float* heat, const uint8_t* state, const DetectGridShape& shape,
                     float* keypoints, float* scores, int32_t* counts);

// GPU version: device pointers, workspace of detect_workspace_bytes, stream a cudaStream_t.
// Returns a cudaError_t value.
int detect_cuda(const float* heat, const uint8_t* state, const DetectGridShape& shape,
                void* workspace, size_t workspace_bytes, float* keypoints, float* scores,
                int32_t* counts, void* stream);

}  // namespace sp
