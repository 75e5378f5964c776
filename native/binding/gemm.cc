// qkernels binding: INT8 GEMM (sync and async), packed B matrices and the thread count.
//
// packB(b: Int8Array|Uint8Array, k, n, transB) -> an opaque handle object (owning a qk::PackedB)
// gemm(a, b | null, packed | null, m, n, k, transB, za: number | Int32Array(1|m), zb: number | Int32Array(1|n), mode,
//      aScale: number | Float32Array(1|m) | null, bScale: number | Float32Array(1|n) | null, bias: Float32Array(n) | null, relu,
//      outScale, outZeroPoint, out) -> undefined
// gemmAsync(same arguments) -> Promise<undefined>; the inputs stay referenced until the work is done.
// linearDynamic / linearDynamicAsync (below), setNumThreads(n) / getNumThreads()
// Out of memory in the native code throws (or rejects with) a RangeError "qkernels: out of memory in <op>".
// _setAllocLimit(bytes): internal (tests): native allocations above `bytes` fail as if out of memory (0: off).
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <type_traits>

#include "qk/convert.h"

#include "binding/args.h"
#include "binding/bindings.h"
#include "binding/worker.h"
#include "qk/dispatch.h"
#include "qk/gemm_driver.h"
#include "qk/scratch.h"
#include "qk/threads.h"

namespace qkb {
namespace {

using qk::GemmArgs;
using qk::GemmOut;

// A parsed gemm call: plain C++ data that a worker thread may use after the JS call returned.
struct GemmCall {
  GemmArgs g;
  const uint8_t* b = nullptr;
  size_t rs = 0, cs = 0;
  bool b_signed = false;
  qk::PackedB* packed = nullptr;
  const qk::Kernels* kernels = nullptr;  // captured at call time: a later setIsa does not affect queued work
  int threads = 1;
  // Broadcast zero points and scales passed as numbers (a one-element typed array made per call costs more
  // than a small GEMM: V8 moves it off its heap on first access): kept here, and pointed to by bound()'s copy
  // of g where the call runs (the struct moves into async work).
  int32_t za1 = 0, zb1 = 0;
  float as1 = 0.0f, bs1 = 0.0f;
  bool za_number = false, zb_number = false, as_number = false, bs_number = false;
  GemmArgs bound() const {
    GemmArgs a = g;
    if (za_number) a.za = &za1;
    if (zb_number) a.zb = &zb1;
    if (as_number) a.a_scale = &as1;
    if (bs_number) a.b_scale = &bs1;
    return a;
  }
};

// packB's handle: a plain object wrapping the qk::PackedB, type-tagged so that no other value (another addon's
// wrapped object or External) is ever taken for one.
constexpr napi_type_tag kPackedTag = {0x716b65726e656c73ull, 0x7061636b65644200ull};  // "qkernels", "packedB"

bool get_packed(const Napi::CallbackInfo& info, size_t i, qk::PackedB** out) {
  napi_env env = info.Env();
  bool tagged = false;
  void* p = nullptr;
  if (!info[i].IsObject() || napi_check_object_type_tag(env, info[i], &kPackedTag, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, info[i], &p) != napi_ok || p == nullptr)
    return throw_type(info.Env(), "packed must be a matrix returned by packB");
  *out = static_cast<qk::PackedB*>(p);
  return true;
}


bool byte_matrix(const Napi::CallbackInfo& info, size_t i, const char* name, View* v, bool* is_signed) {
  if (!typed(info, i, name, v)) return false;
  if (v->type != napi_int8_array && v->type != napi_uint8_array)
    return throw_type(info.Env(), std::string(name) + " must be an Int8Array or Uint8Array, got " + type_name(v->type));
  *is_signed = v->type == napi_int8_array;
  return true;
}

// Optional per-row/column vector of length 1 (broadcast) or `full`.
template <typename T>
bool vec(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type, size_t full,
         bool optional, const T** data, size_t* step) {
  if (optional && (info[i].IsNull() || info[i].IsUndefined())) {
    *data = nullptr;
    *step = 0;
    return true;
  }
  View v;
  if (!typed(info, i, name, type, &v)) return false;
  if (v.length != 1 && v.length != full)
    return throw_range(info.Env(), std::string(name) + " must have length 1 or " + std::to_string(full) + ", got " +
                                       std::to_string(v.length));
  *data = static_cast<const T*>(v.data);
  *step = v.length == 1 ? 0 : 1;
  return true;
}

// The same, or a number broadcast to every row or column, stored in *scalar (*is_number: the caller points
// there). Integers (zero points) must lie in [lo, hi]; floats (scales) are rounded to float32 like
// Float32Array.of and must be positive and finite.
template <typename T>
bool vec_or_number(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type,
                   size_t full, double lo, double hi, const T** data, size_t* step, T* scalar, bool* is_number) {
  *is_number = info[i].IsNumber();
  if (!*is_number) {
    if (!vec<T>(info, i, name, type, full, false, data, step)) return false;
    if (std::is_integral<T>::value) {
      // Zero points: the same range as a number's. (The driver copies what it uses once, so a SharedArrayBuffer
      // changed afterwards gives wrong values, never a wrong memory access.)
      const size_t len = *step ? full : 1;
      for (size_t j = 0; j < len; ++j)
        if (!(static_cast<double>((*data)[j]) >= lo && static_cast<double>((*data)[j]) <= hi))
          return throw_range(info.Env(), std::string(name) + "[" + std::to_string(j) + "] must be an integer in [" +
                                             std::to_string(int64_t(lo)) + ", " + std::to_string(int64_t(hi)) + "]");
    }
    return true;
  }
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (std::is_integral<T>::value) {
    if (!(d >= lo && d <= hi) || d != std::floor(d))
      return throw_range(info.Env(), std::string(name) + " must be an integer in [" + std::to_string(int64_t(lo)) +
                                         ", " + std::to_string(int64_t(hi)) + "]");
  } else if (!(static_cast<float>(d) > 0.0f) || !std::isfinite(static_cast<float>(d))) {
    return throw_range(info.Env(), std::string(name) + " must be a positive finite float32");
  }
  *scalar = static_cast<T>(d);
  *data = nullptr;
  *step = 0;
  return true;
}

bool parse(const Napi::CallbackInfo& info, GemmCall* call) {
  Napi::Env env = info.Env();
  GemmArgs& g = call->g;
  View a, out;
  if (info.Length() < 17) return throw_type(env, "gemm expects 17 arguments");
  if (!byte_matrix(info, 0, "a", &a, &g.a_signed)) return false;
  if (!dim(info, 3, "m", &g.m) || !dim(info, 4, "n", &g.n) || !dim(info, 5, "k", &g.k)) return false;
  const bool trans_b = info[6].ToBoolean().Value();
  if (!same_count(info, "a", a.length, g.m, g.k)) return false;
  g.a = static_cast<const uint8_t*>(a.data);
  g.lda = g.k;
  if (!info[2].IsNull() && !info[2].IsUndefined()) {
    if (!get_packed(info, 2, &call->packed)) return false;
    if (call->packed->k() != g.k || call->packed->n() != g.n)
      return throw_range(env, "packed matrix is " + std::to_string(call->packed->k()) + " x " +
                                  std::to_string(call->packed->n()) + " but the call needs k x n = " +
                                  std::to_string(g.k) + " x " + std::to_string(g.n));
    call->b_signed = call->packed->b_signed();
  } else {
    View b;
    if (!byte_matrix(info, 1, "b", &b, &call->b_signed) || !same_count(info, "b", b.length, g.k, g.n)) return false;
    call->b = static_cast<const uint8_t*>(b.data);
    call->rs = trans_b ? 1 : g.n;
    call->cs = trans_b ? g.k : 1;
  }
  const double alo = g.a_signed ? -128 : 0, ahi = g.a_signed ? 127 : 255;
  const double blo = call->b_signed ? -128 : 0, bhi = call->b_signed ? 127 : 255;
  if (!vec_or_number<int32_t>(info, 7, "aZeroPoint", napi_int32_array, g.m, alo, ahi, &g.za, &g.za_step, &call->za1,
                              &call->za_number) ||
      !vec_or_number<int32_t>(info, 8, "bZeroPoint", napi_int32_array, g.n, blo, bhi, &g.zb, &g.zb_step, &call->zb1,
                              &call->zb_number))
    return false;
  int64_t mode;
  if (!integer(info, 9, "mode", 0, 3, &mode)) return false;
  g.mode = static_cast<GemmOut>(mode);
  if (!typed(info, 16, "out", &out)) return false;
  static const napi_typedarray_type kOutType[] = {napi_int32_array, napi_float32_array, napi_int8_array,
                                                  napi_uint8_array};
  if (out.type != kOutType[mode])
    return throw_type(env, std::string("out must be a ") + type_name(kOutType[mode]) + ", got " + type_name(out.type));
  if (!same_count(info, "out", out.length, g.m, g.n)) return false;
  g.c = out.data;
  g.ldc = g.n;
  if (g.mode != GemmOut::Int32) {
    if (!vec_or_number<float>(info, 10, "aScale", napi_float32_array, g.m, 0, 0, &g.a_scale, &g.a_scale_step,
                              &call->as1, &call->as_number) ||
        !vec_or_number<float>(info, 11, "bScale", napi_float32_array, g.n, 0, 0, &g.b_scale, &g.b_scale_step,
                              &call->bs1, &call->bs_number))
      return false;
    size_t bias_step;
    if (!vec<float>(info, 12, "bias", napi_float32_array, g.n, true, &g.bias, &bias_step)) return false;
    if (g.bias && bias_step == 0 && g.n != 1) return throw_range(env, "bias must have length n");
    g.relu = info[13].ToBoolean().Value();
  }
  if (g.mode == GemmOut::Int8 || g.mode == GemmOut::Uint8) {
    double os;
    int64_t ozp;
    const bool s8 = g.mode == GemmOut::Int8;
    if (!number(info, 14, "outScale", &os) || !integer(info, 15, "outZeroPoint", s8 ? -128 : 0, s8 ? 127 : 255, &ozp))
      return false;
    const float f = static_cast<float>(os);
    if (!(f > 0.0f) || !std::isfinite(f) || !std::isfinite(1.0f / f))
      return throw_range(env, "outScale must be a positive finite float32 whose reciprocal is finite");
    g.inv_out_scale = 1.0f / f;
    g.out_zp = static_cast<int32_t>(ozp);
    g.qmin = s8 ? -128 : 0;
    g.qmax = s8 ? 127 : 255;
    if (g.relu && g.qmin < g.out_zp) g.qmin = g.out_zp;  // relu clamps at the output zero point
  }
  call->kernels = &qk::active();
  call->threads = qk::num_threads();
  return true;
}

// False: out of memory.
bool run(const GemmCall& c) {
  return qk::gemm(*c.kernels, c.bound(), c.b, c.rs, c.cs, c.b_signed, c.packed, c.threads);
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  GemmCall call;
  if (parse(info, &call) && !run(call)) throw_out_of_memory(info.Env(), "int8Gemm");
  return info.Env().Undefined();
}

bool run_mut(GemmCall& c) { return run(c); }

Napi::Value GemmAsync(const Napi::CallbackInfo& info) {
  GemmCall call;
  if (!parse(info, &call)) return info.Env().Undefined();
  return queue_promise(info, std::move(call), run_mut, "qkernels:gemm", "int8GemmAsync");
}

// linearDynamic(x: Float32Array, packed, m, n, k, bScale: number | Float32Array(1|n), bias | null, relu,
//               out: Float32Array, int8: boolean, bZeroPoint?: number | Int32Array(1|n))
// Quantizes each row of x with its own scale, multiplies by the packed int8/uint8 weights (minus bZeroPoint,
// default 0) and writes float32 out:
//   uint8 (default): the row's range, widened to include 0, over 255 levels, with a zero point;
//   int8: symmetric, scale max|x| / 127.5 (at least 2^-23; PyTorch's symmetric qint8 observer rule, as
//         calibrate({ symmetric: true }) computes it), zero point 0, values in [-128, 127].
// A row holding NaN or +-Infinity has no range: the call fails with a RangeError naming the first such row.
struct LinearCall {
  GemmCall call;
  CallFailure failure;
  const float* x = nullptr;
  uint8_t* qa = nullptr;  // m x k quantized rows, in the running thread's buffer (every byte is written)
  std::unique_ptr<int32_t[]> za;  // m each (qk::make_array: out of memory is reported, not fatal)
  std::unique_ptr<float[]> a_scale;
};

bool parse_linear(const Napi::CallbackInfo& info, LinearCall* lc) {
  Napi::Env env = info.Env();
  GemmCall& call = lc->call;
  GemmArgs& g = call.g;
  View x, out;
  if (info.Length() < 9) return throw_type(env, "linearDynamic expects 9 arguments");
  if (!typed(info, 0, "x", napi_float32_array, &x) || !get_packed(info, 1, &call.packed) || !dim(info, 2, "m", &g.m) ||
      !dim(info, 3, "n", &g.n) || !dim(info, 4, "k", &g.k))
    return false;
  if (call.packed->k() != g.k || call.packed->n() != g.n)
    return throw_range(env, "packed matrix is " + std::to_string(call.packed->k()) + " x " +
                                std::to_string(call.packed->n()) + " but the call needs k x n = " +
                                std::to_string(g.k) + " x " + std::to_string(g.n));
  if (!same_count(info, "x", x.length, g.m, g.k)) return false;
  if (!vec_or_number<float>(info, 5, "bScale", napi_float32_array, g.n, 0, 0, &g.b_scale, &g.b_scale_step, &call.bs1,
                            &call.bs_number))
    return false;
  size_t bias_step;
  if (!vec<float>(info, 6, "bias", napi_float32_array, g.n, true, &g.bias, &bias_step)) return false;
  if (g.bias && bias_step == 0 && g.n != 1) return throw_range(env, "bias must have length n");
  g.relu = info[7].ToBoolean().Value();
  if (!typed(info, 8, "out", napi_float32_array, &out) || !same_count(info, "out", out.length, g.m, g.n)) return false;
  static const int32_t kZero = 0;
  lc->x = static_cast<const float*>(x.data);
  g.mode = GemmOut::Float32;
  g.c = out.data;
  g.ldc = g.n;
  g.lda = g.k;
  g.a_signed = info.Length() > 9 && info[9].ToBoolean().Value();
  g.zb = &kZero;
  g.zb_step = 0;
  call.b_signed = call.packed->b_signed();
  if (info.Length() > 10 && !info[10].IsUndefined()) {
    const double blo = call.b_signed ? -128 : 0, bhi = call.b_signed ? 127 : 255;
    if (!vec_or_number<int32_t>(info, 10, "bZeroPoint", napi_int32_array, g.n, blo, bhi, &g.zb, &g.zb_step,
                                &call.zb1, &call.zb_number))
      return false;
  }
  g.za_step = 1;
  g.a_scale_step = 1;
  call.kernels = &qk::active();
  call.threads = qk::num_threads();
  return true;
}

// False: out of memory.
bool run_linear(LinearCall& lc) {
  GemmArgs& g = lc.call.g;
  const qk::Kernels& k = *lc.call.kernels;
  // Kept per thread between calls: fresh pages for every call (a 128 x 4096 layer: 512 KB) cost page faults.
  static thread_local qk::Scratch buffer;
  lc.qa = static_cast<uint8_t*>(buffer.get(std::max<size_t>(g.m * g.k, 1)));
  lc.za = qk::make_array<int32_t>(g.m);
  lc.a_scale = qk::make_array<float>(g.m);
  if (!lc.qa || !lc.za || !lc.a_scale) return false;
  // Each row's own range and quantization, in chunks of rows on the GEMM's threads (at 128 x 4096 this is a
  // tenth of an AMX GEMM: serial, it was most of linearDynamic's overhead).
  constexpr size_t kRows = 8;
  const size_t chunks = (g.m + kRows - 1) / kRows;
  const int threads = g.m * g.k >= (size_t{1} << 16) ? lc.call.threads : 1;
  std::atomic<size_t> bad_row{SIZE_MAX};  // the first row holding NaN or +-Infinity
  qk::parallel_for(chunks, threads, [&](size_t c) {
    for (size_t i = c * kRows; i < std::min(g.m, (c + 1) * kRows); ++i) {
      const float* row = lc.x + i * g.k;
      float mn, mx;
      const size_t nans = k.minmax(row, g.k, &mn, &mx);
      if (g.k && (nans || !std::isfinite(mn) || !std::isfinite(mx))) {
        size_t seen = bad_row.load(std::memory_order_relaxed);
        while (i < seen && !bad_row.compare_exchange_weak(seen, i, std::memory_order_relaxed)) {
        }
        continue;
      }
      const float lo = mn < 0.0f ? mn : 0.0f, hi = mx > 0.0f ? mx : 0.0f;  // the range includes 0 (k = 0: [0, 0])
      if (g.a_signed) {
        const float scale = std::max(std::max(-lo, hi) / 127.5f, 0x1p-23f);  // finite: |x| <= FLT_MAX
        k.quantize_s8(row, reinterpret_cast<int8_t*>(lc.qa + i * g.k), g.k, 1.0f / scale, 0, -128, 127);
        lc.za[i] = 0;
        lc.a_scale[i] = scale;
        continue;
      }
      float scale = (hi - lo) / 255.0f;
      // A range wider than FLT_MAX (hi - lo overflows float32): the same quotient in float64, which is finite.
      if (std::isinf(scale)) scale = static_cast<float>((static_cast<double>(hi) - static_cast<double>(lo)) / 255.0);
      if (!(scale > 0.0f) || !std::isfinite(1.0f / scale)) scale = 1.0f;  // all zeros, or a subnormal range
      const float inv = 1.0f / scale;
      const int32_t zp = qk::ref::quantize_one(-lo, inv, 0, 0, 255);
      k.quantize_u8(row, lc.qa + i * g.k, g.k, inv, zp, 0, 255);
      lc.za[i] = zp;
      lc.a_scale[i] = scale;
    }
  });
  const size_t bad = bad_row.load();
  if (bad != SIZE_MAX) {
    std::snprintf(lc.failure.message, sizeof lc.failure.message,
                  "qkernels: expected finite values for x (linearDynamic quantizes each row by its range), received "
                  "NaN or Infinity in row %zu",
                  bad);
    return false;
  }
  g.a = lc.qa;
  g.za = lc.za.get();
  g.a_scale = lc.a_scale.get();
  return run(lc.call);
}

Napi::Value LinearDynamic(const Napi::CallbackInfo& info) {
  LinearCall lc;
  if (parse_linear(info, &lc) && !run_linear(lc)) throw_failure(info.Env(), lc, "linearDynamic");
  return info.Env().Undefined();
}

Napi::Value LinearDynamicAsync(const Napi::CallbackInfo& info) {
  LinearCall lc;
  if (!parse_linear(info, &lc)) return info.Env().Undefined();
  return queue_promise(info, std::move(lc), run_linear, "qkernels:linearDynamic", "linearDynamicAsync");
}

// What a packed matrix holds, for V8's external-memory accounting: about one packed copy (k x n bytes plus the
// padding to whole panels; the values are not kept).
int64_t packed_bytes(size_t k, size_t n) { return static_cast<int64_t>(k * n); }

void FinalizePacked(napi_env env, void* data, void*) {
  auto* p = static_cast<qk::PackedB*>(data);
  const int64_t bytes = packed_bytes(p->k(), p->n());
  delete p;
  Napi::MemoryManagement::AdjustExternalMemory(Napi::Env(env), -bytes);
}

Napi::Value PackB(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View b;
  bool b_signed = false;
  size_t k, n;
  if (!byte_matrix(info, 0, "b", &b, &b_signed) || !dim(info, 1, "k", &k) || !dim(info, 2, "n", &n) ||
      !same_count(info, "b", b.length, k, n))
    return env.Undefined();
  const bool trans_b = info[3].ToBoolean().Value();
  // Packed for the active tier now, so the first gemm call does not pay for it (and running out of memory shows
  // here, not in that call).
  std::unique_ptr<qk::PackedB> owned =
      qk::PackedB::create(static_cast<const uint8_t*>(b.data), trans_b ? 1 : n, trans_b ? k : 1, b_signed, k, n,
                          qk::active().gemm, qk::num_threads());
  if (!owned) {
    throw_out_of_memory(env, "packB");
    return env.Undefined();
  }
  Napi::Object handle = Napi::Object::New(env);
  if (napi_type_tag_object(env, handle, &kPackedTag) != napi_ok ||
      napi_wrap(env, handle, owned.get(), FinalizePacked, nullptr, nullptr) != napi_ok) {
    Napi::Error::New(env, "qkernels: packB could not make its handle").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  owned.release();  // owned by the handle from here on (FinalizePacked deletes it)
  Napi::MemoryManagement::AdjustExternalMemory(env, packed_bytes(k, n));
  return handle;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t n;
  if (integer(info, 0, "threads", 0, 256, &n)) qk::set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), qk::num_threads()); }

// setMinMicrosPerThread(us): internal (tests): how much work makes one more GEMM thread worth it (0: always split).
Napi::Value SetMinMicrosPerThread(const Napi::CallbackInfo& info) {
  double us;
  if (number(info, 0, "us", &us)) {
    if (!(us >= 0) || !std::isfinite(us)) {
      throw_range(info.Env(), "us must be a finite number >= 0");
      return info.Env().Undefined();
    }
    qk::set_min_micros_per_thread(us);
  }
  return info.Env().Undefined();
}

// _setAllocLimit(bytes): internal (tests): native allocations of more than `bytes` fail as if out of memory, so
// the out-of-memory errors are tested for real; 0 turns it off.
Napi::Value SetAllocLimit(const Napi::CallbackInfo& info) {
  int64_t bytes;
  if (integer(info, 0, "bytes", 0, static_cast<int64_t>(1) << 53, &bytes))
    qk::set_alloc_limit_for_tests(static_cast<size_t>(bytes));
  return info.Env().Undefined();
}

// alignOffset(buffer: ArrayBuffer) -> the bytes from the start of its memory to the next 64-byte boundary (0-63),
// for alignedArray(): GEMM outputs written from a cache-line boundary run ~20% faster at 256^3-512^3.
Napi::Value AlignOffset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    Napi::TypeError::New(env, "qkernels: expected an ArrayBuffer for buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const auto addr = reinterpret_cast<uintptr_t>(info[0].As<Napi::ArrayBuffer>().Data());
  return Napi::Number::New(env, static_cast<double>((64 - addr % 64) % 64));
}

}  // namespace

void init_gemm(Napi::Env env, Napi::Object exports) {
  exports.Set("alignOffset", Napi::Function::New(env, AlignOffset, "alignOffset"));
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  exports.Set("gemmAsync", Napi::Function::New(env, GemmAsync, "gemmAsync"));
  exports.Set("linearDynamic", Napi::Function::New(env, LinearDynamic, "linearDynamic"));
  exports.Set("linearDynamicAsync", Napi::Function::New(env, LinearDynamicAsync, "linearDynamicAsync"));
  exports.Set("packB", Napi::Function::New(env, PackB, "packB"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("setMinMicrosPerThread", Napi::Function::New(env, SetMinMicrosPerThread, "setMinMicrosPerThread"));
  exports.Set("_setAllocLimit", Napi::Function::New(env, SetAllocLimit, "_setAllocLimit"));
}

}  // namespace qkb
