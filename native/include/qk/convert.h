// qkernels: one-element reference conversions. The scalar tier is built from these, and SIMD kernels use them
// for nothing but documentation of the exact semantics they reproduce (tails use masked or buffered vectors).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace qk {
namespace ref {

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// nearbyint in the default rounding mode (ties to even) without a libm call: below 2^22 adding and subtracting
// 1.5 * 2^23 rounds to an integer exactly (the sum lies in [2^23, 2^24), where the float32 spacing is 1).
inline float round_even(float v) {
  constexpr float kMagic = 0x1.8p23f;
  return std::fabs(v) < 0x1p22f ? (v + kMagic) - kMagic : std::nearbyint(v);
}

// q = clamp(nearbyint(x * inv_scale) + zp, qmin, qmax); NaN -> zp. The addition and the clamp are done in
// float32, which is exact: a rounded product beyond 2^24 is far outside any 8-bit range and clamps the same way.
inline int32_t quantize_one(float x, float inv_scale, int32_t zp, int32_t qmin, int32_t qmax) {
  const float v = x * inv_scale;
  if (std::isnan(v)) return zp;
  float r = round_even(v) + static_cast<float>(zp);
  const float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);  // r is not NaN here
  r = r < lo ? lo : (r > hi ? hi : r);
  return static_cast<int32_t>(r);
}

inline float dequantize_one(int32_t q, float scale, int32_t zp) { return static_cast<float>(q - zp) * scale; }

// float32 -> binary16, round to nearest even; NaN keeps its sign and top payload bits and is quieted (as F16C).
inline uint16_t f32_to_f16(float f) {
  const uint32_t x = f32_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to infinity
  const uint32_t e = ax >> 23;
  if (e < 113) {  // below 2^-14: a binary16 subnormal (or zero); unit 2^-24
    const uint32_t shift = 126 - e;
    if (shift >= 25) return static_cast<uint16_t>(sign);
    const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return static_cast<uint16_t>(sign | r);
  }
  const uint32_t base = ((e - 112) << 10) | ((ax >> 13) & 0x3ffu);
  // Round to nearest even without a branch (the dropped 13 bits are random for real data, and a branch on them
  // mispredicted half the time): rem + 0xfff + (base & 1) reaches 0x2000 exactly when rem > 0x1000, or
  // rem == 0x1000 and base is odd. A carry into the exponent is correct.
  const uint32_t rem = ax & 0x1fffu;
  return static_cast<uint16_t>(sign | (base + ((rem + 0xfffu + (base & 1u)) >> 13)));
}

// binary16 -> float32, exact; a NaN is quieted (as F16C's vcvtph2ps does).
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {
    const float v = static_cast<float>(m) * 0x1p-24f;
    return bits_f32(sign | f32_bits(v));
  }
  if (e == 31) return bits_f32(sign | 0x7f800000u | (m ? 0x400000u | (m << 13) : 0u));
  return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

// float32 -> bfloat16 (the top 16 bits), round to nearest even; NaN keeps sign and top payload, quieted.
inline uint16_t f32_to_bf16(float f) {
  const uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

inline float bf16_to_f32(uint16_t h) { return bits_f32(static_cast<uint32_t>(h) << 16); }

}  // namespace ref

namespace {  // internal linkage: each tier's translation unit instantiates its own (see docs/internals.md)

// Kernels::dequantize_*_channels for a tier whose per-tensor dequantize never streams (scalar, neon): one call of
// the tier's own `Run` per channel run.
template <typename T, void (*Run)(const T*, float*, size_t, float, int32_t)>
void dequantize_channel_runs(const T* q, float* y, size_t outer, size_t channels, size_t inner, const float* scale,
                             const int32_t* zero_point) {
  for (size_t o = 0, off = 0; o < outer; ++o)
    for (size_t c = 0; c < channels; ++c, off += inner) Run(q + off, y + off, inner, scale[c], zero_point[c]);
}

}  // namespace
}  // namespace qk
