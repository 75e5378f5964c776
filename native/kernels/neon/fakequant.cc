// qkernels neon tier (AArch64 Advanced SIMD): fake quantization forward with mask, straight-through backward and
// the learnable (LSQ) gradients with their 16-lane double reductions. Bit-exact with the scalar tier
// (qk/fakequant.h): frintn = nearbyint, fmla = fma, NaN lanes replaced explicitly, tails through zero-padded stack
// buffers so every element takes the vector path.
#include <arm_neon.h>

#include <cstring>

#include "qk/fakequant.h"
#include "qk/kernels.h"

namespace qk {
namespace {

// Forward for 4 lanes; *in = all-ones where qmin <= q <= qmax.
inline float32x4_t fq4(float32x4_t x, float32x4_t scale, float32x4_t inv, float32x4_t zp, float32x4_t lo,
                       float32x4_t hi, uint32x4_t* in) {
  const float32x4_t v = vmulq_f32(x, inv);
  const uint32x4_t ok = vceqq_f32(v, v);
  const float32x4_t q = vaddq_f32(vrndnq_f32(v), zp);
  *in = vandq_u32(vcgeq_f32(q, lo), vcleq_f32(q, hi));
  const float32x4_t c = vminq_f32(vmaxq_f32(q, lo), hi);  // = the reference's clamp for every non-NaN q
  const float32x4_t y = vmulq_f32(vsubq_f32(c, zp), scale);
  return vbslq_f32(ok, y, v);
}

inline uint8x16_t mask_bytes(uint32x4_t a, uint32x4_t b, uint32x4_t c, uint32x4_t d) {
  const uint16x8_t ab = vcombine_u16(vmovn_u32(a), vmovn_u32(b));
  const uint16x8_t cd = vcombine_u16(vmovn_u32(c), vmovn_u32(d));
  return vandq_u8(vcombine_u8(vmovn_u16(ab), vmovn_u16(cd)), vdupq_n_u8(1));
}

// 16 elements; parameters from get(k, &scale, &inv, &zp) for elements k .. k + 3.
template <typename Get>
inline void fq16(const float* x, float* y, uint8_t* m, float32x4_t lo, float32x4_t hi, Get get) {
  uint32x4_t in[4];
  for (int j = 0; j < 4; ++j) {
    float32x4_t s, i, z;
    get(4 * j, &s, &i, &z);
    vst1q_f32(y + 4 * j, fq4(vld1q_f32(x + 4 * j), s, i, z, lo, hi, &in[j]));
  }
  vst1q_u8(m, mask_bytes(in[0], in[1], in[2], in[3]));
}

void fake_quant(const float* x, float* y, uint8_t* mask, size_t n, float scale, float inv_scale, int32_t zero_point,
                int32_t qmin, int32_t qmax) {
  const float32x4_t s = vdupq_n_f32(scale), iv = vdupq_n_f32(inv_scale);
  const float32x4_t zp = vdupq_n_f32(static_cast<float>(zero_point));
  const float32x4_t lo = vdupq_n_f32(static_cast<float>(qmin)), hi = vdupq_n_f32(static_cast<float>(qmax));
  auto get = [&](size_t, float32x4_t* a, float32x4_t* b, float32x4_t* c) {
    *a = s;
    *b = iv;
    *c = zp;
  };
  size_t i = 0;
  for (; i + 16 <= n; i += 16) fq16(x + i, y + i, mask + i, lo, hi, get);
  if (i < n) {
    const size_t r = n - i;
    float xb[16] = {}, yb[16];
    uint8_t mb[16];
    std::memcpy(xb, x + i, r * 4);
    fq16(xb, yb, mb, lo, hi, get);
    std::memcpy(y + i, yb, r * 4);
    std::memcpy(mask + i, mb, r);
  }
}

void fake_quant_vec(const float* x, float* y, uint8_t* mask, size_t n, const float* scale, const float* inv_scale,
                    const int32_t* zero_point, int32_t qmin, int32_t qmax) {
  const float32x4_t lo = vdupq_n_f32(static_cast<float>(qmin)), hi = vdupq_n_f32(static_cast<float>(qmax));
  auto getter = [](const float* ss, const float* is, const int32_t* zs) {
    return [=](size_t k, float32x4_t* a, float32x4_t* b, float32x4_t* c) {
      *a = vld1q_f32(ss + k);
      *b = vld1q_f32(is + k);
      *c = vcvtq_f32_s32(vld1q_s32(zs + k));
    };
  };
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    fq16(x + i, y + i, mask + i, lo, hi, getter(scale + i, inv_scale + i, zero_point + i));
  if (i < n) {
    const size_t r = n - i;
    float xb[16] = {}, yb[16], sb[16] = {}, ib[16] = {};
    int32_t zb[16] = {};
    uint8_t mb[16];
    std::memcpy(xb, x + i, r * 4);
    std::memcpy(sb, scale + i, r * 4);
    std::memcpy(ib, inv_scale + i, r * 4);
    std::memcpy(zb, zero_point + i, r * 4);
    fq16(xb, yb, mb, lo, hi, getter(sb, ib, zb));
    std::memcpy(y + i, yb, r * 4);
    std::memcpy(mask + i, mb, r);
  }
}

// out = mask != 0 ? g : g * 0 for 16 elements.
inline void bw16(const float* g, const uint8_t* m, float* out) {
  const uint8x16_t b = vtstq_u8(vld1q_u8(m), vld1q_u8(m));  // 0xff where the mask byte is non-zero
  const int16x8_t lo = vreinterpretq_s16_s8(vzip1q_s8(vreinterpretq_s8_u8(b), vreinterpretq_s8_u8(b)));
  const int16x8_t hi = vreinterpretq_s16_s8(vzip2q_s8(vreinterpretq_s8_u8(b), vreinterpretq_s8_u8(b)));
  const uint32x4_t sel[4] = {vreinterpretq_u32_s16(vzip1q_s16(lo, lo)), vreinterpretq_u32_s16(vzip2q_s16(lo, lo)),
                             vreinterpretq_u32_s16(vzip1q_s16(hi, hi)), vreinterpretq_u32_s16(vzip2q_s16(hi, hi))};
  for (int j = 0; j < 4; ++j) {
    const float32x4_t gv = vld1q_f32(g + 4 * j);
    vst1q_f32(out + 4 * j, vbslq_f32(sel[j], gv, vmulq_f32(gv, vdupq_n_f32(0.0f))));
  }
}

void fake_quant_backward(const float* g, const uint8_t* mask, float* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) bw16(g + i, mask + i, out + i);
  if (i < n) {
    const size_t r = n - i;
    float gb[16] = {}, ob[16];
    uint8_t mb[16] = {};
    std::memcpy(gb, g + i, r * 4);
    std::memcpy(mb, mask + i, r);
    bw16(gb, mb, ob);
    std::memcpy(out + i, ob, r * 4);
  }
}

// Learnable gradients for 4 lanes (qk::ref::lsq_grad_one).
inline void lsq4(float32x4_t x, float32x4_t dy, float32x4_t scale, float32x4_t inv, float32x4_t zp, float32x4_t lo,
                 float32x4_t hi, float32x4_t gf, float32x4_t* dx, float32x4_t* ds, float32x4_t* dz) {
  const float32x4_t q = vrndnq_f32(vfmaq_f32(zp, x, inv));
  const uint32x4_t below = vcltq_f32(q, lo), above = vcgtq_f32(q, hi);
  const uint32x4_t in = vandq_u32(vcgeq_f32(q, lo), vcleq_f32(q, hi));
  const uint32x4_t out = vorrq_u32(below, above);
  *dx = vbslq_f32(in, dy, vmulq_f32(dy, vdupq_n_f32(0.0f)));
  const float32x4_t c = vbslq_f32(in, q, hi);
  const float32x4_t d = vfmaq_f32(vnegq_f32(x), vsubq_f32(c, zp), scale);
  const float32x4_t ds_in = vmulq_f32(vmulq_f32(vmulq_f32(dy, d), inv), gf);
  const float32x4_t edge = vbslq_f32(below, vsubq_f32(lo, zp), vsubq_f32(hi, zp));
  const float32x4_t ds_out = vmulq_f32(vmulq_f32(dy, edge), gf);
  *ds = vbslq_f32(out, ds_out, ds_in);
  const float32x4_t dz_out = vmulq_f32(vmulq_f32(vmulq_f32(dy, vdupq_n_f32(-1.0f)), scale), gf);
  *dz = vreinterpretq_f32_u32(vandq_u32(out, vreinterpretq_u32_f32(dz_out)));
}

// Adds 4 float terms to the double lanes acc[0] (lanes +0, +1) and acc[1] (+2, +3).
inline void acc4(float64x2_t* acc, float32x4_t t) {
  acc[0] = vaddq_f64(acc[0], vcvt_f64_f32(vget_low_f32(t)));
  acc[1] = vaddq_f64(acc[1], vcvt_high_f64_f32(t));
}

void lsq_grad(const float* x, const float* dy, float* dx, size_t n, float scale, float inv_scale, int32_t zero_point,
              int32_t qmin, int32_t qmax, float grad_factor, double* sums) {
  const float32x4_t s = vdupq_n_f32(scale), iv = vdupq_n_f32(inv_scale);
  const float32x4_t zp = vdupq_n_f32(static_cast<float>(zero_point));
  const float32x4_t lo = vdupq_n_f32(static_cast<float>(qmin)), hi = vdupq_n_f32(static_cast<float>(qmax));
  const float32x4_t gf = vdupq_n_f32(grad_factor);
  float64x2_t as[8], az[8];
  for (int j = 0; j < 8; ++j) as[j] = az[j] = vdupq_n_f64(0.0);
  auto block16 = [&](const float* xs, const float* gs, float* os, size_t valid) {
    for (int j = 0; j < 4; ++j) {
      float32x4_t d, t, z;
      lsq4(vld1q_f32(xs + 4 * j), vld1q_f32(gs + 4 * j), s, iv, zp, lo, hi, gf, &d, &t, &z);
      vst1q_f32(os + 4 * j, d);
      if (valid < 16) {  // tail: zero the padding lanes' terms
        const int32_t base = 4 * j;
        const int32x4_t idx = vaddq_s32(vdupq_n_s32(base), int32x4_t{0, 1, 2, 3});
        const uint32x4_t ok = vcltq_s32(idx, vdupq_n_s32(static_cast<int32_t>(valid)));
        t = vreinterpretq_f32_u32(vandq_u32(ok, vreinterpretq_u32_f32(t)));
        z = vreinterpretq_f32_u32(vandq_u32(ok, vreinterpretq_u32_f32(z)));
      }
      acc4(as + 2 * j, t);
      acc4(az + 2 * j, z);
    }
  };
  size_t i = 0;
  for (; i + 16 <= n; i += 16) block16(x + i, dy + i, dx + i, 16);
  if (i < n) {
    const size_t r = n - i;
    float xb[16] = {}, gb[16] = {}, ob[16];
    std::memcpy(xb, x + i, r * 4);
    std::memcpy(gb, dy + i, r * 4);
    block16(xb, gb, ob, r);
    std::memcpy(dx + i, ob, r * 4);
  }
  double ls[16], lz[16];
  for (int j = 0; j < 8; ++j) {
    vst1q_f64(ls + 2 * j, as[j]);
    vst1q_f64(lz + 2 * j, az[j]);
  }
  sums[0] = ref::sum_lanes(ls);
  sums[1] = ref::sum_lanes(lz);
}

void lsq_grad_vec(const float* x, const float* dy, float* dx, float* dscale, float* dzp, size_t n, const float* scale,
                  const float* inv_scale, const int32_t* zero_point, int32_t qmin, int32_t qmax, float grad_factor) {
  const float32x4_t lo = vdupq_n_f32(static_cast<float>(qmin)), hi = vdupq_n_f32(static_cast<float>(qmax));
  const float32x4_t gf = vdupq_n_f32(grad_factor);
  auto block4 = [&](const float* xs, const float* gs, const float* ss, const float* is, const int32_t* zs, float* o,
                    float* os, float* oz) {
    float32x4_t d, t, z;
    lsq4(vld1q_f32(xs), vld1q_f32(gs), vld1q_f32(ss), vld1q_f32(is), vcvtq_f32_s32(vld1q_s32(zs)), lo, hi, gf, &d,
         &t, &z);
    vst1q_f32(o, d);
    vst1q_f32(os, t);
    vst1q_f32(oz, z);
  };
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    block4(x + i, dy + i, scale + i, inv_scale + i, zero_point + i, dx + i, dscale + i, dzp + i);
  if (i < n) {
    const size_t r = n - i;
    float xb[4] = {}, gb[4] = {}, sb[4] = {}, ib[4] = {}, ob[4], osb[4], ozb[4];
    int32_t zb[4] = {};
    std::memcpy(xb, x + i, r * 4);
    std::memcpy(gb, dy + i, r * 4);
    std::memcpy(sb, scale + i, r * 4);
    std::memcpy(ib, inv_scale + i, r * 4);
    std::memcpy(zb, zero_point + i, r * 4);
    block4(xb, gb, sb, ib, zb, ob, osb, ozb);
    std::memcpy(dx + i, ob, r * 4);
    std::memcpy(dscale + i, osb, r * 4);
    std::memcpy(dzp + i, ozb, r * 4);
  }
}

}  // namespace

void fill_fakequant_neon(Kernels& k) {
  k.fake_quant = fake_quant;
  k.fake_quant_vec = fake_quant_vec;
  k.fake_quant_backward = fake_quant_backward;
  k.lsq_grad = lsq_grad;
  k.lsq_grad_vec = lsq_grad_vec;
}

}  // namespace qk
