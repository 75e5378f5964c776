// qkernels: the INT8 GEMV for a few rows of A against a B that was not packed (packing B costs far more than a
// product with one row). Straight loops that a tier's translation unit compiles with its own flags (they vectorize
// there): the NEON tiers use them; the x86 tiers have their own (qk/gemv_avx2.h, qk/gemv_vnni.h, 2-4x faster).
// Internal linkage, see the weak-symbol check in scripts/native-tests.sh.
//
// d[i * ldd + j] = sum_p a[i][p] * b[p][j] over the raw values (int8 or uint8 each, no shifts), wrapping modulo 2^32,
// and colsum[j] = sum_p b[p][j], for i < m and j0 <= j < j1; the driver applies the zero-point corrections.
// gemv_generic_centered (GemmUkernel::gemv_centered) sums (a[i][p] - za[i]) * b[p][j] instead and no column sums.
// Partial sums are exact int32 over runs of kRun values (|a * b| <= 32640, and centered |(a - za) * b| <= 255 * 255
// = 65025, so 32768 of them fit: at most 2130739200 < 2^31), added in uint32.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "qk/gemm.h"

namespace qk {
namespace {

namespace gemv_detail {

constexpr size_t kRun = 32768;
constexpr size_t kCols = 256;  // row-major B: columns per block of accumulators

template <bool S>
inline int32_t val(uint8_t v) {
  return S ? static_cast<int32_t>(static_cast<int8_t>(v)) : static_cast<int32_t>(v);
}

// Row-major B (cs == 1): for each k, every row of A times one row of B, added to a block of column accumulators.
// za null: raw A and column sums; else A centered on za[r] and colsum unused.
template <bool AS, bool BS>
void rows_major(size_t m, size_t k, const uint8_t* a, size_t lda, const int32_t* za, const uint8_t* b, size_t rs,
                size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  for (size_t jb = j0; jb < j1; jb += kCols) {
    const size_t w = std::min(kCols, j1 - jb);
    uint32_t acc[kGemvMaxRows][kCols] = {}, cs[kCols] = {};
    for (size_t p0 = 0; p0 < k; p0 += kRun) {
      const size_t p1 = std::min(k, p0 + kRun);
      int32_t part[kGemvMaxRows][kCols] = {}, cpart[kCols] = {};
      for (size_t p = p0; p < p1; ++p) {
        const uint8_t* row = b + p * rs + jb;
        if (!za)
          for (size_t j = 0; j < w; ++j) cpart[j] += val<BS>(row[j]);
        for (size_t r = 0; r < m; ++r) {
          const int32_t av = val<AS>(a[r * lda + p]) - (za ? za[r] : 0);
          int32_t* pr = part[r];
          for (size_t j = 0; j < w; ++j) pr[j] += av * val<BS>(row[j]);
        }
      }
      for (size_t j = 0; j < w; ++j) cs[j] += static_cast<uint32_t>(cpart[j]);
      for (size_t r = 0; r < m; ++r)
        for (size_t j = 0; j < w; ++j) acc[r][j] += static_cast<uint32_t>(part[r][j]);
    }
    if (!za)
      for (size_t j = 0; j < w; ++j) colsum[jb + j] = cs[j];
    for (size_t r = 0; r < m; ++r)
      for (size_t j = 0; j < w; ++j) d[r * ldd + jb + j] = acc[r][j];
  }
}

// Column-major B (rs == 1, the n x k transB layout): each column is a contiguous run of k bytes, a dot product with
// each row of A.
template <bool AS, bool BS>
void cols_major(size_t m, size_t k, const uint8_t* a, size_t lda, const int32_t* za, const uint8_t* b, size_t cs_,
                size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  for (size_t j = j0; j < j1; ++j) {
    const uint8_t* col = b + j * cs_;
    uint32_t acc[kGemvMaxRows] = {}, cs = 0;
    for (size_t p0 = 0; p0 < k; p0 += kRun) {
      const size_t p1 = std::min(k, p0 + kRun);
      if (!za) {
        int32_t c = 0;
        for (size_t p = p0; p < p1; ++p) c += val<BS>(col[p]);
        cs += static_cast<uint32_t>(c);
      }
      for (size_t r = 0; r < m; ++r) {
        const uint8_t* ar = a + r * lda;
        const int32_t z = za ? za[r] : 0;
        int32_t s = 0;
        for (size_t p = p0; p < p1; ++p) s += (val<AS>(ar[p]) - z) * val<BS>(col[p]);
        acc[r] += static_cast<uint32_t>(s);
      }
    }
    if (!za) colsum[j] = cs;
    for (size_t r = 0; r < m; ++r) d[r * ldd + j] = acc[r];
  }
}

template <bool AS, bool BS>
void dispatch(size_t m, size_t k, const uint8_t* a, size_t lda, const int32_t* za, const uint8_t* b, size_t rs,
              size_t cs, size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  if (cs == 1) rows_major<AS, BS>(m, k, a, lda, za, b, rs, j0, j1, d, ldd, colsum);
  else cols_major<AS, BS>(m, k, a, lda, za, b, cs, j0, j1, d, ldd, colsum);
}

inline void by_sign(size_t m, size_t k, const uint8_t* a, size_t lda, bool a_signed, const int32_t* za,
                    const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t j0, size_t j1, uint32_t* d,
                    size_t ldd, uint32_t* colsum) {
  if (a_signed) {
    if (b_signed) dispatch<true, true>(m, k, a, lda, za, b, rs, cs, j0, j1, d, ldd, colsum);
    else dispatch<true, false>(m, k, a, lda, za, b, rs, cs, j0, j1, d, ldd, colsum);
  } else {
    if (b_signed) dispatch<false, true>(m, k, a, lda, za, b, rs, cs, j0, j1, d, ldd, colsum);
    else dispatch<false, false>(m, k, a, lda, za, b, rs, cs, j0, j1, d, ldd, colsum);
  }
}

}  // namespace gemv_detail

// m <= kGemvMaxRows rows of A (element (i, p) at a[i * lda + p]) times columns j0 .. j1 of B (element (p, j) at
// b[p * rs + j * cs], with cs == 1 or rs == 1).
inline void gemv_generic(size_t m, size_t k, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b, size_t rs,
                         size_t cs, bool b_signed, size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  gemv_detail::by_sign(m, k, a, lda, a_signed, nullptr, b, rs, cs, b_signed, j0, j1, d, ldd, colsum);
}

// GemmUkernel::gemv_centered: the same loops on a - za (za[i] in A's range), without the column sums.
inline void gemv_generic_centered(size_t m, size_t k, const uint8_t* a, size_t lda, bool a_signed, const int32_t* za,
                                  const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t j0, size_t j1,
                                  uint32_t* d, size_t ldd) {
  gemv_detail::by_sign(m, k, a, lda, a_signed, za, b, rs, cs, b_signed, j0, j1, d, ldd, nullptr);
}

}  // namespace
}  // namespace qk
