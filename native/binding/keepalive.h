// qkernels binding: keeps the memory behind an async call's typed arrays alive until the worker is done, even if
// JavaScript detaches their ArrayBuffers meanwhile (structuredClone or postMessage with a transfer list,
// ArrayBuffer.prototype.transfer). A persistent reference keeps a typed array object alive, but not its memory: a
// detached buffer hands its memory to the new owner, which may free it while the worker still reads or writes it.
//
// Node-API has no way to hold an ArrayBuffer's memory, so keepalive.cc uses V8's: each buffer's v8::BackingStore
// is held by a shared_ptr, which keeps the allocation alive whoever owns it now. V8 never reallocates a backing
// store in place on detach (a transfer either moves the same store or copies into a new one), so the pointers the
// call took stay valid. The one JavaScript-visible change a store can still see is a resizable ArrayBuffer
// shrinking, which decommits memory: such buffers are refused (the TypeScript layer refuses them first, naming
// the parameter).
//
// This is the addon's only use of the V8 API (Node and Electron). Runtimes that implement Node-API without
// exporting V8's API (Bun, Deno) still load the addon (its imports are bound on first use); hold() looks the V8
// functions up first and, where they are missing, holds nothing (the pinned arguments still keep the arrays
// referenced). It lives in its own translation unit because Node 23 and later's V8 headers need C++20, where the
// rest of the addon is C++17.
#pragma once
#include <napi.h>

#include <memory>

namespace qkb {

class BufferKeepalive {
 public:
  BufferKeepalive();
  ~BufferKeepalive();  // defined where Stores is complete

  // Holds the backing store of every typed array among the call's arguments. Returns false with a pending
  // TypeError when one is backed by a resizable ArrayBuffer, or a RangeError when out of memory.
  bool hold(const Napi::CallbackInfo& info);
  // Drops the stores (on the main thread, where the call settles).
  void release();

 private:
  struct Stores;
  std::unique_ptr<Stores> stores_;
};

}  // namespace qkb
