// CPU twin of heatmap.cu: heatmap_threshold_cell over the same grid of cells.
#include "heatmap/heatmap_grid.h"
#include "heatmap/heatmap_grid_launch.h"

namespace sp {
namespace {

template <typename T>
void run(const T* logits, float* heat, uint8_t* state, int64_t batch, int64_t hc, int64_t wc,
         int64_t valid_h, int64_t valid_w, float thr, int32_t* error) {
  const int64_t cells = batch * hc * wc;
  for (int64_t t = 0; t < cells; ++t) {  // thread t of the GPU grid
    const int64_t b = t / (hc * wc), rem = t % (hc * wc), i = rem / wc, j = rem % wc;
    if (!heatmap_threshold_cell(logits, heat, state, b, i, j, hc, wc, valid_h, valid_w, thr)) {
      heatmap_clear_cell(state, b, i, j, hc, wc);
      *error |= kErrorNonFiniteLogits;
    }
  }
}

}  // namespace

void heatmap_threshold_grid_cpu(const void* logits, bool f16, float* heat, uint8_t* state,
                                int64_t batch, int64_t hc, int64_t wc, int64_t valid_h,
                                int64_t valid_w, float conf_threshold, int32_t* error) {
  if (f16) {
    run(static_cast<const uint16_t*>(logits), heat, state, batch, hc, wc, valid_h, valid_w,
        conf_threshold, error);
  } else {
    run(static_cast<const float*>(logits), heat, state, batch, hc, wc, valid_h, valid_w,
        conf_threshold, error);
  }
}

}  // namespace sp
