// CPU heatmap: a loop over cells running the shared per-cell math of heatmap.h.
#include "heatmap/heatmap.h"

#include <stdexcept>
#include <string>

namespace sp {
namespace {

template <typename T>
void heatmap_loop(const T* logits, float* heat, int64_t b, int64_t hc, int64_t wc) {
  for (int64_t n = 0; n < b; ++n) {
    for (int64_t i = 0; i < hc; ++i) {
      for (int64_t j = 0; j < wc; ++j) {
        if (!heatmap_cell(logits, heat, n, i, j, hc, wc)) {
          throw std::invalid_argument("heatmap: logits contain NaN or inf (at batch " +
                                      std::to_string(n) + ", cell row " + std::to_string(i) +
                                      ", cell column " + std::to_string(j) + ")");
        }
      }
    }
  }
}

}  // namespace

void heatmap_cpu(const float* logits, float* heat, int64_t b, int64_t hc, int64_t wc) {
  heatmap_loop(logits, heat, b, hc, wc);
}

void heatmap_cpu(const uint16_t* logits_f16, float* heat, int64_t b, int64_t hc, int64_t wc) {
  heatmap_loop(logits_f16, heat, b, hc, wc);
}

}  // namespace sp
