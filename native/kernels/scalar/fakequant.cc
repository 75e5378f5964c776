// qkernels scalar tier: fake quantization (forward with mask, straight-through backward, learnable LSQ
// gradients), the plain loops over qk::ref's per-element functions that every SIMD tier must match bit for bit.
#include <cstring>

#include "qk/fakequant.h"
#include "qk/kernels.h"

namespace qk {
namespace {

void fake_quant(const float* x, float* y, uint8_t* mask, size_t n, float scale, float inv_scale, int32_t zero_point,
                int32_t qmin, int32_t qmax) {
  const float zp = static_cast<float>(zero_point), lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  for (size_t i = 0; i < n; ++i) y[i] = ref::fake_quant_one(x[i], scale, inv_scale, zp, lo, hi, &mask[i]);
}

void fake_quant_vec(const float* x, float* y, uint8_t* mask, size_t n, const float* scale, const float* inv_scale,
                    const int32_t* zero_point, int32_t qmin, int32_t qmax) {
  const float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  for (size_t i = 0; i < n; ++i)
    y[i] = ref::fake_quant_one(x[i], scale[i], inv_scale[i], static_cast<float>(zero_point[i]), lo, hi, &mask[i]);
}

void fake_quant_backward(const float* g, const uint8_t* mask, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = ref::fake_quant_backward_one(g[i], mask[i]);
}

void lsq_grad(const float* x, const float* dy, float* dx, size_t n, float scale, float inv_scale, int32_t zero_point,
              int32_t qmin, int32_t qmax, float grad_factor, double* sums) {
  const float zp = static_cast<float>(zero_point), lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  double ls[ref::kLsqLanes] = {}, lz[ref::kLsqLanes] = {};
  for (size_t i = 0; i < n; ++i) {
    const ref::LsqGrad g = ref::lsq_grad_one(x[i], dy[i], scale, inv_scale, zp, lo, hi, grad_factor);
    dx[i] = g.dx;
    ls[i % ref::kLsqLanes] += static_cast<double>(g.dscale);
    lz[i % ref::kLsqLanes] += static_cast<double>(g.dzp);
  }
  sums[0] = ref::sum_lanes(ls);
  sums[1] = ref::sum_lanes(lz);
}

void lsq_grad_vec(const float* x, const float* dy, float* dx, float* dscale, float* dzp, size_t n, const float* scale,
                  const float* inv_scale, const int32_t* zero_point, int32_t qmin, int32_t qmax, float grad_factor) {
  const float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  for (size_t i = 0; i < n; ++i) {
    const ref::LsqGrad g = ref::lsq_grad_one(x[i], dy[i], scale[i], inv_scale[i], static_cast<float>(zero_point[i]),
                                             lo, hi, grad_factor);
    dx[i] = g.dx;
    dscale[i] = g.dscale;
    dzp[i] = g.dzp;
  }
}

}  // namespace

void fill_fakequant_scalar(Kernels& k) {
  k.fake_quant = fake_quant;
  k.fake_quant_vec = fake_quant_vec;
  k.fake_quant_backward = fake_quant_backward;
  k.lsq_grad = lsq_grad;
  k.lsq_grad_vec = lsq_grad_vec;
}

}  // namespace qk
