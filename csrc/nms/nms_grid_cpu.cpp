// CPU twin of the GPU NMS (nms.cu): the same nms_step over the same grid, in one of three sweep
// orders, so the tests can check that any order reaches the greedy result.
#include <stdexcept>
#include <vector>

#include "nms/nms_grid.h"
#include "nms/nms_grid_launch.h"

namespace sp {

int64_t nms_fixed_point_grid_cpu(const float* heat, uint8_t* state, int64_t batch, int64_t hgt,
                                 int64_t wid, int64_t valid_h, int64_t valid_w, int64_t radius,
                                 NmsSchedule schedule, int64_t max_sweeps) {
  if (radius < 0) throw std::invalid_argument("nms: nms_radius must be >= 0");
  if (valid_h < 1 || valid_h > hgt || valid_w < 1 || valid_w > wid) {
    throw std::invalid_argument("nms: valid size must satisfy 1 <= h <= H and 1 <= w <= W");
  }
  const int64_t plane = hgt * wid;
  std::vector<uint8_t> next;
  int64_t sweeps = 0;
  for (;;) {
    if (max_sweeps >= 0 && sweeps >= max_sweeps) break;
    bool undecided = false, changed = false;
    if (schedule == NmsSchedule::kJacobi) next.assign(state, state + batch * plane);
    for (int64_t b = 0; b < batch; ++b) {
      const float* hb = heat + b * plane;
      uint8_t* sb = state + b * plane;
      uint8_t* nb = schedule == NmsSchedule::kJacobi ? next.data() + b * plane : sb;
      for (int64_t t = 0; t < valid_h * valid_w; ++t) {
        const int64_t u = schedule == NmsSchedule::kReverseRaster ? valid_h * valid_w - 1 - t : t;
        const int64_t y = u / valid_w, x = u % valid_w;
        const int64_t o = y * wid + x;
        if (sb[o] != kNmsUndecided) continue;
        const uint8_t s = nms_step(hb, sb, valid_h, valid_w, wid, y, x, radius);
        nb[o] = s;
        changed = changed || s != kNmsUndecided;
        undecided = undecided || s == kNmsUndecided;
      }
    }
    if (schedule == NmsSchedule::kJacobi) std::copy(next.begin(), next.end(), state);
    ++sweeps;
    if (!undecided) break;
    if (!changed)
      throw std::logic_error("nms: fixed point stalled (cannot happen; see nms_grid.h)");
  }
  return sweeps;
}

}  // namespace sp
