// The whole post-processing of a batch on the GPU, and its CPU twin that runs the same per-thread
// functions over the same grids (tests compare it with the CPU ops and the NumPy references):
//
//   heatmap_threshold (heatmap_grid.h)  softmax + dustbin + depth-to-space + threshold -> states
//   nms fixed point   (nms_grid.h)      equal to the greedy CPU NMS
//   detect            (detect_grid.h)   kept points inside the border, sorted, first max_keypoints
//   subpixel          (subpixel_grid.h) optional: parabola vertex, 3x3 / 5x5 centroid, or the
//                     5x5 centroid + a Förstner step on the image
//   sample_descriptors (sample_descriptors_grid.h)  bilinear / bicubic + L2 normalisation
//
// Semantics = superpoint_rt.SuperPoint on the CPU: the NMS domain is the valid (unpadded) region
// [0, valid_h) x [0, valid_w) of the (8 Hc, 8 Wc) heatmap, the border is removed after NMS relative
// to that region, keypoints are (x, y) with pixel centres at integers, ordered by descending score
// (equal scores: lower linear index first). Outputs are padded: keypoints (B, K, 2), scores (B, K),
// descriptors (B, K, C), counts (B,), K = postprocess_k_out(); rows past counts[b] are unspecified.
#pragma once

#include <cstddef>
#include <cstdint>

#include "detect/detect_grid_launch.h"
#include "nms/nms_grid_launch.h"
#include "sample_descriptors/sample_descriptors.h"
#include "subpixel/subpixel_grid.h"

namespace sp {

struct PostprocessParams {
  int64_t batch, hc, wc, channels;  // logits (B, 65, Hc, Wc), coarse (B, C, Hc, Wc)
  float conf_threshold;
  int64_t nms_radius, border;
  int64_t max_keypoints;     // < 0: all
  int64_t valid_h, valid_w;  // unpadded image size (<= 8 Hc, 8 Wc)
  Interpolation interpolation;
  Convention convention;
  int grid_sweeps;  // GPU NMS sweeps over every pixel before the per-image finish (>= 0)
  bool subpixel;    // refine keypoints (subpixel_grid.h) before the descriptors are sampled there
  SubpixelMethod subpixel_method;  // how (when subpixel)

  // Whether the refinement reads the network input (SubpixelMethod::kForstner).
  bool needs_image() const { return subpixel && subpixel_method == SubpixelMethod::kForstner; }
  int64_t height() const { return 8 * hc; }
  int64_t width() const { return 8 * wc; }
  DetectGridShape detect_shape() const {
    return DetectGridShape{batch,   height(),   width(), valid_h,
                           valid_w, nms_radius, border,  max_keypoints};
  }
  int64_t k_out() const { return detect_shape().k_out(); }
};

// Throws std::invalid_argument on inconsistent sizes.
void check_postprocess_params(const PostprocessParams& p);

// CPU twin. logits / coarse: float32, or float16 bits when the *_f16 flag is set. image: the
// network input (B, 1, H, W) float32, read by SubpixelMethod::kForstner only (may be null
// otherwise; null with kForstner throws std::invalid_argument). heat (B, H, W) and state (B, H, W)
// are outputs too (for the tests). Returns the error bits (heatmap_grid_launch.h).
int32_t postprocess_grid_cpu(const void* logits, bool logits_f16, const void* coarse,
                             bool coarse_f16, const float* image, const PostprocessParams& p,
                             NmsSchedule schedule, float* heat, uint8_t* state, float* keypoints,
                             float* scores, float* descriptors, int32_t* counts);

// GPU. Device scratch of postprocess_workspace_bytes(p) bytes. keypoints, scores, counts and error
// (one int32, zeroed here, OR-ed by the kernels) are read back by later kernels: device memory.
// descriptors are only written: device memory, or mapped pinned host memory (then only the valid
// rows cross the bus). Enqueued on `stream` (a cudaStream_t), nothing synchronised. Returns a
// cudaError_t value (cudaErrorInvalidValue for a null image with kForstner). image: as above,
// device memory.
size_t postprocess_workspace_bytes(const PostprocessParams& p);
int postprocess_cuda(const void* logits, bool logits_f16, const void* coarse, bool coarse_f16,
                     const float* image, const PostprocessParams& p, void* workspace,
                     size_t workspace_bytes, float* keypoints, float* scores, float* descriptors,
                     int32_t* counts, int32_t* error, void* stream);

}  // namespace sp
