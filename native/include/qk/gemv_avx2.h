// qkernels: the INT8 GEMV of qk/gemv.h (a few rows of A against a B that was not packed) with AVX2, for the avx2
// tier's translation unit. Same contract as gemv_generic: d[i * ldd + j] = sum_p a[i][p] * b[p][j] over the raw
// values, colsum[j] = sum_p b[p][j], wrapping modulo 2^32.
//
// Exact like the tier's GEMM: both operands are widened to int16 (sign- or zero-extended by their own
// signedness, so no corrections are needed) and multiplied in pairs with vpmaddwd, whose pair sums fit in int32;
// the column sums are one more vpmaddwd against int16 ones. (vpmaddubsw would saturate 255 x -128 pairs.)
// gemv_avx2_centered takes A's zero point off each value first (|a - za| <= 255 still fits int16, a pair sum of
// products 2 * 255 * 255 still int32): then no column sums are needed, a third of the row-major loop's arithmetic.
//
// Row-major B (k x n): two rows of 16 columns are widened and interleaved into int16 pairs per column (the
// unpacks leave columns 4-7 and 8-11 of each 16 swapped, undone when the results are written); the sums for up to
// 4096 columns stay in L1/L2 while the rows are walked in runs of kRunRows per 16-column block, with
// software prefetch one run ahead (the VNNI version's layout: qk/gemv_vnni.h).
// Column-major B (the n x k transB layout): a few columns x 16 k per step against every row of A, reduced with
// horizontal adds at the end.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qk/gemm.h"

namespace qk {
namespace {

namespace gemv_avx2_detail {

constexpr size_t kBlockCols = 4096;
constexpr size_t kRunRows = 16;  // rows of B per run over a 16-column block (8 pairs)

template <bool S>
QK_ALWAYS_INLINE __m256i widen16(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return S ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
}

template <bool S>
inline int32_t val(uint8_t v) {
  return S ? static_cast<int32_t>(static_cast<int8_t>(v)) : static_cast<int32_t>(v);
}

// (a[p] - za, a[p + 1] - za) as two int16 in one int32 (0 past k).
template <bool AS>
inline int32_t a_pair(const uint8_t* a, size_t p, size_t k, int32_t za) {
  const uint32_t lo = static_cast<uint16_t>(static_cast<int16_t>(val<AS>(a[p]) - za));
  const uint32_t hi = p + 1 < k ? static_cast<uint16_t>(static_cast<int16_t>(val<AS>(a[p + 1]) - za)) : 0;
  return static_cast<int32_t>(lo | hi << 16);
}

// Rows p, p + 1 of B (row1 null: past k, zero) at 16 columns, against M rows of A (pairs ap[r]); CS: the column
// sums in t too.
template <int M, bool BS, bool CS>
QK_ALWAYS_INLINE void rows_pair(const uint8_t* row0, const uint8_t* row1, const int32_t* ap, size_t ap_stride,
                               __m256i ones, __m256i (&c)[M][2], __m256i (&t)[2]) {
  const __m256i w0 = widen16<BS>(row0), w1 = row1 ? widen16<BS>(row1) : _mm256_setzero_si256();
  // g[0], 128-bit lane L: columns 8 L .. 8 L + 3; g[1]: 8 L + 4 .. 8 L + 7 (k pairs p, p + 1).
  const __m256i g[2] = {_mm256_unpacklo_epi16(w0, w1), _mm256_unpackhi_epi16(w0, w1)};
  if (CS) {
    t[0] = _mm256_add_epi32(t[0], _mm256_madd_epi16(ones, g[0]));
    t[1] = _mm256_add_epi32(t[1], _mm256_madd_epi16(ones, g[1]));
  }
#pragma GCC unroll 4
  for (int r = 0; r < M; ++r) {
    const __m256i av = _mm256_set1_epi32(ap[r * ap_stride]);
    c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(av, g[0]));
    c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(av, g[1]));
  }
}

// The sums of each whole 16-column sub-block accumulate in place in d (row r at d + r * ldd) and colsum, the
// caller's output arrays (no large stack arrays: a musl thread has 128 KB of stack), permuted, and are put in
// order when the block is done; a last partial sub-block's go to a small buffer.
// CS false (centered A): colsum is not written, and za holds each row's zero point.
template <int M, bool AS, bool BS, bool CS>
void rows_major(size_t k, const uint8_t* a, size_t lda, const int32_t* za, const uint8_t* b, size_t rs, size_t j0,
                size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  const __m256i ones = _mm256_set1_epi16(1);
  alignas(32) int32_t tacc[M][16], tcs[16];
  alignas(32) int32_t ap[M][kRunRows / 2];
  alignas(16) uint8_t tail[2][16];
  for (size_t jb = j0; jb < j1; jb += kBlockCols) {
    const size_t w = std::min(kBlockCols, j1 - jb), subs = (w + 15) / 16;
    // Sub-block s's sums: row r at acc + r * ld, the column sums at csp.
    auto where = [&](size_t s, int32_t** acc, size_t* ld, int32_t** csp) {
      if (s * 16 + 16 <= w) {
        *acc = reinterpret_cast<int32_t*>(d + jb + s * 16), *ld = ldd;
        *csp = CS ? reinterpret_cast<int32_t*>(colsum + jb + s * 16) : tcs;
      } else {
        *acc = tacc[0], *ld = 16, *csp = tcs;
      }
    };
    for (size_t s = 0; s < subs; ++s) {
      int32_t *acc, *csp;
      size_t ld;
      where(s, &acc, &ld, &csp);
      for (int r = 0; r < M; ++r) std::memset(acc + r * ld, 0, 16 * sizeof(int32_t));
      std::memset(csp, 0, 16 * sizeof(int32_t));
    }
    for (size_t p0 = 0; p0 < k; p0 += kRunRows) {
      const size_t p1 = std::min(k, p0 + kRunRows);
      for (int r = 0; r < M; ++r)
        for (size_t p = p0; p < p1; p += 2) ap[r][(p - p0) / 2] = a_pair<AS>(a + r * lda, p, k, CS ? 0 : za[r]);
      for (size_t s = 0; s < subs; ++s) {
        const size_t c0 = jb + s * 16, cols = std::min<size_t>(16, w - s * 16);
        int32_t *acc, *csp;
        size_t ld;
        where(s, &acc, &ld, &csp);
        __m256i c[M][2], t[2];
#pragma GCC unroll 4
        for (int r = 0; r < M; ++r) {
          c[r][0] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + r * ld));
          c[r][1] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + r * ld + 8));
        }
        if (CS) {
          t[0] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(csp));
          t[1] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(csp + 8));
        }
        const bool pf = (c0 & 63) < 16;
#pragma GCC unroll 2
        for (size_t p = p0; p < p1; p += 2) {
          const uint8_t* row0 = b + p * rs + c0;
          const uint8_t* row1 = p + 1 < k ? row0 + rs : nullptr;
          if (cols < 16) {  // the last columns: through a zero-padded copy (no reads past B)
            std::memset(tail, 0, sizeof tail);
            std::memcpy(tail[0], row0, cols);
            if (row1) std::memcpy(tail[1], row1, cols);
            row0 = tail[0];
            row1 = row1 ? tail[1] : nullptr;
          } else if (pf) {
            // The same columns one run ahead, once per 64 bytes of a row (a prefetch past the matrix is harmless:
            // prefetches do not fault).
            _mm_prefetch(reinterpret_cast<const char*>(row0 + kRunRows * rs), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(row0 + (kRunRows + 1) * rs), _MM_HINT_T0);
          }
          rows_pair<M, BS, CS>(row0, row1, &ap[0][(p - p0) / 2], kRunRows / 2, ones, c, t);
        }
#pragma GCC unroll 4
        for (int r = 0; r < M; ++r) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + r * ld), c[r][0]);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + r * ld + 8), c[r][1]);
        }
        if (CS) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(csp), t[0]);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(csp + 8), t[1]);
        }
      }
    }
    for (size_t s = 0; s < subs; ++s) {
      const size_t c0 = jb + s * 16, cols = std::min<size_t>(16, w - s * 16);
      int32_t *acc, *csp;
      size_t ld;
      where(s, &acc, &ld, &csp);
      int32_t pacc[M][16], pcs[16];  // the permuted sums, copied out before they are rewritten in order
      for (int r = 0; r < M; ++r) std::memcpy(pacc[r], acc + r * ld, sizeof pacc[r]);
      std::memcpy(pcs, csp, sizeof pcs);
      for (size_t q = 0; q < cols; ++q) {
        // Column c of a sub-block is at c with bits 2 and 3 swapped (see rows_pair).
        const size_t i = (q & ~size_t{12}) | ((q & 4) << 1) | ((q & 8) >> 1);
        if (CS) colsum[c0 + q] = static_cast<uint32_t>(pcs[i]);
        for (int r = 0; r < M; ++r) d[r * ldd + c0 + q] = static_cast<uint32_t>(pacc[r][i]);
      }
    }
  }
}

// out[q] = the sum of v[q]'s 8 dwords for four vectors (wrapping).
QK_ALWAYS_INLINE void hsum4(const __m256i (&v)[4], uint32_t* out) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), s);
}

// Column-major B: NC columns (each k contiguous bytes, cs_ apart) against M rows of A; CS false: A centered on za[r]
// and no column sums (sumb unwritten). pf, when not null: the next group's first column, whose NC columns are
// prefetched a line per 64 k, one group ahead (as in gemv_vnni.h's cols_group).
template <int M, int NC, bool AS, bool BS, bool CS>
void cols_group(size_t k, const uint8_t* a, size_t lda, const int32_t* za, const uint8_t* b, size_t cs_,
                uint32_t* dot, uint32_t* sumb, const uint8_t* pf) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i c[M][4], t[4];
  for (int j = 0; j < 4; ++j) {
    t[j] = _mm256_setzero_si256();
    for (int r = 0; r < M; ++r) c[r][j] = _mm256_setzero_si256();
  }
  size_t p = 0;
  for (; p + 16 <= k; p += 16) {
    __m256i bv[NC];
    if (pf && p % 64 == 0)
      for (int j = 0; j < NC; ++j) _mm_prefetch(reinterpret_cast<const char*>(pf + j * cs_ + p), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int j = 0; j < NC; ++j) {
      bv[j] = widen16<BS>(b + j * cs_ + p);
      if (CS) t[j] = _mm256_add_epi32(t[j], _mm256_madd_epi16(ones, bv[j]));
    }
#pragma GCC unroll 4
    for (int r = 0; r < M; ++r) {
      __m256i av = widen16<AS>(a + r * lda + p);
      if (!CS) av = _mm256_sub_epi16(av, _mm256_set1_epi16(static_cast<int16_t>(za[r])));
#pragma GCC unroll 4
      for (int j = 0; j < NC; ++j) c[r][j] = _mm256_add_epi32(c[r][j], _mm256_madd_epi16(av, bv[j]));
    }
  }
  alignas(16) uint32_t s4[4];
  if (CS) {
    hsum4(t, s4);
    for (int j = 0; j < NC; ++j) sumb[j] = s4[j];
  }
  for (int r = 0; r < M; ++r) {
    hsum4(c[r], s4);
    for (int j = 0; j < NC; ++j) dot[r * NC + j] = s4[j];
  }
  for (; p < k; ++p) {  // the last k % 16
    for (int j = 0; j < NC; ++j) {
      const int32_t bv = val<BS>(b[j * cs_ + p]);
      if (CS) sumb[j] += static_cast<uint32_t>(bv);
      for (int r = 0; r < M; ++r)
        dot[r * NC + j] += static_cast<uint32_t>((val<AS>(a[r * lda + p]) - (CS ? 0 : za[r])) * bv);
    }
  }
}

template <int M, bool AS, bool BS, bool CS>
void cols_major(size_t k, const uint8_t* a, size_t lda, const int32_t* za, const uint8_t* b, size_t cs_, size_t j0,
                size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  constexpr int kNC = M <= 2 ? 4 : 2;  // columns per step: accumulators M * kNC + kNC of the 16 registers
  for (size_t j = j0; j < j1; j += kNC) {
    const size_t nc = std::min<size_t>(kNC, j1 - j);
    uint32_t dot[M * 4], sb[4];
    const uint8_t* col = b + j * cs_;
    // A whole next group only, so pf is set only where this group is whole too (nc = kNC).
    const uint8_t* pf = j + 2 * kNC <= j1 ? col + kNC * cs_ : nullptr;
    switch (nc) {
      case 1: cols_group<M, 1, AS, BS, CS>(k, a, lda, za, col, cs_, dot, sb, pf); break;
      case 2: cols_group<M, 2, AS, BS, CS>(k, a, lda, za, col, cs_, dot, sb, pf); break;
      case 3: cols_group<M, (kNC >= 3 ? 3 : 2), AS, BS, CS>(k, a, lda, za, col, cs_, dot, sb, pf); break;
      default: cols_group<M, kNC, AS, BS, CS>(k, a, lda, za, col, cs_, dot, sb, pf); break;
    }
    for (size_t q = 0; q < nc; ++q) {
      if (CS) colsum[j + q] = sb[q];
      for (int r = 0; r < M; ++r) d[r * ldd + j + q] = dot[r * nc + q];
    }
  }
}

template <int M, bool AS, bool BS, bool CS>
void dispatch(size_t k, const uint8_t* a, size_t lda, const int32_t* za, const uint8_t* b, size_t rs, size_t cs,
              size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  if (cs == 1) rows_major<M, AS, BS, CS>(k, a, lda, za, b, rs, j0, j1, d, ldd, colsum);
  else cols_major<M, AS, BS, CS>(k, a, lda, za, b, cs, j0, j1, d, ldd, colsum);
}

// colsum null: centered on za (one zero point per row, za[r]).
template <int M>
void by_sign(size_t k, const uint8_t* a, size_t lda, bool a_signed, const int32_t* za, const uint8_t* b, size_t rs,
             size_t cs, bool b_signed, size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
#define QK_GEMV2_CALL(AS, BS)                                                                   \
  (colsum ? dispatch<M, AS, BS, true>(k, a, lda, za, b, rs, cs, j0, j1, d, ldd, colsum)         \
          : dispatch<M, AS, BS, false>(k, a, lda, za, b, rs, cs, j0, j1, d, ldd, colsum))
  if (a_signed) {
    if (b_signed) QK_GEMV2_CALL(true, true);
    else QK_GEMV2_CALL(true, false);
  } else {
    if (b_signed) QK_GEMV2_CALL(false, true);
    else QK_GEMV2_CALL(false, false);
  }
#undef QK_GEMV2_CALL
}

// m <= kGemvMaxRows rows; colsum null: centered on za (row r's zero point za[r]). Up to 4 rows per pass (the 16
// ymm registers): rows 4 .. m - 1 take a second pass over the columns (each writes the same column sums).
inline void gemv_avx2_rows(size_t m, size_t k, const uint8_t* a, size_t lda, bool a_signed, const int32_t* za,
                           const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t j0, size_t j1, uint32_t* d,
                           size_t ldd, uint32_t* colsum) {
  static_assert(kGemvMaxRows == 8, "two passes of up to 4 rows");
  if (m > 4) {
    gemv_avx2_rows(4, k, a, lda, a_signed, za, b, rs, cs, b_signed, j0, j1, d, ldd, colsum);
    gemv_avx2_rows(m - 4, k, a + 4 * lda, lda, a_signed, za ? za + 4 : nullptr, b, rs, cs, b_signed, j0, j1,
                   d + 4 * ldd, ldd, colsum);
    return;
  }
  switch (m) {
    case 1: by_sign<1>(k, a, lda, a_signed, za, b, rs, cs, b_signed, j0, j1, d, ldd, colsum); break;
    case 2: by_sign<2>(k, a, lda, a_signed, za, b, rs, cs, b_signed, j0, j1, d, ldd, colsum); break;
    case 3: by_sign<3>(k, a, lda, a_signed, za, b, rs, cs, b_signed, j0, j1, d, ldd, colsum); break;
    default: by_sign<4>(k, a, lda, a_signed, za, b, rs, cs, b_signed, j0, j1, d, ldd, colsum); break;
  }
}

}  // namespace gemv_avx2_detail

// gemv_generic's contract (qk/gemm.h, GemmUkernel::gemv) with AVX2; m <= kGemvMaxRows.
inline void gemv_avx2(size_t m, size_t k, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b, size_t rs,
                      size_t cs, bool b_signed, size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  gemv_avx2_detail::gemv_avx2_rows(m, k, a, lda, a_signed, nullptr, b, rs, cs, b_signed, j0, j1, d, ldd, colsum);
}

// GemmUkernel::gemv_centered with AVX2: A's zero points taken off, no column sums.
inline void gemv_avx2_centered(size_t m, size_t k, const uint8_t* a, size_t lda, bool a_signed, const int32_t* za,
                               const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t j0, size_t j1,
                               uint32_t* d, size_t ldd) {
  gemv_avx2_detail::gemv_avx2_rows(m, k, a, lda, a_signed, za, b, rs, cs, b_signed, j0, j1, d, ldd, nullptr);
}

}  // namespace
}  // namespace qk
