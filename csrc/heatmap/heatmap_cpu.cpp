// CPU heatmap. Fast path (simd.h): W cells of a cell row at a time (W = 16 with AVX-512), one
// vector lane per cell, so the channel loop reads contiguous vectors (channel planes are
// Hc * Wc apart); the 8x8 blocks are transposed in registers and written straight into the
// heatmap rows. Each lane does exactly the operations of heatmap_cell (heatmap.h), so the result
// is bit-identical to it. Rows of cells are split between threads (parallel.h). Fallback
// (CpuIsa::kScalar): the per-cell loop over heatmap_cell.
#include <stdexcept>
#include <string>
#include <vector>

#include "heatmap/heatmap.h"
#include "parallel.h"
#include "simd.h"

namespace sp {
namespace {

// Cell rows [row_begin, row_end) of the (B * Hc) rows, per cell. Returns the linear index
// (row * Wc + j) of the first cell with a non-finite logit, or -1.
template <typename T>
int64_t heatmap_rows_scalar(const T* logits, float* heat, int64_t hc, int64_t wc, int64_t row_begin,
                            int64_t row_end) {
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t b = row / hc, i = row % hc;
    for (int64_t j = 0; j < wc; ++j) {
      if (!heatmap_cell(logits, heat, b, i, j, hc, wc)) return row * wc + j;
    }
  }
  return -1;
}

#if SP_HAVE_VECTOR_EXT
// Scales the 8 rows of `nl` cells (lanes) of e[0..63] (e[8r + c] = pixel (r, c) of each cell)
// by inv and writes them to out (row r at out + r * w): an 8 x W -> W x 8 transpose per row,
// by interleaving blocks of 1, 2 and 4 lanes.
template <int W, typename VF>
SP_ALWAYS_INLINE void store_cells(const VF* e, const VF& inv, int nl, float* out, int64_t w) {
  using simd::interleave;
  for (int r = 0; r < kCell; ++r) {
    VF a[kCell];
    for (int c = 0; c < kCell; ++c) a[c] = e[kCell * r + c] * inv;
    // x[h][p]: element 2i + f = (cell h W/2 + i, channel 2p + f).
    VF x[2][4];
    for (int p = 0; p < 4; ++p) {
      x[0][p] = interleave<1, false>(a[2 * p], a[2 * p + 1]);
      x[1][p] = interleave<1, true>(a[2 * p], a[2 * p + 1]);
    }
    // y[h][q][s]: element 4i + t = (cell h W/2 + s W/4 + i, channel 4q + t).
    VF y[2][2][2];
    for (int h = 0; h < 2; ++h) {
      for (int q = 0; q < 2; ++q) {
        y[h][q][0] = interleave<2, false>(x[h][2 * q], x[h][2 * q + 1]);
        y[h][q][1] = interleave<2, true>(x[h][2 * q], x[h][2 * q + 1]);
      }
    }
    alignas(64) float row[W * kCell];
    float* dst = nl == W ? out + r * w : row;
    for (int h = 0; h < 2; ++h) {
      for (int s = 0; s < 2; ++s) {
        if (W == 4) {  // one cell per (h, s): channels 0-3 and 4-7
          simd::store(dst + kCell * (2 * h + s), y[h][0][s]);
          simd::store(dst + kCell * (2 * h + s) + 4, y[h][1][s]);
        } else {  // element 8i + c = (cell h W/2 + s W/4 + u W/8 + i, channel c)
          for (int u = 0; u < 2; ++u) {
            const VF z = u == 0 ? interleave<4, false>(y[h][0][s], y[h][1][s])
                                : interleave<4, true>(y[h][0][s], y[h][1][s]);
            simd::store(dst + kCell * (h * W / 2 + s * W / 4 + u * W / 8), z);
          }
        }
      }
    }
    if (nl != W) memcpy(out + r * w, row, sizeof(float) * kCell * nl);
  }
}

// Channel k of the W cells at `base`; cells past nl read as 0.
template <int W, typename T>
SP_ALWAYS_INLINE typename simd::Vec<W>::f load_channel(const T* base, int64_t plane, int k,
                                                       int nl) {
  if (nl == W) return simd::load_as_float<W>(base + k * plane);
  T tmp[W] = {};
  memcpy(tmp, base + k * plane, sizeof(T) * nl);
  return simd::load_as_float<W>(tmp);
}

// heatmap_cell for the `nl` (<= W) cells starting at `base` (cell (b, i, j0) of the logits);
// out points at pixel (8 i, 8 j0). False (nothing written) when a logit is not finite. The
// logits are read twice (max, then exp) rather than kept: they are in L1 and it saves a pass
// through the stack.
template <int W, typename T>
SP_ALWAYS_INLINE bool heatmap_block(const T* base, int64_t plane, int nl, float* out, int64_t w) {
  typedef typename simd::Vec<W>::f VF;
  using simd::nonfinite_mask;
  // The operations of heatmap_cell, one lane per cell.
  VF x0 = load_channel<W>(base, plane, 0, nl), x1 = load_channel<W>(base, plane, 1, nl);
  VF x2 = load_channel<W>(base, plane, 2, nl), x3 = load_channel<W>(base, plane, 3, nl);
  auto bad = nonfinite_mask(x0) | nonfinite_mask(x1) | nonfinite_mask(x2) | nonfinite_mask(x3);
  VF m0 = x0, m1 = x1, m2 = x2, m3 = x3;
  for (int k = 4; k < kCellChannels - 1; k += 4) {
    x0 = load_channel<W>(base, plane, k, nl);
    x1 = load_channel<W>(base, plane, k + 1, nl);
    x2 = load_channel<W>(base, plane, k + 2, nl);
    x3 = load_channel<W>(base, plane, k + 3, nl);
    bad |= nonfinite_mask(x0) | nonfinite_mask(x1) | nonfinite_mask(x2) | nonfinite_mask(x3);
    m0 = x0 > m0 ? x0 : m0;
    m1 = x1 > m1 ? x1 : m1;
    m2 = x2 > m2 ? x2 : m2;
    m3 = x3 > m3 ? x3 : m3;
  }
  const VF x64 = load_channel<W>(base, plane, kCellChannels - 1, nl);
  bad |= nonfinite_mask(x64);
  if (simd::any_set(bad)) return false;
  m0 = m1 > m0 ? m1 : m0;
  m2 = m3 > m2 ? m3 : m2;
  m0 = m2 > m0 ? m2 : m0;
  const VF m = x64 > m0 ? x64 : m0;
  VF e[kCellChannels - 1];
  VF s0 = {}, s1 = {}, s2 = {}, s3 = {};
  for (int k = 0; k < kCellChannels - 1; k += 4) {
    for (int q = 0; q < 4; ++q) e[k + q] = load_channel<W>(base, plane, k + q, nl) - m;
    simd::exp_f32_nonpositive_n<4>(e + k);
    s0 += e[k];
    s1 += e[k + 1];
    s2 += e[k + 2];
    s3 += e[k + 3];
  }
  const VF dust = simd::exp_f32_nonpositive(x64 - m);
  const VF inv = 1.0f / (((s0 + s1) + (s2 + s3)) + dust);
  store_cells<W>(e, inv, nl, out, w);
  return true;
}

template <int W, typename T>
SP_ALWAYS_INLINE int64_t heatmap_rows_vec(const T* logits, float* heat, int64_t hc, int64_t wc,
                                          int64_t row_begin, int64_t row_end) {
  const int64_t plane = hc * wc, w = kCell * wc;
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t b = row / hc, i = row % hc;
    const T* src = logits + b * kCellChannels * plane + i * wc;
    float* dst = heat + row * kCell * w;  // pixel row 8 i of image b
    for (int64_t j = 0; j < wc; j += W) {
      // A short last block is moved left to end at wc when the row has W cells (recomputing
      // some cells, with the same result), so only rows narrower than W take partial loads.
      const int64_t j0 = (j + W > wc && wc >= W) ? wc - W : j;
      const int nl = static_cast<int>(wc - j0 < W ? wc - j0 : W);
      if (!heatmap_block<W>(src + j0, plane, nl, dst + kCell * j0, w)) {
        // Find the first bad cell of the row (writing the cells before it).
        const int64_t bad = heatmap_rows_scalar(logits, heat, hc, wc, row, row + 1);
        return bad >= 0 ? bad : row * wc + j0;
      }
    }
  }
  return -1;
}
#endif  // SP_HAVE_VECTOR_EXT

SP_CPU_KERNEL(int64_t, heatmap_rows_f32, heatmap_rows_vec,
              (const float* logits, float* heat, int64_t hc, int64_t wc, int64_t row_begin,
               int64_t row_end),
              (logits, heat, hc, wc, row_begin, row_end), heatmap_rows_scalar)
SP_CPU_KERNEL(int64_t, heatmap_rows_f16, heatmap_rows_vec,
              (const uint16_t* logits, float* heat, int64_t hc, int64_t wc, int64_t row_begin,
               int64_t row_end),
              (logits, heat, hc, wc, row_begin, row_end), heatmap_rows_scalar)

int64_t heatmap_rows(const float* logits, float* heat, int64_t hc, int64_t wc, int64_t row_begin,
                     int64_t row_end) {
  return heatmap_rows_f32(logits, heat, hc, wc, row_begin, row_end);
}
int64_t heatmap_rows(const uint16_t* logits, float* heat, int64_t hc, int64_t wc, int64_t row_begin,
                     int64_t row_end) {
  return heatmap_rows_f16(logits, heat, hc, wc, row_begin, row_end);
}

constexpr int64_t kCellsPerTask = 1024;  // below ~2 tasks of this size, one thread does it all

template <typename T>
void heatmap_run(const T* logits, float* heat, int64_t b, int64_t hc, int64_t wc) {
  const int64_t rows = b * hc;
  if (rows <= 0 || wc <= 0) return;
  int64_t tasks = rows * wc / kCellsPerTask;
  const int64_t max_tasks = 4 * static_cast<int64_t>(cpu_num_threads());
  tasks = tasks < 1 ? 1 : (tasks > max_tasks ? max_tasks : tasks);
  tasks = tasks > rows ? rows : tasks;
  if (cpu_num_threads() == 1) tasks = 1;
  std::vector<int64_t> bad(static_cast<size_t>(tasks), -1);
  parallel_for(tasks, [&](int64_t t) {
    const int64_t r0 = rows * t / tasks, r1 = rows * (t + 1) / tasks;
    bad[t] = heatmap_rows(logits, heat, hc, wc, r0, r1);
  });
  for (int64_t cell : bad) {  // tasks cover increasing rows: the first error is the first cell
    if (cell >= 0) {
      const int64_t row = cell / wc;
      throw std::invalid_argument("heatmap: logits contain NaN or inf (at batch " +
                                  std::to_string(row / hc) + ", cell row " +
                                  std::to_string(row % hc) + ", cell column " +
                                  std::to_string(cell % wc) + ")");
    }
  }
}

}  // namespace

void heatmap_cpu(const float* logits, float* heat, int64_t b, int64_t hc, int64_t wc) {
  heatmap_run(logits, heat, b, hc, wc);
}

void heatmap_cpu(const uint16_t* logits_f16, float* heat, int64_t b, int64_t hc, int64_t wc) {
  heatmap_run(logits_f16, heat, b, hc, wc);
}

}  // namespace sp
