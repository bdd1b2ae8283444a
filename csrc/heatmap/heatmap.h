// heatmap: detector logits (B, 65, Hc, Wc) -> keypoint heatmap (B, 8*Hc, 8*Wc).
//
//   prob[b, :, i, j] = softmax(logits[b, :, i, j])        (float32, max-subtracted)
//   heat[b, 8*i + k / 8, 8*j + k % 8] = prob[b, k, i, j]   for k in [0, 64); channel 64 (the
//                                                          "no keypoint" dustbin) is dropped.
//
// Input float32 or float16 (converted per element to float32); output float32.
#pragma once

#include <cstdint>

#include "common.h"

namespace sp {

constexpr int kCellChannels = 65;  // 64 pixels of an 8x8 cell + the dustbin
constexpr int kCell = 8;

// Index into heat (B, 8*Hc, 8*Wc) of channel k (< 64) of cell (b, i, j).
SP_HD inline int64_t heatmap_out_index(int64_t b, int64_t k, int64_t i, int64_t j, int64_t hc,
                                       int64_t wc) {
  const int64_t w = kCell * wc;
  return (b * kCell * hc + kCell * i + k / kCell) * w + kCell * j + k % kCell;
}

// Softmax of one cell (b, i, j) of logits (B, 65, Hc, Wc) written into heat (B, 8*Hc, 8*Wc).
// Returns false (and writes nothing) when one of the 65 logits is NaN or +-inf.
// Arithmetic (kept identical on host and device): m = max over k, e_k = exp_f32(x_k - m),
// sum = ((s0 + s1) + (s2 + s3)) + e_64 with s_q the in-order sum of e_k for k < 64, k % 4 == q,
// prob_k = e_k * (1 / sum).
template <typename T>
SP_HD inline bool heatmap_cell(const T* logits, float* heat, int64_t b, int64_t i, int64_t j,
                               int64_t hc, int64_t wc) {
  const int64_t plane = hc * wc;
  const T* base = logits + b * kCellChannels * plane + i * wc + j;
  float x[kCellChannels];
  bool finite = true;
  for (int k = 0; k < kCellChannels; ++k) {
    x[k] = load_as_float(base, k * plane);
    finite &= is_finite_float(x[k]);
  }
  if (!finite) return false;
  float m0 = x[0], m1 = x[1], m2 = x[2], m3 = x[3];  // max is exact: any order gives the same
  for (int k = 4; k < kCellChannels - 1; k += 4) {
    m0 = x[k] > m0 ? x[k] : m0;
    m1 = x[k + 1] > m1 ? x[k + 1] : m1;
    m2 = x[k + 2] > m2 ? x[k + 2] : m2;
    m3 = x[k + 3] > m3 ? x[k + 3] : m3;
  }
  m0 = m1 > m0 ? m1 : m0;
  m2 = m3 > m2 ? m3 : m2;
  m0 = m2 > m0 ? m2 : m0;
  const float m = x[kCellChannels - 1] > m0 ? x[kCellChannels - 1] : m0;
  for (int k = 0; k < kCellChannels; ++k) x[k] = exp_f32(x[k] - m);
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  for (int k = 0; k < kCellChannels - 1; k += 4) {
    s0 += x[k];
    s1 += x[k + 1];
    s2 += x[k + 2];
    s3 += x[k + 3];
  }
  const float inv = 1.0f / (((s0 + s1) + (s2 + s3)) + x[kCellChannels - 1]);  // sum >= 1
  for (int r = 0; r < kCell; ++r) {
    float* row = heat + heatmap_out_index(b, kCell * r, i, j, hc, wc);
    for (int c = 0; c < kCell; ++c) row[c] = x[kCell * r + c] * inv;
  }
  return true;
}

// CPU: logits (B, 65, Hc, Wc), contiguous; heat (B, 8*Hc, 8*Wc) preallocated.
// Throws std::invalid_argument on a non-finite logit.
void heatmap_cpu(const float* logits, float* heat, int64_t b, int64_t hc, int64_t wc);
void heatmap_cpu(const uint16_t* logits_f16, float* heat, int64_t b, int64_t hc, int64_t wc);

}  // namespace sp
