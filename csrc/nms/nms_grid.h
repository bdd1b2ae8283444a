// nms, data-parallel: the greedy NMS of nms.h as a fixed point of local decisions, for the GPU
// (one thread per pixel) and its CPU twin (the same function in a loop over the same grid).
//
// Every pixel has a state: NONE (not a candidate: below the threshold or outside the valid
// region), UNDECIDED, KEPT or SUPPRESSED. "q ranks before p" is nms_ranks_before: higher score, or
// equal score and lower linear index y * W + x (the CPU tie rule). One step of an UNDECIDED
// candidate p looks at the candidates q != p of its (2r + 1)^2 square that rank before p:
//   - some such q is KEPT                    -> p becomes SUPPRESSED;
//   - every such q is SUPPRESSED (or none)   -> p becomes KEPT;
//   - otherwise (one is still UNDECIDED)     -> p stays UNDECIDED.
// Steps are repeated (over all pixels, in any order, in place, even racing) until no candidate
// is UNDECIDED. This is max-pool NMS iterated to a fixed point: "KEPT" = maximum of its window
// among the not-yet-suppressed candidates, "SUPPRESSED" = inside the dilation of the kept set.
//
// Equality with the greedy NMS (visit candidates in rank order; keep one unless an earlier kept
// candidate lies in its square). Let G(p) be the greedy decision.
//  1. Every decision taken is G(p), by induction on the time decisions are written. A step reads
//     states written earlier (or UNDECIDED, which never decides anything), so by induction every
//     non-UNDECIDED q it sees has its greedy state. If it sees a KEPT q ranking before p in p's
//     square, greedy visits q before p and keeps it, so G(p) = suppressed. If every candidate
//     ranking before p in the square is SUPPRESSED, no kept candidate precedes p there, so
//     G(p) = kept. (A racing read returns the old or the new state: either is safe.)
//  2. Progress: in a sweep, the highest-ranked UNDECIDED candidate p* sees only decided
//     candidates ranking before it (all higher-ranked candidates were decided before the sweep), so
//     its step decides it. Hence each full sweep decides at least one candidate and the iteration
//     ends after at most N sweeps (N = candidates); in practice a handful, the length of the
//     longest chain of candidates that wait on each other.
// So the fixed point is exactly the greedy result, ties included; tests/test_cuda_ops.py checks it
// against the CPU nms on random heatmaps at 240x320, 480x640, 720x1280 and on hand-built ties,
// for three sweep orders (raster, reverse raster, Jacobi).
#pragma once

#include <cstdint>

#include "common.h"
#include "nms/nms.h"

namespace sp {

enum NmsState : uint8_t { kNmsNone = 0, kNmsUndecided = 1, kNmsKept = 2, kNmsSuppressed = 3 };

// One step for pixel (y, x) of a heatmap with rows of `stride` floats, NMS domain [0, h) x [0, w)
// (the valid region; h <= rows, w <= stride). Returns the new state of the pixel (unchanged when
// it is not UNDECIDED). Reads only `heat` and `state`; the caller writes the result.
SP_HD inline uint8_t nms_step(const float* heat, const uint8_t* state, int64_t h, int64_t w,
                              int64_t stride, int64_t y, int64_t x, int64_t r) {
  const int64_t self = y * stride + x;
  const uint8_t s = state[self];
  if (s != kNmsUndecided) return s;
  const float score = heat[self];
  const int64_t y0 = clamp_i64(y - r, 0, h - 1), y1 = clamp_i64(y + r, 0, h - 1);
  const int64_t x0 = clamp_i64(x - r, 0, w - 1), x1 = clamp_i64(x + r, 0, w - 1);
  bool pending = false;
  for (int64_t yy = y0; yy <= y1; ++yy) {
    for (int64_t xx = x0; xx <= x1; ++xx) {
      const int64_t q = yy * stride + xx;
      const uint8_t qs = state[q];
      if (q == self || qs == kNmsNone || qs == kNmsSuppressed) continue;
      if (!nms_ranks_before(heat[q], q, score, self)) continue;
      if (qs == kNmsKept) return kNmsSuppressed;
      pending = true;  // an UNDECIDED candidate ranks before p: wait for it
    }
  }
  return pending ? kNmsUndecided : kNmsKept;
}

// Initial state of pixel (y, x): UNDECIDED when it is a candidate of the valid region.
SP_HD inline uint8_t nms_initial_state(float score, int64_t y, int64_t x, int64_t h, int64_t w,
                                       float conf_threshold) {
  return (y < h && x < w && score >= conf_threshold) ? kNmsUndecided : kNmsNone;
}

}  // namespace sp
