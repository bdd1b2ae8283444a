// CPU greedy NMS: scan for candidates (already in ascending index order), stable radix sort by
// score, then one pass with a suppression mask.
#include "nms/nms.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "scratch.h"

namespace sp {
namespace {

// Sorts keys made by nms_sort_key ascending. The scan emits candidates by ascending index, so a
// stable sort on the high 32 bits (the score key) gives the full order. LSD radix sort, 11-bit
// digits, passes whose digit is the same for every key are skipped.
void sort_candidates(std::vector<uint64_t>* keys) {
  const size_t n = keys->size();
  if (n < 256) {
    std::sort(keys->begin(), keys->end());
    return;
  }
  constexpr int kBits = 11, kBuckets = 1 << kBits, kPasses = 3;
  std::vector<uint32_t> hist(static_cast<size_t>(kPasses) * kBuckets, 0);
  for (uint64_t k : *keys) {
    const uint32_t s = static_cast<uint32_t>(k >> 32);
    for (int p = 0; p < kPasses; ++p) ++hist[p * kBuckets + ((s >> (p * kBits)) & (kBuckets - 1))];
  }
  thread_local std::vector<uint64_t> tmp;
  ScratchGuard<uint64_t> tmp_guard(&tmp);
  tmp.resize(n);
  std::vector<uint64_t>* src = keys;
  std::vector<uint64_t>* dst = &tmp;
  for (int p = 0; p < kPasses; ++p) {
    uint32_t* h = hist.data() + p * kBuckets;
    const uint32_t first = static_cast<uint32_t>(((*src)[0] >> (32 + p * kBits)) & (kBuckets - 1));
    if (h[first] == n) continue;  // every key has this digit: the pass would not move anything
    uint32_t sum = 0;
    for (int b = 0; b < kBuckets; ++b) {
      const uint32_t c = h[b];
      h[b] = sum;
      sum += c;
    }
    for (uint64_t k : *src) {
      const uint32_t d = static_cast<uint32_t>((k >> (32 + p * kBits)) & (kBuckets - 1));
      (*dst)[h[d]++] = k;
    }
    std::swap(src, dst);
  }
  if (src != keys) keys->swap(tmp);
}

}  // namespace

void nms_cpu(const float* heat, int64_t h, int64_t w, float conf_threshold, int64_t radius,
             const NmsReportRect& report, int64_t max_report, std::vector<int64_t>* kept) {
  if (h <= 0 || w <= 0) throw std::invalid_argument("nms: heat must have H > 0 and W > 0");
  if (h * w > static_cast<int64_t>(UINT32_MAX)) {
    throw std::invalid_argument("nms: heat has H * W >= 2^32 pixels, too large");
  }
  if (radius < 0) throw std::invalid_argument("nms: nms_radius must be >= 0");
  radius = std::min<int64_t>(radius, std::max(h, w));  // a larger square covers the image anyway
  const int64_t n = h * w;

  thread_local std::vector<uint64_t> keys;  // scratch reused across calls (no page faults)
  ScratchGuard<uint64_t> keys_guard(&keys);
  keys.clear();
  for (int64_t i = 0; i < n; ++i) {
    const float s = heat[i];
    if (!is_finite_float(s)) {
      throw std::invalid_argument("nms: heat contains NaN or inf (at y=" + std::to_string(i / w) +
                                  ", x=" + std::to_string(i % w) + ")");
    }
    if (s >= conf_threshold) keys.push_back(nms_sort_key(s, static_cast<uint32_t>(i)));
  }
  const bool report_empty = report.y_begin >= report.y_end || report.x_begin >= report.x_end;
  if (keys.empty() || max_report == 0 || report_empty) return;
  sort_candidates(&keys);

  thread_local std::vector<uint8_t> suppressed;
  ScratchGuard<uint8_t> suppressed_guard(&suppressed);
  suppressed.assign(static_cast<size_t>(n), 0);
  int64_t reported = 0;
  for (uint64_t k : keys) {
    const int64_t idx = nms_key_index(k);
    if (suppressed[idx]) continue;
    const int64_t y = idx / w, x = idx % w;
    if (radius > 0) nms_suppress_square(suppressed.data(), h, w, y, x, radius);
    if (report.contains(y, x)) {
      kept->push_back(idx);
      if (++reported == max_report) return;
    }
  }
}

}  // namespace sp
