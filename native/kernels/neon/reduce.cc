// qkernels neon tier: per-channel min/max and histogram accumulation (per tensor and per channel). Bit-exact with the scalar tier: min / max
// select with compares (v < acc ? v : acc, exactly the scalar rule, so NaN lanes, quiet or signalling, drop out),
// zeros are normalized to +0 at the end, and the histogram bin is qk::ref::hist_bin computed 4 lanes at a time.
#include <arm_neon.h>

#include <cmath>
#include <cstring>

#include "qk/kernels.h"
#include "qk/reduce.h"

namespace qk {
namespace {

constexpr size_t kRunMin = 64;
constexpr size_t kChunk = 1024;
constexpr size_t kFlushRows = 1u << 20;

inline float32x4_t vmin_keep(float32x4_t v, float32x4_t acc) { return vbslq_f32(vcltq_f32(v, acc), v, acc); }
inline float32x4_t vmax_keep(float32x4_t v, float32x4_t acc) { return vbslq_f32(vcgtq_f32(v, acc), v, acc); }
inline uint32x4_t count_nans(uint32x4_t cnt, float32x4_t v) { return vsubq_u32(cnt, vmvnq_u32(vceqq_f32(v, v))); }

size_t run_minmax(const float* x, size_t n, float* lo, float* hi) {
  float32x4_t l[4], h[4];
  for (int j = 0; j < 4; ++j) {
    l[j] = vdupq_n_f32(INFINITY);
    h[j] = vdupq_n_f32(-INFINITY);
  }
  size_t nans = 0, i = 0;
  while (i + 4 <= n) {
    uint32x4_t cnt = vdupq_n_u32(0);
    const size_t end = n - i > (kFlushRows << 4) ? i + (kFlushRows << 4) : n;
    for (; i + 16 <= end; i += 16)
      for (int j = 0; j < 4; ++j) {
        const float32x4_t v = vld1q_f32(x + i + 4 * j);
        l[j] = vmin_keep(v, l[j]);
        h[j] = vmax_keep(v, h[j]);
        cnt = count_nans(cnt, v);
      }
    for (; i + 4 <= end; i += 4) {
      const float32x4_t v = vld1q_f32(x + i);
      l[0] = vmin_keep(v, l[0]);
      h[0] = vmax_keep(v, h[0]);
      cnt = count_nans(cnt, v);
    }
    nans += vaddvq_u32(cnt);
  }
  float a = vminvq_f32(vminq_f32(vminq_f32(l[0], l[1]), vminq_f32(l[2], l[3])));
  float b = vmaxvq_f32(vmaxq_f32(vmaxq_f32(h[0], h[1]), vmaxq_f32(h[2], h[3])));
  a = a < *lo ? a : *lo;
  b = b > *hi ? b : *hi;
  for (; i < n; ++i) {
    const float v = x[i];
    if (v != v) ++nans;
    a = v < a ? v : a;
    b = v > b ? v : b;
  }
  *lo = a;
  *hi = b;
  return nans;
}

// Vertical pass over `rows` contiguous rows of `width` floats: column j belongs to channel (j % period) / inner.
size_t vertical(const float* x, size_t rows, size_t width, size_t period, size_t inner, float* mn, float* mx) {
  alignas(16) float lo[kChunk], hi[kChunk];
  size_t nans = 0;
  for (size_t j0 = 0; j0 < width; j0 += kChunk) {
    const size_t jn = width - j0 < kChunk ? width - j0 : kChunk, jv = jn & ~static_cast<size_t>(3);
    for (size_t j = 0; j < jn; ++j) {
      lo[j] = INFINITY;
      hi[j] = -INFINITY;
    }
    uint32x4_t cnt = vdupq_n_u32(0);
    auto tail = [&](const float* row) {
      for (size_t j = jv; j < jn; ++j) {
        const float v = row[j];
        if (v != v) ++nans;
        lo[j] = v < lo[j] ? v : lo[j];
        hi[j] = v > hi[j] ? v : hi[j];
      }
    };
    size_t o = 0, blocks = 0;
    for (; o + 4 <= rows; o += 4) {
      const float* r0 = x + o * width + j0;
      const float* r1 = r0 + width;
      const float* r2 = r1 + width;
      const float* r3 = r2 + width;
      for (size_t j = 0; j < jv; j += 4) {
        float32x4_t l = vld1q_f32(lo + j), h = vld1q_f32(hi + j);
        const float32x4_t v0 = vld1q_f32(r0 + j), v1 = vld1q_f32(r1 + j);
        const float32x4_t v2 = vld1q_f32(r2 + j), v3 = vld1q_f32(r3 + j);
        l = vmin_keep(v3, vmin_keep(v2, vmin_keep(v1, vmin_keep(v0, l))));
        h = vmax_keep(v3, vmax_keep(v2, vmax_keep(v1, vmax_keep(v0, h))));
        cnt = count_nans(count_nans(count_nans(count_nans(cnt, v0), v1), v2), v3);
        vst1q_f32(lo + j, l);
        vst1q_f32(hi + j, h);
      }
      if (jv < jn) {
        tail(r0);
        tail(r1);
        tail(r2);
        tail(r3);
      }
      if (++blocks == kFlushRows) {
        nans += vaddvq_u32(cnt);
        cnt = vdupq_n_u32(0);
        blocks = 0;
      }
    }
    for (; o < rows; ++o) {
      const float* r = x + o * width + j0;
      for (size_t j = 0; j < jv; j += 4) {
        const float32x4_t v = vld1q_f32(r + j);
        vst1q_f32(lo + j, vmin_keep(v, vld1q_f32(lo + j)));
        vst1q_f32(hi + j, vmax_keep(v, vld1q_f32(hi + j)));
        cnt = count_nans(cnt, v);
      }
      tail(r);
    }
    nans += vaddvq_u32(cnt);
    fold_columns(lo, hi, j0, jn, period, inner, mn, mx);
  }
  return nans;
}

size_t minmax_channels(const float* x, size_t outer, size_t channels, size_t inner, float* mn, float* mx) {
  return minmax_channels_driver<4, kRunMin, kChunk>(x, outer, channels, inner, mn, mx, run_minmax, vertical);
}

struct BinIndex {
  float32x4_t lo, scale, zero, top;
  uint32x4_t sentinel;
  bool abs;
  BinIndex(float lo_, float scale_, uint32_t bins, bool abs_)
      : lo(vdupq_n_f32(lo_)),
        scale(vdupq_n_f32(scale_)),
        zero(vdupq_n_f32(0.0f)),
        top(vdupq_n_f32(static_cast<float>(bins - 1))),
        sentinel(vdupq_n_u32(bins)),
        abs(abs_) {}
  uint32x4_t operator()(float32x4_t v) const {
    if (abs) v = vabsq_f32(v);
    const uint32x4_t ok = vceqq_f32(v, v);
    float32x4_t t = vmulq_f32(vsubq_f32(v, lo), scale);
    t = vminq_f32(vmaxq_f32(t, zero), top);
    return vbslq_u32(ok, vcvtq_u32_f32(t), sentinel);
  }
};

constexpr uint32_t kCopyBins = 2048;

size_t histogram(const float* x, size_t n, float lo, float scale, uint32_t bins, bool abs, uint32_t* counts) {
  const BinIndex bin(lo, scale, bins, abs);
  alignas(16) uint32_t idx[16];
  size_t i = 0, nans = 0;
  if (bins <= kCopyBins && n >= 8 * static_cast<size_t>(bins)) {
    alignas(64) uint32_t h[4][kCopyBins + 1];  // 32 KiB of stack
    for (auto& copy : h) std::memset(copy, 0, (bins + 1) * sizeof(uint32_t));  // only the bins in use
    for (; i + 16 <= n; i += 16) {
      for (int j = 0; j < 4; ++j) vst1q_u32(idx + 4 * j, bin(vld1q_f32(x + i + 4 * j)));
      for (int j = 0; j < 16; j += 4) {
        ++h[0][idx[j]];
        ++h[1][idx[j + 1]];
        ++h[2][idx[j + 2]];
        ++h[3][idx[j + 3]];
      }
    }
    for (uint32_t b = 0; b < bins; ++b) counts[b] += h[0][b] + h[1][b] + h[2][b] + h[3][b];
    nans = static_cast<size_t>(h[0][bins]) + h[1][bins] + h[2][bins] + h[3][bins];
  } else {
    for (; i + 16 <= n; i += 16) {
      for (int j = 0; j < 4; ++j) vst1q_u32(idx + 4 * j, bin(vld1q_f32(x + i + 4 * j)));
      for (int j = 0; j < 16; ++j) {
        if (idx[j] < bins) ++counts[idx[j]];
        else ++nans;
      }
    }
  }
  for (; i < n; ++i) {
    const float v = abs ? std::fabs(x[i]) : x[i];
    if (v != v) ++nans;
    else ++counts[ref::hist_bin(v, lo, scale, bins)];
  }
  return nans;
}

// Column pass of the per-channel histogram (qk::histogram_channels_driver): four columns' bins at once, each
// lane with its column's grid; NaN lanes get the sentinel 0xffffffff.
size_t hist_columns(const float* x, size_t rows, size_t row_stride, size_t n, const float* lo, const float* scale,
                    const float* top, const uint32_t* base, bool abs, uint32_t* counts) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  const uint32x4_t sentinel = vdupq_n_u32(0xffffffffu);
  alignas(16) uint32_t idx[kChunk];
  const size_t nv = n & ~static_cast<size_t>(3);
  size_t nans = 0;
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * row_stride;
    for (size_t j = 0; j < nv; j += 4) {
      float32x4_t v = vld1q_f32(row + j);
      if (abs) v = vabsq_f32(v);
      const uint32x4_t ok = vceqq_f32(v, v);
      float32x4_t t = vmulq_f32(vsubq_f32(v, vld1q_f32(lo + j)), vld1q_f32(scale + j));
      t = vminq_f32(vmaxq_f32(t, zero), vld1q_f32(top + j));
      vst1q_u32(idx + j, vbslq_u32(ok, vcvtq_u32_f32(t), sentinel));
    }
    nans += hist_columns_count(idx, nv, row, n, lo, scale, top, base, abs, counts);
  }
  return nans;
}

size_t histogram_channels(const float* x, size_t outer, size_t channels, size_t inner, const float* lo,
                          const float* scale, const uint32_t* bins, size_t stride, bool abs, uint32_t* counts) {
  return histogram_channels_driver<4, kRunMin, kChunk, kHistCountsCache>(x, outer, channels, inner, lo, scale, bins,
                                                                         stride, abs, counts, histogram, hist_columns);
}

}  // namespace

void fill_reduce_neon(Kernels& k) {
  k.minmax_channels = minmax_channels;
  k.histogram = histogram;
  k.histogram_channels = histogram_channels;
}

}  // namespace qk
