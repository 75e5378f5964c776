// qkernels avx2 tier (AVX2 + FMA): fake quantization forward with mask, straight-through backward and the
// learnable (LSQ) gradients with their 16-lane double reductions. Bit-exact with the scalar tier (qk/fakequant.h):
// the same float32 operations lane by lane (vroundps = nearbyint, vfmadd = fma), NaN lanes replaced explicitly,
// tails through zero-padded stack buffers so every element takes the vector path.
#include <immintrin.h>

#include <cstring>

#include "qk/fakequant.h"
#include "qk/kernels.h"
#include "qk/stream.h"

namespace qk {
namespace {

constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// Forward for 8 lanes; *in = all-ones where qmin <= q <= qmax.
inline __m256 fq8(__m256 x, __m256 scale, __m256 inv, __m256 zp, __m256 lo, __m256 hi, __m256* in) {
  const __m256 v = _mm256_mul_ps(x, inv);
  const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  const __m256 q = _mm256_add_ps(_mm256_round_ps(v, kRound), zp);
  *in = _mm256_and_ps(_mm256_cmp_ps(q, lo, _CMP_GE_OQ), _mm256_cmp_ps(q, hi, _CMP_LE_OQ));
  const __m256 c = _mm256_min_ps(_mm256_max_ps(q, lo), hi);  // = the reference's clamp for every non-NaN q
  const __m256 y = _mm256_mul_ps(_mm256_sub_ps(c, zp), scale);
  return _mm256_blendv_ps(y, v, nan);
}

// Packs four all-ones / zero lane masks (32 lanes, in order) into 32 bytes of 1 / 0.
inline __m256i mask_bytes(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256i ab = _mm256_packs_epi32(_mm256_castps_si256(a), _mm256_castps_si256(b));
  const __m256i cd = _mm256_packs_epi32(_mm256_castps_si256(c), _mm256_castps_si256(d));
  const __m256i bytes = _mm256_and_si256(_mm256_packs_epi16(ab, cd), _mm256_set1_epi8(1));
  return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

struct Uniform {
  __m256 scale, inv, zp, lo, hi;
  Uniform(float s, float i, int32_t z, int32_t qmin, int32_t qmax)
      : scale(_mm256_set1_ps(s)),
        inv(_mm256_set1_ps(i)),
        zp(_mm256_set1_ps(static_cast<float>(z))),
        lo(_mm256_set1_ps(static_cast<float>(qmin))),
        hi(_mm256_set1_ps(static_cast<float>(qmax))) {}
};

// 32 elements: x -> y, mask. Parameters per element (PerElem) or uniform. Streaming stores for y when S (y on a
// 64-byte boundary).
template <bool S = false, typename Params>
inline void fq32(const float* x, float* y, uint8_t* m, const Params& p, size_t off) {
  __m256 in[4];
  for (int j = 0; j < 4; ++j) {
    __m256 s, i, z;
    p.get(off + 8 * j, &s, &i, &z);
    const __m256 v = fq8(_mm256_loadu_ps(x + 8 * j), s, i, z, p.lo, p.hi, &in[j]);
    if constexpr (S) _mm256_stream_ps(y + 8 * j, v);
    else _mm256_storeu_ps(y + 8 * j, v);
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(m), mask_bytes(in[0], in[1], in[2], in[3]));
}

struct UniformParams : Uniform {
  using Uniform::Uniform;
  void get(size_t, __m256* s, __m256* i, __m256* z) const {
    *s = scale;
    *i = inv;
    *z = zp;
  }
};

struct ElemParams {
  const float* scale;
  const float* inv;
  const int32_t* zp;
  __m256 lo, hi;
  void get(size_t k, __m256* s, __m256* i, __m256* z) const {
    *s = _mm256_loadu_ps(scale + k);
    *i = _mm256_loadu_ps(inv + k);
    *z = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(zp + k)));
  }
};

template <bool S = false, typename Params, typename Tail>
inline void fq_run(const float* x, float* y, uint8_t* mask, size_t n, const Params& p, Tail tail, size_t i = 0) {
  for (; i + 32 <= n; i += 32) fq32<S>(x + i, y + i, mask + i, p, i);
  if (i < n) tail(i, n - i);
}

// Large outputs use streaming stores for y (qk/stream.h).
void fake_quant(const float* x, float* y, uint8_t* mask, size_t n, float scale, float inv_scale, int32_t zero_point,
                int32_t qmin, int32_t qmax) {
  const UniformParams p(scale, inv_scale, zero_point, qmin, qmax);
  auto tail = [&](size_t i, size_t r) {
    alignas(32) float xb[32] = {}, yb[32];
    alignas(32) uint8_t mb[32];
    std::memcpy(xb, x + i, r * 4);
    fq32(xb, yb, mb, p, 0);
    std::memcpy(y + i, yb, r * 4);
    std::memcpy(mask + i, mb, r);
  };
  for_stores(y, 4, n, [&](size_t i0, size_t i1, auto stream) {
    fq_run<decltype(stream)::value>(x, y, mask, i1, p, tail, i0);
  });
}

void fake_quant_vec(const float* x, float* y, uint8_t* mask, size_t n, const float* scale, const float* inv_scale,
                    const int32_t* zero_point, int32_t qmin, int32_t qmax) {
  const __m256 lo = _mm256_set1_ps(static_cast<float>(qmin)), hi = _mm256_set1_ps(static_cast<float>(qmax));
  const ElemParams p{scale, inv_scale, zero_point, lo, hi};
  fq_run(x, y, mask, n, p, [&](size_t i, size_t r) {
    alignas(32) float xb[32] = {}, yb[32], sb[32] = {}, ib[32] = {};
    alignas(32) int32_t zb[32] = {};
    alignas(32) uint8_t mb[32];
    std::memcpy(xb, x + i, r * 4);
    std::memcpy(sb, scale + i, r * 4);
    std::memcpy(ib, inv_scale + i, r * 4);
    std::memcpy(zb, zero_point + i, r * 4);
    const ElemParams t{sb, ib, zb, lo, hi};
    fq32(xb, yb, mb, t, 0);
    std::memcpy(y + i, yb, r * 4);
    std::memcpy(mask + i, mb, r);
  });
}

// out = mask != 0 ? g : g * 0, 8 lanes.
inline __m256 bw8(__m256 g, const uint8_t* m) {
  const __m256i w = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(m)));
  const __m256 zero = _mm256_castsi256_ps(_mm256_cmpeq_epi32(w, _mm256_setzero_si256()));
  return _mm256_blendv_ps(g, _mm256_mul_ps(g, _mm256_setzero_ps()), zero);
}

void fake_quant_backward(const float* g, const uint8_t* mask, float* out, size_t n) {
  auto tail = [&](size_t i, size_t r) {
    alignas(32) float gb[32] = {}, ob[32];
    alignas(32) uint8_t mb[32] = {};
    std::memcpy(gb, g + i, r * 4);
    std::memcpy(mb, mask + i, r);
    for (int j = 0; j < 32; j += 8) _mm256_store_ps(ob + j, bw8(_mm256_load_ps(gb + j), mb + j));
    std::memcpy(out + i, ob, r * 4);
  };
  // Large outputs use streaming stores (qk/stream.h).
  for_stores(out, 4, n, [&](size_t i, size_t end, auto stream) {
    for (; i + 32 <= end; i += 32)
      for (int j = 0; j < 32; j += 8) {
        const __m256 v = bw8(_mm256_loadu_ps(g + i + j), mask + i + j);
        if constexpr (decltype(stream)::value) _mm256_stream_ps(out + i + j, v);
        else _mm256_storeu_ps(out + i + j, v);
      }
    if (i < end) tail(i, end - i);
  });
}

// Learnable gradients for 8 lanes (qk::ref::lsq_grad_one).
inline void lsq8(__m256 x, __m256 dy, __m256 scale, __m256 inv, __m256 zp, __m256 lo, __m256 hi, __m256 gf,
                 __m256* dx, __m256* ds, __m256* dz) {
  const __m256 q = _mm256_round_ps(_mm256_fmadd_ps(x, inv, zp), kRound);
  const __m256 below = _mm256_cmp_ps(q, lo, _CMP_LT_OQ), above = _mm256_cmp_ps(q, hi, _CMP_GT_OQ);
  const __m256 in = _mm256_and_ps(_mm256_cmp_ps(q, lo, _CMP_GE_OQ), _mm256_cmp_ps(q, hi, _CMP_LE_OQ));
  const __m256 out = _mm256_or_ps(below, above);
  *dx = _mm256_blendv_ps(_mm256_mul_ps(dy, _mm256_setzero_ps()), dy, in);
  const __m256 c = _mm256_blendv_ps(hi, q, in);
  const __m256 negx = _mm256_xor_ps(x, _mm256_set1_ps(-0.0f));
  const __m256 d = _mm256_fmadd_ps(_mm256_sub_ps(c, zp), scale, negx);
  const __m256 ds_in = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(dy, d), inv), gf);
  const __m256 edge = _mm256_blendv_ps(_mm256_sub_ps(hi, zp), _mm256_sub_ps(lo, zp), below);
  const __m256 ds_out = _mm256_mul_ps(_mm256_mul_ps(dy, edge), gf);
  *ds = _mm256_blendv_ps(ds_in, ds_out, out);
  const __m256 dz_out = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(dy, _mm256_set1_ps(-1.0f)), scale), gf);
  *dz = _mm256_and_ps(out, dz_out);
}

// Adds 8 float terms (lanes base .. base + 7 of the 16) to the double accumulators acc[base / 4], acc[base / 4 + 1].
inline void acc8(__m256d* acc, __m256 t) {
  acc[0] = _mm256_add_pd(acc[0], _mm256_cvtps_pd(_mm256_castps256_ps128(t)));
  acc[1] = _mm256_add_pd(acc[1], _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1)));
}

void lsq_grad(const float* x, const float* dy, float* dx, size_t n, float scale, float inv_scale, int32_t zero_point,
              int32_t qmin, int32_t qmax, float grad_factor, double* sums) {
  const Uniform p(scale, inv_scale, zero_point, qmin, qmax);
  const __m256 gf = _mm256_set1_ps(grad_factor);
  __m256d as[4], az[4];
  for (int j = 0; j < 4; ++j) as[j] = az[j] = _mm256_setzero_pd();
  auto block16 = [&](const float* xs, const float* gs, float* os, __m256 valid0, __m256 valid1) {
    __m256 d0, s0, z0, d1, s1, z1;
    lsq8(_mm256_loadu_ps(xs), _mm256_loadu_ps(gs), p.scale, p.inv, p.zp, p.lo, p.hi, gf, &d0, &s0, &z0);
    lsq8(_mm256_loadu_ps(xs + 8), _mm256_loadu_ps(gs + 8), p.scale, p.inv, p.zp, p.lo, p.hi, gf, &d1, &s1, &z1);
    _mm256_storeu_ps(os, d0);
    _mm256_storeu_ps(os + 8, d1);
    acc8(as, _mm256_and_ps(s0, valid0));
    acc8(as + 2, _mm256_and_ps(s1, valid1));
    acc8(az, _mm256_and_ps(z0, valid0));
    acc8(az + 2, _mm256_and_ps(z1, valid1));
  };
  const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  size_t i = 0;
  for (; i + 16 <= n; i += 16) block16(x + i, dy + i, dx + i, all, all);
  if (i < n) {
    const size_t r = n - i;
    alignas(32) float xb[16] = {}, gb[16] = {}, ob[16];
    std::memcpy(xb, x + i, r * 4);
    std::memcpy(gb, dy + i, r * 4);
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i rr = _mm256_set1_epi32(static_cast<int32_t>(r));
    const __m256 v0 = _mm256_castsi256_ps(_mm256_cmpgt_epi32(rr, idx));
    const __m256 v1 = _mm256_castsi256_ps(_mm256_cmpgt_epi32(rr, _mm256_add_epi32(idx, _mm256_set1_epi32(8))));
    block16(xb, gb, ob, v0, v1);
    std::memcpy(dx + i, ob, r * 4);
  }
  alignas(32) double ls[16], lz[16];
  for (int j = 0; j < 4; ++j) {
    _mm256_store_pd(ls + 4 * j, as[j]);
    _mm256_store_pd(lz + 4 * j, az[j]);
  }
  sums[0] = ref::sum_lanes(ls);
  sums[1] = ref::sum_lanes(lz);
}

void lsq_grad_vec(const float* x, const float* dy, float* dx, float* dscale, float* dzp, size_t n, const float* scale,
                  const float* inv_scale, const int32_t* zero_point, int32_t qmin, int32_t qmax, float grad_factor) {
  const __m256 lo = _mm256_set1_ps(static_cast<float>(qmin)), hi = _mm256_set1_ps(static_cast<float>(qmax));
  const __m256 gf = _mm256_set1_ps(grad_factor);
  auto block8 = [&](const float* xs, const float* gs, const float* ss, const float* is, const int32_t* zs, float* o,
                    float* os, float* oz) {
    __m256 d, s, z;
    const __m256 zp = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(zs)));
    lsq8(_mm256_loadu_ps(xs), _mm256_loadu_ps(gs), _mm256_loadu_ps(ss), _mm256_loadu_ps(is), zp, lo, hi, gf, &d, &s,
         &z);
    _mm256_storeu_ps(o, d);
    _mm256_storeu_ps(os, s);
    _mm256_storeu_ps(oz, z);
  };
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    block8(x + i, dy + i, scale + i, inv_scale + i, zero_point + i, dx + i, dscale + i, dzp + i);
  if (i < n) {
    const size_t r = n - i;
    alignas(32) float xb[8] = {}, gb[8] = {}, sb[8] = {}, ib[8] = {}, ob[8], osb[8], ozb[8];
    alignas(32) int32_t zb[8] = {};
    std::memcpy(xb, x + i, r * 4);
    std::memcpy(gb, dy + i, r * 4);
    std::memcpy(sb, scale + i, r * 4);
    std::memcpy(ib, inv_scale + i, r * 4);
    std::memcpy(zb, zero_point + i, r * 4);
    block8(xb, gb, sb, ib, zb, ob, osb, ozb);
    std::memcpy(dx + i, ob, r * 4);
    std::memcpy(dscale + i, osb, r * 4);
    std::memcpy(dzp + i, ozb, r * 4);
  }
}

}  // namespace

void fill_fakequant_avx2(Kernels& k) {
  k.fake_quant = fake_quant;
  k.fake_quant_vec = fake_quant_vec;
  k.fake_quant_backward = fake_quant_backward;
  k.lsq_grad = lsq_grad;
  k.lsq_grad_vec = lsq_grad_vec;
}

}  // namespace qk
