// qkernels binding: run a parsed call off the main thread and settle a Promise. The call holds plain C++ data
// (pointers into typed arrays, the kernel table captured at call time); every JS argument is kept referenced
// until the worker finishes (sharp's baton + pinning pattern), and so is the memory behind every typed array, even
// if its buffer is detached meanwhile (keepalive.h).
#pragma once
#include <napi.h>

#include <memory>
#include <new>
#include <string>
#include <utility>

#include "binding/keepalive.h"

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

// One queued call: its parsed arguments, the pinned JS arguments, the held buffers and the Promise. Built on the
// Node-API C functions rather than Napi::AsyncWorker: a worker thread terminated while the call runs completes
// it during the worker's teardown, when no JavaScript can run; there the settling functions fail with a status,
// which is ignored (no one is left to tell), where node-addon-api's wrappers would abort the process.
template <typename Call>
class PromiseWork {
 public:
  // run(call) returns false on failure: the Promise then rejects with a RangeError, the call's own failure
  // message (failure_of) or else out_of_memory(op).
  using RunFn = bool (*)(Call&);

  static Napi::Value queue(const Napi::CallbackInfo& info, Call&& call, RunFn run, const char* name,
                           const char* op) {
    Napi::Env env = info.Env();
    std::unique_ptr<PromiseWork> w(new (std::nothrow) PromiseWork(std::move(call), run, op));
    if (!w) {
      throw_out_of_memory(env, op);
      return env.Undefined();
    }
    if (!w->keep_.hold(info)) return env.Undefined();
    napi_value promise, pinned, resource_name;
    bool ok = napi_create_promise(env, &w->deferred_, &promise) == napi_ok;
    if (ok) ok = napi_create_array_with_length(env, info.Length(), &pinned) == napi_ok;
    for (size_t i = 0; ok && i < info.Length(); ++i)
      ok = napi_set_element(env, pinned, static_cast<uint32_t>(i), info[i]) == napi_ok;
    if (ok) ok = napi_create_reference(env, pinned, 1, &w->pinned_) == napi_ok;
    if (ok) ok = napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) == napi_ok;
    if (ok) ok = napi_create_async_work(env, nullptr, resource_name, execute, complete, w.get(), &w->work_) == napi_ok;
    if (ok) ok = napi_queue_async_work(env, w->work_) == napi_ok;
    if (!ok) {
      // The Promise is dropped (the call throws instead); settle it so its deferred handle is freed. Resolved,
      // not rejected: nobody holds it, and a rejection would be an unhandled one.
      if (w->deferred_) {
        napi_value undefined;
        if (napi_get_undefined(env, &undefined) == napi_ok) napi_resolve_deferred(env, w->deferred_, undefined);
        w->deferred_ = nullptr;
      }
      w->discard(env);
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (!pending) throw_out_of_memory(env, op);
      return env.Undefined();
    }
    w.release();  // complete() deletes it
    return Napi::Value(env, promise);
  }

 private:
  PromiseWork(Call&& call, RunFn run, const char* op) : call_(std::move(call)), run_(run), op_(op) {}

  // Off the main thread: no JS here; a failure only records its message for complete().
  static void execute(napi_env, void* data) {
    auto* w = static_cast<PromiseWork*>(data);
    w->ok_ = w->run_(w->call_);
    if (!w->ok_) w->error_ = failure_message(w->call_, w->op_);
  }

  // On the main thread (or in the teardown of a terminated worker thread). Execute's failures (out of memory, a
  // call's own failure) are RangeErrors, as the sync calls throw.
  static void complete(napi_env env, napi_status status, void* data) {
    std::unique_ptr<PromiseWork> w(static_cast<PromiseWork*>(data));
    if (w->deferred_) {
      napi_value value = nullptr;
      if (status == napi_ok && w->ok_) {
        if (napi_get_undefined(env, &value) == napi_ok) napi_resolve_deferred(env, w->deferred_, value);
      } else {
        const std::string msg = status == napi_ok ? w->error_ : std::string("qkernels: ") + w->op_ + " was cancelled";
        napi_value text;
        if (napi_create_string_utf8(env, msg.c_str(), msg.size(), &text) == napi_ok &&
            napi_create_range_error(env, nullptr, text, &value) == napi_ok)
          napi_reject_deferred(env, w->deferred_, value);
      }
      w->deferred_ = nullptr;
    }
    w->discard(env);
  }

  // Frees the JS-side resources.
  void discard(napi_env env) {
    keep_.release();
    if (pinned_) napi_delete_reference(env, pinned_);
    if (work_) napi_delete_async_work(env, work_);
    pinned_ = nullptr;
    work_ = nullptr;
  }

  Call call_;
  RunFn run_;
  const char* op_;
  BufferKeepalive keep_;
  napi_deferred deferred_ = nullptr;
  napi_ref pinned_ = nullptr;
  napi_async_work work_ = nullptr;
  bool ok_ = false;
  std::string error_;
};

// Queues `run(call)` on the libuv pool and returns the Promise that settles when it is done. `name` is the async
// resource name, `op` the operation named in the out-of-memory error (the public API's name). Throws (returns
// undefined with a pending exception) if an argument's memory cannot be held (keepalive.h) or the call cannot be
// queued.
template <typename Call>
Napi::Value queue_promise(const Napi::CallbackInfo& info, Call&& call, bool (*run)(Call&), const char* name,
                          const char* op) {
  return PromiseWork<Call>::queue(info, std::move(call), run, name, op);
}

}  // namespace qkb
