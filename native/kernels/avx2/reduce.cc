// qkernels avx2 tier: per-channel min/max and histogram accumulation (per tensor and per channel). Bit-exact with the scalar tier: min and max
// are exact (NaN lanes drop out because _mm256_min_ps(v, acc) returns acc when v is NaN; zero results are
// normalized to +0 at the end), and the histogram bin is qk::ref::hist_bin computed 8 lanes at a time.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "qk/kernels.h"
#include "qk/reduce.h"

namespace qk {
namespace {

constexpr size_t kRunMin = 64;        // inner >= this: each contiguous run of a channel is reduced on its own
constexpr size_t kChunk = 1024;       // columns per vertical pass (stack accumulators)
constexpr size_t kFlushRows = 1u << 20;  // row blocks between NaN-counter flushes (keeps int32 lanes small)

inline __m256i nan_lanes(__m256 v) { return _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)); }

inline size_t hsum_epi32(__m256i v) {
  alignas(32) uint32_t s[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(s), v);
  size_t t = 0;
  for (int i = 0; i < 8; ++i) t += s[i];
  return t;
}

inline void hreduce(__m256 l, __m256 h, float* lo, float* hi) {
  alignas(32) float ls[8], hs[8];
  _mm256_store_ps(ls, l);
  _mm256_store_ps(hs, h);
  float a = *lo, b = *hi;
  for (int t = 0; t < 8; ++t) {
    a = ls[t] < a ? ls[t] : a;
    b = hs[t] > b ? hs[t] : b;
  }
  *lo = a;
  *hi = b;
}

// One contiguous run: folds its min / max into *lo / *hi; returns its NaN count.
size_t run_minmax(const float* x, size_t n, float* lo, float* hi) {
  __m256 l[4], h[4];
  for (int j = 0; j < 4; ++j) {
    l[j] = _mm256_set1_ps(INFINITY);
    h[j] = _mm256_set1_ps(-INFINITY);
  }
  size_t nans = 0, i = 0;
  while (i + 8 <= n) {
    __m256i cnt = _mm256_setzero_si256();
    const size_t end = n - i > (kFlushRows << 5) ? i + (kFlushRows << 5) : n;
    for (; i + 32 <= end; i += 32)
      for (int j = 0; j < 4; ++j) {
        const __m256 v = _mm256_loadu_ps(x + i + 8 * j);
        l[j] = _mm256_min_ps(v, l[j]);
        h[j] = _mm256_max_ps(v, h[j]);
        cnt = _mm256_sub_epi32(cnt, nan_lanes(v));
      }
    for (; i + 8 <= end; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      l[0] = _mm256_min_ps(v, l[0]);
      h[0] = _mm256_max_ps(v, h[0]);
      cnt = _mm256_sub_epi32(cnt, nan_lanes(v));
    }
    nans += hsum_epi32(cnt);
  }
  hreduce(_mm256_min_ps(_mm256_min_ps(l[0], l[1]), _mm256_min_ps(l[2], l[3])),
          _mm256_max_ps(_mm256_max_ps(h[0], h[1]), _mm256_max_ps(h[2], h[3])), lo, hi);
  float a = *lo, b = *hi;
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
// Columns are processed kChunk at a time with stack accumulators, 4 rows per step.
size_t vertical(const float* x, size_t rows, size_t width, size_t period, size_t inner, float* mn, float* mx) {
  alignas(32) float lo[kChunk], hi[kChunk];
  size_t nans = 0;
  for (size_t j0 = 0; j0 < width; j0 += kChunk) {
    const size_t jn = width - j0 < kChunk ? width - j0 : kChunk, jv = jn & ~static_cast<size_t>(7);
    for (size_t j = 0; j < jn; ++j) {
      lo[j] = INFINITY;
      hi[j] = -INFINITY;
    }
    __m256i cnt = _mm256_setzero_si256();
    size_t o = 0, blocks = 0;
    auto tail = [&](const float* row) {
      for (size_t j = jv; j < jn; ++j) {
        const float v = row[j];
        if (v != v) ++nans;
        lo[j] = v < lo[j] ? v : lo[j];
        hi[j] = v > hi[j] ? v : hi[j];
      }
    };
    for (; o + 4 <= rows; o += 4) {
      const float* r0 = x + o * width + j0;
      const float* r1 = r0 + width;
      const float* r2 = r1 + width;
      const float* r3 = r2 + width;
      for (size_t j = 0; j < jv; j += 8) {
        __m256 l = _mm256_load_ps(lo + j), h = _mm256_load_ps(hi + j);
        const __m256 v0 = _mm256_loadu_ps(r0 + j), v1 = _mm256_loadu_ps(r1 + j);
        const __m256 v2 = _mm256_loadu_ps(r2 + j), v3 = _mm256_loadu_ps(r3 + j);
        l = _mm256_min_ps(v0, l);
        h = _mm256_max_ps(v0, h);
        l = _mm256_min_ps(v1, l);
        h = _mm256_max_ps(v1, h);
        l = _mm256_min_ps(v2, l);
        h = _mm256_max_ps(v2, h);
        l = _mm256_min_ps(v3, l);
        h = _mm256_max_ps(v3, h);
        const __m256i n01 = _mm256_add_epi32(nan_lanes(v0), nan_lanes(v1));
        const __m256i n23 = _mm256_add_epi32(nan_lanes(v2), nan_lanes(v3));
        cnt = _mm256_sub_epi32(cnt, _mm256_add_epi32(n01, n23));
        _mm256_store_ps(lo + j, l);
        _mm256_store_ps(hi + j, h);
      }
      if (jv < jn) {
        tail(r0);
        tail(r1);
        tail(r2);
        tail(r3);
      }
      if (++blocks == kFlushRows) {
        nans += hsum_epi32(cnt);
        cnt = _mm256_setzero_si256();
        blocks = 0;
      }
    }
    for (; o < rows; ++o) {
      const float* r = x + o * width + j0;
      for (size_t j = 0; j < jv; j += 8) {
        const __m256 v = _mm256_loadu_ps(r + j);
        _mm256_store_ps(lo + j, _mm256_min_ps(v, _mm256_load_ps(lo + j)));
        _mm256_store_ps(hi + j, _mm256_max_ps(v, _mm256_load_ps(hi + j)));
        cnt = _mm256_sub_epi32(cnt, nan_lanes(v));
      }
      tail(r);
    }
    nans += hsum_epi32(cnt);
    fold_columns(lo, hi, j0, jn, period, inner, mn, mx);
  }
  return nans;
}

size_t minmax_channels(const float* x, size_t outer, size_t channels, size_t inner, float* mn, float* mx) {
  return minmax_channels_driver<8, kRunMin, kChunk>(x, outer, channels, inner, mn, mx, run_minmax, vertical);
}

// Eight bins at once (qk::ref::hist_bin); NaN lanes get the sentinel `bins`.
struct BinIndex {
  __m256 lo, scale, zero, top, absmask;
  __m256i sentinel;
  BinIndex(float lo_, float scale_, uint32_t bins, bool abs)
      : lo(_mm256_set1_ps(lo_)),
        scale(_mm256_set1_ps(scale_)),
        zero(_mm256_setzero_ps()),
        top(_mm256_set1_ps(static_cast<float>(bins - 1))),
        absmask(_mm256_castsi256_ps(_mm256_set1_epi32(abs ? 0x7fffffff : -1))),
        sentinel(_mm256_set1_epi32(static_cast<int32_t>(bins))) {}
  __m256i operator()(__m256 v) const {
    v = _mm256_and_ps(v, absmask);
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    __m256 t = _mm256_mul_ps(_mm256_sub_ps(v, lo), scale);
    t = _mm256_min_ps(_mm256_max_ps(t, zero), top);
    return _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(_mm256_cvttps_epi32(t)), _mm256_castsi256_ps(sentinel), nan));
  }
};

constexpr uint32_t kCopyBins = 2048;  // up to this many bins, counts go to 4 stack copies (no store-forwarding chains)

size_t histogram(const float* x, size_t n, float lo, float scale, uint32_t bins, bool abs, uint32_t* counts) {
  const BinIndex bin(lo, scale, bins, abs);
  alignas(32) uint32_t idx[32];
  size_t i = 0, nans = 0;
  if (bins <= kCopyBins && n >= 8 * static_cast<size_t>(bins)) {
    // Four copies with a sentinel slot each; repeated bins (a spike at 0, say) alternate between copies.
    alignas(64) uint32_t h[4][kCopyBins + 1];  // 32 KiB of stack
    for (auto& copy : h) std::memset(copy, 0, (bins + 1) * sizeof(uint32_t));  // only the bins in use
    for (; i + 32 <= n; i += 32) {
      for (int j = 0; j < 4; ++j)
        _mm256_store_si256(reinterpret_cast<__m256i*>(idx + 8 * j), bin(_mm256_loadu_ps(x + i + 8 * j)));
      for (int j = 0; j < 32; j += 4) {
        ++h[0][idx[j]];
        ++h[1][idx[j + 1]];
        ++h[2][idx[j + 2]];
        ++h[3][idx[j + 3]];
      }
    }
    for (uint32_t b = 0; b < bins; ++b) counts[b] += h[0][b] + h[1][b] + h[2][b] + h[3][b];
    nans = static_cast<size_t>(h[0][bins]) + h[1][bins] + h[2][bins] + h[3][bins];
  } else {
    for (; i + 32 <= n; i += 32) {
      for (int j = 0; j < 4; ++j)
        _mm256_store_si256(reinterpret_cast<__m256i*>(idx + 8 * j), bin(_mm256_loadu_ps(x + i + 8 * j)));
      for (int j = 0; j < 32; ++j) {
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

// Column pass of the per-channel histogram (qk::histogram_channels_driver): eight columns' bins at once, each
// lane with its column's grid; NaN lanes get the sentinel 0xffffffff.
size_t hist_columns(const float* x, size_t rows, size_t row_stride, size_t n, const float* lo, const float* scale,
                    const float* top, const uint32_t* base, bool abs, uint32_t* counts) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(abs ? 0x7fffffff : -1));
  const __m256 zero = _mm256_setzero_ps();
  const __m256 sentinel = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  alignas(32) uint32_t idx[kChunk];
  const size_t nv = n & ~static_cast<size_t>(7);
  size_t nans = 0;
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * row_stride;
    for (size_t j = 0; j < nv; j += 8) {
      const __m256 v = _mm256_and_ps(_mm256_loadu_ps(row + j), absmask);
      const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
      __m256 t = _mm256_mul_ps(_mm256_sub_ps(v, _mm256_load_ps(lo + j)), _mm256_load_ps(scale + j));
      t = _mm256_min_ps(_mm256_max_ps(t, zero), _mm256_load_ps(top + j));
      const __m256 b = _mm256_blendv_ps(_mm256_castsi256_ps(_mm256_cvttps_epi32(t)), sentinel, nan);
      _mm256_store_si256(reinterpret_cast<__m256i*>(idx + j), _mm256_castps_si256(b));
    }
    nans += hist_columns_count(idx, nv, row, n, lo, scale, top, base, abs, counts);
  }
  return nans;
}

size_t histogram_channels(const float* x, size_t outer, size_t channels, size_t inner, const float* lo,
                          const float* scale, const uint32_t* bins, size_t stride, bool abs, uint32_t* counts) {
  return histogram_channels_driver<8, kRunMin, kChunk, kHistCountsCache>(x, outer, channels, inner, lo, scale, bins,
                                                                         stride, abs, counts, histogram, hist_columns);
}

}  // namespace

void fill_reduce_avx2(Kernels& k) {
  k.minmax_channels = minmax_channels;
  k.histogram = histogram;
  k.histogram_channels = histogram_channels;
}

}  // namespace qk
