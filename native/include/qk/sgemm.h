// qkernels: float32 GEMM (sgemm). C[i][j] = sum_p A[i][p] * B[p][j], C overwritten (beta = 0).
//
// The shared driver (native/src/sgemm.cc) splits k into blocks of at most the tier's kc, packs B into column
// panels of `nr` columns and A into row panels of `mr` rows (zero padded), block by block, and runs the tier's
// micro-kernel over the tile grid on the thread pool. Each output element is always computed by the same sequence
// of float operations (fixed k blocks, summed in order, one micro-kernel lane), so a tier's results are
// deterministic and identical for every thread count (k is never split across threads). Tiers differ from each
// other in rounding (FMA or not, k blocks), so results are close, not bit-identical, across tiers.
#pragma once
#include <cstddef>

namespace qk {

struct Kernels;

// A tier's micro-kernel.
//
// Packed layouts (the driver writes them):
//   A panel: for each of the block's kc steps p, mr floats a[i0 + r][p0 + p] (rows past m are 0).
//   B panel: for each of the block's kc steps p, nr floats b[p0 + p][j0 + c] (columns past n are 0).
struct SgemmUkernel {
  const char* name;  // e.g. "sgemm_6x16__avx2_fma" (for bug reports and bench labels)
  int mr, nr;
  // Cache blocking. kc: the most k steps per block; k is split into ceil(k / kc) near-equal blocks, summed in
  // order (it fixes the rounding, so it depends only on the tier and k). nc: the most columns of B packed at a
  // time (shared by the threads). mc: rows of A per thread task (its A block stays in L2; a multiple of mr); the
  // driver shrinks tasks to make enough for the threads, which changes no result.
  int kc, mc, nc;
  // For r < rows (<= mr), c < cols (<= nr): acc = sum_{p < kc} a[p * mr + r] * b[p * nr + c] (the tier's order
  // and rounding); then c[r * ldc + c] = acc, or c[r * ldc + c] += acc (one float32 addition) when accumulate.
  // Writes nothing outside rows x cols.
  void (*kernel)(size_t rows, size_t cols, size_t kc, const float* a, const float* b, float* c, size_t ldc,
                 bool accumulate);
  // Optional (null: the driver packs as usual): up to kSgemmRowsMax rows of A against row-major B read in place
  // (row p at b + p * rs), for one k block. For r < rows, c < cols: acc = the same chain as `kernel`'s lanes
  // (from +0, one fused multiply-add per p, in order), then c[r * ldc + c] = acc, or += acc when accumulate; so
  // the results are bit for bit those of the packed path. `acc`: scratch for rows * cols floats. Few rows
  // against a large B (a batch of tokens, m = 1) are then bound by reading B once instead of packing it first.
  void (*rows)(size_t rows, size_t cols, size_t kc, const float* a, size_t lda, const float* b, size_t rs, float* c,
               size_t ldc, bool accumulate, float* acc) = nullptr;
};

// The most rows SgemmUkernel::rows takes.
constexpr size_t kSgemmRowsMax = 4;

#if defined(__x86_64__) || defined(_M_X64)
const SgemmUkernel* sgemm_avx2();
const SgemmUkernel* sgemm_avx512();
// The avx2 tier's SgemmUkernel::rows (AVX2 + FMA), which the avx512 tier shares: it is bound by reading B.
void sgemm_rows_avx2(size_t rows, size_t cols, size_t kc, const float* a, size_t lda, const float* b, size_t rs,
                     float* c, size_t ldc, bool accumulate, float* acc);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
const SgemmUkernel* sgemm_neon();
#endif

struct SgemmArgs {
  size_t m = 0, n = 0, k = 0;
  const float* a = nullptr;  // element (i, p) at a[i * lda + p]
  size_t lda = 0;
  const float* b = nullptr;  // element (p, j) at b[p * rs + j * cs] (rs = n, cs = 1; or transposed: rs = 1, cs = k)
  size_t rs = 0, cs = 0;
  float* c = nullptr;  // element (i, j) at c[i * ldc + j]
  size_t ldc = 0;
};

// The oracle (native/kernels/scalar/sgemm.cc, compiled without auto-vectorization): for each element a plain
// float32 sum over p in order, acc = acc + a * b with separate roundings (no FMA contraction), from acc = 0.
// Rows [i0, i1) only. C must not overlap A or B.
void sgemm_reference(const SgemmArgs& args, size_t i0, size_t i1);

// C = A * B with the given tier's kernels (the scalar tier runs the reference loops) on up to `threads` threads.
// C may overlap A or B (the result is then computed into a temporary and copied). k = 0 writes zeros. Returns
// false when out of memory (a packing buffer or the temporary); C may then be partly written.
[[nodiscard]] bool sgemm(const Kernels& kt, const SgemmArgs& args, int threads);

}  // namespace qk
