// CPU descriptor sampling: taps per keypoint once, then channel by channel (one (Hc, Wc) plane
// stays in L1 while every keypoint reads it), then row normalisation.
#include "sample_descriptors/sample_descriptors.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "scratch.h"

namespace sp {
namespace {

// Channel-major pass into a (C, N) buffer `cn`: one (Hc, Wc) plane is read by every keypoint
// while it is in L1, writes are contiguous.
template <int N, typename T>
void sample_channels(const T* coarse, int64_t c, int64_t hc, int64_t wc, const float* keypoints,
                     int64_t n, Convention conv, float* cn) {
  thread_local std::vector<SampleTaps<N>> taps;  // reused: no allocation per call
  ScratchGuard<SampleTaps<N>> taps_guard(&taps);
  taps.resize(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    taps[k] = sample_taps<N>(keypoints[2 * k], keypoints[2 * k + 1], hc, wc, conv);
  }
  const int64_t plane = hc * wc;
  for (int64_t ch = 0; ch < c; ++ch) {
    const T* p = coarse + ch * plane;
    float* dst = cn + ch * n;
    for (int64_t k = 0; k < n; ++k) dst[k] = sample_plane<N>(p, taps[k]);
  }
}

template <typename T>
void sample_loop(const T* coarse, int64_t c, int64_t hc, int64_t wc, const float* keypoints,
                 int64_t n, Interpolation interp, Convention conv, float* out) {
  if (c <= 0 || hc <= 0 || wc <= 0) {
    throw std::invalid_argument("sample_descriptors: coarse must have C, Hc, Wc > 0");
  }
  if (hc * wc > (int64_t{1} << 30)) {
    throw std::invalid_argument("sample_descriptors: coarse map too large (Hc * Wc > 2^30)");
  }
  for (int64_t k = 0; k < n; ++k) {
    if (!is_finite_float(keypoints[2 * k]) || !is_finite_float(keypoints[2 * k + 1])) {
      throw std::invalid_argument("sample_descriptors: keypoint " + std::to_string(k) +
                                  " is NaN or inf");
    }
  }
  if (n == 0) return;
  // Reused per thread: a fresh multi-MB buffer per call costs more in page faults than the work.
  thread_local std::vector<float> cn;
  ScratchGuard<float> cn_guard(&cn);
  cn.resize(static_cast<size_t>(c * n));
  if (interp == Interpolation::kBicubic) {
    sample_channels<4>(coarse, c, hc, wc, keypoints, n, conv, cn.data());
  } else {
    sample_channels<2>(coarse, c, hc, wc, keypoints, n, conv, cn.data());
  }
  // Tiled transpose (C, N) -> (N, C), then row normalisation.
  constexpr int64_t kTile = 32;
  for (int64_t k0 = 0; k0 < n; k0 += kTile) {
    const int64_t k1 = k0 + kTile < n ? k0 + kTile : n;
    for (int64_t c0 = 0; c0 < c; c0 += kTile) {
      const int64_t c1 = c0 + kTile < c ? c0 + kTile : c;
      for (int64_t k = k0; k < k1; ++k) {
        for (int64_t ch = c0; ch < c1; ++ch) out[k * c + ch] = cn[ch * n + k];
      }
    }
  }
  for (int64_t k = 0; k < n; ++k) {
    if (!l2_normalize(out + k * c, c)) {
      throw std::invalid_argument(
          "sample_descriptors: descriptor " + std::to_string(k) +
          " is not finite: coarse contains NaN or inf near this keypoint (or values near the "
          "float32 limit)");
    }
  }
}

}  // namespace

void sample_descriptors_cpu(const float* coarse, int64_t c, int64_t hc, int64_t wc,
                            const float* keypoints, int64_t n, Interpolation interp,
                            Convention conv, float* out) {
  sample_loop(coarse, c, hc, wc, keypoints, n, interp, conv, out);
}

void sample_descriptors_cpu(const uint16_t* coarse_f16, int64_t c, int64_t hc, int64_t wc,
                            const float* keypoints, int64_t n, Interpolation interp,
                            Convention conv, float* out) {
  sample_loop(coarse_f16, c, hc, wc, keypoints, n, interp, conv, out);
}

}  // namespace sp
