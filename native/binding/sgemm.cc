// qkernels binding: float32 GEMM (sync and async).
//
// sgemm(a: Float32Array(m*k), b: Float32Array(k*n), m, n, k, transB, out: Float32Array(m*n)) -> undefined
// sgemmAsync(same arguments) -> Promise<undefined>; the inputs stay referenced until the work is done.
// Out of memory in the native code throws (or rejects with) a RangeError "qkernels: out of memory in sgemm"
// (sgemmAsync).
#include <napi.h>

#include <cstdint>
#include <string>

#include "binding/args.h"
#include "binding/bindings.h"
#include "binding/worker.h"
#include "qk/dispatch.h"
#include "qk/sgemm.h"
#include "qk/threads.h"

namespace qkb {
namespace {

// A parsed call: plain C++ data that a worker thread may use after the JS call returned.
struct SgemmCall {
  qk::SgemmArgs g;
  const qk::Kernels* kernels = nullptr;  // captured at call time: a later setIsa does not affect queued work
  int threads = 1;
};



bool parse(const Napi::CallbackInfo& info, SgemmCall* call) {
  Napi::Env env = info.Env();
  qk::SgemmArgs& g = call->g;
  if (info.Length() < 7) return throw_type(env, "sgemm expects 7 arguments");
  View a, b, out;
  if (!typed(info, 0, "a", napi_float32_array, &a) || !typed(info, 1, "b", napi_float32_array, &b) ||
      !dim(info, 2, "m", &g.m) || !dim(info, 3, "n", &g.n) || !dim(info, 4, "k", &g.k) ||
      !typed(info, 6, "out", napi_float32_array, &out))
    return false;
  const bool trans_b = info[5].ToBoolean().Value();
  size_t mk = 0, kn = 0, mn = 0;
  if (!count(info, "a", g.m, g.k, &mk) || !count(info, "b", g.k, g.n, &kn) || !count(info, "out", g.m, g.n, &mn))
    return false;
  if (!same_length(info, "a", a.length, mk) || !same_length(info, "b", b.length, kn) ||
      !same_length(info, "out", out.length, mn))
    return false;
  g.a = static_cast<const float*>(a.data);
  g.lda = g.k;
  g.b = static_cast<const float*>(b.data);
  g.rs = trans_b ? 1 : g.n;
  g.cs = trans_b ? g.k : 1;
  g.c = static_cast<float*>(out.data);
  g.ldc = g.n;
  call->kernels = &qk::active();
  call->threads = qk::num_threads();
  return true;
}

// False: out of memory.
bool run(const SgemmCall& c) { return qk::sgemm(*c.kernels, c.g, c.threads); }

Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  SgemmCall call;
  if (parse(info, &call) && !run(call)) throw_out_of_memory(info.Env(), "sgemm");
  return info.Env().Undefined();
}

bool run_mut(SgemmCall& c) { return run(c); }

Napi::Value SgemmAsync(const Napi::CallbackInfo& info) {
  SgemmCall call;
  if (!parse(info, &call)) return info.Env().Undefined();
  return queue_promise(info, std::move(call), run_mut, "qkernels:sgemm", "sgemmAsync");
}

}  // namespace

void init_sgemm(Napi::Env env, Napi::Object exports) {
  exports.Set("sgemm", Napi::Function::New(env, Sgemm, "sgemm"));
  exports.Set("sgemmAsync", Napi::Function::New(env, SgemmAsync, "sgemmAsync"));
}

}  // namespace qkb
