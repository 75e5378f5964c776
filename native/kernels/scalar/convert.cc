// qkernels scalar tier: the reference every SIMD kernel must match bit for bit. Compiled for the baseline
// architecture with auto-vectorization off, so it really is the plain-C++ path.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "qk/convert.h"
#include "qk/fakequant.h"
#include "qk/kernels.h"
#include "qk/reduce.h"

namespace qk {
namespace {

template <typename T>
void quantize(const float* x, T* q, size_t n, float inv_scale, int32_t zp, int32_t qmin, int32_t qmax) {
  for (size_t i = 0; i < n; ++i) q[i] = static_cast<T>(ref::quantize_one(x[i], inv_scale, zp, qmin, qmax));
}

template <typename T>
void quantize_vec(const float* x, T* q, size_t n, const float* inv_scale, const int32_t* zp, int32_t qmin,
                  int32_t qmax) {
  for (size_t i = 0; i < n; ++i) q[i] = static_cast<T>(ref::quantize_one(x[i], inv_scale[i], zp[i], qmin, qmax));
}

template <typename T>
void dequantize(const T* q, float* y, size_t n, float scale, int32_t zp) {
  for (size_t i = 0; i < n; ++i) y[i] = ref::dequantize_one(q[i], scale, zp);
}

template <typename T>
void dequantize_vec(const T* q, float* y, size_t n, const float* scale, const int32_t* zp) {
  for (size_t i = 0; i < n; ++i) y[i] = ref::dequantize_one(q[i], scale[i], zp[i]);
}

void f32_to_f16(const float* x, uint16_t* h, size_t n) {
  for (size_t i = 0; i < n; ++i) h[i] = ref::f32_to_f16(x[i]);
}
void f16_to_f32(const uint16_t* h, float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = ref::f16_to_f32(h[i]);
}
void f32_to_bf16(const float* x, uint16_t* h, size_t n) {
  for (size_t i = 0; i < n; ++i) h[i] = ref::f32_to_bf16(x[i]);
}
void bf16_to_f32(const uint16_t* h, float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = ref::bf16_to_f32(h[i]);
}

size_t minmax(const float* x, size_t n, float* mn, float* mx) {
  float lo = INFINITY, hi = -INFINITY;
  size_t nans = 0;
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (v != v) ++nans;
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  *mn = lo == 0.0f ? 0.0f : lo;
  *mx = hi == 0.0f ? 0.0f : hi;
  return nans;
}

}  // namespace

void fill_scalar(Kernels& k) {
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
  k.minmax = minmax;
  fill_reduce_scalar(k);  // minmax_channels, histogram (reduce.cc)
  fill_fakequant_scalar(k);  // fake_quant*, lsq_grad* (fakequant.cc)
  k.gemm = nullptr;
  k.sgemm = nullptr;
}

}  // namespace qk
