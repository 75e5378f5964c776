// qkernels binding: float32 GEMM (sync and async).
//
// sgemm(a: Float32Array(m*k), b: Float32Array(k*n), m, n, k, transB, out: Float32Array(m*n)) -> undefined
// sgemmAsync(same arguments) -> Promise<undefined>; the inputs stay referenced until the work is done.
#include <napi.h>

#include <cstdint>
#include <string>

#include "binding/args.h"
#include "binding/bindings.h"
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

bool dim(const Napi::CallbackInfo& info, size_t i, const char* name, size_t* out) {
  int64_t v;
  if (!integer(info, i, name, 0, static_cast<int64_t>(1) << 40, &v)) return false;
  *out = static_cast<size_t>(v);
  return true;
}

// Element count of an r x c matrix, or false (RangeError) if it cannot fit in memory anyway.
bool count(const Napi::CallbackInfo& info, const char* name, size_t r, size_t c, size_t* out) {
  if (c != 0 && r > (static_cast<size_t>(1) << 52) / c)
    return throw_range(info.Env(), std::string(name) + " would have more elements than any typed array");
  *out = r * c;
  return true;
}

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

void run(const SgemmCall& c) { qk::sgemm(*c.kernels, c.g, c.threads); }

Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  SgemmCall call;
  if (parse(info, &call)) run(call);
  return info.Env().Undefined();
}

class SgemmWorker : public Napi::AsyncWorker {
 public:
  SgemmWorker(Napi::Env env, const SgemmCall& call, Napi::Array pinned)
      : Napi::AsyncWorker(env, "qkernels:sgemm"), call_(call), deferred_(Napi::Promise::Deferred::New(env)) {
    pinned_ = Napi::Persistent(pinned);  // keeps a, b and out alive until OnOK/OnError
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { run(call_); }
  void OnOK() override {
    pinned_.Reset();
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override {
    pinned_.Reset();
    deferred_.Reject(e.Value());
  }

 private:
  SgemmCall call_;
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Array> pinned_;
};

Napi::Value SgemmAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SgemmCall call;
  if (!parse(info, &call)) return env.Undefined();
  Napi::Array pinned = Napi::Array::New(env, info.Length());
  for (size_t i = 0; i < info.Length(); ++i) pinned.Set(static_cast<uint32_t>(i), info[i]);
  auto* worker = new SgemmWorker(env, call, pinned);
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

}  // namespace

void init_sgemm(Napi::Env env, Napi::Object exports) {
  exports.Set("sgemm", Napi::Function::New(env, Sgemm, "sgemm"));
  exports.Set("sgemmAsync", Napi::Function::New(env, SgemmAsync, "sgemmAsync"));
}

}  // namespace qkb
