// qkernels binding: fake quantization for quantization-aware training (lib/fakequant.ts).
//
// fakeQuant(x: Float32Array, y: Float32Array, mask: Uint8Array, scale, zeroPoint, qmin, qmax)
// fakeQuantPerChannel(x, y, mask, scale: Float32Array, zeroPoint: Int32Array, outer, channels, inner, qmin, qmax)
// fakeQuantBackward(g: Float32Array, mask: Uint8Array, out: Float32Array)                      out = g * mask
// lsqBackward(x, dy, dx, scale, zeroPoint, qmin, qmax, gradFactor, sums: Float64Array)
//   dx written; sums[0], sums[1] = the gradScale and gradZeroPoint sums (double, qk::ref's lane order)
// lsqBackwardPerChannel(x, dy, dx, scale: Float32Array, zeroPoint: Int32Array, outer, channels, inner, qmin, qmax,
//                       gradFactor, gradScale: Float64Array, gradZeroPoint: Float64Array)
//   per-channel sums (double): runs of inner >= 32 elements are reduced by the kernel in qk::ref's lane order and
//   added in outer order; shorter runs add their terms one by one in element order.
// All write their outputs and return undefined. y may be x and dx may be dy or x (the same array).
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <memory>

#include "binding/args.h"
#include "binding/bindings.h"
#include "binding/worker.h"
#include "qk/dispatch.h"
#include "qk/scratch.h"

namespace qkb {
namespace {

// Below this many elements per channel run, per-channel parameters are expanded per element so one call covers a
// whole row instead of many tiny calls.
constexpr size_t kExpandBelow = 32;
// quantMin / quantMax bound: every value and every difference stays exact in float32.
constexpr int64_t kQLimit = static_cast<int64_t>(1) << 24;

bool qrange(const Napi::CallbackInfo& info, size_t i, int32_t* qmin, int32_t* qmax) {
  int64_t a, b;
  if (!integer(info, i, "quantMin", -kQLimit, kQLimit, &a) || !integer(info, i + 1, "quantMax", -kQLimit, kQLimit, &b))
    return false;
  if (a >= b) return throw_range(info.Env(), "quantMin must be less than quantMax");
  if (b - a > kQLimit) return throw_range(info.Env(), "quantMax - quantMin must be at most 2^24");
  *qmin = static_cast<int32_t>(a);
  *qmax = static_cast<int32_t>(b);
  return true;
}


bool zero_point_in(const Napi::CallbackInfo& info, int64_t zp, int32_t qmin, int32_t qmax, const std::string& name) {
  if (zp < qmin || zp > qmax) return throw_range(info.Env(), name + " must lie in [quantMin, quantMax]");
  return true;
}


// Per-channel scales and zero points, checked; inv[c] = 1.0f / scale[c]. Out of memory throws (op's name).
bool channel_params(const Napi::CallbackInfo& info, size_t i, size_t channels, int32_t qmin, int32_t qmax,
                    const float** scale, const int32_t** zp, std::unique_ptr<float[]>* inv, const char* op) {
  View sv, zv;
  if (!typed(info, i, "scale", napi_float32_array, &sv) || !typed(info, i + 1, "zeroPoint", napi_int32_array, &zv) ||
      !same_length(info, "scale", sv.length, channels) || !same_length(info, "zeroPoint", zv.length, channels))
    return false;
  *scale = static_cast<const float*>(sv.data);
  *zp = static_cast<const int32_t*>(zv.data);
  *inv = qk::make_array<float>(channels);
  if (!*inv) {
    throw_out_of_memory(info.Env(), op);
    return false;
  }
  for (size_t c = 0; c < channels; ++c) {
    const std::string idx = "[" + std::to_string(c) + "]";
    if (!positive_scale(info, (*scale)[c], "scale" + idx) || !zero_point_in(info, (*zp)[c], qmin, qmax, "zeroPoint" + idx))
      return false;
    (*inv)[c] = 1.0f / (*scale)[c];
  }
  return true;
}

// Per-element copies of one row's per-channel parameters (channels * inner entries); ok() is false when out of
// memory.
struct Expanded {
  std::unique_ptr<float[]> scale, inv;
  std::unique_ptr<int32_t[]> zp;
  Expanded(size_t channels, size_t inner, const float* s, const float* iv, const int32_t* z)
      : scale(qk::make_array<float>(channels * inner)), inv(qk::make_array<float>(channels * inner)),
        zp(qk::make_array<int32_t>(channels * inner)) {
    if (!ok()) return;
    for (size_t c = 0; c < channels; ++c)
      for (size_t j = 0; j < inner; ++j) {
        scale[c * inner + j] = s[c];
        inv[c * inner + j] = iv[c];
        zp[c * inner + j] = z[c];
      }
  }
  bool ok() const { return scale && inv && zp; }
};

bool grad_factor(const Napi::CallbackInfo& info, size_t i, float* gf) {
  double d;
  if (!number(info, i, "gradFactor", &d)) return false;
  const float f = static_cast<float>(d);
  if (!std::isfinite(f)) return throw_range(info.Env(), "gradFactor must be a finite float32");
  *gf = f;
  return true;
}

Napi::Value FakeQuant(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View x, y, mask;
  double scale_d;
  int64_t zp;
  int32_t qmin, qmax;
  if (!typed(info, 0, "x", napi_float32_array, &x) || !typed(info, 1, "y", napi_float32_array, &y) ||
      !typed(info, 2, "mask", napi_uint8_array, &mask) || !same_length(info, "y", y.length, x.length) ||
      !same_length(info, "mask", mask.length, x.length) || !number(info, 3, "scale", &scale_d) ||
      !integer(info, 4, "zeroPoint", -kQLimit, kQLimit, &zp) || !qrange(info, 5, &qmin, &qmax))
    return env.Undefined();
  const float scale = static_cast<float>(scale_d);
  if (!positive_scale(info, scale, "scale") || !zero_point_in(info, zp, qmin, qmax, "zeroPoint")) return env.Undefined();
  qk::active().fake_quant(static_cast<const float*>(x.data), static_cast<float*>(y.data),
                          static_cast<uint8_t*>(mask.data), x.length, scale, 1.0f / scale, static_cast<int32_t>(zp),
                          qmin, qmax);
  return env.Undefined();
}

Napi::Value FakeQuantPerChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View x, y, mask;
  size_t outer = 0, channels = 0, inner = 0;  // set by layout() (zeroed: GCC cannot see that it returned true)
  int32_t qmin, qmax;
  const float* scale;
  const int32_t* zp;
  std::unique_ptr<float[]> inv;
  if (!typed(info, 0, "x", napi_float32_array, &x) || !typed(info, 1, "y", napi_float32_array, &y) ||
      !typed(info, 2, "mask", napi_uint8_array, &mask) || !same_length(info, "y", y.length, x.length) ||
      !same_length(info, "mask", mask.length, x.length) || !layout(info, 5, x.length, &outer, &channels, &inner) ||
      !qrange(info, 8, &qmin, &qmax) ||
      !channel_params(info, 3, channels, qmin, qmax, &scale, &zp, &inv, "fakeQuantPerChannel"))
    return env.Undefined();
  const qk::Kernels& k = qk::active();
  const float* xp = static_cast<const float*>(x.data);
  float* yp = static_cast<float*>(y.data);
  uint8_t* mp = static_cast<uint8_t*>(mask.data);
  if (inner >= kExpandBelow) {
    for (size_t o = 0, off = 0; o < outer; ++o)
      for (size_t c = 0; c < channels; ++c, off += inner)
        k.fake_quant(xp + off, yp + off, mp + off, inner, scale[c], inv[c], zp[c], qmin, qmax);
    return env.Undefined();
  }
  const size_t row = channels * inner;
  if (row == 0) return env.Undefined();
  const Expanded e(channels, inner, scale, inv.get(), zp);
  if (!e.ok()) {
    throw_out_of_memory(env, "fakeQuantPerChannel");
    return env.Undefined();
  }
  for (size_t o = 0; o < outer; ++o)
    k.fake_quant_vec(xp + o * row, yp + o * row, mp + o * row, row, e.scale.get(), e.inv.get(), e.zp.get(), qmin,
                     qmax);
  return env.Undefined();
}

Napi::Value FakeQuantBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View g, mask, out;
  if (!typed(info, 0, "gradOut", napi_float32_array, &g) || !typed(info, 1, "mask", napi_uint8_array, &mask) ||
      !typed(info, 2, "out", napi_float32_array, &out) || !same_length(info, "mask", mask.length, g.length) ||
      !same_length(info, "out", out.length, g.length))
    return env.Undefined();
  qk::active().fake_quant_backward(static_cast<const float*>(g.data), static_cast<const uint8_t*>(mask.data),
                                   static_cast<float*>(out.data), g.length);
  return env.Undefined();
}

bool lsq_arrays(const Napi::CallbackInfo& info, View* x, View* dy, View* dx) {
  return typed(info, 0, "x", napi_float32_array, x) && typed(info, 1, "gradOut", napi_float32_array, dy) &&
         typed(info, 2, "gradX", napi_float32_array, dx) && same_length(info, "gradOut", dy->length, x->length) &&
         same_length(info, "gradX", dx->length, x->length);
}

Napi::Value LsqBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View x, dy, dx, sums;
  double scale_d;
  int64_t zp;
  int32_t qmin, qmax;
  float gf;
  if (!lsq_arrays(info, &x, &dy, &dx) || !number(info, 3, "scale", &scale_d) ||
      !integer(info, 4, "zeroPoint", -kQLimit, kQLimit, &zp) || !qrange(info, 5, &qmin, &qmax) ||
      !grad_factor(info, 7, &gf) || !typed(info, 8, "sums", napi_float64_array, &sums) ||
      !same_length(info, "sums", sums.length, 2))
    return env.Undefined();
  const float scale = static_cast<float>(scale_d);
  if (!positive_scale(info, scale, "scale") || !zero_point_in(info, zp, qmin, qmax, "zeroPoint")) return env.Undefined();
  qk::active().lsq_grad(static_cast<const float*>(x.data), static_cast<const float*>(dy.data),
                        static_cast<float*>(dx.data), x.length, scale, 1.0f / scale, static_cast<int32_t>(zp), qmin,
                        qmax, gf, static_cast<double*>(sums.data));
  return env.Undefined();
}

Napi::Value LsqBackwardPerChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View x, dy, dx, gs, gz;
  size_t outer = 0, channels = 0, inner = 0;  // set by layout() (zeroed: GCC cannot see that it returned true)
  int32_t qmin, qmax;
  float gf;
  const float* scale;
  const int32_t* zp;
  std::unique_ptr<float[]> inv;
  if (!lsq_arrays(info, &x, &dy, &dx) || !layout(info, 5, x.length, &outer, &channels, &inner) ||
      !qrange(info, 8, &qmin, &qmax) ||
      !channel_params(info, 3, channels, qmin, qmax, &scale, &zp, &inv, "lsqBackwardPerChannel") ||
      !grad_factor(info, 10, &gf) || !typed(info, 11, "gradScale", napi_float64_array, &gs) ||
      !typed(info, 12, "gradZeroPoint", napi_float64_array, &gz) ||
      !same_length(info, "gradScale", gs.length, channels) || !same_length(info, "gradZeroPoint", gz.length, channels))
    return env.Undefined();
  const qk::Kernels& k = qk::active();
  const float* xp = static_cast<const float*>(x.data);
  const float* gp = static_cast<const float*>(dy.data);
  float* dxp = static_cast<float*>(dx.data);
  double* as = static_cast<double*>(gs.data);
  double* az = static_cast<double*>(gz.data);
  for (size_t c = 0; c < channels; ++c) as[c] = az[c] = 0.0;
  if (inner >= kExpandBelow) {
    double sums[2];
    for (size_t o = 0, off = 0; o < outer; ++o)
      for (size_t c = 0; c < channels; ++c, off += inner) {
        k.lsq_grad(xp + off, gp + off, dxp + off, inner, scale[c], inv[c], zp[c], qmin, qmax, gf, sums);
        as[c] += sums[0];
        az[c] += sums[1];
      }
    return env.Undefined();
  }
  const size_t row = channels * inner;
  if (row == 0) return env.Undefined();
  const Expanded e(channels, inner, scale, inv.get(), zp);
  const std::unique_ptr<float[]> ts = qk::make_array<float>(row), tz = qk::make_array<float>(row);
  if (!e.ok() || !ts || !tz) {
    throw_out_of_memory(env, "lsqBackwardPerChannel");
    return env.Undefined();
  }
  for (size_t o = 0; o < outer; ++o) {
    const size_t off = o * row;
    k.lsq_grad_vec(xp + off, gp + off, dxp + off, ts.get(), tz.get(), row, e.scale.get(), e.inv.get(), e.zp.get(),
                   qmin, qmax, gf);
    for (size_t c = 0; c < channels; ++c)
      for (size_t j = 0; j < inner; ++j) {
        as[c] += static_cast<double>(ts[c * inner + j]);
        az[c] += static_cast<double>(tz[c * inner + j]);
      }
  }
  return env.Undefined();
}

}  // namespace

void init_fakequant(Napi::Env env, Napi::Object exports) {
  exports.Set("fakeQuant", Napi::Function::New(env, FakeQuant, "fakeQuant"));
  exports.Set("fakeQuantPerChannel", Napi::Function::New(env, FakeQuantPerChannel, "fakeQuantPerChannel"));
  exports.Set("fakeQuantBackward", Napi::Function::New(env, FakeQuantBackward, "fakeQuantBackward"));
  exports.Set("lsqBackward", Napi::Function::New(env, LsqBackward, "lsqBackward"));
  exports.Set("lsqBackwardPerChannel", Napi::Function::New(env, LsqBackwardPerChannel, "lsqBackwardPerChannel"));
}

}  // namespace qkb
