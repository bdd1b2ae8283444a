// Launchers of the data-parallel NMS (nms_grid.h): the CUDA one (nms.cu) and its CPU twin
// (nms_grid_cpu.cpp) run nms_step over the same grid.
#pragma once

#include <cstdint>

namespace sp {

// Sweep orders of the CPU twin: in place in raster order, in place in reverse raster order, or
// Jacobi (every step of a sweep reads the states of the previous sweep).
enum class NmsSchedule : int { kRaster = 0, kReverseRaster = 1, kJacobi = 2 };

// Iterates nms_step over state (B, H, W) (initialised by heatmap_threshold_cell) until no
// candidate is UNDECIDED, or for max_sweeps sweeps when max_sweeps >= 0. Returns the sweeps run.
int64_t nms_fixed_point_grid_cpu(const float* heat, uint8_t* state, int64_t batch, int64_t hgt,
                                 int64_t wid, int64_t valid_h, int64_t valid_w, int64_t radius,
                                 NmsSchedule schedule, int64_t max_sweeps = -1);

// GPU: `grid_sweeps` sweeps with one thread per pixel over every image, then one block per image
// sweeps until its fixed point (no host synchronisation). Device pointers; `stream` is a
// cudaStream_t. Returns a cudaError_t value (0 = success).
int nms_fixed_point_cuda(const float* heat, uint8_t* state, int64_t batch, int64_t hgt, int64_t wid,
                         int64_t valid_h, int64_t valid_w, int64_t radius, int grid_sweeps,
                         void* stream);

}  // namespace sp
