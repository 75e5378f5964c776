// qkernels binding: run a parsed call off the main thread and settle a Promise. The call holds plain C++ data
// (pointers into typed arrays, the kernel table captured at call time); every JS argument is kept referenced
// until the worker finishes, so the memory behind those pointers stays alive (sharp's baton + pinning pattern).
#pragma once
#include <napi.h>

#include <utility>

namespace qkb {

template <typename Call>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using RunFn = void (*)(Call&);
  PromiseWorker(const Napi::CallbackInfo& info, Call&& call, RunFn run, const char* name)
      : Napi::AsyncWorker(info.Env(), name), call_(std::move(call)), run_(run),
        deferred_(Napi::Promise::Deferred::New(info.Env())) {
    Napi::Array pinned = Napi::Array::New(info.Env(), info.Length());
    for (size_t i = 0; i < info.Length(); ++i) pinned.Set(static_cast<uint32_t>(i), info[i]);
    pinned_ = Napi::Persistent(pinned);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { run_(call_); }
  void OnOK() override {
    pinned_.Reset();
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override {
    pinned_.Reset();
    deferred_.Reject(e.Value());
  }

 private:
  Call call_;
  RunFn run_;
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Array> pinned_;
};

// Queues `run(call)` on the libuv pool and returns the Promise that settles when it is done.
template <typename Call>
Napi::Value queue_promise(const Napi::CallbackInfo& info, Call&& call, void (*run)(Call&), const char* name) {
  auto* worker = new PromiseWorker<Call>(info, std::move(call), run, name);
  Napi::Promise p = worker->Promise();
  worker->Queue();  // the worker deletes itself after OnOK / OnError
  return p;
}

}  // namespace qkb
