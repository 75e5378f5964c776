// qkernels binding: BufferKeepalive (keepalive.h), the addon's one translation unit that uses the V8 API. Built
// as C++20 (Node 23 and later's V8 headers require it); everything it shares with the rest of the addon is
// declared in keepalive.h without V8 types.
#include "binding/keepalive.h"

#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <v8.h>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#endif

#include "binding/args.h"
#include "binding/worker.h"

namespace qkb {

struct BufferKeepalive::Stores {
  std::vector<std::shared_ptr<v8::BackingStore>> list;
};

BufferKeepalive::BufferKeepalive() = default;
BufferKeepalive::~BufferKeepalive() = default;

namespace {

// A napi_value is a v8::Local<v8::Value> in Node's implementation of Node-API (js_native_api_v8.h converts with
// the same memcpy).
v8::Local<v8::Value> to_v8(napi_value v) {
  static_assert(sizeof(v8::Local<v8::Value>) == sizeof(napi_value), "napi_value is a v8::Local");
  v8::Local<v8::Value> local;
  std::memcpy(static_cast<void*>(&local), &v, sizeof(v));
  return local;
}

// The V8 functions hold() calls, by their mangled names (scripts/runtime-smoke.sh checks that these are exactly the
// V8 symbols the built addon imports).
constexpr const char* kV8Symbols[] = {
    "_ZNK2v85Value13IsArrayBufferEv",
    "_ZN2v811ArrayBuffer15GetBackingStoreEv",
#if V8_MAJOR_VERSION >= 11
    "_ZNK2v812BackingStore27IsResizableByUserJavaScriptEv",
#endif
};

// Whether the process exports V8's API. Node and Electron do; runtimes that implement Node-API on their own engine
// or hide V8's symbols (Bun, Deno) do not, and there the first call into V8 would end the process with "symbol
// lookup error" (the addon's imports are bound lazily, on first use). Looked up once. On Windows the addon links
// against node.exe's import library, so there is nothing to look up.
bool v8_api_available() {
#if defined(__unix__) || defined(__APPLE__)
  static const bool available = [] {
    for (const char* name : kV8Symbols)
      if (dlsym(RTLD_DEFAULT, name) == nullptr) return false;
    return true;
  }();
  return available;
#else
  return true;
#endif
}

}  // namespace

bool BufferKeepalive::hold(const Napi::CallbackInfo& info) {
  // Without V8's API only the persistent references remain (PromiseWork pins every argument): the arrays cannot be
  // collected, but a buffer transferred away while the call runs is not protected (the README says so). The
  // TypeScript layer still refuses resizable buffers.
  if (!v8_api_available()) return true;
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
    if (!stores_) stores_.reset(new (std::nothrow) Stores());
    if (!stores_) {
      throw_out_of_memory(info.Env(), "an async call");
      return false;
    }
    stores_->list.push_back(std::move(store));
  }
  return true;
}

void BufferKeepalive::release() { stores_.reset(); }

}  // namespace qkb
