// qkernels: a grow-only, 64-byte-aligned buffer for per-thread scratch (packed blocks, accumulators). Kept between
// calls by its thread_local owner, so a call does not pay page faults for fresh memory; contents unspecified.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdlib>

namespace qk {

class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(ptr_); }

  // At least `bytes` (never null, unless out of memory).
  void* get(size_t bytes) {
    if (bytes > size_ || ptr_ == nullptr) {
      std::free(ptr_);
      size_ = std::max<size_t>({bytes, size_ * 2, 64});
      ptr_ = std::aligned_alloc(64, (size_ + 63) / 64 * 64);
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
