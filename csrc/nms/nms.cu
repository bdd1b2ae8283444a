// CUDA NMS equal to the greedy CPU NMS (proof in nms_grid.h): a few sweeps with one thread per
// pixel of every image (most candidates are decided there), then one block per image finishes the
// fixed point with __syncthreads between sweeps (no host synchronisation, no relaunch loop).
// The per-thread work is nms_step, shared with the CPU twin (nms_grid_cpu.cpp).
#include <cuda_runtime.h>

#include "nms/nms_grid.h"
#include "nms/nms_grid_launch.h"

namespace sp {
namespace {

constexpr int kSweepThreads = 256;
constexpr int kFinishThreads = 1024;
constexpr int kFinishList = 6144;  // undecided pixels kept in shared memory (24 KB)

__global__ void nms_sweep_kernel(const float* __restrict__ heat, uint8_t* state, int64_t hgt,
                                 int64_t wid, int64_t valid_h, int64_t valid_w, int64_t r) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= valid_h * valid_w) return;
  const int64_t plane = hgt * wid;
  const float* hb = heat + blockIdx.y * plane;
  uint8_t* sb = state + blockIdx.y * plane;
  const int64_t y = t / valid_w, x = t % valid_w, o = y * wid + x;
  if (sb[o] != kNmsUndecided) return;
  const uint8_t s = nms_step(hb, sb, valid_h, valid_w, wid, y, x, r);
  if (s != kNmsUndecided) sb[o] = s;
}

// One block per image. The pixels still UNDECIDED are listed once (in shared memory when they
// fit); sweeps then visit only them until none is left. Progress (nms_grid.h) guarantees that
// every sweep decides at least one, so the loop ends.
__global__ void __launch_bounds__(kFinishThreads)
    nms_finish_kernel(const float* __restrict__ heat, uint8_t* state, int64_t hgt, int64_t wid,
                      int64_t valid_h, int64_t valid_w, int64_t r) {
  __shared__ int32_t list[kFinishList];
  __shared__ int32_t count;
  const int64_t plane = hgt * wid;
  const float* hb = heat + blockIdx.x * plane;
  uint8_t* sb = state + blockIdx.x * plane;
  const int64_t n = valid_h * valid_w;
  if (threadIdx.x == 0) count = 0;
  __syncthreads();
  for (int64_t t = threadIdx.x; t < n; t += blockDim.x) {
    const int64_t o = (t / valid_w) * wid + t % valid_w;
    if (sb[o] == kNmsUndecided) {
      const int32_t k = atomicAdd(&count, 1);
      if (k < kFinishList) list[k] = static_cast<int32_t>(t);
    }
  }
  __syncthreads();
  const bool listed = count <= kFinishList;
  const int64_t items = listed ? count : n;
  for (;;) {
    int undecided = 0;
    for (int64_t k = threadIdx.x; k < items; k += blockDim.x) {
      const int64_t t = listed ? list[k] : k;
      const int64_t y = t / valid_w, x = t % valid_w, o = y * wid + x;
      if (sb[o] != kNmsUndecided) continue;
      const uint8_t s = nms_step(hb, sb, valid_h, valid_w, wid, y, x, r);
      if (s != kNmsUndecided) {
        sb[o] = s;
      } else {
        undecided = 1;
      }
    }
    if (!__syncthreads_or(undecided)) break;
  }
}

}  // namespace

int nms_fixed_point_cuda(const float* heat, uint8_t* state, int64_t batch, int64_t hgt, int64_t wid,
                         int64_t valid_h, int64_t valid_w, int64_t radius, int grid_sweeps,
                         void* stream) {
  if (batch == 0 || valid_h * valid_w == 0) return 0;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const dim3 grid(static_cast<unsigned>((valid_h * valid_w + kSweepThreads - 1) / kSweepThreads),
                  static_cast<unsigned>(batch));
  for (int i = 0; i < grid_sweeps; ++i) {
    nms_sweep_kernel<<<grid, kSweepThreads, 0, s>>>(heat, state, hgt, wid, valid_h, valid_w,
                                                    radius);
  }
  nms_finish_kernel<<<static_cast<unsigned>(batch), kFinishThreads, 0, s>>>(
      heat, state, hgt, wid, valid_h, valid_w, radius);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace sp
