// sample_descriptors, data-parallel: one thread per (image, keypoint, channel) samples the coarse
// map (sample_taps / sample_plane of sample_descriptors.h), then one thread per (image, keypoint)
// L2-normalises its row. Two barrier-free passes, shared by the CUDA kernels and the CPU twin.
// Keypoints come from detect_grid.h's padded layout: (B, K, 2), counts (B,).
#pragma once

#include <cstdint>

#include "common.h"
#include "sample_descriptors/sample_descriptors.h"

namespace sp {

// coarse (B, C, Hc, Wc) float32 or float16 bits; out (B, K, C). Slots n >= counts[b] are skipped.
template <int N, typename T>
SP_HD inline void sample_descriptor_value(const T* coarse, const float* keypoints,
                                          const int32_t* counts, int64_t b, int64_t n, int64_t c,
                                          int64_t channels, int64_t hc, int64_t wc, int64_t k_out,
                                          Convention conv, float* out) {
  if (n >= counts[b]) return;
  const int64_t o = b * k_out + n;
  const SampleTaps<N> taps = sample_taps<N>(keypoints[2 * o], keypoints[2 * o + 1], hc, wc, conv);
  out[o * channels + c] = sample_plane<N>(coarse + (b * channels + c) * hc * wc, taps);
}

// Row (b, n) of out (B, K, C) to unit L2 norm; false when it is not finite.
SP_HD inline bool normalize_descriptor_row(float* out, const int32_t* counts, int64_t b, int64_t n,
                                           int64_t channels, int64_t k_out) {
  if (n >= counts[b]) return true;
  return l2_normalize(out + (b * k_out + n) * channels, channels);
}

}  // namespace sp
