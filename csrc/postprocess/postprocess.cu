// CUDA post-processing of a batch: heatmap + threshold, NMS fixed point, detect (CUB sort),
// descriptor sampling, all enqueued on one stream with no synchronisation; the caller syncs once
// and reads counts, keypoints, scores, descriptors and the error bits.
#include <cuda_runtime.h>

#include "heatmap/heatmap_grid_launch.h"
#include "postprocess/postprocess.h"
#include "sample_descriptors/sample_descriptors_grid_launch.h"
#include "subpixel/subpixel_grid_launch.h"

namespace sp {
namespace {

constexpr size_t kAlign = 256;
size_t align_up(size_t v) {
  return (v + kAlign - 1) / kAlign * kAlign;
}

struct Scratch {
  float* heat;
  uint8_t* state;
  void* detect;
  size_t detect_bytes;
};

size_t carve(const PostprocessParams& p, void* base, Scratch* s) {
  const size_t pixels = static_cast<size_t>(p.batch * p.height() * p.width());
  char* c = static_cast<char*>(base);
  size_t off = 0;
  if (s != nullptr) s->heat = reinterpret_cast<float*>(c + off);
  off = align_up(off + pixels * sizeof(float));
  if (s != nullptr) s->state = reinterpret_cast<uint8_t*>(c + off);
  off = align_up(off + pixels);
  const size_t det = detect_workspace_bytes(p.detect_shape());
  if (s != nullptr) {
    s->detect = c + off;
    s->detect_bytes = det;
  }
  return off + det;
}

}  // namespace

size_t postprocess_workspace_bytes(const PostprocessParams& p) {
  check_postprocess_params(p);
  return carve(p, nullptr, nullptr);
}

int postprocess_cuda(const void* logits, bool logits_f16, const void* coarse, bool coarse_f16,
                     const float* image, const PostprocessParams& p, void* workspace,
                     size_t workspace_bytes, float* keypoints, float* scores, float* descriptors,
                     int32_t* counts, int32_t* error, void* stream) {
  check_postprocess_params(p);
  if (workspace_bytes < carve(p, nullptr, nullptr)) return static_cast<int>(cudaErrorInvalidValue);
  if (p.needs_image() && image == nullptr) {
    return static_cast<int>(cudaErrorInvalidValue);
  }
  Scratch s;
  carve(p, workspace, &s);
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  int err = static_cast<int>(cudaMemsetAsync(error, 0, sizeof(int32_t), st));
  if (err == 0) {
    err = heatmap_threshold_cuda(logits, logits_f16, s.heat, s.state, p.batch, p.hc, p.wc,
                                 p.valid_h, p.valid_w, p.conf_threshold, error, stream);
  }
  if (err == 0) {
    err = nms_fixed_point_cuda(s.heat, s.state, p.batch, p.height(), p.width(), p.valid_h,
                               p.valid_w, p.nms_radius, p.grid_sweeps, stream);
  }
  if (err == 0) {
    err = detect_cuda(s.heat, s.state, p.detect_shape(), s.detect, s.detect_bytes, keypoints,
                      scores, counts, stream);
  }
  if (err == 0 && p.subpixel) {
    err = subpixel_cuda(s.heat, image, keypoints, counts, p.batch, p.height(), p.width(), p.valid_h,
                        p.valid_w, p.k_out(), p.subpixel_method, stream);
  }
  if (err == 0) {
    err = sample_descriptors_cuda(coarse, coarse_f16, keypoints, counts, p.batch, p.channels, p.hc,
                                  p.wc, p.k_out(), p.interpolation, p.convention, descriptors,
                                  error, stream);
  }
  return err;
}

}  // namespace sp
