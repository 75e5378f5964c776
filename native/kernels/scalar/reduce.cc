// qkernels scalar tier: per-channel min/max and histogram accumulation (per tensor and per channel), the plain
// loops every SIMD tier must match bit for bit (min/max are exact; the histogram bin is qk::ref::hist_bin).
#include <cmath>

#include "qk/kernels.h"
#include "qk/reduce.h"

namespace qk {
namespace {

size_t minmax_channels(const float* x, size_t outer, size_t channels, size_t inner, float* mn, float* mx) {
  for (size_t c = 0; c < channels; ++c) {
    mn[c] = INFINITY;
    mx[c] = -INFINITY;
  }
  size_t nans = 0;
  for (size_t o = 0; o < outer; ++o)
    for (size_t c = 0; c < channels; ++c) {
      const float* run = x + (o * channels + c) * inner;
      float lo = mn[c], hi = mx[c];
      for (size_t i = 0; i < inner; ++i) {
        const float v = run[i];
        if (v != v) ++nans;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
      mn[c] = lo;
      mx[c] = hi;
    }
  for (size_t c = 0; c < channels; ++c) {
    if (mn[c] == 0.0f) mn[c] = 0.0f;
    if (mx[c] == 0.0f) mx[c] = 0.0f;
  }
  return nans;
}

size_t histogram(const float* x, size_t n, float lo, float scale, uint32_t bins, bool abs, uint32_t* counts) {
  size_t nans = 0;
  for (size_t i = 0; i < n; ++i) {
    const float v = abs ? std::fabs(x[i]) : x[i];
    if (v != v) {
      ++nans;
      continue;
    }
    ++counts[ref::hist_bin(v, lo, scale, bins)];
  }
  return nans;
}

size_t histogram_channels(const float* x, size_t outer, size_t channels, size_t inner, const float* lo,
                          const float* scale, const uint32_t* bins, size_t stride, bool abs, uint32_t* counts) {
  size_t nans = 0;
  for (size_t o = 0; o < outer; ++o)
    for (size_t c = 0; c < channels; ++c) {
      const float* run = x + (o * channels + c) * inner;
      uint32_t* h = counts + c * stride;
      for (size_t i = 0; i < inner; ++i) {
        const float v = abs ? std::fabs(run[i]) : run[i];
        if (v != v) {
          ++nans;
          continue;
        }
        ++h[ref::hist_bin(v, lo[c], scale[c], bins[c])];
      }
    }
  return nans;
}

}  // namespace

void fill_reduce_scalar(Kernels& k) {
  k.minmax_channels = minmax_channels;
  k.histogram = histogram;
  k.histogram_channels = histogram_channels;
}

}  // namespace qk
