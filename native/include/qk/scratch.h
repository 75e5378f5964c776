// qkernels: a grow-only, 64-byte-aligned buffer for per-thread scratch (packed blocks, accumulators). Kept between
// calls by its thread_local owner, so a call does not pay page faults for fresh memory; contents unspecified.
// Also the allocation helpers of the GEMM drivers: the native code is built without exceptions, where a failed
// `new` or std::vector growth terminates the process, so memory that scales with the operands is taken with
// these instead and a failure is reported to the caller (the binding throws a RangeError).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#ifdef _WIN32
#include <malloc.h>  // _aligned_malloc
#else
#include <sys/mman.h>  // madvise
#endif

namespace qk {

namespace detail {
inline std::atomic<size_t> g_alloc_limit{0};
}  // namespace detail

// Test hook: every allocation these helpers (and AlignedBytes) make of more than `bytes` fails as if out of memory,
// so the failure paths can be tested for real; 0 (the default) turns it off.
inline void set_alloc_limit_for_tests(size_t bytes) { detail::g_alloc_limit.store(bytes, std::memory_order_relaxed); }
// Whether a request of `bytes` must fail under the test limit.
inline bool alloc_refused(size_t bytes) {
  const size_t limit = detail::g_alloc_limit.load(std::memory_order_relaxed);
  return limit != 0 && bytes > limit;
}

// Allocations of at least this size are placed on 2 MB boundaries and offered to the kernel as transparent huge
// pages (Linux, MADV_HUGEPAGE; a no-op where THP is off). A GEMM streams its packed B and its scratch blocks
// panel by panel, a new 4 KB page every 16 k groups of the avx512 kernel; on 2 MB pages those TLB misses go.
// Where THP is enabled only on request (the common "madvise" setting), this is the request. bench_gemm on a
// Zen 5 VM, avx512, 1 thread, 10 alternated runs with and without it: int8 2048^3 median 773 -> 795 GOPS
// (best 826 -> 851); sgemm 2048^3 within the noise (median 173 -> 174, best 174 -> 190 GFLOPS). packB of
// 4096 x 4096 from Node: 1.6-3.5 ms against 4.1-8.6 ms, except in a process started after the VM sat idle,
// where every huge page's first touch was slow (13-34 ms per packB; the host backing fresh 2 MB pages).
constexpr size_t kHugePageBytes = size_t{1} << 21;

// `bytes` (a multiple of 64) aligned to 64 bytes, or null; freed with aligned_free. Windows has no
// std::aligned_alloc (its free cannot release an over-aligned block): _aligned_malloc and _aligned_free there.
// kHugePageBytes and more: 2 MB aligned, rounded up to whole 2 MB pages (at most one partly used page more
// than asked for), and marked MADV_HUGEPAGE.
inline void* aligned_malloc64(size_t bytes) {
#ifdef _WIN32
  return _aligned_malloc(bytes, 64);
#else
#ifdef MADV_HUGEPAGE
  if (bytes >= kHugePageBytes && bytes <= SIZE_MAX - kHugePageBytes) {
    const size_t whole = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
    void* p = std::aligned_alloc(kHugePageBytes, whole);
    if (p != nullptr) madvise(p, whole, MADV_HUGEPAGE);  // advice only: a failure leaves 4 KB pages
    return p;
  }
#endif
  return std::aligned_alloc(64, bytes);
#endif
}
inline void aligned_free(void* p) {
#ifdef _WIN32
  _aligned_free(p);
#else
  std::free(p);
#endif
}

// n value-initialized (zeroed) Ts, or null when out of memory: for per-call arrays that scale with m or n.
template <typename T>
std::unique_ptr<T[]> make_array(size_t n) {
  if (n > SIZE_MAX / sizeof(T) || alloc_refused(n * sizeof(T))) return nullptr;
  return std::unique_ptr<T[]>(new (std::nothrow) T[std::max<size_t>(n, 1)]());
}

class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { aligned_free(ptr_); }

  // At least `bytes` (never null, unless out of memory; a request above the test limit fails even when the
  // current buffer would hold it, so a test does not depend on what ran before it on this thread).
  void* get(size_t bytes) {
    if (alloc_refused(bytes)) return nullptr;
    if (bytes > size_ || ptr_ == nullptr) {
      aligned_free(ptr_);
      size_ = std::max<size_t>({bytes, size_ * 2, 64});
      ptr_ = aligned_malloc64((size_ + 63) / 64 * 64);
      if (ptr_ == nullptr) size_ = 0;
    }
    return ptr_;
  }
  template <typename T>
  T* get(size_t n) {
    return static_cast<T*>(get(n * sizeof(T)));
  }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace qk
