// qkernels: the INT8 GEMM driver shared by every tier (packing, tiling, threads, zero-point corrections and the
// output epilogue) and the scalar reference it is tested against.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "qk/gemm.h"
#include "qk/kernels.h"

namespace qk {

struct GemmArgs {
  size_t m = 0, n = 0, k = 0;
  const uint8_t* a = nullptr;  // m x k, row stride lda (int8 or uint8 bytes)
  size_t lda = 0;
  bool a_signed = false;
  const int32_t* za = nullptr;  // A zero point: za[i * za_step] (za_step 0 broadcasts one value)
  size_t za_step = 0;
  const int32_t* zb = nullptr;  // B zero point per column: zb[j * zb_step]
  size_t zb_step = 0;
  GemmOut mode = GemmOut::Int32;
  void* c = nullptr;  // m x n output (int32, float, int8 or uint8), row stride ldc elements
  size_t ldc = 0;
  // Float and requantized outputs: y = float(C) * (a_scale[i] * b_scale[j]) + bias[j]; relu: y = max(y, 0).
  const float* a_scale = nullptr;
  size_t a_scale_step = 0;
  const float* b_scale = nullptr;
  size_t b_scale_step = 0;
  const float* bias = nullptr;  // n values or nullptr
  bool relu = false;
  // Requantized outputs: q = clamp(nearbyint(y * inv_out_scale) + out_zp, qmin, qmax) (quantize's rule).
  float inv_out_scale = 1.0f;
  int32_t out_zp = 0, qmin = 0, qmax = 0;
};

// Zero-filled bytes at a 64-byte boundary (panels and tiles start on cache lines: a tile or vector load that
// straddles two lines costs both, which halves AMX throughput).
class AlignedBytes {
 public:
  AlignedBytes() = default;
  AlignedBytes(const AlignedBytes&) = delete;
  AlignedBytes& operator=(const AlignedBytes&) = delete;
  ~AlignedBytes();
  // n bytes (at least one, so data() is not null after a successful assign), zeroed unless `zero` is false (the
  // caller writes every byte); reuses the current allocation when it is large enough. Returns false when out of
  // memory (or n is above the test limit, qk/scratch.h), leaving the object empty: data() null, size() 0.
  bool assign(size_t n, bool zero = true);
  uint8_t* data() { return ptr_; }
  const uint8_t* data() const { return ptr_; }
  size_t size() const { return size_; }

 private:
  uint8_t* ptr_ = nullptr;
  size_t size_ = 0, capacity_ = 0;
};

// B, packed for one tier's micro-kernel (plus colsum(b~) per column: panels * nr int32 values in `sums`, an
// AlignedBytes so that a reused PackedPanels keeps its allocation and a failed one is reported, not fatal).
struct PackedPanels {
  const GemmUkernel* uk = nullptr;
  size_t kpad = 0, panels = 0, panel_bytes = 0;
  AlignedBytes data, sums;
  int32_t* colsum() { return reinterpret_cast<int32_t*>(sums.data()); }
  const int32_t* colsum() const { return reinterpret_cast<const int32_t*>(sums.data()); }
};

// A B matrix kept for reuse: packed for one tier's micro-kernel when made, and only that packing is kept (not a
// copy of B's values, which would double the memory of a model's weights). Another tier's packing is built on
// first use from B's values rebuilt out of a kept packing (then dropped); the scalar tier, which reads B's values,
// rebuilds them once and keeps them. Made for the scalar tier (uk null), it keeps a copy of the values instead.
class PackedB {
 public:
  // Packs B (element (p, j) at b[p * rs + j * cs]) for `uk` on up to `threads` threads, or copies it (uk null).
  // Out of memory leaves the object empty: check ok() (or use create()).
  PackedB(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t k, size_t n, const GemmUkernel* uk,
          int threads = 1);
  // A new PackedB, or null when out of memory.
  static std::unique_ptr<PackedB> create(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t k, size_t n,
                                         const GemmUkernel* uk, int threads = 1);
  bool ok() const { return ok_; }
  size_t k() const { return k_; }
  size_t n() const { return n_; }
  bool b_signed() const { return signed_; }
  // B's values for the scalar tier: element (p, j) at data[p * rs + j * cs]. Kept, or rebuilt (row-major) from a
  // packing and kept from then on (thread-safe). False: out of memory.
  struct Values {
    const uint8_t* data;
    size_t rs, cs;
  };
  bool values(Values* out);
  // The packing for a tier's micro-kernel (built on first use, on up to `threads` threads; thread-safe), or null
  // when out of memory; a failed packing is not kept, so a later call tries again.
  const PackedPanels* panels(const GemmUkernel* uk, int threads = 1);
  // Bytes held now: the packings and any values.
  size_t bytes();

 private:
  // B, row-major, rebuilt from a kept packing into `out` (k * n bytes), on up to `threads` threads. False: out of
  // memory. Needs mu_ held.
  bool rebuild_locked(AlignedBytes* out, int threads) const;
  size_t k_, n_, rs_ = 0, cs_ = 0;
  bool signed_, ok_ = false;
  AlignedBytes values_;  // empty unless made for, or used by, the scalar tier
  std::mutex mu_;
  std::array<std::unique_ptr<PackedPanels>, static_cast<size_t>(Isa::Count)> packs_;
};

// B's values, row-major (b[p * n + j]), from a complete packing of a k x n matrix of signedness b_signed, on up to
// `threads` threads.
void unpack_b_panels(const PackedPanels& pb, bool b_signed, size_t k, size_t n, uint8_t* b, int threads = 1);

// Packs B (element (p, j) at b[p * rs + j * cs]) for a micro-kernel, on up to `threads` threads. False: out of
// memory (`out` then holds no packing: uk null).
bool pack_b_panels(const GemmUkernel* uk, const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t k, size_t n,
                   PackedPanels* out, int threads = 1);

// Runs C = A * B with the given tier's kernels (scalar runs the reference loops) on up to `threads` threads.
// `b` is the original B (element (p, j) at b[p * rs + j * cs]); `packed` may be null, and is then built from `b`
// for this call. Identical results for every tier and thread count. Returns false when out of memory (scratch,
// packing, or `packed` without values); C may then be partly written.
[[nodiscard]] bool gemm(const Kernels& kt, const GemmArgs& args, const uint8_t* b, size_t rs, size_t cs, bool b_signed,
          PackedB* packed, int threads);

// Output bytes from which tiers with rows_outer write C through row strips (default 2 MB); tests set 0 so small
// shapes take that path too.
void set_gemm_strip_min_bytes(size_t bytes);
size_t gemm_strip_min_bytes();

// The most bytes of a task's rows that a staged A (flipped or realigned for the kernel) copies for all of k at once
// and reuses across the thread's tasks on those rows (default 1 MB); beyond it, one k block at a time. Tests set 0.
void set_gemm_stage_all_max_bytes(size_t bytes);
size_t gemm_stage_all_max_bytes();

// The oracle: direct loops over the definition, then the same epilogue. False: out of memory (its row buffer).
bool gemm_reference(const GemmArgs& args, const uint8_t* b, size_t rs, size_t cs, bool b_signed);

}  // namespace qk
