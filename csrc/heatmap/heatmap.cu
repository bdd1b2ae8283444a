// CUDA: fused softmax + dustbin drop + depth-to-space + threshold (heatmap_grid.h), one thread per
// cell. The per-thread work is heatmap_threshold_cell, shared with the CPU twin.
#include <cuda_runtime.h>

#include "heatmap/heatmap_grid.h"
#include "heatmap/heatmap_grid_launch.h"

namespace sp {
namespace {

template <typename T>
__global__ void heatmap_threshold_kernel(const T* __restrict__ logits, float* __restrict__ heat,
                                         uint8_t* __restrict__ state, int64_t batch, int64_t hc,
                                         int64_t wc, int64_t valid_h, int64_t valid_w, float thr,
                                         int32_t* error) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= batch * hc * wc) return;
  const int64_t b = t / (hc * wc), rem = t % (hc * wc), i = rem / wc, j = rem % wc;
  if (!heatmap_threshold_cell(logits, heat, state, b, i, j, hc, wc, valid_h, valid_w, thr)) {
    heatmap_clear_cell(state, b, i, j, hc, wc);
    atomicOr(error, kErrorNonFiniteLogits);
  }
}

}  // namespace

int heatmap_threshold_cuda(const void* logits, bool f16, float* heat, uint8_t* state, int64_t batch,
                           int64_t hc, int64_t wc, int64_t valid_h, int64_t valid_w,
                           float conf_threshold, int32_t* error, void* stream) {
  const int64_t cells = batch * hc * wc;
  if (cells == 0) return 0;
  constexpr int kThreads = 128;
  const unsigned blocks = static_cast<unsigned>((cells + kThreads - 1) / kThreads);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (f16) {
    heatmap_threshold_kernel<<<blocks, kThreads, 0, s>>>(static_cast<const uint16_t*>(logits), heat,
                                                         state, batch, hc, wc, valid_h, valid_w,
                                                         conf_threshold, error);
  } else {
    heatmap_threshold_kernel<<<blocks, kThreads, 0, s>>>(static_cast<const float*>(logits), heat,
                                                         state, batch, hc, wc, valid_h, valid_w,
                                                         conf_threshold, error);
  }
  return static_cast<int>(cudaGetLastError());
}

}  // namespace sp
