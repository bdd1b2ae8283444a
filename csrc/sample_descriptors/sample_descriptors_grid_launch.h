// Launchers of the data-parallel descriptor sampling (sample_descriptors_grid.h): CUDA
// (sample_descriptors.cu) and its CPU twin (sample_descriptors_grid_cpu.cpp).
#pragma once

#include <cstdint>

#include "sample_descriptors/sample_descriptors.h"

namespace sp {

// coarse (B, C, Hc, Wc) float32 or float16 bits (`f16`); keypoints (B, K, 2) x, y; counts (B,);
// out (B, K, C): rows n < counts[b] sampled and L2-normalised, the others untouched. A row that is
// not finite sets kErrorNonFiniteDescriptors (heatmap_grid_launch.h) in *error.
void sample_descriptors_grid_cpu(const void* coarse, bool f16, const float* keypoints,
                                 const int32_t* counts, int64_t batch, int64_t channels, int64_t hc,
                                 int64_t wc, int64_t k_out, Interpolation interp, Convention conv,
                                 float* out, int32_t* error);

// GPU version: device pointers (counts may be written by an earlier kernel on the same stream),
// stream a cudaStream_t. Returns a cudaError_t value.
int sample_descriptors_cuda(const void* coarse, bool f16, const float* keypoints,
                            const int32_t* counts, int64_t batch, int64_t channels, int64_t hc,
                            int64_t wc, int64_t k_out, Interpolation interp, Convention conv,
                            float* out, int32_t* error, void* stream);

}  // namespace sp
