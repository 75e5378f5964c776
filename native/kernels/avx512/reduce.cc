// qkernels avx512 tier: per-channel min/max and histogram accumulation (per tensor and per channel) with 16-lane
// vectors and masked tails.
// Bit-exact with the scalar tier (min/max are exact, NaN lanes drop out of _mm512_min_ps(v, acc), zeros are
// normalized to +0; the histogram bin is qk::ref::hist_bin). Test builds compile this file against SIMDe.
#include "qk/simd_x86.h"

#include <cmath>
#include <cstring>

#include "qk/kernels.h"
#include "qk/reduce.h"

namespace qk {
namespace {

constexpr size_t kRunMin = 64;
constexpr size_t kChunk = 1024;
constexpr size_t kFlushRows = 1u << 20;

inline __mmask16 tail_mask(size_t r) { return static_cast<__mmask16>((1u << r) - 1u); }

inline __m512i count_nans(__m512i cnt, __m512 v) {
  return _mm512_mask_add_epi32(cnt, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), cnt, _mm512_set1_epi32(1));
}

inline size_t hsum_epi32(__m512i v) {
  alignas(64) uint32_t s[16];
  _mm512_store_si512(s, v);
  size_t t = 0;
  for (int i = 0; i < 16; ++i) t += s[i];
  return t;
}

size_t run_minmax(const float* x, size_t n, float* lo, float* hi) {
  __m512 l[4], h[4];
  for (int j = 0; j < 4; ++j) {
    l[j] = _mm512_set1_ps(INFINITY);
    h[j] = _mm512_set1_ps(-INFINITY);
  }
  size_t nans = 0, i = 0;
  while (i + 16 <= n) {
    __m512i cnt = _mm512_setzero_si512();
    const size_t end = n - i > (kFlushRows << 6) ? i + (kFlushRows << 6) : n;
    for (; i + 64 <= end; i += 64)
      for (int j = 0; j < 4; ++j) {
        const __m512 v = _mm512_loadu_ps(x + i + 16 * j);
        l[j] = _mm512_min_ps(v, l[j]);
        h[j] = _mm512_max_ps(v, h[j]);
        cnt = count_nans(cnt, v);
      }
    for (; i + 16 <= end; i += 16) {
      const __m512 v = _mm512_loadu_ps(x + i);
      l[0] = _mm512_min_ps(v, l[0]);
      h[0] = _mm512_max_ps(v, h[0]);
      cnt = count_nans(cnt, v);
    }
    nans += hsum_epi32(cnt);
  }
  if (i < n) {  // masked-off lanes load as NaN, which min/max ignore; only the real lanes are counted
    const __mmask16 m = tail_mask(n - i);
    const __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(NAN), m, x + i);
    l[0] = _mm512_min_ps(v, l[0]);
    h[0] = _mm512_max_ps(v, h[0]);
    nans += static_cast<size_t>(__builtin_popcount(_mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q)));
  }
  const float a = _mm512_reduce_min_ps(_mm512_min_ps(_mm512_min_ps(l[0], l[1]), _mm512_min_ps(l[2], l[3])));
  const float b = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(h[0], h[1]), _mm512_max_ps(h[2], h[3])));
  *lo = a < *lo ? a : *lo;
  *hi = b > *hi ? b : *hi;
  return nans;
}

// Vertical pass over `rows` contiguous rows of `width` floats: column j belongs to channel (j % period) / inner.
size_t vertical(const float* x, size_t rows, size_t width, size_t period, size_t inner, float* mn, float* mx) {
  alignas(64) float lo[kChunk], hi[kChunk];
  const __m512 nanv = _mm512_set1_ps(NAN);
  size_t nans = 0;
  for (size_t j0 = 0; j0 < width; j0 += kChunk) {
    const size_t jn = width - j0 < kChunk ? width - j0 : kChunk, jv = jn & ~static_cast<size_t>(15);
    const __mmask16 tm = tail_mask(jn - jv);
    for (size_t j = 0; j < jn; ++j) {
      lo[j] = INFINITY;
      hi[j] = -INFINITY;
    }
    __m512i cnt = _mm512_setzero_si512();
    auto tail = [&](const float* row) {  // the last jn - jv columns, masked (lo/hi beyond jn are never read)
      const __m512 v = _mm512_mask_loadu_ps(nanv, tm, row + jv);
      _mm512_mask_storeu_ps(lo + jv, tm, _mm512_min_ps(v, _mm512_maskz_loadu_ps(tm, lo + jv)));
      _mm512_mask_storeu_ps(hi + jv, tm, _mm512_max_ps(v, _mm512_maskz_loadu_ps(tm, hi + jv)));
      nans += static_cast<size_t>(__builtin_popcount(_mm512_mask_cmp_ps_mask(tm, v, v, _CMP_UNORD_Q)));
    };
    size_t o = 0, blocks = 0;
    for (; o + 4 <= rows; o += 4) {
      const float* r0 = x + o * width + j0;
      const float* r1 = r0 + width;
      const float* r2 = r1 + width;
      const float* r3 = r2 + width;
      for (size_t j = 0; j < jv; j += 16) {
        __m512 l = _mm512_load_ps(lo + j), h = _mm512_load_ps(hi + j);
        const __m512 v0 = _mm512_loadu_ps(r0 + j), v1 = _mm512_loadu_ps(r1 + j);
        const __m512 v2 = _mm512_loadu_ps(r2 + j), v3 = _mm512_loadu_ps(r3 + j);
        l = _mm512_min_ps(v0, l);
        h = _mm512_max_ps(v0, h);
        l = _mm512_min_ps(v1, l);
        h = _mm512_max_ps(v1, h);
        l = _mm512_min_ps(v2, l);
        h = _mm512_max_ps(v2, h);
        l = _mm512_min_ps(v3, l);
        h = _mm512_max_ps(v3, h);
        cnt = count_nans(count_nans(count_nans(count_nans(cnt, v0), v1), v2), v3);
        _mm512_store_ps(lo + j, l);
        _mm512_store_ps(hi + j, h);
      }
      if (jv < jn) {
        tail(r0);
        tail(r1);
        tail(r2);
        tail(r3);
      }
      if (++blocks == kFlushRows) {
        nans += hsum_epi32(cnt);
        cnt = _mm512_setzero_si512();
        blocks = 0;
      }
    }
    for (; o < rows; ++o) {
      const float* r = x + o * width + j0;
      for (size_t j = 0; j < jv; j += 16) {
        const __m512 v = _mm512_loadu_ps(r + j);
        _mm512_store_ps(lo + j, _mm512_min_ps(v, _mm512_load_ps(lo + j)));
        _mm512_store_ps(hi + j, _mm512_max_ps(v, _mm512_load_ps(hi + j)));
        cnt = count_nans(cnt, v);
      }
      if (jv < jn) tail(r);
    }
    nans += hsum_epi32(cnt);
    fold_columns(lo, hi, j0, jn, period, inner, mn, mx);
  }
  return nans;
}

size_t minmax_channels(const float* x, size_t outer, size_t channels, size_t inner, float* mn, float* mx) {
  return minmax_channels_driver<16, kRunMin, kChunk>(x, outer, channels, inner, mn, mx, run_minmax, vertical);
}

struct BinIndex {
  __m512 lo, scale, zero, top;
  __m512i absmask, sentinel;
  BinIndex(float lo_, float scale_, uint32_t bins, bool abs)
      : lo(_mm512_set1_ps(lo_)),
        scale(_mm512_set1_ps(scale_)),
        zero(_mm512_setzero_ps()),
        top(_mm512_set1_ps(static_cast<float>(bins - 1))),
        absmask(_mm512_set1_epi32(abs ? 0x7fffffff : -1)),
        sentinel(_mm512_set1_epi32(static_cast<int32_t>(bins))) {}
  __m512i operator()(__m512 v) const {
    v = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), absmask));
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    __m512 t = _mm512_mul_ps(_mm512_sub_ps(v, lo), scale);
    t = _mm512_min_ps(_mm512_max_ps(t, zero), top);
    return _mm512_mask_mov_epi32(_mm512_cvttps_epi32(t), nan, sentinel);
  }
};

constexpr uint32_t kCopyBins = 2048;

size_t histogram(const float* x, size_t n, float lo, float scale, uint32_t bins, bool abs, uint32_t* counts) {
  const BinIndex bin(lo, scale, bins, abs);
  alignas(64) uint32_t idx[64];
  size_t i = 0, nans = 0;
  if (bins <= kCopyBins && n >= 8 * static_cast<size_t>(bins)) {
    alignas(64) uint32_t h[4][kCopyBins + 1];  // 32 KiB of stack
    for (auto& copy : h) std::memset(copy, 0, (bins + 1) * sizeof(uint32_t));  // only the bins in use
    for (; i + 64 <= n; i += 64) {
      for (int j = 0; j < 4; ++j) _mm512_store_si512(idx + 16 * j, bin(_mm512_loadu_ps(x + i + 16 * j)));
      for (int j = 0; j < 64; j += 4) {
        ++h[0][idx[j]];
        ++h[1][idx[j + 1]];
        ++h[2][idx[j + 2]];
        ++h[3][idx[j + 3]];
      }
    }
    for (uint32_t b = 0; b < bins; ++b) counts[b] += h[0][b] + h[1][b] + h[2][b] + h[3][b];
    nans = static_cast<size_t>(h[0][bins]) + h[1][bins] + h[2][bins] + h[3][bins];
  } else {
    for (; i + 64 <= n; i += 64) {
      for (int j = 0; j < 4; ++j) _mm512_store_si512(idx + 16 * j, bin(_mm512_loadu_ps(x + i + 16 * j)));
      for (int j = 0; j < 64; ++j) {
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

// Column pass of the per-channel histogram (qk::histogram_channels_driver): sixteen columns' bins at once, each
// lane with its column's grid; NaN lanes get the sentinel 0xffffffff; the last columns are masked.
size_t hist_columns(const float* x, size_t rows, size_t row_stride, size_t n, const float* lo, const float* scale,
                    const float* top, const uint32_t* base, bool abs, uint32_t* counts) {
  const __m512i absmask = _mm512_set1_epi32(abs ? 0x7fffffff : -1);
  const __m512 zero = _mm512_setzero_ps();
  const __m512i sentinel = _mm512_set1_epi32(-1);
  alignas(64) uint32_t idx[kChunk + 16];
  const size_t nv = n & ~static_cast<size_t>(15);
  const __mmask16 tm = tail_mask(n - nv);
  auto bin = [&](__m512 v, size_t j, __mmask16 m) {
    v = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), absmask));
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    __m512 t = _mm512_mul_ps(_mm512_sub_ps(v, _mm512_maskz_loadu_ps(m, lo + j)), _mm512_maskz_loadu_ps(m, scale + j));
    t = _mm512_min_ps(_mm512_max_ps(t, zero), _mm512_maskz_loadu_ps(m, top + j));
    _mm512_store_si512(idx + j, _mm512_mask_mov_epi32(_mm512_cvttps_epi32(t), nan, sentinel));
  };
  size_t nans = 0;
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * row_stride;
    for (size_t j = 0; j < nv; j += 16) bin(_mm512_loadu_ps(row + j), j, 0xffff);
    if (nv < n) bin(_mm512_maskz_loadu_ps(tm, row + nv), nv, tm);  // lanes past n are binned and ignored
    nans += hist_columns_count(idx, n, row, n, lo, scale, top, base, abs, counts);
  }
  return nans;
}

size_t histogram_channels(const float* x, size_t outer, size_t channels, size_t inner, const float* lo,
                          const float* scale, const uint32_t* bins, size_t stride, bool abs, uint32_t* counts) {
  return histogram_channels_driver<16, kRunMin, kChunk, kHistCountsCache>(x, outer, channels, inner, lo, scale, bins,
                                                                          stride, abs, counts, histogram, hist_columns);
}

}  // namespace

void fill_reduce_avx512(Kernels& k) {
  k.minmax_channels = minmax_channels;
  k.histogram = histogram;
  k.histogram_channels = histogram_channels;
}

}  // namespace qk
