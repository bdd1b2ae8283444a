// CUDA detect: detect_mark per pixel, a CUB radix sort of the keys (device_algorithms.h, on the
// stream, no synchronisation), detect_gather per output slot. Deterministic: the keys are unique
// and their order is the CPU's (descending score, ascending linear index).
#include <cuda_runtime.h>

#include "detect/detect.h"
#include "detect/detect_grid.h"
#include "detect/detect_grid_launch.h"
#include "device_algorithms.h"

namespace sp {
namespace {

constexpr int kThreads = 256;

__global__ void detect_mark_kernel(const float* __restrict__ heat,
                                   const uint8_t* __restrict__ state, int64_t hgt, int64_t wid,
                                   NmsReportRect report, DetectKeyLayout layout, int64_t capacity,
                                   uint64_t* keys, int32_t* counts) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= hgt * wid) return;
  detect_mark(heat, state, blockIdx.y, t / wid, t % wid, hgt, wid, report, layout, capacity, keys,
              counts);
}

__global__ void detect_gather_kernel(const uint64_t* __restrict__ sorted,
                                     const int32_t* __restrict__ kept,
                                     const float* __restrict__ heat, int64_t hgt, int64_t wid,
                                     int64_t k_out, DetectKeyLayout layout, float* keypoints,
                                     float* scores, int32_t* counts) {
  const int64_t n = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (n >= (k_out > 0 ? k_out : 1)) return;
  detect_gather(sorted, kept, heat, blockIdx.y, n, hgt, wid, k_out, layout, keypoints, scores,
                counts);
}

constexpr size_t kAlign = 256;
size_t align_up(size_t v) {
  return (v + kAlign - 1) / kAlign * kAlign;
}

struct DetectWorkspace {
  uint64_t* keys;
  uint64_t* alt;
  int32_t* kept;
  void* temp;
  size_t temp_bytes;
};

size_t carve(const DetectGridShape& s, void* base, DetectWorkspace* ws) {
  const int64_t n = s.batch * s.capacity();
  const DetectKeyLayout layout = detect_key_layout(s.batch, s.hgt * s.wid);
  const size_t temp = dev::sort_keys_temp_bytes(n, layout.end_bit);
  size_t off = 0;
  char* p = static_cast<char*>(base);
  if (ws != nullptr) ws->keys = reinterpret_cast<uint64_t*>(p + off);
  off = align_up(off + n * sizeof(uint64_t));
  if (ws != nullptr) ws->alt = reinterpret_cast<uint64_t*>(p + off);
  off = align_up(off + n * sizeof(uint64_t));
  if (ws != nullptr) ws->kept = reinterpret_cast<int32_t*>(p + off);
  off = align_up(off + s.batch * sizeof(int32_t));
  if (ws != nullptr) {
    ws->temp = p + off;
    ws->temp_bytes = temp;
  }
  return off + temp;
}

}  // namespace

size_t detect_workspace_bytes(const DetectGridShape& shape) {
  return carve(shape, nullptr, nullptr);
}

int detect_cuda(const float* heat, const uint8_t* state, const DetectGridShape& s, void* workspace,
                size_t workspace_bytes, float* keypoints, float* scores, int32_t* counts,
                void* stream) {
  if (workspace_bytes < detect_workspace_bytes(s)) return static_cast<int>(cudaErrorInvalidValue);
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  DetectWorkspace ws;
  carve(s, workspace, &ws);
  const int64_t cap = s.capacity(), n = s.batch * cap, k_out = s.k_out();
  const DetectKeyLayout layout = detect_key_layout(s.batch, s.hgt * s.wid);
  cudaError_t err = cudaMemsetAsync(ws.keys, 0xFF, n * sizeof(uint64_t), st);
  if (err == cudaSuccess) err = cudaMemsetAsync(ws.kept, 0, s.batch * sizeof(int32_t), st);
  if (err != cudaSuccess) return static_cast<int>(err);
  const dim3 mark_grid(static_cast<unsigned>((s.hgt * s.wid + kThreads - 1) / kThreads),
                       static_cast<unsigned>(s.batch));
  detect_mark_kernel<<<mark_grid, kThreads, 0, st>>>(
      heat, state, s.hgt, s.wid, detect_report_rect(s.valid_h, s.valid_w, s.border), layout, cap,
      ws.keys, ws.kept);
  const uint64_t* sorted = dev::sort_keys(dev::CudaExec{st, ws.temp, ws.temp_bytes}, ws.keys,
                                          ws.alt, n, layout.end_bit, &err);
  if (err != cudaSuccess) return static_cast<int>(err);
  const int64_t slots = k_out > 0 ? k_out : 1;
  const dim3 gather_grid(static_cast<unsigned>((slots + kThreads - 1) / kThreads),
                         static_cast<unsigned>(s.batch));
  detect_gather_kernel<<<gather_grid, kThreads, 0, st>>>(sorted, ws.kept, heat, s.hgt, s.wid, k_out,
                                                         layout, keypoints, scores, counts);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace sp
