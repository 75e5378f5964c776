// qkernels binding: quantize / dequantize (per tensor and per channel) and FP16/BF16 conversion.
//
// quantize(x: Float32Array, out: Int8Array|Uint8Array, scale, zeroPoint, qmin, qmax)
// quantizePerChannel(x, out, scale: Float32Array, zeroPoint: Int32Array, outer, channels, inner, qmin, qmax)
// dequantize(q: Int8Array|Uint8Array, out: Float32Array, scale, zeroPoint)
// dequantizePerChannel(q, out, scale: Float32Array, zeroPoint: Int32Array, outer, channels, inner)
// f32ToF16 / f32ToBf16 (x: Float32Array, out: Uint16Array); f16ToF32 / bf16ToF32 (h: Uint16Array, out: Float32Array)
// All write `out` and return undefined.
#include <napi.h>

#include <cmath>
#include <limits>
#include <string>
#include <memory>

#include "binding/args.h"
#include "binding/bindings.h"
#include "binding/worker.h"
#include "qk/dispatch.h"
#include "qk/scratch.h"

namespace qkb {
namespace {

// Below this many elements per channel run, per-channel parameters are expanded per element so one call covers
// a whole row instead of many tiny calls.
constexpr size_t kExpandBelow = 32;

bool quant_out(const Napi::CallbackInfo& info, size_t i, View* out, bool* is_signed) {
  if (!typed(info, i, "out", out)) return false;
  if (out->type != napi_int8_array && out->type != napi_uint8_array)
    return throw_type(info.Env(), std::string("out must be an Int8Array or Uint8Array, got ") + type_name(out->type));
  *is_signed = out->type == napi_int8_array;
  return true;
}

bool qrange(const Napi::CallbackInfo& info, size_t i, bool is_signed, int32_t* qmin, int32_t* qmax) {
  const int64_t lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
  int64_t a, b;
  if (!integer(info, i, "quantMin", lo, hi, &a) || !integer(info, i + 1, "quantMax", lo, hi, &b)) return false;
  if (a >= b) return throw_range(info.Env(), "quantMin must be less than quantMax");
  *qmin = static_cast<int32_t>(a);
  *qmax = static_cast<int32_t>(b);
  return true;
}



bool channel_params(const Napi::CallbackInfo& info, size_t i, size_t channels, View* scale, View* zp) {
  return typed(info, i, "scale", napi_float32_array, scale) && typed(info, i + 1, "zeroPoint", napi_int32_array, zp) &&
         same_length(info, "scale", scale->length, channels) && same_length(info, "zeroPoint", zp->length, channels);
}

Napi::Value Quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View x, out;
  bool s8 = false;
  double scale_d;
  int64_t zp;
  int32_t qmin, qmax;
  if (!typed(info, 0, "x", napi_float32_array, &x) || !quant_out(info, 1, &out, &s8) ||
      !same_length(info, "out", out.length, x.length) || !number(info, 2, "scale", &scale_d) ||
      !integer(info, 3, "zeroPoint", -(1 << 30), 1 << 30, &zp) || !qrange(info, 4, s8, &qmin, &qmax))
    return env.Undefined();
  const float scale = static_cast<float>(scale_d);
  if (!positive_scale(info, scale)) return env.Undefined();
  if (zp < qmin || zp > qmax) {
    throw_range(env, "zeroPoint must lie in [quantMin, quantMax]");
    return env.Undefined();
  }
  const float inv = 1.0f / scale;
  const qk::Kernels& k = qk::active();
  const float* xp = static_cast<const float*>(x.data);
  if (s8)
    k.quantize_s8(xp, static_cast<int8_t*>(out.data), x.length, inv, static_cast<int32_t>(zp), qmin, qmax);
  else
    k.quantize_u8(xp, static_cast<uint8_t*>(out.data), x.length, inv, static_cast<int32_t>(zp), qmin, qmax);
  return env.Undefined();
}

Napi::Value QuantizePerChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View x, out, sv, zv;
  bool s8 = false;
  size_t outer = 0, channels = 0, inner = 0;  // set by layout() (zeroed: GCC cannot see that it returned true)
  int32_t qmin, qmax;
  if (!typed(info, 0, "x", napi_float32_array, &x) || !quant_out(info, 1, &out, &s8) ||
      !same_length(info, "out", out.length, x.length) || !layout(info, 4, x.length, &outer, &channels, &inner) ||
      !channel_params(info, 2, channels, &sv, &zv) || !qrange(info, 7, s8, &qmin, &qmax))
    return env.Undefined();
  const float* scale = static_cast<const float*>(sv.data);
  // The zero points are checked and used as a copy (copy_of: the kernels rely on qmin <= zp <= qmax).
  const std::unique_ptr<float[]> inv = qk::make_array<float>(channels);
  const std::unique_ptr<int32_t[]> zpc = copy_of<int32_t>(zv, channels);
  if (!inv || !zpc) {
    throw_out_of_memory(env, "quantizePerChannel");
    return env.Undefined();
  }
  const int32_t* zp = zpc.get();
  for (size_t c = 0; c < channels; ++c) {
    const float sc = scale[c];
    if (!positive_scale(info, sc)) return env.Undefined();
    if (zp[c] < qmin || zp[c] > qmax) {
      throw_range(env, "zeroPoint[" + std::to_string(c) + "] must lie in [quantMin, quantMax]");
      return env.Undefined();
    }
    inv[c] = 1.0f / sc;
  }
  const qk::Kernels& k = qk::active();
  const float* xp = static_cast<const float*>(x.data);
  int8_t* q8 = static_cast<int8_t*>(out.data);
  uint8_t* u8 = static_cast<uint8_t*>(out.data);
  if (inner >= kExpandBelow) {
    for (size_t o = 0, off = 0; o < outer; ++o)
      for (size_t c = 0; c < channels; ++c, off += inner) {
        if (s8) k.quantize_s8(xp + off, q8 + off, inner, inv[c], zp[c], qmin, qmax);
        else k.quantize_u8(xp + off, u8 + off, inner, inv[c], zp[c], qmin, qmax);
      }
    return env.Undefined();
  }
  const size_t row = channels * inner;
  std::unique_ptr<float[]> inv_e;
  std::unique_ptr<int32_t[]> zp_e;
  const float* iv = inv.get();
  const int32_t* zpv = zp;
  if (inner > 1) {
    inv_e = qk::make_array<float>(row);
    zp_e = qk::make_array<int32_t>(row);
    if (!inv_e || !zp_e) {
      throw_out_of_memory(env, "quantizePerChannel");
      return env.Undefined();
    }
    for (size_t c = 0; c < channels; ++c)
      for (size_t j = 0; j < inner; ++j) {
        inv_e[c * inner + j] = inv[c];
        zp_e[c * inner + j] = zp[c];
      }
    iv = inv_e.get();
    zpv = zp_e.get();
  }
  for (size_t o = 0; o < outer; ++o) {
    if (s8) k.quantize_s8_vec(xp + o * row, q8 + o * row, row, iv, zpv, qmin, qmax);
    else k.quantize_u8_vec(xp + o * row, u8 + o * row, row, iv, zpv, qmin, qmax);
  }
  return env.Undefined();
}

bool quant_in(const Napi::CallbackInfo& info, View* q, bool* is_signed) {
  if (!typed(info, 0, "q", q)) return false;
  if (q->type != napi_int8_array && q->type != napi_uint8_array)
    return throw_type(info.Env(), std::string("q must be an Int8Array or Uint8Array, got ") + type_name(q->type));
  *is_signed = q->type == napi_int8_array;
  return true;
}

Napi::Value Dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View q, out;
  bool s8 = false;
  double scale_d;
  int64_t zp;
  if (!quant_in(info, &q, &s8) || !typed(info, 1, "out", napi_float32_array, &out) ||
      !same_length(info, "out", out.length, q.length) || !number(info, 2, "scale", &scale_d) ||
      !integer(info, 3, "zeroPoint", s8 ? -128 : 0, s8 ? 127 : 255, &zp))
    return env.Undefined();
  const float scale = static_cast<float>(scale_d);
  const qk::Kernels& k = qk::active();
  float* y = static_cast<float*>(out.data);
  if (s8) k.dequantize_s8(static_cast<const int8_t*>(q.data), y, q.length, scale, static_cast<int32_t>(zp));
  else k.dequantize_u8(static_cast<const uint8_t*>(q.data), y, q.length, scale, static_cast<int32_t>(zp));
  return env.Undefined();
}

Napi::Value DequantizePerChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View q, out, sv, zv;
  bool s8 = false;
  size_t outer = 0, channels = 0, inner = 0;  // set by layout() (zeroed: GCC cannot see that it returned true)
  if (!quant_in(info, &q, &s8) || !typed(info, 1, "out", napi_float32_array, &out) ||
      !same_length(info, "out", out.length, q.length) || !layout(info, 4, q.length, &outer, &channels, &inner) ||
      !channel_params(info, 2, channels, &sv, &zv))
    return env.Undefined();
  const float* scale = static_cast<const float*>(sv.data);
  // Checked and used as a copy, like quantizePerChannel's (the kernels compute q - zp in int32).
  const std::unique_ptr<int32_t[]> zpc = copy_of<int32_t>(zv, channels);
  if (!zpc) {
    throw_out_of_memory(env, "dequantizePerChannel");
    return env.Undefined();
  }
  const int32_t* zp = zpc.get();
  const int32_t zlo = s8 ? -128 : 0, zhi = s8 ? 127 : 255;
  for (size_t c = 0; c < channels; ++c)
    if (zp[c] < zlo || zp[c] > zhi) {
      throw_range(env, "zeroPoint[" + std::to_string(c) + "] must lie in [" + std::to_string(zlo) + ", " +
                           std::to_string(zhi) + "]");
      return env.Undefined();
    }
  const qk::Kernels& k = qk::active();
  float* y = static_cast<float*>(out.data);
  const int8_t* q8 = static_cast<const int8_t*>(q.data);
  const uint8_t* u8 = static_cast<const uint8_t*>(q.data);
  if (inner >= kExpandBelow) {
    if (s8) k.dequantize_s8_channels(q8, y, outer, channels, inner, scale, zp);
    else k.dequantize_u8_channels(u8, y, outer, channels, inner, scale, zp);
    return env.Undefined();
  }
  const size_t row = channels * inner;
  std::unique_ptr<float[]> s_e;
  std::unique_ptr<int32_t[]> zp_e;
  const float* sv_p = scale;
  const int32_t* zp_p = zp;
  if (inner > 1) {
    s_e = qk::make_array<float>(row);
    zp_e = qk::make_array<int32_t>(row);
    if (!s_e || !zp_e) {
      throw_out_of_memory(env, "dequantizePerChannel");
      return env.Undefined();
    }
    for (size_t c = 0; c < channels; ++c)
      for (size_t j = 0; j < inner; ++j) {
        s_e[c * inner + j] = scale[c];
        zp_e[c * inner + j] = zp[c];
      }
    sv_p = s_e.get();
    zp_p = zp_e.get();
  }
  for (size_t o = 0; o < outer; ++o) {
    if (s8) k.dequantize_s8_vec(q8 + o * row, y + o * row, row, sv_p, zp_p);
    else k.dequantize_u8_vec(u8 + o * row, y + o * row, row, sv_p, zp_p);
  }
  return env.Undefined();
}

template <qk::F32ToU16Fn qk::Kernels::*Slot>
Napi::Value FromF32(const Napi::CallbackInfo& info) {
  View x, out;
  if (typed(info, 0, "x", napi_float32_array, &x) && typed(info, 1, "out", napi_uint16_array, &out) &&
      same_length(info, "out", out.length, x.length))
    (qk::active().*Slot)(static_cast<const float*>(x.data), static_cast<uint16_t*>(out.data), x.length);
  return info.Env().Undefined();
}

template <qk::U16ToF32Fn qk::Kernels::*Slot>
Napi::Value ToF32(const Napi::CallbackInfo& info) {
  View h, out;
  if (typed(info, 0, "h", napi_uint16_array, &h) && typed(info, 1, "out", napi_float32_array, &out) &&
      same_length(info, "out", out.length, h.length))
    (qk::active().*Slot)(static_cast<const uint16_t*>(h.data), static_cast<float*>(out.data), h.length);
  return info.Env().Undefined();
}

}  // namespace

void init_convert(Napi::Env env, Napi::Object exports) {
  exports.Set("quantize", Napi::Function::New(env, Quantize, "quantize"));
  exports.Set("quantizePerChannel", Napi::Function::New(env, QuantizePerChannel, "quantizePerChannel"));
  exports.Set("dequantize", Napi::Function::New(env, Dequantize, "dequantize"));
  exports.Set("dequantizePerChannel", Napi::Function::New(env, DequantizePerChannel, "dequantizePerChannel"));
  exports.Set("f32ToF16", Napi::Function::New(env, FromF32<&qk::Kernels::f32_to_f16>, "f32ToF16"));
  exports.Set("f16ToF32", Napi::Function::New(env, ToF32<&qk::Kernels::f16_to_f32>, "f16ToF32"));
  exports.Set("f32ToBf16", Napi::Function::New(env, FromF32<&qk::Kernels::f32_to_bf16>, "f32ToBf16"));
  exports.Set("bf16ToF32", Napi::Function::New(env, ToF32<&qk::Kernels::bf16_to_f32>, "bf16ToF32"));
}

}  // namespace qkb
