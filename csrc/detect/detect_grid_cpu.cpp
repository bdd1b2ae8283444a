// CPU twin of detect.cu: detect_mark over every pixel, the wrapper's host sort (Thrust's CPP
// backend), detect_gather over every output slot.
#include <stdexcept>
#include <vector>

#include "detect/detect.h"
#include "detect/detect_grid.h"
#include "detect/detect_grid_launch.h"
#include "device_algorithms.h"

namespace sp {

void detect_grid_cpu(const float* heat, const uint8_t* state, const DetectGridShape& s,
                     float* keypoints, float* scores, int32_t* counts) {
  if (s.radius < 0 || s.border < 0) throw std::invalid_argument("detect: negative radius/border");
  const int64_t cap = s.capacity(), k_out = s.k_out();
  const DetectKeyLayout layout = detect_key_layout(s.batch, s.hgt * s.wid);
  if (layout.end_bit > 64) throw std::invalid_argument("detect: batch x image too large for keys");
  std::vector<uint64_t> keys(static_cast<size_t>(s.batch * cap), ~uint64_t{0});
  std::vector<uint64_t> alt(keys.size());
  std::vector<int32_t> kept(static_cast<size_t>(s.batch), 0);
  const NmsReportRect report = detect_report_rect(s.valid_h, s.valid_w, s.border);
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t y = 0; y < s.hgt; ++y) {
      for (int64_t x = 0; x < s.wid; ++x) {
        detect_mark(heat, state, b, y, x, s.hgt, s.wid, report, layout, cap, keys.data(),
                    kept.data());
      }
    }
  }
  const uint64_t* sorted = dev::sort_keys(dev::HostExec{}, keys.data(), alt.data(),
                                          static_cast<int64_t>(keys.size()), layout.end_bit);
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t n = 0; n < (k_out > 0 ? k_out : 1); ++n) {
      detect_gather(sorted, kept.data(), heat, b, n, s.hgt, s.wid, k_out, layout, keypoints, scores,
                    counts);
    }
  }
}

}  // namespace sp
