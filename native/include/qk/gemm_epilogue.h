// qkernels: the INT8 GEMM epilogue (zero-point corrections and output conversion), as inline code that each
// tier's translation unit compiles with its own flags, so it vectorizes there. Every operation is an
// element-wise IEEE float32 or modulo-2^32 integer operation with no contraction (-ffp-contract=off), so the
// results are identical whichever tier compiled it.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qk/convert.h"
#include "qk/gemm_driver.h"

namespace qk {

// Per-call terms of the correction C = D' - B0[j] * rowsum[i] - A0[i] * (colsum[j] - k * B0[j]).
struct GemmTerms {
  const uint32_t* b0 = nullptr;   // B0[j] = zb[j] - sb, n entries
  const uint32_t* csk = nullptr;  // colsum[j] - k * B0[j], n entries
};

// Writes row i, columns j0 .. j0 + count of the output from exact results c (modulo 2^32).
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

// Corrects a rows x cols tile of D' (row stride ldt) in place and writes it out. a0[r] = A0[i0 + r] and
// rs[r] = rowsum[i0 + r] as uint32.
inline void gemm_epilogue_tile(const GemmArgs& g, const GemmTerms& terms, size_t i0, size_t rows, size_t j0,
                               size_t cols, const uint32_t* a0, const uint32_t* rs, uint32_t* tile, size_t ldt) {
  const uint32_t* b0 = terms.b0 + j0;
  const uint32_t* csk = terms.csk + j0;
  for (size_t r = 0; r < rows; ++r) {
    uint32_t* c = tile + r * ldt;
    const uint32_t ar = a0[r], rr = rs[r];
    for (size_t t = 0; t < cols; ++t) c[t] = c[t] - b0[t] * rr - ar * csk[t];
    gemm_output_row(g, i0 + r, j0, cols, c);
  }
}

}  // namespace qk
