// qkernels: the fused GEMM output (GemmTileOut, qk/gemm.h) on 16-lane vectors, for the avx512 and amx tiers'
// kernel_out: the zero-point corrections, then the shared epilogue's float steps (qk/gemm_epilogue.h) and the
// tier's quantize step (quant16), operation for operation, so the output is bit-identical to kernel + epilogue.
// Include only from translation units compiled with the avx512 tier's flags (or against SIMDe, QK_SIMDE).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "qk/gemm.h"
#include "qk/quant_avx512.h"
#include "qk/simd_x86.h"

namespace qk {
namespace {  // internal linkage (see qk/gemm_epilogue.h)

// The lanes of vector q (columns 16q .. 16q + 15) below cols.
inline __mmask16 lanes(size_t cols, size_t q) {
  const size_t n = cols > 16 * q ? std::min<size_t>(16, cols - 16 * q) : 0;
  return static_cast<__mmask16>(n == 16 ? 0xffffu : (1u << n) - 1u);
}

// Columns 16q .. 16q + 15 of row r (lanes m; Full: all of them) from the corrected sums d, converted as
// GemmTileOut says: the shared epilogue's float_row and the tier's quantize (quant16), operation for operation.
template <GemmOut Mode, bool Full>
QK_ALWAYS_INLINE void out16(const GemmTileOut& o, size_t r, size_t q, __m512i d, __mmask16 m,
                                                 __m512 vas, __m512 vs) {
  const size_t off = r * o.ldc + 16 * q;
  if constexpr (Mode == GemmOut::Int32) {
    if (Full) _mm512_storeu_si512(static_cast<int32_t*>(o.c) + off, d);
    else _mm512_mask_storeu_epi32(static_cast<int32_t*>(o.c) + off, m, d);
  } else {
    __m512 y = _mm512_cvtepi32_ps(d);
    if (o.bs_per_col) {
      const __m512 bs = Full ? _mm512_loadu_ps(o.bs + 16 * q) : _mm512_maskz_loadu_ps(m, o.bs + 16 * q);
      y = _mm512_mul_ps(y, _mm512_mul_ps(vas, bs));
    } else {
      y = _mm512_mul_ps(y, vs);
    }
    if (o.bias)
      y = _mm512_add_ps(y, Full ? _mm512_loadu_ps(o.bias + 16 * q) : _mm512_maskz_loadu_ps(m, o.bias + 16 * q));
    if (o.relu) y = _mm512_max_ps(y, _mm512_setzero_ps());  // y > 0 ? y : +0 (also for NaN and -0)
    if constexpr (Mode == GemmOut::Float32) {
      if (Full) _mm512_storeu_ps(static_cast<float*>(o.c) + off, y);
      else _mm512_mask_storeu_ps(static_cast<float*>(o.c) + off, m, y);
    } else {
      const __m512i v = quant16(y, _mm512_set1_ps(o.inv_out_scale), _mm512_set1_ps(static_cast<float>(o.out_zp)),
                                _mm512_set1_ps(static_cast<float>(o.qmin)), _mm512_set1_ps(static_cast<float>(o.qmax)));
      // Clamped to the output type's range: vpmovdb's truncation is exact for int8 and uint8.
      _mm_mask_storeu_epi8(static_cast<uint8_t*>(o.c) + off, Full ? __mmask16{0xffff} : m, _mm512_cvtepi32_epi8(v));
    }
  }
}

#if !defined(QK_SIMDE)
// 16 sums v corrected (GemmTileOut): v - (b0 ? b0[j] * rt : rt) - (a0 ? ar * ct[j] : ct[j]), modulo 2^32; the
// per-column terms read in lanes m only.
template <bool Full>
QK_ALWAYS_INLINE __m512i correct16(__m512i v, __mmask16 m, const uint32_t* ct, const uint32_t* b0,
                                                        bool a0, __m512i vrt, __m512i var) {
  const __m512i c = Full ? _mm512_loadu_si512(ct) : _mm512_maskz_loadu_epi32(m, ct);
  const __m512i row = b0 ? _mm512_mullo_epi32(vrt, Full ? _mm512_loadu_si512(b0) : _mm512_maskz_loadu_epi32(m, b0)) : vrt;
  return _mm512_sub_epi32(_mm512_sub_epi32(v, row), a0 ? _mm512_mullo_epi32(var, c) : c);
}
#endif

// Row r's scale vectors for out16: as[r] broadcast, and as[r] * bs[0] (one bScale) broadcast.
template <GemmOut Mode>
QK_ALWAYS_INLINE void row_scales(const GemmTileOut& o, size_t r, __m512* vas, __m512* vs) {
  constexpr bool float_out = Mode != GemmOut::Int32;
  const float as = float_out ? o.as[r] : 0.0f;
  *vas = _mm512_set1_ps(as);
  *vs = _mm512_set1_ps(float_out && !o.bs_per_col ? as * o.bs[0] : 0.0f);
}

// The correction of row r's first o.cols sums in t, in uint32 through memory: the SIMDe test build's (SIMDe's vector
// integer arithmetic is signed, whose overflow UBSan reports), as the shared epilogue does there.
inline void correct_scalar(const GemmTileOut& o, size_t r, uint32_t* t) {
  const uint32_t rt = o.rowterm[r], ar = o.a0 ? o.a0[r] : 1;
  const uint32_t *ct = o.colterm, *b0 = o.b0;
  for (size_t j = 0; j < o.cols; ++j) t[j] = t[j] - (b0 ? b0[j] * rt : rt) - (o.a0 ? ar * ct[j] : ct[j]);
}

// Rows r0 .. r1 of a tile from raw sums in memory (row r at t + r * ldt, 64-byte aligned, V vectors; the SIMDe
// build corrects them in place). o should be a local copy: the output stores may alias anything, so fields read
// through a reference are read again after each of them.
template <GemmOut Mode, int V>
QK_ALWAYS_INLINE void out_rows_mem(const GemmTileOut& o, size_t r0, size_t r1, uint32_t* t,
                                                        size_t ldt) {
  for (size_t r = r0; r < r1; ++r) {
    uint32_t* tr = t + r * ldt;
    __m512 vas, vs;
    row_scales<Mode>(o, r, &vas, &vs);
#if defined(QK_SIMDE)
    correct_scalar(o, r, tr);
    for (int q = 0; q < V && 16 * static_cast<size_t>(q) < o.cols; ++q) {
      const __mmask16 m = lanes(o.cols, q);
      const __m512i d = _mm512_load_si512(tr + 16 * q);
      if (m == 0xffff) out16<Mode, true>(o, r, q, d, m, vas, vs);
      else out16<Mode, false>(o, r, q, d, m, vas, vs);
    }
#else
    const __m512i vrt = _mm512_set1_epi32(static_cast<int>(o.rowterm[r]));
    const __m512i var = _mm512_set1_epi32(static_cast<int>(o.a0 ? o.a0[r] : 1));
    if (o.cols == 16 * V) {
#pragma GCC unroll 4
      for (int q = 0; q < V; ++q) {
        const __m512i v = _mm512_load_si512(tr + 16 * q);
        const __m512i d = correct16<true>(v, 0xffff, o.colterm + 16 * q, o.b0 ? o.b0 + 16 * q : nullptr, o.a0 != nullptr, vrt, var);
        out16<Mode, true>(o, r, q, d, 0xffff, vas, vs);
      }
    } else {
      for (int q = 0; q < V && 16 * static_cast<size_t>(q) < o.cols; ++q) {
        const __mmask16 m = lanes(o.cols, q);
        const __m512i v = _mm512_load_si512(tr + 16 * q);
        const __m512i d = correct16<false>(v, m, o.colterm + 16 * q, o.b0 ? o.b0 + 16 * q : nullptr, o.a0 != nullptr, vrt, var);
        out16<Mode, false>(o, r, q, d, m, vas, vs);
      }
    }
#endif
  }
}

}  // namespace
}  // namespace qk
