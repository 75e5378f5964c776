// qkernels: fake quantization for quantization-aware training, the exact per-element semantics every tier
// reproduces bit for bit, the fixed summation order of the learnable (LSQ) gradient reductions, and the tier fill
// functions that install the kernels (called from each tier's fill_<tier>()). The kernel types and slots are in
// qk/kernels.h.
//
// The arithmetic is PyTorch 1.13's CPU kernels (aten/src/ATen/native/quantized/cpu/kernels/QuantizedOpKernels.cpp),
// operation for operation in float32:
//
//   forward   fake_quantize_tensor_cachemask_kernel / fake_quant_per_channel_cachemask_cpu:
//               q = zp + nearbyint(x * inv_scale), y = (clamp(q, qmin, qmax) - zp) * scale, mask = qmin <= q <= qmax
//             (PyTorch converts q to int64 and computes y in double; for |qmin|, |qmax| <= 2^24 and
//             qmax - qmin <= 2^24 the float32 form below gives the same bits for every finite x that PyTorch's
//             int64 conversion can hold.)
//   learnable _fake_quantize_grad_learnable_tensor_kernel / _channel_kernel, as GCC compiles them for PyTorch's
//             AVX2 (and AVX-512, and aarch64) CPU capability: with -ffp-contract=fast it fuses zp + x * inv_scale
//             and (clamp - zp) * scale - x into FMAs. (PyTorch's DEFAULT capability, on CPUs without AVX2, rounds
//             the products separately and can differ in the last bit of a gradient term.)
//
// Non-finite inputs, where PyTorch's float -> int64 conversion is undefined (on x86 every NaN, +/-Inf and
// |x * inv_scale| >= 2^63 becomes INT64_MIN, i.e. "below quantMin"), are defined here instead: NaN gives a NaN
// output (x quieted) with mask 0; +Inf counts as above quantMax and -Inf as below quantMin.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qk/kernels.h"

namespace qk {
namespace ref {

// Forward for one element. zp, qmin, qmax are integers held exactly in float32; returns y and sets *mask to 1/0.
inline float fake_quant_one(float x, float scale, float inv_scale, float zp, float qmin, float qmax,
                            uint8_t* mask) {
  const float v = x * inv_scale;
  if (v != v) {  // NaN (x is NaN): NaN out, x's payload quieted
    *mask = 0;
    return v;
  }
  const float q = std::nearbyint(v) + zp;
  const bool in = q >= qmin && q <= qmax;
  *mask = in ? 1 : 0;
  const float c = in ? q : (q < qmin ? qmin : qmax);
  return (c - zp) * scale;
}

// Straight-through backward: g where mask != 0, g * 0.0f where mask == 0. This is PyTorch's dY * mask (NaN and
// infinite gradients where the mask is 0 give NaN, a negative one gives -0) except that a signalling NaN passes
// unchanged where the mask is set (a multiplication by 1 would quiet it).
inline float fake_quant_backward_one(float g, uint8_t mask) { return mask != 0 ? g : g * 0.0f; }

// The three gradients of the learnable fake quantization for one element (before summation):
//   q = nearbyint(fma(x, inv_scale, zp))                           (one rounding, then ties to even)
//   dx     = qmin <= q <= qmax ? dy : dy * 0      (fake_quant_backward_one with that mask)
//   below  (q < qmin):  dscale = (dy * (qmin - zp)) * grad_factor,  dzp = ((dy * -1) * scale) * grad_factor
//   above  (q > qmax):  dscale = (dy * (qmax - zp)) * grad_factor,  dzp = the same as below
//   inside (else):      dscale = ((dy * fma(q - zp, scale, -x)) * inv_scale) * grad_factor,  dzp = +0
// NaN x (q NaN) takes the inside branch with q replaced by qmax, so dscale is NaN and dzp is +0. A NaN term's
// payload is not specified (it may depend on operand order); every other value is exact.
struct LsqGrad {
  float dx, dscale, dzp;
};
inline LsqGrad lsq_grad_one(float x, float dy, float scale, float inv_scale, float zp, float qmin, float qmax,
                            float grad_factor) {
  const float q = std::nearbyint(std::fma(x, inv_scale, zp));
  const bool below = q < qmin, above = q > qmax, in = q >= qmin && q <= qmax;
  LsqGrad g;
  g.dx = in ? dy : dy * 0.0f;
  if (below || above) {
    g.dscale = (dy * (below ? qmin - zp : qmax - zp)) * grad_factor;
    g.dzp = ((dy * -1.0f) * scale) * grad_factor;
  } else {
    const float c = in ? q : qmax;
    g.dscale = ((dy * std::fma(c - zp, scale, -x)) * inv_scale) * grad_factor;
    g.dzp = 0.0f;
  }
  return g;
}

// Summation order of the learnable reductions (the same in every tier): term i is widened to double and added
// to lane i % kLsqLanes (lanes start at +0, terms in increasing i), then the lanes are added in order 0..15.
constexpr size_t kLsqLanes = 16;
inline double sum_lanes(const double* lanes) {
  double s = lanes[0];
  for (size_t j = 1; j < kLsqLanes; ++j) s += lanes[j];
  return s;
}

}  // namespace ref

// Each installs its tier's fake-quant kernels (native/kernels/<tier>/fakequant.cc).
void fill_fakequant_scalar(Kernels& k);
#if defined(__x86_64__) || defined(_M_X64)
void fill_fakequant_avx2(Kernels& k);
void fill_fakequant_avx512(Kernels& k);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
void fill_fakequant_neon(Kernels& k);
#endif

}  // namespace qk
