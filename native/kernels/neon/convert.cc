// qkernels neon tier (AArch64 Advanced SIMD, baseline armv8-a): quantize, dequantize and FP16/BF16 conversion.
// Bit-exact with the scalar tier. Tails go through a zero-padded stack buffer so every element takes the vector
// path.
#include <arm_neon.h>

#include <cmath>
#include <cstring>
#include <type_traits>

#include "qk/convert.h"
#include "qk/gemm.h"
#include "qk/fakequant.h"
#include "qk/kernels.h"
#include "qk/reduce.h"
#include "qk/sgemm.h"

namespace qk {
namespace {

template <typename In, typename Out, size_t B, typename Block>
inline void blocks(const In* x, Out* y, size_t n, Block block) {
  size_t i = 0;
  for (; i + B <= n; i += B) block(x + i, y + i);
  if (i < n) {
    In xb[B] = {};
    Out yb[B];
    std::memcpy(xb, x + i, (n - i) * sizeof(In));
    block(xb, yb);
    std::memcpy(y + i, yb, (n - i) * sizeof(Out));
  }
}

// q = clamp(round_even(x * inv) + zp, qmin, qmax), NaN -> zp. vmaxq/vminq propagate NaN, so the NaN lanes are
// replaced after the clamp.
inline int32x4_t quant4(float32x4_t x, float32x4_t inv, float32x4_t zp, float32x4_t lo, float32x4_t hi) {
  const float32x4_t v = vmulq_f32(x, inv);
  const uint32x4_t ok = vceqq_f32(v, v);
  float32x4_t r = vaddq_f32(vrndnq_f32(v), zp);
  r = vminq_f32(vmaxq_f32(r, lo), hi);
  return vcvtq_s32_f32(vbslq_f32(ok, r, zp));
}

template <typename T>
inline void store16(T* q, int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
  const int16x8_t ab = vcombine_s16(vmovn_s32(a), vmovn_s32(b));
  const int16x8_t cd = vcombine_s16(vmovn_s32(c), vmovn_s32(d));
  if (std::is_signed<T>::value)
    vst1q_s8(reinterpret_cast<int8_t*>(q), vcombine_s8(vmovn_s16(ab), vmovn_s16(cd)));
  else
    vst1q_u8(reinterpret_cast<uint8_t*>(q),
             vcombine_u8(vmovn_u16(vreinterpretq_u16_s16(ab)), vmovn_u16(vreinterpretq_u16_s16(cd))));
}

// 4 int32 lanes already inside the 8-bit range as 4 bytes in order (truncating narrows, exact there).
template <typename T>
inline void store4(T* q, int32x4_t a) {
  const int16x4_t h = vmovn_s32(a);
  const uint32_t w = vget_lane_u32(vreinterpret_u32_s8(vmovn_s16(vcombine_s16(h, h))), 0);
  std::memcpy(q, &w, 4);
}

// Blocks of 16, then of 4, then the last few through a zero-padded buffer: the GEMM epilogue requantizes tile rows
// of 8 or 12 (the neon and neon-dotprod tiles' widths), which would otherwise all take the buffer path.
template <typename T>
void quantize(const float* x, T* q, size_t n, float inv_scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const float32x4_t inv = vdupq_n_f32(inv_scale), zp = vdupq_n_f32(static_cast<float>(zero_point));
  const float32x4_t lo = vdupq_n_f32(static_cast<float>(qmin)), hi = vdupq_n_f32(static_cast<float>(qmax));
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    store16(q + i, quant4(vld1q_f32(x + i), inv, zp, lo, hi), quant4(vld1q_f32(x + i + 4), inv, zp, lo, hi),
            quant4(vld1q_f32(x + i + 8), inv, zp, lo, hi), quant4(vld1q_f32(x + i + 12), inv, zp, lo, hi));
  for (; i + 4 <= n; i += 4) store4(q + i, quant4(vld1q_f32(x + i), inv, zp, lo, hi));
  if (i < n) {
    float xb[4] = {};
    T qb[4];
    std::memcpy(xb, x + i, (n - i) * sizeof(float));
    store4(qb, quant4(vld1q_f32(xb), inv, zp, lo, hi));
    std::memcpy(q + i, qb, n - i);
  }
}

template <typename T>
void quantize_vec(const float* x, T* q, size_t n, const float* inv_scale, const int32_t* zero_point, int32_t qmin,
                  int32_t qmax) {
  const float32x4_t lo = vdupq_n_f32(static_cast<float>(qmin)), hi = vdupq_n_f32(static_cast<float>(qmax));
  auto one = [&](const float* xs, const float* is, const int32_t* zs) {
    return quant4(vld1q_f32(xs), vld1q_f32(is), vcvtq_f32_s32(vld1q_s32(zs)), lo, hi);
  };
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    store16(q + i, one(x + i, inv_scale + i, zero_point + i), one(x + i + 4, inv_scale + i + 4, zero_point + i + 4),
            one(x + i + 8, inv_scale + i + 8, zero_point + i + 8),
            one(x + i + 12, inv_scale + i + 12, zero_point + i + 12));
  if (i < n) {
    const size_t r = n - i;
    float xb[16] = {}, ib[16] = {};
    int32_t zb[16] = {};
    T qb[16];
    std::memcpy(xb, x + i, r * 4);
    std::memcpy(ib, inv_scale + i, r * 4);
    std::memcpy(zb, zero_point + i, r * 4);
    store16(qb, one(xb, ib, zb), one(xb + 4, ib + 4, zb + 4), one(xb + 8, ib + 8, zb + 8),
            one(xb + 12, ib + 12, zb + 12));
    std::memcpy(q + i, qb, r);
  }
}

// Widens 8 quantized values to two int32x4 halves.
template <typename T>
inline void widen8(const T* q, int32x4_t* lo, int32x4_t* hi) {
  int16x8_t w;
  if (std::is_signed<T>::value)
    w = vmovl_s8(vld1_s8(reinterpret_cast<const int8_t*>(q)));
  else
    w = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(reinterpret_cast<const uint8_t*>(q))));
  *lo = vmovl_s16(vget_low_s16(w));
  *hi = vmovl_s16(vget_high_s16(w));
}

template <typename T>
void dequantize(const T* q, float* y, size_t n, float scale, int32_t zero_point) {
  const float32x4_t s = vdupq_n_f32(scale);
  const int32x4_t zp = vdupq_n_s32(zero_point);
  blocks<T, float, 16>(q, y, n, [&](const T* qs, float* ys) {
    for (int j = 0; j < 16; j += 8) {
      int32x4_t a, b;
      widen8(qs + j, &a, &b);
      vst1q_f32(ys + j, vmulq_f32(vcvtq_f32_s32(vsubq_s32(a, zp)), s));
      vst1q_f32(ys + j + 4, vmulq_f32(vcvtq_f32_s32(vsubq_s32(b, zp)), s));
    }
  });
}

template <typename T>
void dequantize_vec(const T* q, float* y, size_t n, const float* scale, const int32_t* zero_point) {
  auto eight = [](const T* qs, float* ys, const float* ss, const int32_t* zs) {
    int32x4_t a, b;
    widen8(qs, &a, &b);
    vst1q_f32(ys, vmulq_f32(vcvtq_f32_s32(vsubq_s32(a, vld1q_s32(zs))), vld1q_f32(ss)));
    vst1q_f32(ys + 4, vmulq_f32(vcvtq_f32_s32(vsubq_s32(b, vld1q_s32(zs + 4))), vld1q_f32(ss + 4)));
  };
  size_t i = 0;
  for (; i + 8 <= n; i += 8) eight(q + i, y + i, scale + i, zero_point + i);
  if (i < n) {
    const size_t r = n - i;
    T qb[8] = {};
    float sb[8] = {}, yb[8];
    int32_t zb[8] = {};
    std::memcpy(qb, q + i, r);
    std::memcpy(sb, scale + i, r * 4);
    std::memcpy(zb, zero_point + i, r * 4);
    eight(qb, yb, sb, zb);
    std::memcpy(y + i, yb, r * 4);
  }
}

void f32_to_f16(const float* x, uint16_t* h, size_t n) {
  blocks<float, uint16_t, 8>(x, h, n, [](const float* xs, uint16_t* hs) {
    const float16x8_t v = vcombine_f16(vcvt_f16_f32(vld1q_f32(xs)), vcvt_f16_f32(vld1q_f32(xs + 4)));
    vst1q_u16(hs, vreinterpretq_u16_f16(v));
  });
}

void f16_to_f32(const uint16_t* h, float* x, size_t n) {
  blocks<uint16_t, float, 8>(h, x, n, [](const uint16_t* hs, float* xs) {
    const float16x8_t v = vreinterpretq_f16_u16(vld1q_u16(hs));
    vst1q_f32(xs, vcvt_f32_f16(vget_low_f16(v)));
    vst1q_f32(xs + 4, vcvt_high_f32_f16(v));
  });
}

inline uint16x4_t bf16_4(float32x4_t v) {
  const uint32x4_t x = vreinterpretq_u32_f32(v);
  const uint32x4_t lsb = vandq_u32(vshrq_n_u32(x, 16), vdupq_n_u32(1));
  const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(vaddq_u32(x, vdupq_n_u32(0x7fff)), lsb), 16);
  const uint32x4_t quiet = vorrq_u32(vshrq_n_u32(x, 16), vdupq_n_u32(0x40));
  return vmovn_u32(vbslq_u32(vceqq_f32(v, v), rounded, quiet));
}

void f32_to_bf16(const float* x, uint16_t* h, size_t n) {
  blocks<float, uint16_t, 8>(x, h, n, [](const float* xs, uint16_t* hs) {
    vst1q_u16(hs, vcombine_u16(bf16_4(vld1q_f32(xs)), bf16_4(vld1q_f32(xs + 4))));
  });
}

void bf16_to_f32(const uint16_t* h, float* x, size_t n) {
  blocks<uint16_t, float, 8>(h, x, n, [](const uint16_t* hs, float* xs) {
    const uint16x8_t v = vld1q_u16(hs);
    vst1q_u32(reinterpret_cast<uint32_t*>(xs), vshll_n_u16(vget_low_u16(v), 16));
    vst1q_u32(reinterpret_cast<uint32_t*>(xs + 4), vshll_high_n_u16(v, 16));
  });
}

// NaN lanes are replaced by the accumulator before vminnmq/vmaxnmq, so NaNs drop out; tails are padded with NaN.
// (vminnmq/vmaxnmq alone skip only quiet NaNs: a signalling NaN operand makes FMINNM return NaN, which would
// discard the running min.)
size_t minmax(const float* x, size_t n, float* mn, float* mx) {
  float32x4_t lo[4], hi[4];
  uint32x4_t nanc = vdupq_n_u32(0);
  for (int j = 0; j < 4; ++j) {
    lo[j] = vdupq_n_f32(INFINITY);
    hi[j] = vdupq_n_f32(-INFINITY);
  }
  auto step = [&](int j, float32x4_t v) {
    const uint32x4_t ok = vceqq_f32(v, v);
    lo[j] = vminnmq_f32(lo[j], vbslq_f32(ok, v, lo[j]));
    hi[j] = vmaxnmq_f32(hi[j], vbslq_f32(ok, v, hi[j]));
    nanc = vsubq_u32(nanc, vmvnq_u32(ok));  // + 1 per NaN lane
  };
  size_t i = 0, pad = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 4; ++j) step(j, vld1q_f32(x + i + 4 * j));
  for (; i < n; i += 4) {
    float buf[4];
    const size_t r = n - i < 4 ? n - i : 4;
    for (size_t t = 0; t < 4; ++t) buf[t] = t < r ? x[i + t] : NAN;
    step(0, vld1q_f32(buf));
    pad += 4 - r;
  }
  const float a = vminvq_f32(vminnmq_f32(vminnmq_f32(lo[0], lo[1]), vminnmq_f32(lo[2], lo[3])));
  const float b = vmaxvq_f32(vmaxnmq_f32(vmaxnmq_f32(hi[0], hi[1]), vmaxnmq_f32(hi[2], hi[3])));
  *mn = a == 0.0f ? 0.0f : a;
  *mx = b == 0.0f ? 0.0f : b;
  return static_cast<size_t>(vaddvq_u32(nanc)) - pad;
}

}  // namespace

void fill_neon(Kernels& k) {
  k.quantize_s8 = quantize<int8_t>;
  k.quantize_u8 = quantize<uint8_t>;
  k.quantize_s8_vec = quantize_vec<int8_t>;
  k.quantize_u8_vec = quantize_vec<uint8_t>;
  k.dequantize_s8 = dequantize<int8_t>;
  k.dequantize_u8 = dequantize<uint8_t>;
  k.dequantize_s8_vec = dequantize_vec<int8_t>;
  k.dequantize_u8_vec = dequantize_vec<uint8_t>;
  k.dequantize_s8_channels = dequantize_channel_runs<int8_t, dequantize<int8_t>>;
  k.dequantize_u8_channels = dequantize_channel_runs<uint8_t, dequantize<uint8_t>>;
  k.f32_to_f16 = f32_to_f16;
  k.f16_to_f32 = f16_to_f32;
  k.f32_to_bf16 = f32_to_bf16;
  k.bf16_to_f32 = bf16_to_f32;
  k.sgemm = sgemm_neon();
  k.minmax = minmax;
  fill_reduce_neon(k);  // minmax_channels, histogram (reduce.cc)
  fill_fakequant_neon(k);  // fake_quant*, lsq_grad* (fakequant.cc)
  k.gemm = gemm_neon();
}

}  // namespace qk
