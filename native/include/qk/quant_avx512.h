// qkernels avx512 tier: the one quantize step on 16 floats, shared by the tier's quantize kernels
// (native/kernels/avx512/convert.cc) and its GEMM kernel's fused requantized output (native/kernels/avx512/gemm.cc),
// so both round exactly like ref::quantize_one. Include after qk/simd_x86.h, only from translation units compiled
// with the tier's flags.
#pragma once
#include "qk/simd_x86.h"

namespace qk {
namespace {  // internal linkage: each including translation unit keeps its own copy (see qk/gemm_epilogue.h)

// clamp(round_half_even(x * inv) + zp, lo, hi) as int32 lanes; NaN products give zp (ref::quantize_one).
inline __m512i quant16(__m512 x, __m512 inv, __m512 zp, __m512 lo, __m512 hi) {
  const __m512 v = _mm512_mul_ps(x, inv);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  __m512 r = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, zp), lo), hi);
  return _mm512_cvtps_epi32(_mm512_mask_mov_ps(r, nan, zp));
}

}  // namespace
}  // namespace qk
