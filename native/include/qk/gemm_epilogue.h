// qkernels: the INT8 GEMM epilogue (zero-point corrections and output conversion), as inline code that each
// tier's translation unit compiles with its own flags, so it vectorizes there. Every operation is an
// element-wise IEEE float32 or modulo-2^32 integer operation with no contraction (-ffp-contract=off), so the
// results are identical whichever tier compiled it.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qk/convert.h"
#include "qk/gemm_driver.h"
#include "qk/kernels.h"

#if defined(__AVX512F__) && !defined(QK_SIMDE)
#include <immintrin.h>
#define QK_EPILOGUE_AVX512 1
#endif

namespace qk {

// Per-call terms of the correction C = D' - B0[j] * rowsum[i] - A0[i] * (colsum[j] - k * B0[j]).
struct GemmTerms {
  const uint32_t* b0 = nullptr;   // B0[j] = zb[j] - sb, n entries
  const uint32_t* csk = nullptr;  // colsum[j] - k * B0[j], n entries
  // Where every row has the same A0 and every column the same B0 (one zero point each, the common case), the
  // correction is C = D' - b0u * rowsum[i] - colterm[j] with colterm[j] = A0 * csk[j] precomputed: no multiply
  // per element. Null: the general form.
  const uint32_t* colterm = nullptr;
  uint32_t b0u = 0;
  // The calling tier's quantize kernels (bit-identical to ref::quantize_one) for the requantized outputs.
  QuantizeS8Fn quantize_s8 = nullptr;
  QuantizeU8Fn quantize_u8 = nullptr;
};

// Everything below has internal linkage: each tier's translation unit compiles its own copy with its own flags.
// (An inline function with external linkage would be merged across tiers by the linker, which may keep the
// AVX-512 copy for every caller.)
namespace {

// Writes row i, columns j0 .. j0 + count of the output from exact results c (modulo 2^32). The reference path.
inline void gemm_output_row(const GemmArgs& g, size_t i, size_t j0, size_t count, const uint32_t* c) {
  if (g.mode == GemmOut::Int32) {
    std::memcpy(static_cast<int32_t*>(g.c) + i * g.ldc + j0, c, count * 4);
    return;
  }
  const float as = g.a_scale[i * g.a_scale_step];
  float ybuf[256];
  float* y = g.mode == GemmOut::Float32 ? static_cast<float*>(g.c) + i * g.ldc + j0 : ybuf;
  for (size_t t0 = 0; t0 < count; t0 += 256) {
    const size_t len = count - t0 < 256 ? count - t0 : 256;
    float* yt = g.mode == GemmOut::Float32 ? y + t0 : ybuf;
    const size_t j = j0 + t0;
    if (g.b_scale_step == 0) {
      const float s = as * g.b_scale[0];
      for (size_t t = 0; t < len; ++t) yt[t] = static_cast<float>(static_cast<int32_t>(c[t0 + t])) * s;
    } else {
      const float* bs = g.b_scale + j;
      for (size_t t = 0; t < len; ++t) yt[t] = static_cast<float>(static_cast<int32_t>(c[t0 + t])) * (as * bs[t]);
    }
    if (g.bias)
      for (size_t t = 0; t < len; ++t) yt[t] += g.bias[j + t];
    if (g.relu)
      for (size_t t = 0; t < len; ++t) yt[t] = yt[t] > 0.0f ? yt[t] : 0.0f;
    if (g.mode == GemmOut::Int8) {
      int8_t* q = static_cast<int8_t*>(g.c) + i * g.ldc + j;
      for (size_t t = 0; t < len; ++t)
        q[t] = static_cast<int8_t>(ref::quantize_one(yt[t], g.inv_out_scale, g.out_zp, g.qmin, g.qmax));
    } else if (g.mode == GemmOut::Uint8) {
      uint8_t* q = static_cast<uint8_t*>(g.c) + i * g.ldc + j;
      for (size_t t = 0; t < len; ++t)
        q[t] = static_cast<uint8_t>(ref::quantize_one(yt[t], g.inv_out_scale, g.out_zp, g.qmin, g.qmax));
    }
  }
}

namespace epi {

// o[t] = c[t] - rt - ct[t] for t < cols (modulo 2^32). With AVX-512 the full vectors are stored from o's next
// 64-byte boundary, with a masked head and tail: a tile row of a C that is not 64-byte aligned (JavaScript arrays
// are 16-byte aligned) otherwise splits every store across two cache lines (2048^3 int32 out: +1-2% for avx512
// and amx). Non-temporal stores measured slower on such a C (partial lines).
inline void int32_row_uniform(const uint32_t* __restrict c, uint32_t rt, const uint32_t* __restrict ct, size_t cols,
                              uint32_t* __restrict o) {
#if QK_EPILOGUE_AVX512
  const uintptr_t addr = reinterpret_cast<uintptr_t>(o);
  if ((addr & 3) == 0) {
    const __m512i vrt = _mm512_set1_epi32(static_cast<int>(rt));
    size_t t = 0;
    if (addr & 63) {
      const size_t head = std::min<size_t>(cols, 16 - (addr & 63) / 4);
      const __mmask16 m = static_cast<__mmask16>((1u << head) - 1);
      const __m512i v = _mm512_sub_epi32(_mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, c), vrt), _mm512_maskz_loadu_epi32(m, ct));
      _mm512_mask_storeu_epi32(o, m, v);
      t = head;
    }
    for (; t + 16 <= cols; t += 16)
      _mm512_store_si512(o + t, _mm512_sub_epi32(_mm512_sub_epi32(_mm512_loadu_si512(c + t), vrt), _mm512_loadu_si512(ct + t)));
    if (t < cols) {
      const __mmask16 m = static_cast<__mmask16>((1u << (cols - t)) - 1);
      const __m512i v =
          _mm512_sub_epi32(_mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, c + t), vrt), _mm512_maskz_loadu_epi32(m, ct + t));
      _mm512_mask_storeu_epi32(o + t, m, v);
    }
    return;
  }
#endif
  for (size_t t = 0; t < cols; ++t) o[t] = c[t] - rt - ct[t];
}

// One row of a tile in one pass: y[t] = float(c[t] - b0[t] * rr - ar * csk[t]) * scale (+ bias) (relu), the same
// IEEE operations in the same order as gemm_output_row, as straight loops the tier's compiler vectorizes. Uniform
// (GemmTerms::colterm): csk is colterm, rr the row's b0u * rowsum, b0 and ar unused; the same integer modulo 2^32.
template <bool Uniform, bool PerColScale, bool Bias, bool Relu>
inline void float_row(const uint32_t* __restrict c, const uint32_t* __restrict b0, const uint32_t* __restrict csk,
                      uint32_t ar, uint32_t rr, float as, const float* __restrict bs, const float* __restrict bias,
                      size_t cols, float* __restrict y) {
  const float s = PerColScale ? 0.0f : as * bs[0];
  for (size_t t = 0; t < cols; ++t) {
    const uint32_t d = Uniform ? c[t] - rr - csk[t] : c[t] - b0[t] * rr - ar * csk[t];
    const float x = static_cast<float>(static_cast<int32_t>(d));
    float v = PerColScale ? x * (as * bs[t]) : x * s;
    if (Bias) v += bias[t];
    if (Relu) v = v > 0.0f ? v : 0.0f;
    y[t] = v;
  }
}

using FloatRowFn = void (*)(const uint32_t*, const uint32_t*, const uint32_t*, uint32_t, uint32_t, float,
                            const float*, const float*, size_t, float*);

inline FloatRowFn float_row_for(bool uniform, bool per_col, bool bias, bool relu) {
  static constexpr FloatRowFn kTable[16] = {
      float_row<false, false, false, false>, float_row<false, false, false, true>,
      float_row<false, false, true, false>,  float_row<false, false, true, true>,
      float_row<false, true, false, false>,  float_row<false, true, false, true>,
      float_row<false, true, true, false>,   float_row<false, true, true, true>,
      float_row<true, false, false, false>,  float_row<true, false, false, true>,
      float_row<true, false, true, false>,   float_row<true, false, true, true>,
      float_row<true, true, false, false>,   float_row<true, true, false, true>,
      float_row<true, true, true, false>,    float_row<true, true, true, true>,
  };
  return kTable[(uniform ? 8 : 0) + (per_col ? 4 : 0) + (bias ? 2 : 0) + (relu ? 1 : 0)];
}

}  // namespace epi

// Corrects a rows x cols tile of D' (row stride ldt) and writes it to the output. a0[r] = A0[i0 + r] and
// rs[r] = rowsum[i0 + r] as uint32. Identical to correcting the tile and calling gemm_output_row on each row.
inline void gemm_epilogue_tile(const GemmArgs& g, const GemmTerms& terms, size_t i0, size_t rows, size_t j0,
                               size_t cols, const uint32_t* a0, const uint32_t* rs, const uint32_t* tile,
                               size_t ldt) {
  const bool uniform = terms.colterm != nullptr;
  const uint32_t* __restrict b0 = terms.b0 + j0;
  const uint32_t* __restrict csk = (uniform ? terms.colterm : terms.csk) + j0;
  if (g.mode == GemmOut::Int32) {
    if (uniform) {
      for (size_t r = 0; r < rows; ++r) {
        const uint32_t* __restrict c = tile + r * ldt;
        uint32_t* __restrict o = static_cast<uint32_t*>(g.c) + (i0 + r) * g.ldc + j0;
        epi::int32_row_uniform(c, terms.b0u * rs[r], csk, cols, o);
      }
      return;
    }
    for (size_t r = 0; r < rows; ++r) {
      const uint32_t* __restrict c = tile + r * ldt;
      uint32_t* __restrict o = static_cast<uint32_t*>(g.c) + (i0 + r) * g.ldc + j0;
      const uint32_t ar = a0[r], rr = rs[r];
      for (size_t t = 0; t < cols; ++t) o[t] = c[t] - b0[t] * rr - ar * csk[t];
    }
    return;
  }
  const epi::FloatRowFn row = epi::float_row_for(uniform, g.b_scale_step != 0, g.bias != nullptr, g.relu);
  const float* bs = g.b_scale + (g.b_scale_step ? j0 : 0);
  const float* bias = g.bias ? g.bias + j0 : nullptr;
  alignas(64) float ybuf[256];
  for (size_t r = 0; r < rows; ++r) {
    const size_t i = i0 + r;
    const float as = g.a_scale[i * g.a_scale_step];
    for (size_t t0 = 0; t0 < cols; t0 += 256) {
      const size_t len = cols - t0 < 256 ? cols - t0 : 256;
      float* y = g.mode == GemmOut::Float32 ? static_cast<float*>(g.c) + i * g.ldc + j0 + t0 : ybuf;
      row(tile + r * ldt + t0, b0 + t0, csk + t0, a0[r], uniform ? terms.b0u * rs[r] : rs[r], as, bs + (g.b_scale_step ? t0 : 0),
          bias ? bias + t0 : nullptr, len, y);
      if (g.mode == GemmOut::Int8)
        terms.quantize_s8(y, static_cast<int8_t*>(g.c) + i * g.ldc + j0 + t0, len, g.inv_out_scale, g.out_zp, g.qmin,
                          g.qmax);
      else if (g.mode == GemmOut::Uint8)
        terms.quantize_u8(y, static_cast<uint8_t*>(g.c) + i * g.ldc + j0 + t0, len, g.inv_out_scale, g.out_zp,
                          g.qmin, g.qmax);
    }
  }
}

}  // namespace

}  // namespace qk
