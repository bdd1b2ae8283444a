// heatmap, fused for the GPU pipeline: softmax + dustbin drop + depth-to-space (heatmap_cell of
// heatmap.h) + the detection threshold, which writes each pixel's initial NMS state. One thread
// per cell (b, i, j) of logits (B, 65, Hc, Wc); heat and state are (B, 8 Hc, 8 Wc).
#pragma once

#include <cstdint>

#include "common.h"
#include "heatmap/heatmap.h"
#include "nms/nms_grid.h"

namespace sp {

// Cell (b, i, j): heat values and initial NMS states of its 64 pixels. The NMS domain is the
// valid region [0, valid_h) x [0, valid_w) (pixels outside it are never candidates: the padded
// rows/columns of a non-multiple-of-8 image). Returns false (writing nothing) on a non-finite
// logit.
template <typename T>
SP_HD inline bool heatmap_threshold_cell(const T* logits, float* heat, uint8_t* state, int64_t b,
                                         int64_t i, int64_t j, int64_t hc, int64_t wc,
                                         int64_t valid_h, int64_t valid_w, float conf_threshold) {
  if (!heatmap_cell(logits, heat, b, i, j, hc, wc)) return false;
  for (int k = 0; k < kCellChannels - 1; ++k) {
    const int64_t o = heatmap_out_index(b, k, i, j, hc, wc);
    const int64_t y = kCell * i + k / kCell, x = kCell * j + k % kCell;
    state[o] = nms_initial_state(heat[o], y, x, valid_h, valid_w, conf_threshold);
  }
  return true;
}

}  // namespace sp

namespace sp {

// The 64 pixels of cell (b, i, j) become NONE (after a non-finite logit).
SP_HD inline void heatmap_clear_cell(uint8_t* state, int64_t b, int64_t i, int64_t j, int64_t hc,
                                     int64_t wc) {
  for (int k = 0; k < kCellChannels - 1; ++k)
    state[heatmap_out_index(b, k, i, j, hc, wc)] = kNmsNone;
}

}  // namespace sp
