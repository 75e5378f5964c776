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

// Counts (uint32 entries, 4 MiB) the per-channel histogram kernels work on at once: a column chunk covers at
// most this many channels' bins. (16M floats as [16384, 1024] with 2048 bins on AVX-512 and AVX2, measured: 2^16
// entries, 32 columns a chunk: 66-95 ms, x read in many strided passes; 2^20, 512 columns: 27-34 ms; a whole row
// of 1024 columns, 8 MiB of counts: 40 ms.)
constexpr size_t kHistCountsCache = static_cast<size_t>(1) << 20;

namespace ref {

// The histogram bin of a non-NaN value v (already |v| for an |x| histogram), in float32 arithmetic:
//   t = (v - lo) * scale        (two roundings: the difference, then the product; never fused)
//   bin = trunc(min(max(t, 0), bins - 1))
// so v below lo (and -Inf) lands in bin 0, v at or above lo + bins / scale (and +Inf) in bin bins - 1, and a
// -0 product counts as 0. lo is finite, scale positive and finite, 1 <= bins <= kMaxHistogramBins. Every tier
// computes exactly this (vector subtract, multiply, max, min and truncating conversion are all exact images of
// these scalar operations for non-NaN inputs). hist_bin_top takes top = float(bins - 1) (exact for any bins the
// kernels accept).
inline uint32_t hist_bin_top(float v, float lo, float scale, float top) {
  float t = (v - lo) * scale;
  t = t > 0.0f ? t : 0.0f;
  t = t < top ? t : top;
  return static_cast<uint32_t>(t);
}
inline uint32_t hist_bin(float v, float lo, float scale, uint32_t bins) {
  return hist_bin_top(v, lo, scale, static_cast<float>(bins - 1));
}

}  // namespace ref

// Each installs its tier's minmax_channels, histogram and histogram_channels kernels
// (native/kernels/<tier>/reduce.cc).
void fill_reduce_scalar(Kernels& k);
#if defined(__x86_64__) || defined(_M_X64)
void fill_reduce_avx2(Kernels& k);
void fill_reduce_avx512(Kernels& k);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
void fill_reduce_neon(Kernels& k);
#endif

// The drivers below have internal linkage: each tier's translation unit compiles its own copy with its own flags
// (see the weak-symbol check in scripts/native-tests.sh).
namespace {

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

// The end of one row of a column pass (a tier's hist_columns): counts the bins its vectors left in idx for columns
// 0 .. nv (0xffffffff = NaN) and bins columns nv .. n in scalar code; returns the NaNs among them.
inline size_t hist_columns_count(const uint32_t* idx, size_t nv, const float* row, size_t n, const float* lo,
                                 const float* scale, const float* top, const uint32_t* base, bool abs,
                                 uint32_t* counts) {
  size_t nans = 0;
  for (size_t j = 0; j < nv; ++j) {
    if (idx[j] == 0xffffffffu) ++nans;
    else ++counts[base[j] + idx[j]];
  }
  for (size_t j = nv; j < n; ++j) {
    const float v = abs ? std::fabs(row[j]) : row[j];
    if (v != v) ++nans;
    else ++counts[base[j] + ref::hist_bin_top(v, lo[j], scale[j], top[j])];
  }
  return nans;
}

// The per-channel histogram layout logic every SIMD tier shares (the bins are qk::ref::hist_bin, so the result
// does not depend on it). Runs of inner >= kRunMin values go one at a time to the tier's per-tensor kernel
// hist(run, n, lo, scale, bins, abs, counts). Shorter runs (inner == 1: [N, C] with axis 1) are binned column by
// column: the tier supplies columns(x, rows, row_stride, n, lo, scale, top, base, abs, counts), which bins `rows`
// rows of n columns where column j has the grid lo[j], scale[j], top[j] = bins - 1 and adds to counts[base[j] +
// bin]. Columns are taken a chunk at a time whose channels' counts stay within kCountsCache entries (cache
// locality for many channels), at most kChunk and at least W columns; rows narrower than 4 W are grouped k at a
// time into super-rows (column j of a super-row belongs to channel (j % (channels * inner)) / inner).
template <size_t W, size_t kRunMin, size_t kChunk, size_t kCountsCache, typename Hist, typename Columns>
inline size_t histogram_channels_driver(const float* x, size_t outer, size_t channels, size_t inner, const float* lo,
                                        const float* scale, const uint32_t* bins, size_t stride, bool abs,
                                        uint32_t* counts, Hist hist, Columns columns) {
  size_t nans = 0;
  if (outer == 0 || inner == 0) return 0;
  if (inner >= kRunMin) {
    for (size_t o = 0; o < outer; ++o)
      for (size_t c = 0; c < channels; ++c)
        nans += hist(x + (o * channels + c) * inner, inner, lo[c], scale[c], bins[c], abs, counts + c * stride);
    return nans;
  }
  const size_t w = channels * inner;
  const size_t k = w < 4 * W ? (4 * W + w - 1) / w : 1;
  size_t chunk = kCountsCache / stride * inner;
  chunk = chunk < kChunk ? chunk : kChunk;
  chunk = chunk > W ? chunk / W * W : W;
  alignas(64) float clo[kChunk], cscale[kChunk], ctop[kChunk];
  alignas(64) uint32_t cbase[kChunk];
  // `rows` rows of `width` columns (row stride width), chunk columns at a time.
  auto pass = [&](const float* x0, size_t rows, size_t width) {
    for (size_t j0 = 0; j0 < width; j0 += chunk) {
      const size_t jn = width - j0 < chunk ? width - j0 : chunk;
      size_t col = j0 % w, c = col / inner, i = col % inner;
      for (size_t j = 0; j < jn; ++j) {
        clo[j] = lo[c];
        cscale[j] = scale[c];
        ctop[j] = static_cast<float>(bins[c] - 1);
        cbase[j] = static_cast<uint32_t>(c * stride);
        if (++i == inner) {
          i = 0;
          ++c;
        }
        if (++col == w) col = c = i = 0;
      }
      nans += columns(x0 + j0, rows, width, jn, clo, cscale, ctop, cbase, abs, counts);
    }
  };
  const size_t supers = outer / k;
  if (supers > 0) pass(x, supers, w * k);
  if (supers * k < outer) pass(x + supers * k * w, outer - supers * k, w);
  return nans;
}

}  // namespace

}  // namespace qk
