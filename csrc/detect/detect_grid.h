// detect, data-parallel: after the NMS fixed point (nms_grid.h), the kept points inside the
// border are given sort keys, sorted (device_algorithms.h: CUB radix sort on the GPU, Thrust's CPP
// backend on the host) and the first max_keypoints of each image are written out. The order is
// the CPU one: descending score, equal scores by ascending linear index, deterministic.
//
// Keys: [image b | score key (32 bits, nms_score_key: ascending = descending score) | pixel index]
// so that one sort orders every image's points, image 0 first. Buffer size: kept points of an
// image are pairwise more than r apart (Chebyshev): each (r + 1) x (r + 1) tile holds at most one,
// so ceil(h / (r + 1)) * ceil(w / (r + 1)) slots per image suffice (detect_capacity). Unused slots
// hold the sentinel (all ones over the key bits), which sorts after every key.
#pragma once

#include <cstdint>

#include "common.h"
#include "nms/nms.h"
#include "nms/nms_grid.h"

namespace sp {

// Upper bound on the points NMS keeps in an h x w region with radius r.
SP_HD inline int64_t detect_capacity(int64_t h, int64_t w, int64_t r) {
  return ((h + r) / (r + 1)) * ((w + r) / (r + 1));
}

SP_HD inline int bits_for(uint64_t n) {  // bits to represent 0 .. n - 1
  int b = 0;
  while (b < 64 && (uint64_t{1} << b) < n) ++b;
  return b;
}

struct DetectKeyLayout {
  int index_bits;  // pixel index y * W + x < H * W
  int batch_bits;  // image index < B
  int end_bit;     // index_bits + 32 + batch_bits (<= 64)
};

SP_HD inline DetectKeyLayout detect_key_layout(int64_t batch, int64_t pixels) {
  DetectKeyLayout l;
  l.index_bits = bits_for(static_cast<uint64_t>(pixels));
  l.batch_bits = bits_for(static_cast<uint64_t>(batch));
  l.end_bit = l.index_bits + 32 + l.batch_bits;
  return l;
}

SP_HD inline uint64_t detect_sentinel(const DetectKeyLayout& l) {
  return l.end_bit >= 64 ? ~uint64_t{0} : (uint64_t{1} << l.end_bit) - 1;
}

SP_HD inline uint64_t detect_key(const DetectKeyLayout& l, int64_t b, float score, int64_t index) {
  return (static_cast<uint64_t>(b) << (32 + l.index_bits)) |
         (static_cast<uint64_t>(nms_score_key(score)) << l.index_bits) |
         static_cast<uint64_t>(index);
}

SP_HD inline int64_t detect_key_index(const DetectKeyLayout& l, uint64_t key) {
  return static_cast<int64_t>(key & ((uint64_t{1} << l.index_bits) - 1));
}

// Atomic add on the GPU; a plain add in the sequential CPU loop.
SP_HD inline int32_t sp_atomic_add(int32_t* p, int32_t v) {
#if defined(__CUDA_ARCH__)
  return atomicAdd(p, v);
#else
  const int32_t old = *p;
  *p = old + v;
  return old;
#endif
}

// Pixel (b, y, x) of state/heat (B, H, W): a KEPT point inside the border of the valid region
// takes the next slot of image b (keys (B, capacity), counts (B,) zeroed before).
SP_HD inline void detect_mark(const float* heat, const uint8_t* state, int64_t b, int64_t y,
                              int64_t x, int64_t hgt, int64_t wid, const NmsReportRect& report,
                              const DetectKeyLayout& layout, int64_t capacity, uint64_t* keys,
                              int32_t* counts) {
  const int64_t index = y * wid + x;
  const int64_t o = b * hgt * wid + index;
  if (state[o] != kNmsKept || !report.contains(y, x)) return;
  const int32_t slot = sp_atomic_add(counts + b, 1);
  if (slot < capacity) keys[b * capacity + slot] = detect_key(layout, b, heat[o], index);
}

// Output slot (b, n) after the sort: sorted holds image 0's keys, then image 1's, ..., then
// sentinels. Writes keypoint (x, y) and score for n < min(counts[b], max_keypoints), and the
// per-image output count at n == 0. keypoints (B, K, 2), scores (B, K), out_counts (B,).
SP_HD inline void detect_gather(const uint64_t* sorted, const int32_t* counts, const float* heat,
                                int64_t b, int64_t n, int64_t hgt, int64_t wid, int64_t k_out,
                                const DetectKeyLayout& layout, float* keypoints, float* scores,
                                int32_t* out_counts) {
  int64_t offset = 0;
  for (int64_t i = 0; i < b; ++i) offset += counts[i];
  const int64_t nb = counts[b] < k_out ? counts[b] : k_out;
  if (n == 0) out_counts[b] = static_cast<int32_t>(nb);
  if (n >= nb) return;
  const int64_t index = detect_key_index(layout, sorted[offset + n]);
  const int64_t o = b * k_out + n;
  keypoints[2 * o] = static_cast<float>(index % wid);
  keypoints[2 * o + 1] = static_cast<float>(index / wid);
  scores[o] = heat[b * hgt * wid + index];
}

}  // namespace sp
