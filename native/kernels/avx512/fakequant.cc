// qkernels avx512 tier (AVX-512 F/BW/VL/DQ): fake quantization forward with mask, straight-through backward and
// the learnable (LSQ) gradients with their 16-lane double reductions, 16 lanes per vector and masked tails.
// Bit-exact with the scalar tier (qk/fakequant.h): vrndscaleps = nearbyint, vfmadd = fma, NaN lanes replaced
// explicitly.
#include "qk/simd_x86.h"

#include <cstdint>

#include "qk/fakequant.h"
#include "qk/kernels.h"
#include "qk/stream.h"

namespace qk {
namespace {

constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

inline __mmask16 tail_mask(size_t r) { return static_cast<__mmask16>(r >= 16 ? 0xffffu : (1u << r) - 1u); }

// Forward for 16 lanes; *in = the lanes with qmin <= q <= qmax.
inline __m512 fq16(__m512 x, __m512 scale, __m512 inv, __m512 zp, __m512 lo, __m512 hi, __mmask16* in) {
  const __m512 v = _mm512_mul_ps(x, inv);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  const __m512 q = _mm512_add_ps(_mm512_roundscale_ps(v, kRound), zp);
  *in = static_cast<__mmask16>(_mm512_cmp_ps_mask(q, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(q, hi, _CMP_LE_OQ));
  const __m512 c = _mm512_min_ps(_mm512_max_ps(q, lo), hi);  // = the reference's clamp for every non-NaN q
  const __m512 y = _mm512_mul_ps(_mm512_sub_ps(c, zp), scale);
  return _mm512_mask_mov_ps(y, nan, v);
}

// 16 mask bytes (1 / 0) from a lane mask.
inline __m128i mask_bytes(__mmask16 in) {
  return _mm512_cvtepi32_epi8(_mm512_maskz_mov_epi32(in, _mm512_set1_epi32(1)));
}

// Large outputs use streaming stores for y (qk/stream.h).
void fake_quant(const float* x, float* y, uint8_t* mask, size_t n, float scale, float inv_scale, int32_t zero_point,
                int32_t qmin, int32_t qmax) {
  const __m512 s = _mm512_set1_ps(scale), inv = _mm512_set1_ps(inv_scale);
  const __m512 zp = _mm512_set1_ps(static_cast<float>(zero_point));
  const __m512 lo = _mm512_set1_ps(static_cast<float>(qmin)), hi = _mm512_set1_ps(static_cast<float>(qmax));
  for_stores(y, 4, n, [&](size_t i, size_t end, auto stream) {
    for (; i + 16 <= end; i += 16) {
      __mmask16 in;
      const __m512 v = fq16(_mm512_loadu_ps(x + i), s, inv, zp, lo, hi, &in);
      if constexpr (decltype(stream)::value) _mm512_stream_ps(y + i, v);
      else _mm512_storeu_ps(y + i, v);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(mask + i), mask_bytes(in));
    }
    if (i < end) {
      const __mmask16 m = tail_mask(end - i);
      __mmask16 in;
      _mm512_mask_storeu_ps(y + i, m, fq16(_mm512_maskz_loadu_ps(m, x + i), s, inv, zp, lo, hi, &in));
      _mm_mask_storeu_epi8(mask + i, m, mask_bytes(in));
    }
  });
}

void fake_quant_vec(const float* x, float* y, uint8_t* mask, size_t n, const float* scale, const float* inv_scale,
                    const int32_t* zero_point, int32_t qmin, int32_t qmax) {
  const __m512 lo = _mm512_set1_ps(static_cast<float>(qmin)), hi = _mm512_set1_ps(static_cast<float>(qmax));
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 zp = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, zero_point + i));
    __mmask16 in;
    const __m512 v = fq16(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, scale + i),
                          _mm512_maskz_loadu_ps(m, inv_scale + i), zp, lo, hi, &in);
    _mm512_mask_storeu_ps(y + i, m, v);
    _mm_mask_storeu_epi8(mask + i, m, mask_bytes(in));
  }
}

void fake_quant_backward(const float* g, const uint8_t* mask, float* out, size_t n) {
  for_stores(out, 4, n, [&](size_t i, size_t end, auto stream) {
    for (; i < end; i += 16) {
      const __mmask16 m = tail_mask(end - i);
      const __m512i w = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, mask + i));
      const __mmask16 nz = _mm512_test_epi32_mask(w, w);
      const __m512 gv = _mm512_maskz_loadu_ps(m, g + i);
      const __m512 v = _mm512_mask_mov_ps(_mm512_mul_ps(gv, _mm512_setzero_ps()), nz, gv);
      if (decltype(stream)::value && m == 0xffff) _mm512_stream_ps(out + i, v);
      else _mm512_mask_storeu_ps(out + i, m, v);
    }
  });
}

// Learnable gradients for 16 lanes (qk::ref::lsq_grad_one).
inline void lsq16(__m512 x, __m512 dy, __m512 scale, __m512 inv, __m512 zp, __m512 lo, __m512 hi, __m512 gf,
                  __m512* dx, __m512* ds, __m512* dz) {
  const __m512 q = _mm512_roundscale_ps(_mm512_fmadd_ps(x, inv, zp), kRound);
  const __mmask16 below = _mm512_cmp_ps_mask(q, lo, _CMP_LT_OQ), above = _mm512_cmp_ps_mask(q, hi, _CMP_GT_OQ);
  const __mmask16 in =
      static_cast<__mmask16>(_mm512_cmp_ps_mask(q, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(q, hi, _CMP_LE_OQ));
  const __mmask16 out = static_cast<__mmask16>(below | above);
  *dx = _mm512_mask_mov_ps(_mm512_mul_ps(dy, _mm512_setzero_ps()), in, dy);
  const __m512 c = _mm512_mask_mov_ps(hi, in, q);
  const __m512 negx = _mm512_castsi512_ps(
      _mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32(static_cast<int32_t>(0x80000000u))));
  const __m512 d = _mm512_fmadd_ps(_mm512_sub_ps(c, zp), scale, negx);
  const __m512 ds_in = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dy, d), inv), gf);
  const __m512 edge = _mm512_mask_mov_ps(_mm512_sub_ps(hi, zp), below, _mm512_sub_ps(lo, zp));
  const __m512 ds_out = _mm512_mul_ps(_mm512_mul_ps(dy, edge), gf);
  *ds = _mm512_mask_mov_ps(ds_in, out, ds_out);
  *dz = _mm512_maskz_mov_ps(out, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dy, _mm512_set1_ps(-1.0f)), scale), gf));
}

// Adds 16 float terms to the 16 double lanes acc[0] (lanes 0..7) and acc[1] (lanes 8..15).
inline void acc16(__m512d* acc, __m512 t) {
  acc[0] = _mm512_add_pd(acc[0], _mm512_cvtps_pd(_mm512_castps512_ps256(t)));
  acc[1] = _mm512_add_pd(acc[1], _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1))));
}

void lsq_grad(const float* x, const float* dy, float* dx, size_t n, float scale, float inv_scale, int32_t zero_point,
              int32_t qmin, int32_t qmax, float grad_factor, double* sums) {
  const __m512 s = _mm512_set1_ps(scale), inv = _mm512_set1_ps(inv_scale);
  const __m512 zp = _mm512_set1_ps(static_cast<float>(zero_point));
  const __m512 lo = _mm512_set1_ps(static_cast<float>(qmin)), hi = _mm512_set1_ps(static_cast<float>(qmax));
  const __m512 gf = _mm512_set1_ps(grad_factor);
  __m512d as[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()}, az[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 d, t, z;
    lsq16(_mm512_loadu_ps(x + i), _mm512_loadu_ps(dy + i), s, inv, zp, lo, hi, gf, &d, &t, &z);
    _mm512_storeu_ps(dx + i, d);
    acc16(as, t);
    acc16(az, z);
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    __m512 d, t, z;
    lsq16(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, dy + i), s, inv, zp, lo, hi, gf, &d, &t, &z);
    _mm512_mask_storeu_ps(dx + i, m, d);
    acc16(as, _mm512_maskz_mov_ps(m, t));
    acc16(az, _mm512_maskz_mov_ps(m, z));
  }
  alignas(64) double ls[16], lz[16];
  _mm512_storeu_pd(ls, as[0]);
  _mm512_storeu_pd(ls + 8, as[1]);
  _mm512_storeu_pd(lz, az[0]);
  _mm512_storeu_pd(lz + 8, az[1]);
  sums[0] = ref::sum_lanes(ls);
  sums[1] = ref::sum_lanes(lz);
}

void lsq_grad_vec(const float* x, const float* dy, float* dx, float* dscale, float* dzp, size_t n, const float* scale,
                  const float* inv_scale, const int32_t* zero_point, int32_t qmin, int32_t qmax, float grad_factor) {
  const __m512 lo = _mm512_set1_ps(static_cast<float>(qmin)), hi = _mm512_set1_ps(static_cast<float>(qmax));
  const __m512 gf = _mm512_set1_ps(grad_factor);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 zp = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, zero_point + i));
    __m512 d, t, z;
    lsq16(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, dy + i), _mm512_maskz_loadu_ps(m, scale + i),
          _mm512_maskz_loadu_ps(m, inv_scale + i), zp, lo, hi, gf, &d, &t, &z);
    _mm512_mask_storeu_ps(dx + i, m, d);
    _mm512_mask_storeu_ps(dscale + i, m, t);
    _mm512_mask_storeu_ps(dzp + i, m, z);
  }
}

}  // namespace

void fill_fakequant_avx512(Kernels& k) {
  k.fake_quant = fake_quant;
  k.fake_quant_vec = fake_quant_vec;
  k.fake_quant_backward = fake_quant_backward;
  k.lsq_grad = lsq_grad;
  k.lsq_grad_vec = lsq_grad_vec;
}

}  // namespace qk
