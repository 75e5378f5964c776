// qkernels: the INT8 GEMV of qk/gemv.h (a few rows of A against a B that was not packed) with AVX-512 VNNI, for
// the avx512 tier's translation unit (the amx tier calls it through gemm_avx512()). Same contract as gemv_generic:
// d[i * ldd + j] = sum_p a[i][p] * b[p][j] over the raw values, colsum[j] = sum_p b[p][j], wrapping modulo 2^32.
//
// vpdpbusd multiplies unsigned by signed bytes, so it runs on a~ = a + sa (sa = 128 for int8 A: the sign-bit flip)
// and b~ = b - tb (tb = 128 for uint8 B: the sign-bit flip), and the raw sums come back exactly (modulo 2^32):
//   sum a b = sum a~ b~ + tb sum a - sa sum b - k sa tb,   sum b = sum b~ + k tb,
// where sum b~ is one more vpdpbusd per group of 4 k with a vector of ones as the unsigned side. vpdpbusd adds
// four 16-bit-exact products into int32 without saturation, wrapping like the reference, so no k is too long.
//
// Row-major B (k x n, the generic loops ran at ~7 GB/s): four rows of B are interleaved into k groups of 4 bytes
// per column (two rounds of byte and word unpacks), which leaves the columns permuted within each 64-column block
// (undone when the results are written). The block's rows are walked in runs of kRunRows so the 256 columns of a
// driver chunk are read a few cache lines per row at a time, with software prefetch one run ahead (rows are n
// bytes apart, beyond the hardware prefetchers' reach when n is a page or more).
// Column-major B (the n x k transB layout): four columns at a time, 64 k per step, each against every row of A,
// reduced horizontally at the end.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qk/gemm.h"
#include "qk/simd_x86.h"

namespace qk {
namespace {

namespace gemv_vnni_detail {

constexpr size_t kBlockCols = 4096;  // columns whose sums are kept (in L1/L2) while their rows are walked
constexpr size_t kRunRows = 16;      // rows of B per run over a 64-column sub-block

// Raw row sums of A (wrapping), for the tb sum a term.
inline uint32_t raw_sum(const uint8_t* a, size_t k, bool a_signed) {
  uint32_t s = 0;
  if (a_signed)
    for (size_t p = 0; p < k; ++p) s += static_cast<uint32_t>(static_cast<int32_t>(static_cast<int8_t>(a[p])));
  else
    for (size_t p = 0; p < k; ++p) s += a[p];
  return s;
}

// The sum of the 16 dwords, wrapping (through memory: GCC 12's _mm512_reduce_add_epi32 draws a false
// -Wuninitialized, and SIMDe, for the emulated test build, lacks the lane shuffles).
QK_ALWAYS_INLINE uint32_t hsum(__m512i v) {
  alignas(64) uint32_t lanes[16];
  _mm512_store_si512(lanes, v);
  uint32_t s = 0;
  for (uint32_t x : lanes) s += x;
  return s;
}

// out[q] = the sum of v[q]'s 16 dwords, for four vectors at once: two rounds of unpacks leave, in each 128-bit
// lane, the lane's partial sums of v[0 .. 3] side by side, and the four lanes are added through memory.
QK_ALWAYS_INLINE void hsum4(const __m512i (&v)[4], uint32_t* out) {
  const __m512i x = _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
  const __m512i y = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
  const __m512i z = _mm512_add_epi32(_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y));
  alignas(64) uint32_t lanes[16];
  _mm512_store_si512(lanes, z);
  for (int q = 0; q < 4; ++q) out[q] = lanes[q] + lanes[4 + q] + lanes[8 + q] + lanes[12 + q];
}

// 4 bytes of a~ at p, as a broadcast dword.
QK_ALWAYS_INLINE __m512i bcast_a(const uint8_t* a, size_t p, __m512i vaflip) {
  int32_t v;
  std::memcpy(&v, a + p, 4);
  return _mm512_xor_si512(_mm512_set1_epi32(v), vaflip);
}

// 4 bytes of a~ at p (fewer past k: zero), as a broadcast dword.
inline __m512i bcast_a(const uint8_t* a, size_t p, size_t k, uint32_t aflip) {
  uint32_t v = 0;
  if (p + 4 <= k) std::memcpy(&v, a + p, 4);
  else std::memcpy(&v, a + p, k - p);
  const uint32_t valid = p + 4 <= k ? 0xffffffffu : (1u << (8 * (k - p))) - 1;
  return _mm512_set1_epi32(static_cast<int>((v ^ aflip) & valid));
}

// One k group (rows p .. p + 3 of B, 64 columns from `row`) into the sub-block's accumulators. Tail: the group
// runs past k (rows and A bytes past k count as zero). Sums: also the column sums t, and the prefetch of the run
// ahead (false: a second group of rows of A over rows of B that the first one just read, and prefetched).
template <int M, bool Tail, bool Sums>
QK_ALWAYS_INLINE void rows_group(size_t p, size_t k, const uint8_t* a, size_t lda, uint32_t aflip, const uint8_t* row,
                               size_t rs, __mmask64 mask, __m512i vflip, __m512i ones, __m512i (&c)[M][4],
                               __m512i (&t)[4], __m512i* gsave = nullptr) {
  const __m512i vaflip = _mm512_set1_epi32(static_cast<int>(aflip));
  __m512i r4[4];
#pragma GCC unroll 4
  for (size_t q = 0; q < 4; ++q) {
    if (Tail && p + q >= k) {
      r4[q] = _mm512_setzero_si512();
    } else {
      r4[q] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, row + q * rs), vflip);
      // The same columns one run ahead (a prefetch past the matrix is harmless: prefetches do not fault).
      if (Sums) _mm_prefetch(reinterpret_cast<const char*>(row + (q + kRunRows) * rs), _MM_HINT_T0);
    }
  }
  const __m512i lo01 = _mm512_unpacklo_epi8(r4[0], r4[1]), hi01 = _mm512_unpackhi_epi8(r4[0], r4[1]);
  const __m512i lo23 = _mm512_unpacklo_epi8(r4[2], r4[3]), hi23 = _mm512_unpackhi_epi8(r4[2], r4[3]);
  // g[x], lane L, dword e: column 16 L + 4 x + e of the sub-block, k p .. p + 3.
  const __m512i g[4] = {_mm512_unpacklo_epi16(lo01, lo23), _mm512_unpackhi_epi16(lo01, lo23),
                        _mm512_unpacklo_epi16(hi01, hi23), _mm512_unpackhi_epi16(hi01, hi23)};
  if (Sums) {
#pragma GCC unroll 4
    for (int x = 0; x < 4; ++x) t[x] = _mm512_dpbusd_epi32(t[x], ones, g[x]);
  }
  if (gsave)
#pragma GCC unroll 4
    for (int x = 0; x < 4; ++x) _mm512_store_si512(gsave + x, g[x]);
#pragma GCC unroll 4
  for (int r = 0; r < M; ++r) {
    const __m512i av = Tail ? bcast_a(a + r * lda, p, k, aflip) : bcast_a(a + r * lda, p, vaflip);
#pragma GCC unroll 4
    for (int x = 0; x < 4; ++x) c[r][x] = _mm512_dpbusd_epi32(c[r][x], av, g[x]);
  }
}

// One k group of rows of A against the interleaved B vectors g that a first group of rows saved (rows_group's
// gsave). Tail: A bytes past k count as zero (B is zero there already).
template <int M, bool Tail>
QK_ALWAYS_INLINE void rows_group_saved(size_t p, size_t k, const uint8_t* a, size_t lda, uint32_t aflip,
                                       const __m512i* gs, __m512i (&c)[M][4]) {
  const __m512i vaflip = _mm512_set1_epi32(static_cast<int>(aflip));
  __m512i g[4];
#pragma GCC unroll 4
  for (int x = 0; x < 4; ++x) g[x] = _mm512_load_si512(gs + x);
#pragma GCC unroll 4
  for (int r = 0; r < M; ++r) {
    const __m512i av = Tail ? bcast_a(a + r * lda, p, k, aflip) : bcast_a(a + r * lda, p, vaflip);
#pragma GCC unroll 4
    for (int x = 0; x < 4; ++x) c[r][x] = _mm512_dpbusd_epi32(c[r][x], av, g[x]);
  }
}

// Row-major B, M rows of A, columns jb .. jb + w (w <= kBlockCols): the permuted sums of a~ b~ and of b~ for each
// whole 64-column sub-block accumulate in place in d (row r at d + r * ldd) and colsum, the caller's output arrays
// (no large stack arrays: a musl thread has 128 KB of stack); a last partial sub-block's in tacc and tcs. Up to 4
// rows of A fit the registers (16 accumulators); rows 4 .. M - 1 run right after them over the same run of B,
// which is then in L1, so B is read from memory once for all M rows.
template <int M>
void rows_block(size_t k, const uint8_t* a, size_t lda, uint32_t aflip, const uint8_t* b, size_t rs, uint8_t bflip,
                size_t jb, size_t w, uint32_t* d, size_t ldd, uint32_t* colsum, uint32_t (*tacc)[64], uint32_t* tcs) {
  const __m512i vflip = _mm512_set1_epi8(static_cast<char>(bflip)), ones = _mm512_set1_epi8(1);
  const size_t subs = (w + 63) / 64, kfull = k / 4 * 4;
  // With more than 4 rows, the first 4 save each k group's interleaved B vectors (a run's: 1 KB) for the rest.
  alignas(64) __m512i gsaved[kRunRows];
  // Sub-block s's accumulators: row r at acc + r * ld, the column sums at csp.
  auto where = [&](size_t s, uint32_t** acc, size_t* ld, uint32_t** csp) {
    if (s * 64 + 64 <= w) *acc = d + jb + s * 64, *ld = ldd, *csp = colsum + jb + s * 64;
    else *acc = tacc[0], *ld = 64, *csp = tcs;
  };
  for (size_t s = 0; s < subs; ++s) {
    uint32_t *acc, *csp;
    size_t ld;
    where(s, &acc, &ld, &csp);
    for (int r = 0; r < M; ++r)
      for (int x = 0; x < 4; ++x) _mm512_storeu_si512(acc + r * ld + x * 16, _mm512_setzero_si512());
    for (int x = 0; x < 4; ++x) _mm512_storeu_si512(csp + x * 16, _mm512_setzero_si512());
  }
  for (size_t p0 = 0; p0 < k; p0 += kRunRows) {
    const size_t p1 = std::min(k, p0 + kRunRows), pfull = std::min(p1, kfull);
    for (size_t s = 0; s < subs; ++s) {
      const size_t c0 = jb + s * 64, cols = std::min<size_t>(64, w - s * 64);
      const __mmask64 mask = cols == 64 ? ~__mmask64{0} : (__mmask64{1} << cols) - 1;
      uint32_t *acc, *csp;
      size_t ld;
      where(s, &acc, &ld, &csp);
      constexpr int M0 = M < 4 ? M : 4, M1 = M - M0;
      {
        __m512i c[M0][4], t[4];
#pragma GCC unroll 4
        for (int r = 0; r < M0; ++r)
#pragma GCC unroll 4
          for (int x = 0; x < 4; ++x) c[r][x] = _mm512_loadu_si512(acc + r * ld + x * 16);
#pragma GCC unroll 4
        for (int x = 0; x < 4; ++x) t[x] = _mm512_loadu_si512(csp + x * 16);
        size_t p = p0;
        __m512i* gs = M1 > 0 ? gsaved : nullptr;
        for (; p < pfull; p += 4)
          rows_group<M0, false, true>(p, k, a, lda, aflip, b + p * rs + c0, rs, mask, vflip, ones, c, t,
                                      gs ? gs + (p - p0) : nullptr);
        if (p < p1)
          rows_group<M0, true, true>(p, k, a, lda, aflip, b + p * rs + c0, rs, mask, vflip, ones, c, t,
                                     gs ? gs + (p - p0) : nullptr);
#pragma GCC unroll 4
        for (int r = 0; r < M0; ++r)
#pragma GCC unroll 4
          for (int x = 0; x < 4; ++x) _mm512_storeu_si512(acc + r * ld + x * 16, c[r][x]);
#pragma GCC unroll 4
        for (int x = 0; x < 4; ++x) _mm512_storeu_si512(csp + x * 16, t[x]);
      }
      if constexpr (M1 > 0) {
        const uint8_t* a1 = a + M0 * lda;
        uint32_t* acc1 = acc + M0 * ld;
        __m512i c[M1][4];
#pragma GCC unroll 4
        for (int r = 0; r < M1; ++r)
#pragma GCC unroll 4
          for (int x = 0; x < 4; ++x) c[r][x] = _mm512_loadu_si512(acc1 + r * ld + x * 16);
        size_t p = p0;
        for (; p < pfull; p += 4) rows_group_saved<M1, false>(p, k, a1, lda, aflip, gsaved + (p - p0), c);
        if (p < p1) rows_group_saved<M1, true>(p, k, a1, lda, aflip, gsaved + (p - p0), c);
#pragma GCC unroll 4
        for (int r = 0; r < M1; ++r)
#pragma GCC unroll 4
          for (int x = 0; x < 4; ++x) _mm512_storeu_si512(acc1 + r * ld + x * 16, c[r][x]);
      }
    }
  }
}

template <int M>
void rows_major(size_t k, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b, size_t rs, bool b_signed,
                size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  const uint32_t aflip = a_signed ? 0x80808080u : 0, sa = a_signed ? 128 : 0, tb = b_signed ? 0 : 128;
  const uint32_t ku = static_cast<uint32_t>(k);
  uint32_t suma[M];
  for (int r = 0; r < M; ++r) suma[r] = raw_sum(a + r * lda, k, a_signed);
  alignas(64) uint32_t tacc[M][64], tcs[64];  // a last partial sub-block's sums
  alignas(64) uint32_t pacc[M][64], pcs[64];  // a whole one's, copied out of d before it is rewritten in order
  for (size_t jb = j0; jb < j1; jb += kBlockCols) {
    const size_t w = std::min(kBlockCols, j1 - jb);
    rows_block<M>(k, a, lda, aflip, b, rs, b_signed ? 0 : 0x80, jb, w, d, ldd, colsum, tacc, tcs);
    for (size_t s = 0; s * 64 < w; ++s) {
      const size_t c0 = jb + s * 64, cols = std::min<size_t>(64, w - s * 64);
      const uint32_t(*sacc)[64] = tacc;
      const uint32_t* scs = tcs;
      if (cols == 64) {
        for (int r = 0; r < M; ++r) std::memcpy(pacc[r], d + r * ldd + c0, sizeof pacc[r]);
        std::memcpy(pcs, colsum + c0, sizeof pcs);
        sacc = pacc;
        scs = pcs;
      }
      for (size_t t = 0; t < cols; ++t) {
        // Column 16 L + 4 x + e of a sub-block is at 16 x + 4 L + e of its sums.
        const size_t i = ((t >> 2) & 3) * 16 + ((t >> 4) & 3) * 4 + (t & 3);
        const uint32_t sumb = scs[i] + ku * tb;
        colsum[c0 + t] = sumb;
        for (int r = 0; r < M; ++r) d[r * ldd + c0 + t] = sacc[r][i] + tb * suma[r] - sa * sumb + ku * sa * tb;
      }
    }
  }
}

// Column-major B: NC columns (each k contiguous bytes, cs_ apart) against M rows of A. pf, when not null: the next
// group's first column; its 4 columns are prefetched a line each per step, one group ahead of the loads (a column
// of a few KB is too short a stream for the hardware prefetchers to get ahead of). bench_gemm --unpacked --transb,
// Zen 5 VM, 1 thread, alternated: 1x4096x4096 93 -> 130 GOPS (median of 5; 46 -> 65 GB/s of weights, the packed
// path's speed), 8x4096x4096 169 -> 262 GOPS; prefetching into L2 instead gained less at m = 1 (105).
template <int M, int NC>
void cols_group(size_t k, const uint8_t* a, size_t lda, uint8_t aflip, const uint8_t* b, size_t cs_, uint8_t bflip,
                uint32_t* dot, uint32_t* sumb, const uint8_t* pf) {
  const __m512i vaf = _mm512_set1_epi8(static_cast<char>(aflip)), vbf = _mm512_set1_epi8(static_cast<char>(bflip));
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i c[M][NC], t[NC];
  for (int j = 0; j < NC; ++j) {
    t[j] = _mm512_setzero_si512();
    for (int r = 0; r < M; ++r) c[r][j] = _mm512_setzero_si512();
  }
  size_t p = 0;
  for (; p + 64 <= k; p += 64) {
    __m512i bv[NC];
    if (pf)
      for (int j = 0; j < 4; ++j) _mm_prefetch(reinterpret_cast<const char*>(pf + j * cs_ + p), _MM_HINT_T0);
    for (int j = 0; j < NC; ++j) {
      bv[j] = _mm512_xor_si512(_mm512_loadu_si512(b + j * cs_ + p), vbf);
      t[j] = _mm512_dpbusd_epi32(t[j], ones, bv[j]);
    }
    for (int r = 0; r < M; ++r) {
      const __m512i av = _mm512_xor_si512(_mm512_loadu_si512(a + r * lda + p), vaf);
      for (int j = 0; j < NC; ++j) c[r][j] = _mm512_dpbusd_epi32(c[r][j], av, bv[j]);
    }
  }
  if (p < k) {  // the last k: masked loads, flips only where there are values (the rest stays 0 on both sides)
    const __mmask64 mask = (__mmask64{1} << (k - p)) - 1;
    const __m512i maf = _mm512_maskz_mov_epi8(mask, vaf), mbf = _mm512_maskz_mov_epi8(mask, vbf);
    __m512i bv[NC];
    for (int j = 0; j < NC; ++j) {
      bv[j] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, b + j * cs_ + p), mbf);
      t[j] = _mm512_dpbusd_epi32(t[j], ones, bv[j]);
    }
    for (int r = 0; r < M; ++r) {
      const __m512i av = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, a + r * lda + p), maf);
      for (int j = 0; j < NC; ++j) c[r][j] = _mm512_dpbusd_epi32(c[r][j], av, bv[j]);
    }
  }
  if constexpr (NC == 4) {
    hsum4(t, sumb);
    for (int r = 0; r < M; ++r) hsum4(c[r], dot + r * NC);
  } else {
    for (int j = 0; j < NC; ++j) {
      sumb[j] = hsum(t[j]);
      for (int r = 0; r < M; ++r) dot[r * NC + j] = hsum(c[r][j]);
    }
  }
}

// cols_group for nc <= 4 columns.
template <int M>
void cols_groups(size_t nc, size_t k, const uint8_t* a, size_t lda, uint8_t aflip, const uint8_t* col, size_t cs_,
                 uint8_t bflip, uint32_t* dot, uint32_t* sb, const uint8_t* pf) {
  switch (nc) {
    case 1: cols_group<M, 1>(k, a, lda, aflip, col, cs_, bflip, dot, sb, pf); break;
    case 2: cols_group<M, 2>(k, a, lda, aflip, col, cs_, bflip, dot, sb, pf); break;
    case 3: cols_group<M, 3>(k, a, lda, aflip, col, cs_, bflip, dot, sb, pf); break;
    default: cols_group<M, 4>(k, a, lda, aflip, col, cs_, bflip, dot, sb, pf); break;
  }
}

template <int M>
void cols_major(size_t k, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b, size_t cs_, bool b_signed,
                size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  const uint8_t aflip = a_signed ? 0x80 : 0, bflip = b_signed ? 0 : 0x80;
  const uint32_t sa = a_signed ? 128 : 0, tb = b_signed ? 0 : 128, ku = static_cast<uint32_t>(k);
  uint32_t suma[M];
  for (int r = 0; r < M; ++r) suma[r] = raw_sum(a + r * lda, k, a_signed);
  for (size_t j = j0; j < j1; j += 4) {
    const size_t nc = std::min<size_t>(4, j1 - j);
    uint32_t dot[M * 4], sb[4];
    const uint8_t* col = b + j * cs_;
    // The next 4 columns of the chunk, fetched while these are read (only whole groups of 4 follow a whole group).
    const uint8_t* pf = j + 8 <= j1 ? col + 4 * cs_ : nullptr;
    // Up to 4 rows of A at a time (16 accumulators); rows 4 .. M - 1 read the same columns again, from L1/L2.
    constexpr int M0 = M < 4 ? M : 4, M1 = M - M0;
    cols_groups<M0>(nc, k, a, lda, aflip, col, cs_, bflip, dot, sb, pf);
    if constexpr (M1 > 0)
      cols_groups<M1>(nc, k, a + M0 * lda, lda, aflip, col, cs_, bflip, dot + M0 * nc, sb, nullptr);
    for (size_t q = 0; q < nc; ++q) {
      const uint32_t sumb = sb[q] + ku * tb;
      colsum[j + q] = sumb;
      for (int r = 0; r < M; ++r) d[r * ldd + j + q] = dot[r * nc + q] + tb * suma[r] - sa * sumb + ku * sa * tb;
    }
  }
}

template <int M>
void dispatch(size_t k, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b, size_t rs, size_t cs,
              bool b_signed, size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  if (cs == 1) rows_major<M>(k, a, lda, a_signed, b, rs, b_signed, j0, j1, d, ldd, colsum);
  else cols_major<M>(k, a, lda, a_signed, b, cs, b_signed, j0, j1, d, ldd, colsum);
}

}  // namespace gemv_vnni_detail

// gemv_generic's contract (qk/gemm.h, GemmUkernel::gemv) with VNNI; m <= kGemvMaxRows.
inline void gemv_vnni(size_t m, size_t k, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b, size_t rs,
                      size_t cs, bool b_signed, size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  using namespace gemv_vnni_detail;
  static_assert(kGemvMaxRows == 8, "one instantiation per row count");
  switch (m) {
    case 1: dispatch<1>(k, a, lda, a_signed, b, rs, cs, b_signed, j0, j1, d, ldd, colsum); break;
    case 2: dispatch<2>(k, a, lda, a_signed, b, rs, cs, b_signed, j0, j1, d, ldd, colsum); break;
    case 3: dispatch<3>(k, a, lda, a_signed, b, rs, cs, b_signed, j0, j1, d, ldd, colsum); break;
    case 4: dispatch<4>(k, a, lda, a_signed, b, rs, cs, b_signed, j0, j1, d, ldd, colsum); break;
    case 5: dispatch<5>(k, a, lda, a_signed, b, rs, cs, b_signed, j0, j1, d, ldd, colsum); break;
    case 6: dispatch<6>(k, a, lda, a_signed, b, rs, cs, b_signed, j0, j1, d, ldd, colsum); break;
    case 7: dispatch<7>(k, a, lda, a_signed, b, rs, cs, b_signed, j0, j1, d, ldd, colsum); break;
    default: dispatch<8>(k, a, lda, a_signed, b, rs, cs, b_signed, j0, j1, d, ldd, colsum); break;
  }
}

}  // namespace
}  // namespace qk
