// qkernels binding: run a parsed call off the main thread and settle a Promise. The call holds plain C++ data
// (pointers into typed arrays, the kernel table captured at call time); every JS argument is kept referenced
// until the worker finishes (sharp's baton + pinning pattern), and so is the memory behind every typed array, even
// if its buffer is detached meanwhile (keepalive.h).
#pragma once
#include <napi.h>

#include "binding/keepalive.h"

#include <string>
#include <utility>

namespace qkb {

// The message of the RangeError an operation that ran out of memory throws (sync) or rejects with (async).
inline std::string out_of_memory(const char* op) { return std::string("qkernels: out of memory in ") + op; }

// Throws that RangeError (sync calls; the caller then returns).
inline void throw_out_of_memory(const Napi::Env& env, const char* op) {
  Napi::RangeError::New(env, out_of_memory(op)).ThrowAsJavaScriptException();
}

// A call's own failure other than out of memory (bad input found while running, e.g. a non-finite row of
// linearDynamic's x): a fixed buffer, so reporting it allocates nothing off the main thread.
struct CallFailure {
  char message[200] = {0};
  bool set() const { return message[0] != 0; }
};

// The failure message a call recorded, or null (calls without a `failure` member never record one).
template <typename Call>
auto failure_of(const Call& c, int) -> decltype(c.failure.set(), static_cast<const char*>(nullptr)) {
  return c.failure.set() ? c.failure.message : nullptr;
}
template <typename Call>
const char* failure_of(const Call&, long) {
  return nullptr;
}

// What a failed run(call) reports: the call's own failure, or else out of memory in `op`.
template <typename Call>
std::string failure_message(const Call& c, const char* op) {
  const char* failure = failure_of(c, 0);
  return failure ? std::string(failure) : out_of_memory(op);
}

// Throws that as a RangeError (sync calls; the caller then returns).
template <typename Call>
void throw_failure(const Napi::Env& env, const Call& c, const char* op) {
  Napi::RangeError::New(env, failure_message(c, op)).ThrowAsJavaScriptException();
}

template <typename Call>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  // run(call) returns false on failure: the Promise then rejects with a RangeError, the call's own failure
  // message (failure_of) or else out_of_memory(op).
  using RunFn = bool (*)(Call&);
  PromiseWorker(const Napi::CallbackInfo& info, Call&& call, BufferKeepalive&& keep, RunFn run, const char* name,
                const char* op)
      : Napi::AsyncWorker(info.Env(), name), call_(std::move(call)), keep_(std::move(keep)), run_(run), op_(op),
        deferred_(Napi::Promise::Deferred::New(info.Env())) {
    Napi::Array pinned = Napi::Array::New(info.Env(), info.Length());
    for (size_t i = 0; i < info.Length(); ++i) pinned.Set(static_cast<uint32_t>(i), info[i]);
    pinned_ = Napi::Persistent(pinned);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  // Off the main thread: no JS here; SetError only records the message for OnError.
  void Execute() override {
    if (!run_(call_)) SetError(failure_message(call_, op_));
  }
  void OnOK() override {
    pinned_.Reset();
    keep_.release();
    deferred_.Resolve(Env().Undefined());
  }
  // Execute's failures (out of memory, a call's own failure) are RangeErrors, as the sync calls throw
  // (AsyncWorker's default would be a plain Error).
  void OnError(const Napi::Error& e) override {
    pinned_.Reset();
    keep_.release();
    deferred_.Reject(Napi::RangeError::New(Env(), e.Message()).Value());
  }

 private:
  Call call_;
  BufferKeepalive keep_;
  RunFn run_;
  const char* op_;
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Array> pinned_;
};

// Queues `run(call)` on the libuv pool and returns the Promise that settles when it is done. `name` is the async
// resource name, `op` the operation named in the out-of-memory error (the public API's name). Throws (returns
// undefined with a pending TypeError) if an argument's memory cannot be held (keepalive.h).
template <typename Call>
Napi::Value queue_promise(const Napi::CallbackInfo& info, Call&& call, bool (*run)(Call&), const char* name,
                          const char* op) {
  BufferKeepalive keep;
  if (!keep.hold(info)) return info.Env().Undefined();
  auto* worker = new PromiseWorker<Call>(info, std::move(call), std::move(keep), run, name, op);
  Napi::Promise p = worker->Promise();
  worker->Queue();  // the worker deletes itself after OnOK / OnError
  return p;
}

}  // namespace qkb
