// qkernels: the kernel table. Every op has one slot; each ISA tier fills the slots it implements and inherits the
// rest from the tier below, so the scalar kernels are both the floor and the oracle every SIMD kernel is tested
// against (bit-exact).
//
// Kernels never allocate, never throw and never touch napi: the binding validates, allocates and calls them.
#pragma once
#include <cstddef>
#include <cstdint>

namespace qk {

// Tiers, lowest first. The numeric order is the preference order within an architecture.
enum class Isa : int { Scalar = 0, Avx2, Avx512, Amx, Neon, NeonDot, Count };

const char* isa_name(Isa isa);

// Quantize n floats: q = clamp(nearbyint(x * inv_scale) + zero_point, qmin, qmax), NaN -> zero_point.
// The product is rounded to float32 and then to the nearest integer, ties to even (PyTorch's quantize_per_tensor).
// qmin <= zero_point <= qmax and the range lies inside the output type's range; the caller guarantees both.
using QuantizeS8Fn = void (*)(const float* x, int8_t* q, size_t n, float inv_scale, int32_t zero_point,
                              int32_t qmin, int32_t qmax);
using QuantizeU8Fn = void (*)(const float* x, uint8_t* q, size_t n, float inv_scale, int32_t zero_point,
                              int32_t qmin, int32_t qmax);
// Per-element parameters: element i uses inv_scale[i], zero_point[i] (per-channel quantization along the
// innermost axis).
using QuantizeS8VecFn = void (*)(const float* x, int8_t* q, size_t n, const float* inv_scale,
                                 const int32_t* zero_point, int32_t qmin, int32_t qmax);
using QuantizeU8VecFn = void (*)(const float* x, uint8_t* q, size_t n, const float* inv_scale,
                                 const int32_t* zero_point, int32_t qmin, int32_t qmax);

// Dequantize: y = float(q - zero_point) * scale (exact integer difference, one float32 rounding).
using DequantizeS8Fn = void (*)(const int8_t* q, float* y, size_t n, float scale, int32_t zero_point);
using DequantizeU8Fn = void (*)(const uint8_t* q, float* y, size_t n, float scale, int32_t zero_point);
using DequantizeS8VecFn = void (*)(const int8_t* q, float* y, size_t n, const float* scale,
                                   const int32_t* zero_point);
using DequantizeU8VecFn = void (*)(const uint8_t* q, float* y, size_t n, const float* scale,
                                   const int32_t* zero_point);
// Per channel over a [outer, channels, inner] layout: element (o, c, i) at (o * channels + c) * inner + i is
// dequantized with scale[c] and zero_point[c], the whole tensor in one call, so that a large output is written with
// streaming stores even when each channel's run is short of the size from which a single call would stream.
using DequantizeS8ChannelsFn = void (*)(const int8_t* q, float* y, size_t outer, size_t channels, size_t inner,
                                        const float* scale, const int32_t* zero_point);
using DequantizeU8ChannelsFn = void (*)(const uint8_t* q, float* y, size_t outer, size_t channels, size_t inner,
                                        const float* scale, const int32_t* zero_point);

// IEEE binary16 and bfloat16 conversions, round to nearest even, NaN stays NaN with its sign (quieted, payload
// truncated exactly as F16C does).
using F32ToU16Fn = void (*)(const float* x, uint16_t* h, size_t n);
using U16ToF32Fn = void (*)(const uint16_t* h, float* x, size_t n);

// Min and max of n floats, ignoring NaN (returns how many NaNs there were). With no non-NaN value, min = +Inf
// and max = -Inf. A zero result is +0 (so the result does not depend on the order -0 and +0 were seen).
using MinMaxFn = size_t (*)(const float* x, size_t n, float* min, float* max);
// Per-channel min and max of a contiguous [outer, channels, inner] tensor: min[c] / max[c] over every
// x[(o * channels + c) * inner + i], with minmax's rules (NaN ignored and counted, +Inf / -Inf for a channel
// with no non-NaN value, a zero result is +0). Writes channels entries of each; returns the NaN count.
using MinMaxChannelsFn = size_t (*)(const float* x, size_t outer, size_t channels, size_t inner, float* min,
                                    float* max);
// Histogram accumulation: counts[qk::ref::hist_bin(v, lo, scale, bins)] += 1 for every non-NaN v = x[i] (|x[i]|
// when abs) (qk/reduce.h defines the bin in float32); returns the NaN count. Adds to counts (bins entries);
// the caller keeps every count below 2^32.
using HistogramFn = size_t (*)(const float* x, size_t n, float lo, float scale, uint32_t bins, bool abs,
                               uint32_t* counts);
// Per-channel histogram accumulation over a contiguous [outer, channels, inner] tensor: channel c has its own
// grid (lo[c], scale[c], bins[c], 1 <= bins[c] <= stride) and its counts at counts[c * stride ...]; every non-NaN
// v = x[(o * channels + c) * inner + i] (|v| when abs) adds 1 to counts[c * stride + qk::ref::hist_bin(v, lo[c],
// scale[c], bins[c])]. Returns the NaN count. Adds to counts (channels * stride entries, fewer than 2^32); the
// caller keeps every count below 2^32.
using HistogramChannelsFn = size_t (*)(const float* x, size_t outer, size_t channels, size_t inner, const float* lo,
                                       const float* scale, const uint32_t* bins, size_t stride, bool abs,
                                       uint32_t* counts);

// Fake quantization for QAT (qk/fakequant.h defines the per-element semantics): y, mask (1/0) for n elements
// with one scale (inv_scale = 1.0f / scale) and zero point, or per-element ones (_vec); the straight-through
// backward out = g * mask; the learnable (LSQ) gradients dx, and the sums of the scale and zero-point gradient
// terms in qk::ref's fixed order (sums[0], sums[1]) or, _vec, the terms themselves. Outputs may be the same
// arrays as inputs (y == x, dx == dy), never partly overlapping ones.
using FakeQuantFn = void (*)(const float* x, float* y, uint8_t* mask, size_t n, float scale, float inv_scale,
                             int32_t zero_point, int32_t qmin, int32_t qmax);
using FakeQuantVecFn = void (*)(const float* x, float* y, uint8_t* mask, size_t n, const float* scale,
                                const float* inv_scale, const int32_t* zero_point, int32_t qmin, int32_t qmax);
using FakeQuantBackwardFn = void (*)(const float* g, const uint8_t* mask, float* out, size_t n);
using LsqGradFn = void (*)(const float* x, const float* dy, float* dx, size_t n, float scale, float inv_scale,
                           int32_t zero_point, int32_t qmin, int32_t qmax, float grad_factor, double* sums);
using LsqGradVecFn = void (*)(const float* x, const float* dy, float* dx, float* dscale, float* dzp, size_t n,
                              const float* scale, const float* inv_scale, const int32_t* zero_point, int32_t qmin,
                              int32_t qmax, float grad_factor);

struct GemmUkernel;  // qk/gemm.h
struct SgemmUkernel;  // qk/sgemm.h

struct Kernels {
  Isa isa;
  QuantizeS8Fn quantize_s8;
  QuantizeU8Fn quantize_u8;
  QuantizeS8VecFn quantize_s8_vec;
  QuantizeU8VecFn quantize_u8_vec;
  DequantizeS8Fn dequantize_s8;
  DequantizeU8Fn dequantize_u8;
  DequantizeS8VecFn dequantize_s8_vec;
  DequantizeU8VecFn dequantize_u8_vec;
  DequantizeS8ChannelsFn dequantize_s8_channels;
  DequantizeU8ChannelsFn dequantize_u8_channels;
  F32ToU16Fn f32_to_f16;
  U16ToF32Fn f16_to_f32;
  F32ToU16Fn f32_to_bf16;
  U16ToF32Fn bf16_to_f32;
  MinMaxFn minmax;
  MinMaxChannelsFn minmax_channels;  // qk/reduce.h
  HistogramFn histogram;             // qk/reduce.h
  HistogramChannelsFn histogram_channels;  // qk/reduce.h
  FakeQuantFn fake_quant;                    // qk/fakequant.h
  FakeQuantVecFn fake_quant_vec;             // qk/fakequant.h
  FakeQuantBackwardFn fake_quant_backward;   // qk/fakequant.h
  LsqGradFn lsq_grad;                        // qk/fakequant.h
  LsqGradVecFn lsq_grad_vec;                 // qk/fakequant.h
  // INT8 GEMM micro-kernels; nullptr in the scalar tier, which runs the reference loops.
  const GemmUkernel* gemm;
  // Float32 GEMM micro-kernel; nullptr in the scalar tier, which runs the reference loops.
  const SgemmUkernel* sgemm;
};

// Tier fill functions: each overrides the slots its tier implements. Defined in native/kernels/<tier>/.
void fill_scalar(Kernels& k);
#if defined(__x86_64__) || defined(_M_X64)
void fill_avx2(Kernels& k);
void fill_avx512(Kernels& k);
void fill_amx(Kernels& k);  // the INT8 GEMM only; everything else is avx512's
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
void fill_neon(Kernels& k);
void fill_neondot(Kernels& k);
#endif

}  // namespace qk
