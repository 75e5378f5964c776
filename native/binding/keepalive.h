// qkernels binding: keeps the memory behind an async call's typed arrays alive until the worker is done, even if
// JavaScript detaches their ArrayBuffers meanwhile (structuredClone or postMessage with a transfer list,
// ArrayBuffer.prototype.transfer). A persistent reference keeps a typed array object alive, but not its memory: a
// detached buffer hands its memory to the new owner, which may free it while the worker still reads or writes it.
//
// Node-API has no way to hold an ArrayBuffer's memory, so this uses V8's: each buffer's v8::BackingStore is
// held by a shared_ptr, which keeps the allocation alive whoever owns it now. V8 never reallocates a backing store
// in place on detach (a transfer either moves the same store or copies into a new one), so the pointers the
// call took stay valid. The one JavaScript-visible change a store can still see is a resizable ArrayBuffer
// shrinking, which decommits memory: such buffers are refused (the TypeScript layer refuses them first, naming
// the parameter).
//
// A napi_value is a v8::Local<v8::Value> in Node's implementation of Node-API (js_native_api_v8.h converts with a
// memcpy, as below); both builds (node-gyp and cmake-js) compile against Node's headers, which include v8.h.
// Where they are missing the class compiles to nothing and the README's precondition (do not detach) is all
// that remains.
#pragma once
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#if defined(__has_include)
#if __has_include(<v8.h>)
#include <v8.h>
#define QKB_KEEPALIVE 1
#endif
#endif

#include "binding/args.h"

namespace qkb {

class BufferKeepalive {
 public:
  // Holds the backing store of every typed array among the call's arguments. Returns false with a pending
  // TypeError when one is backed by a resizable ArrayBuffer.
  bool hold(const Napi::CallbackInfo& info) {
#ifdef QKB_KEEPALIVE
    napi_env env = info.Env();
    for (size_t i = 0; i < info.Length(); ++i) {
      bool is = false;
      if (napi_is_typedarray(env, info[i], &is) != napi_ok || !is) continue;
      napi_value buffer;
      if (napi_get_typedarray_info(env, info[i], nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok) continue;
      v8::Local<v8::Value> value = to_v8(buffer);
      if (!value->IsArrayBuffer()) continue;  // a SharedArrayBuffer cannot be detached; the reference keeps it
      std::shared_ptr<v8::BackingStore> store = value.As<v8::ArrayBuffer>()->GetBackingStore();
#if V8_MAJOR_VERSION >= 11
      if (store->IsResizableByUserJavaScript())
        return throw_type(info.Env(), "argument " + std::to_string(i) +
                                          " of an async call is backed by a resizable ArrayBuffer, which could "
                                          "shrink while the call runs; pass a fixed-length copy");
#endif
      stores_.push_back(std::move(store));
    }
#else
    (void)info;
#endif
    return true;
  }
  // Drops the stores (on the main thread, where the worker settles).
  void release() {
#ifdef QKB_KEEPALIVE
    stores_.clear();
#endif
  }

 private:
#ifdef QKB_KEEPALIVE
  static v8::Local<v8::Value> to_v8(napi_value v) {
    static_assert(sizeof(v8::Local<v8::Value>) == sizeof(napi_value), "napi_value is a v8::Local");
    v8::Local<v8::Value> local;
    std::memcpy(static_cast<void*>(&local), &v, sizeof(v));
    return local;
  }
  std::vector<std::shared_ptr<v8::BackingStore>> stores_;
#endif
};

}  // namespace qkb
