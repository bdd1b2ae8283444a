// Launchers of the fused heatmap + threshold (heatmap_grid.h): CUDA (heatmap.cu) and its CPU twin
// (heatmap_grid_cpu.cpp) run heatmap_threshold_cell over the same grid, one thread per cell.
#pragma once

#include <cstdint>

namespace sp {

// Bits of the error flag the GPU pipeline reports (OR-ed by the kernels, read after the sync).
constexpr int32_t kErrorNonFiniteLogits = 1;
constexpr int32_t kErrorNonFiniteDescriptors = 2;

// logits (B, 65, Hc, Wc) float32 or float16 bits (`f16`); heat float32 and state uint8, both
// (B, 8 Hc, 8 Wc). A cell with a non-finite logit gets NONE states and sets kErrorNonFiniteLogits
// in *error (its heat values are left unwritten).
void heatmap_threshold_grid_cpu(const void* logits, bool f16, float* heat, uint8_t* state,
                                int64_t batch, int64_t hc, int64_t wc, int64_t valid_h,
                                int64_t valid_w, float conf_threshold, int32_t* error);

// GPU version: device pointers, `error` a device int32, `stream` a cudaStream_t. Returns a
// cudaError_t value.
int heatmap_threshold_cuda(const void* logits, bool f16, float* heat, uint8_t* state, int64_t batch,
                           int64_t hc, int64_t wc, int64_t valid_h, int64_t valid_w,
                           float conf_threshold, int32_t* error, void* stream);

}  // namespace sp
