// CPU greedy NMS: a vectorised scan for candidates (already in ascending index order; split
// between threads for large maps), a stable radix sort by score, then one pass over the sorted
// candidates with a suppression bitmask (one bit per pixel).
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "nms/nms.h"
#include "parallel.h"
#include "scratch.h"
#include "simd.h"

namespace sp {
namespace {

// Appends the sort keys of the candidates among heat[i] for i in [begin, end) to keys, in index
// order. Returns the index of the first non-finite value (keys then hold those before it) or -1.
SP_ALWAYS_INLINE int64_t scan_scalar_range(const float* heat, int64_t begin, int64_t end, float thr,
                                           std::vector<uint64_t>* keys) {
  for (int64_t i = begin; i < end; ++i) {
    const float s = heat[i];
    if (!is_finite_float(s)) return i;
    if (s >= thr) keys->push_back(nms_sort_key(s, static_cast<uint32_t>(i)));
  }
  return -1;
}

int64_t scan_scalar(const float* heat, int64_t begin, int64_t end, float thr,
                    std::vector<uint64_t>* keys) {
  return scan_scalar_range(heat, begin, end, thr, keys);
}

#if SP_HAVE_VECTOR_EXT
// Four vectors at a time: a bitmask of the candidates, then one key per set bit.
template <int W>
SP_ALWAYS_INLINE int64_t scan_vec(const float* heat, int64_t begin, int64_t end, float thr,
                                  std::vector<uint64_t>* keys) {
  typedef typename simd::Vec<W>::f VF;
  typedef typename simd::Vec<W>::u VU;
  typedef typename simd::Vec<W>::i VI;
  constexpr int kBlock = 4 * W;
  int64_t i = begin;
  for (; i + kBlock <= end; i += kBlock) {
    VU bad = {};
    uint64_t hits = 0;
    for (int q = 0; q < 4; ++q) {
      const VF s = simd::load<W>(heat + i + q * W);
      bad |= simd::nonfinite_mask(s);
      hits |= static_cast<uint64_t>(simd::movemask<W>(s >= thr)) << (q * W);
    }
    if (simd::movemask<W>((VI)bad) != 0) return scan_scalar_range(heat, i, end, thr, keys);
    while (hits) {
      const int64_t idx = i + __builtin_ctzll(hits);
      hits &= hits - 1;
      keys->push_back(nms_sort_key(heat[idx], static_cast<uint32_t>(idx)));
    }
  }
  return scan_scalar_range(heat, i, end, thr, keys);
}
#endif

SP_CPU_KERNEL(int64_t, scan_candidates, scan_vec,
              (const float* heat, int64_t begin, int64_t end, float thr,
               std::vector<uint64_t>* keys),
              (heat, begin, end, thr, keys), scan_scalar)

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
  uint32_t hist[kPasses][kBuckets] = {};
  for (uint64_t k : *keys) {
    const uint32_t s = static_cast<uint32_t>(k >> 32);
    ++hist[0][s & (kBuckets - 1)];
    ++hist[1][(s >> kBits) & (kBuckets - 1)];
    ++hist[2][s >> (2 * kBits)];
  }
  thread_local std::vector<uint64_t> tmp;
  ScratchGuard<uint64_t> tmp_guard(&tmp);
  tmp.resize(n);
  std::vector<uint64_t>* src = keys;
  std::vector<uint64_t>* dst = &tmp;
  for (int p = 0; p < kPasses; ++p) {
    uint32_t* h = hist[p];
    const uint32_t first = static_cast<uint32_t>(((*src)[0] >> (32 + p * kBits)) & (kBuckets - 1));
    if (h[first] == n) continue;  // every key has this digit: the pass would not move anything
    uint32_t sum = 0;
    for (int b = 0; b < kBuckets; ++b) {
      const uint32_t c = h[b];
      h[b] = sum;
      sum += c;
    }
    uint64_t* out = dst->data();
    for (uint64_t k : *src) {
      const uint32_t d = static_cast<uint32_t>((k >> (32 + p * kBits)) & (kBuckets - 1));
      out[h[d]++] = k;
    }
    std::swap(src, dst);
  }
  if (src != keys) keys->swap(tmp);
}

// idx / w and idx % w for idx, w < 2^32 by a multiply: q = floor(idx * m / 2^64) with
// m = floor((2^64 - 1) / w) + 1 is exact there (the error idx * (m - 2^64 / w) / 2^64 stays
// below 1 / w).
struct DivMod {
  explicit DivMod(uint64_t w) : w_(w), m_(~uint64_t{0} / w + 1) {}
  void operator()(uint64_t idx, int64_t* q, int64_t* r) const {
#if defined(__SIZEOF_INT128__)
    const uint64_t quot =
        w_ == 1 ? idx : static_cast<uint64_t>((static_cast<unsigned __int128>(idx) * m_) >> 64);
#else
    const uint64_t quot = idx / w_;
#endif
    *q = static_cast<int64_t>(quot);
    *r = static_cast<int64_t>(idx - quot * w_);
  }

 private:
  uint64_t w_, m_;
};

// Suppression bitmask: bit x of row y is set once a kept point lies within the radius.
class SuppressionMask {
 public:
  SuppressionMask(std::vector<uint64_t>* bits, int64_t h, int64_t w)
      : bits_(bits), h_(h), w_(w), words_(static_cast<int64_t>((w + 63) / 64)) {
    bits_->assign(static_cast<size_t>(h * words_), 0);
  }
  bool test(int64_t y, int64_t x) const {
    return ((*bits_)[y * words_ + (x >> 6)] >> (x & 63)) & 1u;
  }
  // Sets the (2r + 1)^2 square around (y, x), clipped to the image (nms_suppress_square).
  void suppress(int64_t y, int64_t x, int64_t r) {
    const int64_t y0 = clamp_i64(y - r, 0, h_ - 1), y1 = clamp_i64(y + r, 0, h_ - 1);
    const int64_t x0 = clamp_i64(x - r, 0, w_ - 1), x1 = clamp_i64(x + r, 0, w_ - 1);
    const int64_t k0 = x0 >> 6, k1 = x1 >> 6;
    const uint64_t first = ~uint64_t{0} << (x0 & 63);
    const uint64_t last = ~uint64_t{0} >> (63 - (x1 & 63));
    for (int64_t yy = y0; yy <= y1; ++yy) {
      uint64_t* row = bits_->data() + yy * words_;
      if (k0 == k1) {
        row[k0] |= first & last;
      } else {
        row[k0] |= first;
        for (int64_t k = k0 + 1; k < k1; ++k) row[k] = ~uint64_t{0};
        row[k1] |= last;
      }
    }
  }

 private:
  std::vector<uint64_t>* bits_;
  int64_t h_, w_, words_;
};

constexpr int64_t kPixelsPerTask = 1 << 16;  // scans below ~2 of these stay on one thread

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

  // Candidates, in index order: per task, then concatenated (the same list for any split).
  thread_local std::vector<uint64_t> keys;  // scratch reused across calls (no page faults)
  ScratchGuard<uint64_t> keys_guard(&keys);
  keys.clear();
  int64_t tasks = std::min<int64_t>(n / kPixelsPerTask, 4 * cpu_num_threads());
  if (tasks < 2 || cpu_num_threads() == 1) tasks = 1;
  int64_t bad = -1;
  if (tasks == 1) {
    bad = scan_candidates(heat, 0, n, conf_threshold, &keys);
  } else {
    // The caller's scratch, named through a reference: inside the lambda a thread_local name
    // would mean the worker thread's own (empty) instance.
    thread_local std::vector<std::vector<uint64_t>> parts_scratch;
    std::vector<std::vector<uint64_t>>& parts = parts_scratch;
    if (static_cast<int64_t>(parts.size()) < tasks) parts.resize(static_cast<size_t>(tasks));
    std::vector<int64_t> part_bad(static_cast<size_t>(tasks), -1);
    parallel_for(tasks, [&](int64_t t) {
      parts[t].clear();
      part_bad[t] =
          scan_candidates(heat, n * t / tasks, n * (t + 1) / tasks, conf_threshold, &parts[t]);
    });
    for (int64_t t = 0; t < tasks && bad < 0; ++t) {
      bad = part_bad[t];
      keys.insert(keys.end(), parts[t].begin(), parts[t].end());
    }
    for (int64_t t = 0; t < tasks; ++t) {  // keep the parts' capacity bounded like the keys'
      if (parts[t].capacity() * sizeof(uint64_t) > kScratchKeepBytes) {
        std::vector<uint64_t>().swap(parts[t]);
      }
    }
  }
  if (bad >= 0) {
    throw std::invalid_argument("nms: heat contains NaN or inf (at y=" + std::to_string(bad / w) +
                                ", x=" + std::to_string(bad % w) + ")");
  }
  const bool report_empty = report.y_begin >= report.y_end || report.x_begin >= report.x_end;
  if (keys.empty() || max_report == 0 || report_empty) return;
  sort_candidates(&keys);

  thread_local std::vector<uint64_t> mask_bits;
  ScratchGuard<uint64_t> mask_guard(&mask_bits);
  SuppressionMask mask(&mask_bits, h, w);
  const DivMod divmod(static_cast<uint64_t>(w));
  int64_t reported = 0;
  for (uint64_t k : keys) {
    const int64_t idx = nms_key_index(k);
    int64_t y, x;
    divmod(static_cast<uint64_t>(idx), &y, &x);
    if (mask.test(y, x)) continue;
    if (radius > 0) mask.suppress(y, x, radius);
    if (report.contains(y, x)) {
      kept->push_back(idx);
      if (++reported == max_report) return;
    }
  }
}

}  // namespace sp
