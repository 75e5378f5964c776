// qkernels avx512 tier: INT8 GEMM micro-kernel with AVX-512 VNNI (vpdpbusd), 6 rows x 64 columns, k in groups
// of 4. vpdpbusd multiplies unsigned by signed bytes: A is read in place as uint8 (int8 A runs on a copy with
// the sign bit flipped, a + 128) and B is packed as int8 (uint8 B shifted, b - 128); the driver's row/column-sum
// corrections recover the exact result. vpdpbusd adds four 16-bit-exact products into int32 without
// saturation, wrapping like the reference.
#include <algorithm>
#include <cstring>

#include "qk/gemm.h"
#include "qk/gemm_epilogue.h"
#include "qk/gemm_out_avx512.h"
#include "qk/gemv_vnni.h"
#include "qk/kernels.h"
#include "qk/simd_x86.h"

namespace qk {
namespace {

constexpr int kMR = 6, kNR = 64, kKR = 4;

size_t b_panel_bytes(size_t kpad) { return kpad * kNR; }

// B: for each k group of 4, kNR dwords, dword c = b~[4q .. 4q + 3][c] (b~ = b - 128 for uint8 B).
void pack_b(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t cols, size_t k, void* panel,
            int32_t* colsum) {
  pack_cols_bytes_clear<kNR, kKR>(panel, b_panel_bytes(round_up(k, kKR)), cs, cols, k);
  const uint8_t flip = b_signed ? 0x00 : 0x80;
  pack_cols_bytes<kNR, kKR>(b, rs, cs, cols, k, flip, static_cast<int8_t*>(panel), colsum);
}

void unpack_b(const void* panel, size_t cols, size_t k, bool b_signed, uint8_t* b, size_t rs, size_t cs) {
  unpack_cols_bytes<kNR, kKR>(panel, cols, k, b_signed ? 0x00 : 0x80, b, rs, cs);
}

// Row sums with vpsadbw (sums of 8 bytes into 64-bit lanes); int8 rows are summed as uint8 (v ^ 0x80 = v + 128)
// and corrected by 128 per element.
// One row's sum of its raw values with vpsadbw (int8 summed as uint8 via the sign-bit flip, v ^ 0x80 = v + 128,
// then corrected by 128 per element), the tail in scalar code; with Copy, also dst[p] = src[p] ^ flip.
template <bool Copy, bool Sum>
inline int32_t row_pass(const uint8_t* src, size_t k, bool a_signed, uint8_t* dst, uint8_t flip) {
  const uint8_t sbias = a_signed ? 0x80 : 0;
  const __m512i vflip = _mm512_set1_epi8(static_cast<char>(flip)), vsum = _mm512_set1_epi8(static_cast<char>(sbias));
  const __m512i zero = _mm512_setzero_si512();
  __m512i s = zero;
  size_t p = 0;
  for (; p + 64 <= k; p += 64) {
    const __m512i v = _mm512_loadu_si512(src + p);
    if (Copy) _mm512_storeu_si512(dst + p, _mm512_xor_si512(v, vflip));
    if (Sum) s = _mm512_add_epi64(s, _mm512_sad_epu8(_mm512_xor_si512(v, vsum), zero));
  }
  uint32_t total = 0;
  for (; p < k; ++p) {
    if (Copy) dst[p] = src[p] ^ flip;
    total += static_cast<uint32_t>(src[p] ^ sbias);
  }
  if (!Sum) return 0;
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, s);
  for (int l = 0; l < 8; ++l) total += static_cast<uint32_t>(lanes[l]);
  if (a_signed) total -= static_cast<uint32_t>(k) * 128u;
  return static_cast<int32_t>(total);
}

void row_sums(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, int32_t* rowsum) {
  for (size_t r = 0; r < rows; ++r) rowsum[r] = row_pass<false, true>(a + r * lda, k, a_signed, nullptr, 0);
}

// Copy (XOR flip) and, when rowsum is not null, row sums of the original values in the same pass.
void copy_a(const uint8_t* a, size_t lda, uint8_t* dst, size_t ldd, size_t rows, size_t k, uint8_t flip,
            bool a_signed, int32_t* rowsum) {
  for (size_t r = 0; r < rows; ++r) {
    if (rowsum) rowsum[r] = row_pass<true, true>(a + r * lda, k, a_signed, dst + r * ldd, flip);
    else row_pass<true, false>(a + r * lda, k, a_signed, dst + r * ldd, flip);
  }
}

inline __m512i bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Row r of a tile from its accumulators v0 .. v3 (kernel_out): corrected, converted and stored. Forced inline, and
// the vectors passed as values, not an array: a first int32-only version that was neither ran the whole kernel
// 15-25% slower. The SIMDe test build corrects in uint32 through memory, as the shared epilogue does there (SIMDe's
// vector integer arithmetic is signed, whose overflow UBSan reports).
template <GemmOut Mode>
QK_ALWAYS_INLINE void store_out(const GemmTileOut& o, size_t r, __m512i v0, __m512i v1,
                                                     __m512i v2, __m512i v3) {
  const size_t cols = o.cols;
#if defined(QK_SIMDE)
  alignas(64) uint32_t t[kNR];
  _mm512_store_si512(t, v0);
  _mm512_store_si512(t + 16, v1);
  _mm512_store_si512(t + 32, v2);
  _mm512_store_si512(t + 48, v3);
  correct_scalar(o, r, t);
  v0 = _mm512_load_si512(t);
  v1 = _mm512_load_si512(t + 16);
  v2 = _mm512_load_si512(t + 32);
  v3 = _mm512_load_si512(t + 48);
#else
  const uint32_t *ct = o.colterm, *b0 = o.b0;
  const __m512i vrt = _mm512_set1_epi32(static_cast<int>(o.rowterm[r]));
  const __m512i var = _mm512_set1_epi32(static_cast<int>(o.a0 ? o.a0[r] : 1));
  if (cols == kNR) {
    v0 = correct16<true>(v0, 0xffff, ct, b0, o.a0 != nullptr, vrt, var);
    v1 = correct16<true>(v1, 0xffff, ct + 16, b0 ? b0 + 16 : nullptr, o.a0 != nullptr, vrt, var);
    v2 = correct16<true>(v2, 0xffff, ct + 32, b0 ? b0 + 32 : nullptr, o.a0 != nullptr, vrt, var);
    v3 = correct16<true>(v3, 0xffff, ct + 48, b0 ? b0 + 48 : nullptr, o.a0 != nullptr, vrt, var);
  } else {
    // Masked past cols (the term arrays end there).
    v0 = correct16<false>(v0, lanes(cols, 0), ct, b0, o.a0 != nullptr, vrt, var);
    v1 = correct16<false>(v1, lanes(cols, 1), ct + 16, b0 ? b0 + 16 : nullptr, o.a0 != nullptr, vrt, var);
    v2 = correct16<false>(v2, lanes(cols, 2), ct + 32, b0 ? b0 + 32 : nullptr, o.a0 != nullptr, vrt, var);
    v3 = correct16<false>(v3, lanes(cols, 3), ct + 48, b0 ? b0 + 48 : nullptr, o.a0 != nullptr, vrt, var);
  }
#endif
  __m512 vas, vs;
  row_scales<Mode>(o, r, &vas, &vs);
  if (cols == kNR) {
    out16<Mode, true>(o, r, 0, v0, 0xffff, vas, vs);
    out16<Mode, true>(o, r, 1, v1, 0xffff, vas, vs);
    out16<Mode, true>(o, r, 2, v2, 0xffff, vas, vs);
    out16<Mode, true>(o, r, 3, v3, 0xffff, vas, vs);
    return;
  }
  out16<Mode, false>(o, r, 0, v0, lanes(cols, 0), vas, vs);
  if (cols > 16) out16<Mode, false>(o, r, 1, v1, lanes(cols, 1), vas, vs);
  if (cols > 32) out16<Mode, false>(o, r, 2, v2, lanes(cols, 2), vas, vs);
  if (cols > 48) out16<Mode, false>(o, r, 3, v3, lanes(cols, 3), vas, vs);
}

// Named accumulators (24 zmm) + 4 B vectors + a broadcast: 29 of the 32 registers. GCC spills an array of
// vector accumulators on every k step, so each one is its own variable.
#define QK_ACC(r)                                                                        \
  __m512i c##r##0, c##r##1, c##r##2, c##r##3;                                            \
  if (R > r && acc) {                                                                    \
    c##r##0 = _mm512_loadu_si512(acc + r * ldacc);                                       \
    c##r##1 = _mm512_loadu_si512(acc + r * ldacc + 16);                                  \
    c##r##2 = _mm512_loadu_si512(acc + r * ldacc + 32);                                  \
    c##r##3 = _mm512_loadu_si512(acc + r * ldacc + 48);                                  \
  } else {                                                                               \
    c##r##0 = c##r##1 = c##r##2 = c##r##3 = _mm512_setzero_si512();                      \
  }
// One k group: four B vectors at bp, each row's 4 bytes at a_r + pp broadcast against them.
#define QK_ROW(r, pp)                               \
  if (R > r) {                                      \
    const __m512i av = bcast4(a##r + (pp));         \
    c##r##0 = _mm512_dpbusd_epi32(c##r##0, av, b0); \
    c##r##1 = _mm512_dpbusd_epi32(c##r##1, av, b1); \
    c##r##2 = _mm512_dpbusd_epi32(c##r##2, av, b2); \
    c##r##3 = _mm512_dpbusd_epi32(c##r##3, av, b3); \
  }
#define QK_GROUP(bp, pp)                                                                \
  {                                                                                     \
    const __m512i b0 = _mm512_loadu_si512(bp), b1 = _mm512_loadu_si512((bp) + 64);     \
    const __m512i b2 = _mm512_loadu_si512((bp) + 128), b3 = _mm512_loadu_si512((bp) + 192); \
    QK_ROW(0, pp) QK_ROW(1, pp) QK_ROW(2, pp) QK_ROW(3, pp) QK_ROW(4, pp) QK_ROW(5, pp) \
  }
#define QK_STORE(r)                                  \
  if (R > r) {                                       \
    _mm512_storeu_si512(c + r * ldc, c##r##0);       \
    _mm512_storeu_si512(c + r * ldc + 16, c##r##1);  \
    _mm512_storeu_si512(c + r * ldc + 32, c##r##2);  \
    _mm512_storeu_si512(c + r * ldc + 48, c##r##3);  \
  }

#define QK_STORE_OUT(mode, r) \
  if (R > r) store_out<mode>(o, r, c##r##0, c##r##1, c##r##2, c##r##3);

// A is read in place: 4 bytes of each row per k group (the last group may read up to 3 bytes past kc, where B
// is zero; the driver guarantees those bytes are readable). The first pf_lines k groups each prefetch one line
// of the next B panel into L2 (a burst of prefetches before the call would hold the line-fill buffers the
// kernel's own loads need; spread out, they hide the next panel's first touch from L3 or memory).
// out: kernel_out's output (then c and ldc are unused); null: the plain kernel, storing the tile to c.
template <int R, bool Out>
void tile(size_t kc, const uint8_t* a, size_t lda, const int8_t* b, const int32_t* acc, size_t ldacc, int32_t* c,
          size_t ldc, const uint8_t* pf, size_t pf_lines, const GemmTileOut* out) {
  const uint8_t *a0 = a, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda, *a4 = a3 + lda, *a5 = a4 + lda;
  QK_ACC(0) QK_ACC(1) QK_ACC(2) QK_ACC(3) QK_ACC(4) QK_ACC(5)
  const char* pfc = reinterpret_cast<const char*>(pf);
  // The k groups that prefetch a line first, then the rest without the check, four groups per iteration.
  const size_t pf_groups = std::min(pf_lines, (kc + 3) / 4);
  size_t p = 0;
  for (size_t e = pf_groups * 4; p < e; p += 4, b += kNR * 4, pfc += 64) {
    _mm_prefetch(pfc, _MM_HINT_T1);
    QK_GROUP(b, p)
  }
  for (; p + 16 <= kc; p += 16, b += kNR * 16) {
    QK_GROUP(b, p)
    QK_GROUP(b + kNR * 4, p + 4)
    QK_GROUP(b + kNR * 8, p + 8)
    QK_GROUP(b + kNR * 12, p + 12)
  }
  for (; p < kc; p += 4, b += kNR * 4) QK_GROUP(b, p)
  if constexpr (Out) {
    // A local copy: the output stores (may_alias vectors) would otherwise make every field be read again after
    // each of them.
    const GemmTileOut o = *out;
#define QK_STORE_ROWS(mode) \
  QK_STORE_OUT(mode, 0) QK_STORE_OUT(mode, 1) QK_STORE_OUT(mode, 2) QK_STORE_OUT(mode, 3) QK_STORE_OUT(mode, 4) \
  QK_STORE_OUT(mode, 5)
    if (o.mode == GemmOut::Int32) {
      QK_STORE_ROWS(GemmOut::Int32)
    } else if (o.mode == GemmOut::Float32) {
      QK_STORE_ROWS(GemmOut::Float32)
    } else {
      QK_STORE_ROWS(GemmOut::Int8)  // int8 and uint8 alike: values clamped by quant16, bytes truncated
    }
#undef QK_STORE_ROWS
    (void)c, (void)ldc;
  } else {
    QK_STORE(0) QK_STORE(1) QK_STORE(2) QK_STORE(3) QK_STORE(4) QK_STORE(5)
    (void)out;
  }
}
#undef QK_ACC
#undef QK_ROW
#undef QK_GROUP
#undef QK_STORE
#undef QK_STORE_OUT

// tile<rows, Out> for rows in 1 .. kMR.
template <bool Out>
void tile_rows(size_t rows, size_t kc, const uint8_t* a, size_t lda, const uint8_t* b_panel, const int32_t* acc,
               size_t ldacc, int32_t* c, size_t ldc, const uint8_t* pf, size_t pf_lines, const GemmTileOut* out) {
  const int8_t* b = reinterpret_cast<const int8_t*>(b_panel);
  switch (rows) {
    case 1: tile<1, Out>(kc, a, lda, b, acc, ldacc, c, ldc, pf, pf_lines, out); break;
    case 2: tile<2, Out>(kc, a, lda, b, acc, ldacc, c, ldc, pf, pf_lines, out); break;
    case 3: tile<3, Out>(kc, a, lda, b, acc, ldacc, c, ldc, pf, pf_lines, out); break;
    case 4: tile<4, Out>(kc, a, lda, b, acc, ldacc, c, ldc, pf, pf_lines, out); break;
    case 5: tile<5, Out>(kc, a, lda, b, acc, ldacc, c, ldc, pf, pf_lines, out); break;
    default: tile<6, Out>(kc, a, lda, b, acc, ldacc, c, ldc, pf, pf_lines, out); break;
  }
}

// Writes the full rows x kNR tile (padding columns hold acc or zeros).
void kernel(size_t rows, size_t kc, const uint8_t* a, size_t lda, bool, const uint8_t* b_panel, const int32_t* acc,
            size_t ldacc, int32_t* c, size_t ldc, const uint8_t* pf, size_t pf_lines) {
  tile_rows<false>(rows, kc, a, lda, b_panel, acc, ldacc, c, ldc, pf, pf_lines, nullptr);
}

// The last k block with the output written straight to C (see GemmUkernel::kernel_out).
void kernel_out(size_t rows, size_t kc, const uint8_t* a, size_t lda, bool, const uint8_t* b_panel,
                const int32_t* acc, size_t ldacc, const GemmTileOut& out, const uint8_t* pf, size_t pf_lines) {
  tile_rows<true>(rows, kc, a, lda, b_panel, acc, ldacc, nullptr, 0, pf, pf_lines, &out);
}

void epilogue(const GemmArgs& g, const GemmTerms& terms, size_t i0, size_t rows, size_t j0, size_t cols,
              const uint32_t* a0, const uint32_t* rs, const uint32_t* tile, size_t ldt) {
  gemm_epilogue_tile(g, terms, i0, rows, j0, cols, a0, rs, tile, ldt);
}

const GemmUkernel kGemm = {
    "gemm_u8s8_6x64c4_vnni__avx512",
    kMR, kNR, kKR,
    {128, 0}, {0, 128},
    /*kc=*/4096, /*mc=*/192, /*nc=*/512, /*macs_per_us=*/400000,
    b_panel_bytes, /*b_kbytes=*/kNR, pack_b, unpack_b,
    /*a_panel_bytes=*/nullptr, /*pack_a=*/nullptr, /*a_xor=*/{0x80, 0x00}, /*a_read_k=*/4, /*a_full_rows=*/false, /*a_align=*/0,
    row_sums, copy_a, kernel, gemv_vnni, epilogue,
    /*begin=*/nullptr, /*end=*/nullptr, /*rows_outer=*/false, /*gemv_centered=*/nullptr, kernel_out,
};

// R rows against an amx B panel: per k group, two vectors of 16 columns.
template <int R>
void rows32(size_t kc, const uint8_t* a, size_t lda, const uint8_t* b, const int32_t* acc, size_t ldacc, int32_t* c,
            size_t ldc) {
  __m512i c0[R], c1[R];
  for (int r = 0; r < R; ++r) {
    c0[r] = acc ? _mm512_loadu_si512(acc + r * ldacc) : _mm512_setzero_si512();
    c1[r] = acc ? _mm512_loadu_si512(acc + r * ldacc + 16) : _mm512_setzero_si512();
  }
  for (size_t p = 0; p < kc; p += 4, b += 128) {
    const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512i av = bcast4(a + r * lda + p);
      c0[r] = _mm512_dpbusd_epi32(c0[r], av, b0);
      c1[r] = _mm512_dpbusd_epi32(c1[r], av, b1);
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_si512(c + r * ldc, c0[r]);
    _mm512_storeu_si512(c + r * ldc + 16, c1[r]);
  }
}

}  // namespace

const GemmUkernel* gemm_avx512() { return &kGemm; }

void gemm_rows32_vnni(size_t rows, size_t kc, const uint8_t* a, size_t lda, const uint8_t* b, const int32_t* acc,
                      size_t ldacc, int32_t* c, size_t ldc) {
  switch (rows) {
    case 1: rows32<1>(kc, a, lda, b, acc, ldacc, c, ldc); break;
    case 2: rows32<2>(kc, a, lda, b, acc, ldacc, c, ldc); break;
    case 3: rows32<3>(kc, a, lda, b, acc, ldacc, c, ldc); break;
    default: rows32<4>(kc, a, lda, b, acc, ldacc, c, ldc); break;
  }
}

}  // namespace qk
