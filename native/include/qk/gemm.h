// qkernels: INT8 GEMM. C[i][j] = sum_p (a[i][p] - za[i]) * (b[p][j] - zb[j]), exact modulo 2^32, then an
// optional epilogue (float32 scaling with bias and relu, or requantization to int8/uint8).
//
// Every SIMD tier computes the same exact integers: a tier multiplies shifted operands
//   a~ = a + sa (its A element type)   b~ = b - sb (its B element type)
// into D'[i][j] = sum_p a~[i][p] * b~[p][j] (wrapping int32), and the shared driver recovers
//   C = D' - B0[j] * rowsum(a~)[i] - A0[i] * colsum(b~)[j] + k * A0[i] * B0[j]     (all modulo 2^32)
// with A0[i] = za[i] + sa and B0[j] = zb[j] - sb. The identity holds in the ring of integers modulo 2^32, so the
// result equals the scalar reference bit for bit for every input and every k. Packing pads k up to the tier's
// k-group with b~ = 0, so padded terms vanish.
#pragma once
#include <cstddef>
#include <cstdint>

namespace qk {

struct GemmArgs;   // qk/gemm_driver.h
struct GemmTerms;  // qk/gemm_epilogue.h

// A tier's micro-kernel family. The driver packs A in panels of `mr` rows and B in panels of `nr` columns,
// both with k rounded up to a multiple of `kr`.
struct GemmUkernel {
  const char* name;  // e.g. "gemm_u8s8_6x64c4__avx512vnni" (for bug reports and bench labels)
  int mr, nr, kr;
  // Operand shifts: sa is added to A, sb subtracted from B, per signedness (index 0 = signed, 1 = unsigned).
  int32_t sa[2], sb[2];
  // Bytes of one packed A panel / one packed B panel for a given kpad (k rounded up to kr).
  size_t (*a_panel_bytes)(size_t kpad);
  size_t (*b_panel_bytes)(size_t kpad);
  // Packs `rows` (<= mr) rows of A (element (i, p) at a[i * lda + p]) into one panel; rows beyond `rows` and
  // k beyond `k` are padding. rowsum[i] receives sum_p a~[i][p] over the real k (i < rows).
  void (*pack_a)(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, void* panel, int32_t* rowsum);
  // Packs `cols` (<= nr) columns of B (element (p, j) at b[p * rs + j * cs]) into one panel; padding columns
  // and padding k are b~ = 0. colsum[j] receives sum_p b~[p][j] (j < cols).
  void (*pack_b)(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t cols, size_t k, void* panel,
                 int32_t* colsum);
  // D'[i][j] for i < rows (<= mr), j < cols (<= nr): c[i * ldc + j] = sum over kpad of a~ * b~ (wrapping).
  void (*kernel)(size_t rows, size_t cols, size_t kpad, const void* a_panel, const void* b_panel, int32_t* c,
                 size_t ldc);
  // The shared epilogue (qk/gemm_epilogue.h: corrections + output) compiled with this tier's flags.
  void (*epilogue)(const GemmArgs& g, const GemmTerms& terms, size_t i0, size_t rows, size_t j0, size_t cols,
                   const uint32_t* a0, const uint32_t* rs, uint32_t* tile, size_t ldt);
};

#if defined(__x86_64__) || defined(_M_X64)
const GemmUkernel* gemm_avx2();
const GemmUkernel* gemm_avx512();
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
const GemmUkernel* gemm_neon();
#endif

inline size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

// The packed layouts every tier uses: k in groups of KR, and within a group the MR rows (A) or NR columns (B)
// side by side, each with its KR consecutive k values: element (i, p) at [(p / KR) * MR * KR + i * KR + p % KR].
// `f` maps a byte to the tier's operand type (sign/zero extension or the +-128 shift). The caller zero-fills
// the panel first, so padding rows, columns and k hold 0.

// A panel from rows of A (element (i, p) at a[i * lda + p]); rowsum[i] = sum of f(a) over the real k.
template <int MR, int KR, typename T, typename F>
inline void pack_rows(const uint8_t* a, size_t lda, size_t rows, size_t k, T* dst, int32_t* rowsum, F f) {
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * lda;
    int32_t sum = 0;
    for (size_t p = 0; p < k; ++p) {
      const T v = f(row[p]);
      dst[(p / KR) * MR * KR + r * KR + p % KR] = v;
      sum += v;
    }
    rowsum[r] = sum;
  }
}

// A B panel of `cols` columns (element (p, j) at b[p * rs + j * cs]); k is the outer loop so row-major B is read
// along its rows. colsum[j] = sum of f(b) over k.
template <int NR, int KR, typename T, typename F>
inline void pack_cols(const uint8_t* b, size_t rs, size_t cs, size_t cols, size_t k, T* dst, int32_t* colsum, F f) {
  int32_t sums[NR] = {};
  for (size_t p = 0; p < k; ++p) {
    const uint8_t* row = b + p * rs;
    T* d = dst + (p / KR) * NR * KR + p % KR;
    for (size_t c = 0; c < cols; ++c) {
      const T v = f(row[c * cs]);
      d[c * KR] = v;
      sums[c] += v;
    }
  }
  for (size_t c = 0; c < cols; ++c) colsum[c] = sums[c];
}

}  // namespace qk
