// qkernels binding: argument checks. The TypeScript layer validates every public call with messages that name
// the user's parameter; these checks are the second line of defence that keeps a bad call from the private
// binding from reading or writing out of bounds.
#pragma once
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "qk/scratch.h"

namespace qkb {

struct View {
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
};

inline bool throw_type(const Napi::Env& env, const std::string& msg) {
  Napi::TypeError::New(env, "qkernels: " + msg).ThrowAsJavaScriptException();
  return false;
}
inline bool throw_range(const Napi::Env& env, const std::string& msg) {
  Napi::RangeError::New(env, "qkernels: " + msg).ThrowAsJavaScriptException();
  return false;
}

inline const char* type_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    default: return "TypedArray";
  }
}

// Reads a typed array argument (any type). data already includes the view's byteOffset.
inline bool typed(const Napi::CallbackInfo& info, size_t i, const char* name, View* out) {
  napi_env env = info.Env();
  napi_value v = info[i];
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return throw_type(info.Env(), std::string(name) + " must be a typed array");
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &out->type, &out->length, &out->data, &ab, &off) != napi_ok)
    return throw_type(info.Env(), std::string(name) + " must be a typed array");
  return true;
}

inline bool typed(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type want, View* out) {
  if (!typed(info, i, name, out)) return false;
  if (out->type != want)
    return throw_type(info.Env(), std::string(name) + " must be a " + type_name(want) + ", got " + type_name(out->type));
  return true;
}

inline bool number(const Napi::CallbackInfo& info, size_t i, const char* name, double* out) {
  napi_valuetype t;
  if (napi_typeof(info.Env(), info[i], &t) != napi_ok || t != napi_number)
    return throw_type(info.Env(), std::string(name) + " must be a number");
  napi_get_value_double(info.Env(), info[i], out);
  return true;
}

inline bool integer(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t lo, int64_t hi, int64_t* out) {
  double d;
  if (!number(info, i, name, &d)) return false;
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || std::floor(d) != d)
    return throw_range(info.Env(), std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " +
                                       std::to_string(hi) + "], got " + std::to_string(d));
  *out = static_cast<int64_t>(d);
  return true;
}

inline bool same_length(const Napi::CallbackInfo& info, const char* name, size_t got, size_t want) {
  if (got != want)
    return throw_range(info.Env(), std::string(name) + " must have length " + std::to_string(want) + ", got " +
                                       std::to_string(got));
  return true;
}

// Element count of an r x c matrix, or false (RangeError) if it cannot fit in memory anyway. Dimensions go up to
// 2^40, so their product can wrap a size_t (2^32 x 2^32 is 0): lengths are always checked against this, never
// against a raw product.
inline bool count(const Napi::CallbackInfo& info, const char* name, size_t r, size_t c, size_t* out) {
  if (c != 0 && r > (static_cast<size_t>(1) << 52) / c)
    return throw_range(info.Env(), std::string(name) + " would have more elements than any typed array");
  *out = r * c;
  return true;
}

// same_length against the element count of an r x c matrix (count's check first).
inline bool same_count(const Napi::CallbackInfo& info, const char* name, size_t got, size_t r, size_t c) {
  size_t want = 0;
  return count(info, name, r, c, &want) && same_length(info, name, got, want);
}

// A non-negative integer dimension (below 2^40).
inline bool dim(const Napi::CallbackInfo& info, size_t i, const char* name, size_t* out) {
  int64_t v;
  if (!integer(info, i, name, 0, static_cast<int64_t>(1) << 40, &v)) return false;
  *out = static_cast<size_t>(v);
  return true;
}

inline bool positive_scale(const Napi::CallbackInfo& info, float s, const std::string& name = "scale") {
  if (!(s > 0.0f) || !std::isfinite(s) || !std::isfinite(1.0f / s))
    return throw_range(info.Env(), name + " must be a positive finite float32 whose reciprocal is finite");
  return true;
}

// Per-channel layout [outer, channels, inner] from arguments i .. i + 2: outer * channels * inner must equal n.
// Each partial product is checked against n before it is formed, so nothing overflows.
inline bool layout(const Napi::CallbackInfo& info, size_t i, size_t n, size_t* outer, size_t* channels,
                   size_t* inner) {
  int64_t o, c, in;
  const int64_t max = static_cast<int64_t>(1) << 53;
  if (!integer(info, i, "outer", 0, max, &o) || !integer(info, i + 1, "channels", 1, max, &c) ||
      !integer(info, i + 2, "inner", 0, max, &in))
    return false;
  const uint64_t uo = static_cast<uint64_t>(o), uc = static_cast<uint64_t>(c), ui = static_cast<uint64_t>(in);
  bool ok;
  if (uo == 0 || ui == 0) ok = n == 0;
  else ok = uc <= n / uo && ui <= n / (uo * uc) && uo * uc * ui == n;
  if (!ok) return throw_range(info.Env(), "outer * channels * inner must equal the input length " + std::to_string(n));
  *outer = static_cast<size_t>(o);
  *channels = static_cast<size_t>(c);
  *inner = static_cast<size_t>(in);
  return true;
}

// A native copy of a parameter array's first `n` elements (null: out of memory). Bindings check and use only such
// copies of values that bound memory accesses or that kernels rely on (bin counts, zero points): a
// SharedArrayBuffer's values can be changed by another thread between a check and a later read.
template <typename T>
std::unique_ptr<T[]> copy_of(const View& v, size_t n) {
  std::unique_ptr<T[]> c = qk::make_array<T>(std::max<size_t>(n, 1));
  if (c && n) std::memcpy(c.get(), v.data, n * sizeof(T));
  return c;
}

}  // namespace qkb
