// qkernels: non-temporal stores for the element-wise kernels' large outputs (x86 SIMD tiers). A normal store first
// reads the line it writes (read-for-ownership): for an output much larger than the caches, a third of a kernel's
// memory traffic or more. Streaming stores write whole lines without that read, but leave the output out of the
// cache, so they are used only for outputs of kStreamMinBytes and more, which would not stay in the cache anyway.
// Internal linkage: each tier's translation unit compiles its own copy.
#pragma once
#include <xmmintrin.h>  // _mm_sfence (SSE; also fine next to SIMDe's AVX-512 aliases)

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace qk {
namespace {

constexpr size_t kStreamMinBytes = size_t{8} << 20;
constexpr size_t kAlignMinBytes = 4096;

// Runs a kernel body over [0, n) for an output of n elements of esize bytes at `out`: f(i0, i1, std::false_type) for
// normal stores, f(i0, i1, std::true_type) where the body's full vectors (of a power-of-two size up to 64 bytes,
// from i0 on a 64-byte boundary) may use streaming stores. total_bytes: the size of the whole output this call
// writes a part of (a channel's run of a per-channel dequantize), which decides streaming instead of this part's.
template <typename F>
inline void for_stores(const void* out, size_t esize, size_t n, F f, size_t total_bytes = 0) {
  const uintptr_t p = reinterpret_cast<uintptr_t>(out);
  // Below a few KB the head is not worth it; an output not on an element boundary cannot be aligned.
  if (n * esize < kAlignMinBytes || p % esize != 0) {
    f(size_t{0}, n, std::false_type{});
    return;
  }
  // Everything from the first element on a 64-byte boundary: full vectors of the body then never straddle two
  // cache lines (a split store costs two), and large outputs stream.
  const size_t head = std::min(n, ((64 - p % 64) % 64) / esize);
  if (head) f(size_t{0}, head, std::false_type{});
  if (std::max(n * esize, total_bytes) < kStreamMinBytes) {
    f(head, n, std::false_type{});
    return;
  }
  f(head, n, std::true_type{});
  _mm_sfence();  // streaming stores are weakly ordered: order them before whatever the caller does next
}

// Kernels::dequantize_*_channels for a tier whose per-tensor dequantize streams (avx2, avx512): `Run` is that
// dequantize with for_stores' total_bytes, given the whole output's size for every channel's run, so the runs of a
// large tensor stream even though each is short of kStreamMinBytes (16M as 1024 channels of 16K on a Zen 5 VM:
// about 1.9 ms against 2.3-2.9 ms run by run).
template <typename T, void (*Run)(const T*, float*, size_t, float, int32_t, size_t)>
void dequantize_channels_streamed(const T* q, float* y, size_t outer, size_t channels, size_t inner, const float* scale,
                                  const int32_t* zero_point) {
  const size_t total = outer * channels * inner * sizeof(float);
  for (size_t o = 0, off = 0; o < outer; ++o)
    for (size_t c = 0; c < channels; ++c, off += inner) Run(q + off, y + off, inner, scale[c], zero_point[c], total);
}

}  // namespace
}  // namespace qk
