// qkernels: reductions for calibration (per-channel min/max and histogram accumulation), the exact semantics
// every tier reproduces bit for bit, and the tier fill functions that install them (called from each tier's
// fill_<tier>()). The kernel types and slots are in qk/kernels.h.
#pragma once
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

}  // namespace qk
