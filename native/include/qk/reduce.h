// qkernels: reductions for calibration (per-channel min/max and histogram accumulation), the exact semantics
// every tier reproduces bit for bit, and the tier fill functions that install them (called from each tier's
// fill_<tier>()). The kernel types and slots are in qk/kernels.h.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qk/kernels.h"

namespace qk {

// Largest bin count the histogram kernels accept: bins - 1 must be exact in float32.
constexpr uint32_t kMaxHistogramBins = 1u << 24;

namespace ref {

// The histogram bin of a non-NaN value v (already |v| for an |x| histogram), in float32 arithmetic:
//   t = (v - lo) * scale        (two roundings: the difference, then the product; never fused)
//   bin = trunc(min(max(t, 0), bins - 1))
// so v below lo (and -Inf) lands in bin 0, v at or above lo + bins / scale (and +Inf) in bin bins - 1, and a
// -0 product counts as 0. lo is finite, scale positive and finite, 1 <= bins <= kMaxHistogramBins. Every tier
// computes exactly this (vector subtract, multiply, max, min and truncating conversion are all exact images of
// these scalar operations for non-NaN inputs).
inline uint32_t hist_bin(float v, float lo, float scale, uint32_t bins) {
  float t = (v - lo) * scale;
  t = t > 0.0f ? t : 0.0f;
  const float top = static_cast<float>(bins - 1);
  t = t < top ? t : top;
  return static_cast<uint32_t>(t);
}

}  // namespace ref

// Each installs its tier's minmax_channels and histogram kernels (native/kernels/<tier>/reduce.cc).
void fill_reduce_scalar(Kernels& k);
#if defined(__x86_64__) || defined(_M_X64)
void fill_reduce_avx2(Kernels& k);
void fill_reduce_avx512(Kernels& k);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
void fill_reduce_neon(Kernels& k);
#endif

// The per-channel min/max layout logic every SIMD tier shares; the tier supplies its vector width W and its two
// passes: run(x, n, &mn[c], &mx[c]) reduces one contiguous channel run, vertical(x, rows, width, period, inner,
// mn, mx) reduces `rows` rows of `width` columns column-wise (column j belongs to channel (j % period) / inner).
template <size_t W, size_t kRunMin, size_t kChunk, typename Run, typename Vertical>
inline size_t minmax_channels_driver(const float* x, size_t outer, size_t channels, size_t inner, float* mn,
                                     float* mx, Run run, Vertical vertical) {
  for (size_t c = 0; c < channels; ++c) {
    mn[c] = INFINITY;
    mx[c] = -INFINITY;
  }
  size_t nans = 0;
  if (outer > 0 && inner > 0) {
    if (inner >= kRunMin) {
      for (size_t o = 0; o < outer; ++o)
        for (size_t c = 0; c < channels; ++c) nans += run(x + (o * channels + c) * inner, inner, mn + c, mx + c);
    } else {
      const size_t w = channels * inner;
      // Narrow rows: k rows at a time form one "super-row" whose width is a multiple of W (and >= 8 W), so every
      // vector lane keeps to one column.
      size_t k = 1;
      if (w < kChunk / W) {
        k = W;
        while (k > 1 && (w * (k / 2)) % W == 0) k /= 2;
        while (w * k < 8 * W) k *= 2;
      }
      const size_t supers = outer / k;
      if (k > 1 && supers > 0) nans += vertical(x, supers, w * k, w, inner, mn, mx);
      const size_t done = k > 1 ? supers * k : 0;
      if (done < outer) nans += vertical(x + done * w, outer - done, w, w, inner, mn, mx);
    }
  }
  for (size_t c = 0; c < channels; ++c) {
    if (mn[c] == 0.0f) mn[c] = 0.0f;
    if (mx[c] == 0.0f) mx[c] = 0.0f;
  }
  return nans;
}

// Folds the column accumulators lo/hi[0 .. jn) of columns j0 .. j0 + jn into their channels (vertical passes).
inline void fold_columns(const float* lo, const float* hi, size_t j0, size_t jn, size_t period, size_t inner,
                         float* mn, float* mx) {
  size_t col = j0 % period, c = col / inner, i = col % inner;
  for (size_t j = 0; j < jn; ++j) {
    mn[c] = lo[j] < mn[c] ? lo[j] : mn[c];
    mx[c] = hi[j] > mx[c] ? hi[j] : mx[c];
    if (++i == inner) {
      i = 0;
      ++c;
    }
    if (++col == period) col = c = i = 0;
  }
}

}  // namespace qk
