// qkernels: INT8 GEMM. C[i][j] = sum_p (a[i][p] - za[i]) * (b[p][j] - zb[j]), exact modulo 2^32, then an
// optional epilogue (float32 scaling with bias and relu, or requantization to int8/uint8).
//
// Every SIMD tier computes the same exact integers: a tier multiplies shifted operands
//   a~ = a + sa (its A element type)   b~ = b - sb (its B element type)
// into D'[i][j] = sum_p a~[i][p] * b~[p][j] (wrapping int32), and the shared driver recovers
//   C = D' - B0[j] * rowsum(a~)[i] - A0[i] * colsum(b~)[j] + k * A0[i] * B0[j]     (all modulo 2^32)
// with A0[i] = za[i] + sa and B0[j] = zb[j] - sb. The identity holds in the ring of integers modulo 2^32, so the
// result equals the scalar reference bit for bit for every input and every k. Packing pads k with b~ = 0, so
// padded terms vanish whatever the A side holds there.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#endif

// Forces inlining of the small vector helpers the micro-kernels are built from (GCC and Clang otherwise leave some
// out of line in the kernels' unrolled loops, passing vectors through memory).
#if defined(_MSC_VER) && !defined(__clang__)
#define QK_ALWAYS_INLINE __forceinline
#else
#define QK_ALWAYS_INLINE inline __attribute__((always_inline))
#endif

namespace qk {

struct GemmArgs;   // qk/gemm_driver.h

enum class GemmOut { Int32 = 0, Float32 = 1, Int8 = 2, Uint8 = 3 };

// The most rows of A one call of a tier's gemv takes. Calls with at most kGemvDirectRows rows and an unpacked B run
// the gemv instead of packing B.
constexpr size_t kGemvMaxRows = 8;
constexpr size_t kGemvDirectRows = kGemvMaxRows;
struct GemmTerms;  // qk/gemm_epilogue.h

// One tile's output for GemmUkernel::kernel_out. Row r < rows, column j < cols of the tile:
//   d = D' - (b0 ? b0[j] * rowterm[r] : rowterm[r]) - (a0 ? a0[r] * colterm[j] : colterm[j])   (modulo 2^32)
// where b0[j] = B0[j] and rowterm[r] = rowsum(a~)[r] if B has a zero point per column, else b0 is null and
// rowterm[r] = B0 * rowsum(a~)[r]; a0[r] = A0[r] and colterm[j] = csk[j] = colsum[j] - k * B0[j] if A has a zero
// point per row, else a0 is null and colterm[j] = A0 * csk[j] (no multiply per element). Then, as the shared
// epilogue: int32 d, or y = float(d) * (bs_per_col ? as[r] * bs[j] : as[r] * bs[0]) (+ bias[j]) (relu: y > 0 ? y :
// 0), written as float32 or requantized (ref::quantize_one with inv_out_scale, out_zp, qmin, qmax). All pointers
// start at the tile's first row and column; c has a row stride of ldc elements of the output type.
struct GemmTileOut {
  GemmOut mode = GemmOut::Int32;
  void* c = nullptr;
  size_t ldc = 0, cols = 0;
  const uint32_t* rowterm = nullptr;
  const uint32_t* b0 = nullptr;
  const uint32_t* a0 = nullptr;
  const uint32_t* colterm = nullptr;
  const float* as = nullptr;
  const float* bs = nullptr;
  bool bs_per_col = false;
  const float* bias = nullptr;
  bool relu = false;
  float inv_out_scale = 1.0f;
  int32_t out_zp = 0, qmin = 0, qmax = 0;
};

// A tier's micro-kernel family. The driver (native/src/gemm.cc) splits C into tasks of up to mc rows x nc
// columns, runs k in blocks of up to kc, and calls the kernel on mr x nr tiles; B is packed in panels of nr
// columns with k rounded up to kr (and the panel padded further as b_panel_bytes says).
struct GemmUkernel {
  const char* name;  // e.g. "gemm_u8s8_6x64c4_vnni__avx512" (for bug reports and bench labels)
  int mr, nr, kr;
  // Operand shifts: sa is added to A, sb subtracted from B, per signedness (index 0 = signed, 1 = unsigned).
  int32_t sa[2], sb[2];
  // Blocking: k blocks of kc (a multiple of kr; 0 = all of k), tasks of mc rows (a multiple of mr) and nc
  // columns (a multiple of nr).
  size_t kc, mc, nc;
  // Rough multiply-adds per microsecond on one core, for deciding how many threads a call is worth.
  double macs_per_us;

  // ---- B ----
  // Bytes of one packed B panel for kpad = k rounded up to kr (a panel may pad k further with zero groups).
  size_t (*b_panel_bytes)(size_t kpad);
  // Bytes of a panel per k: k block p0 starts at byte p0 * b_kbytes of a panel (p0 a multiple of kr).
  size_t b_kbytes;
  // Packs `cols` (<= nr) columns of B (element (p, j) at b[p * rs + j * cs]) into one zero-filled panel; padding
  // columns and padding k are b~ = 0. colsum[j] receives sum_p b~[p][j] (j < cols).
  void (*pack_b)(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t cols, size_t k, void* panel,
                 int32_t* colsum);
  // The inverse of pack_b: the `cols` columns of a panel (or of its k block from byte p0 * b_kbytes, p0 a multiple
  // of kr) packed from B of signedness b_signed, back to b[p * rs + j * cs] for p < k, j < cols. A PackedB keeps
  // only its packing, and rebuilds B's values from it for another tier or the scalar tier.
  void (*unpack_b)(const void* panel, size_t cols, size_t k, bool b_signed, uint8_t* b, size_t rs, size_t cs);

  // ---- A ----
  // Packed-A kernels (pack_a set): the driver packs each mr-row slice of a k block into a panel of
  // a_panel_bytes(round_up(kc, kr)) bytes, rows beyond `rows` and k beyond `kc` zero. When rowsum is not null,
  // also rowsum[r] = row_sums' sum of the slice's original values over the block (r < rows), taken in the same
  // pass: the driver then needs no separate pass over A for the zero-point terms.
  size_t (*a_panel_bytes)(size_t kc_pad);
  void (*pack_a)(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t kc, void* panel, int32_t* rowsum);
  // Direct-A kernels (pack_a null) read A's bytes in place: row r of the tile at a + r * lda, in chunks of
  // a_read_k bytes, so they may read up to round_up(kc, a_read_k) bytes of a row (B is zero there). a_xor[s] is
  // XORed into every byte of A of signedness s (index 0 = signed) first: the driver then runs on a flipped copy.
  // a_full_rows: the kernel reads all mr rows even when fewer are asked for. a_align: the kernel wants A and its
  // row stride on this byte boundary (0 or 1: any). The driver hands the kernel an aligned copy of A where A is
  // not, and a zero-padded copy of the last row panels wherever the kernel's reads would leave A's memory.
  uint8_t a_xor[2];
  int a_read_k;
  bool a_full_rows;
  int a_align;

  // rowsum[r] = sum_p a[r][p] over the raw values (int8 or uint8 per a_signed), r < rows, wrapping.
  void (*row_sums)(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, int32_t* rowsum);
  // Direct-A kernels that may need a copy of A: dst[r * ldd + p] = a[r * lda + p] ^ flip for p < k, and, when
  // rowsum is not null, row_sums' sums of the original values, in one pass (null: the driver copies and sums
  // separately).
  void (*copy_a)(const uint8_t* a, size_t lda, uint8_t* dst, size_t ldd, size_t rows, size_t k, uint8_t flip,
                 bool a_signed, int32_t* rowsum);

  // The tile: c[r * ldc + j] = (acc ? acc[r * ldacc + j] : 0) + sum over the k block of a~ * b~ (wrapping), for
  // r < rows (<= mr) and all nr columns (padding columns give 0 + acc). `a` is the tile's first row at the
  // block's first k (direct) or the packed panel (packed); `b` is the panel at the block's first k group;
  // a_signed is A's signedness (after any a_xor flip). acc and c are mr x nr buffers of the driver's (the kernel
  // may read and write all mr rows of them); acc may equal c. pf, pf_lines: a hint, the pf_lines cache lines from
  // pf (the B panel the driver runs next) to be prefetched into L2 over the call, spread out; kernels may ignore it.
  void (*kernel)(size_t rows, size_t kc, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b,
                 const int32_t* acc, size_t ldacc, int32_t* c, size_t ldc, const uint8_t* pf, size_t pf_lines);
  // Unpacked row-major or transposed B (cs == 1 or rs == 1), m <= kGemvMaxRows rows per call (qk/gemv*.h; null:
  // pack B as usual): d[i * ldd + j] = sum_p a[i][p] * b[p][j] over the raw values (no shifts), and colsum[j] =
  // sum_p b[p][j], for columns j0 .. j1, wrapping.
  void (*gemv)(size_t m, size_t k, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b, size_t rs,
               size_t cs, bool b_signed, size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum);
  // The shared epilogue (qk/gemm_epilogue.h: corrections + output) compiled with this tier's flags.
  void (*epilogue)(const GemmArgs& g, const GemmTerms& terms, size_t i0, size_t rows, size_t j0, size_t cols,
                   const uint32_t* a0, const uint32_t* rs, const uint32_t* tile, size_t ldt);
  // Optional per-task hooks around a run of kernel calls on one thread (AMX: tile configuration and release).
  void (*begin)();
  void (*end)();
  // The k block that writes C runs row tiles outer, panels inner, into a strip of the task's columns that the
  // epilogue writes as whole rows (see the driver).
  bool rows_outer;
  // Optional (null: gemv): gemv with A's zero points taken off first, for tiers whose products stay exact on
  // centered values (the avx2 tier's int16 pairs): d[i * ldd + j] = sum_p (a[i][p] - za[i]) * b[p][j], raw B,
  // wrapping, for columns j0 .. j1, and no column sums (nothing for A's zero point to multiply: the m x n
  // column-sum pass is left out). za holds m values, each in A's value range, so |a - za| <= 255.
  void (*gemv_centered)(size_t m, size_t k, const uint8_t* a, size_t lda, bool a_signed, const int32_t* za,
                        const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t j0, size_t j1, uint32_t* d,
                        size_t ldd);
  // Optional (null: kernel, then epilogue): the last k block of a tile with its output written straight to C,
  // corrected and converted in registers: what kernel followed by the shared epilogue writes (qk/gemm_epilogue.h),
  // without the tile's round trip through memory (see GemmTileOut). The other arguments are kernel's.
  // A tier may defer a tile's output to its next kernel_out call on the same thread (to overlap it with that
  // tile's products, amx); `end` then writes what is left, so C is complete when each task's run ends. Pointers in
  // `out` stay valid until then.
  void (*kernel_out)(size_t rows, size_t kc, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b,
                     const int32_t* acc, size_t ldacc, const GemmTileOut& out, const uint8_t* pf, size_t pf_lines);
};

#if defined(__x86_64__) || defined(_M_X64)
const GemmUkernel* gemm_avx2();
const GemmUkernel* gemm_avx512();
// The avx512 tier's VNNI loop for the amx tier's few-row tiles: rows <= 4 rows of uint8 A (row stride lda, kc a
// multiple of 64 readable bytes each) against one amx B panel (k groups of 4 x 32 columns, 128 bytes each):
// c[r * ldc + j] = (acc ? acc[r * ldacc + j] : 0) + sum a * b~, for j < 32.
void gemm_rows32_vnni(size_t rows, size_t kc, const uint8_t* a, size_t lda, const uint8_t* b, const int32_t* acc,
                      size_t ldacc, int32_t* c, size_t ldc);
const GemmUkernel* gemm_amx();
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
const GemmUkernel* gemm_neon();
#endif

// The helpers below are compiled by every tier's translation unit: internal linkage (see the weak-symbol check in
// scripts/native-tests.sh).
namespace {

inline size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

// The packed layouts every tier uses: k in groups of KR, and within a group the MR rows (A) or NR columns (B)
// side by side, each with its KR consecutive k values: element (i, p) at [(p / KR) * MR * KR + i * KR + p % KR].
// `f` maps a byte to the tier's operand type (sign/zero extension or the +-128 shift). The caller zero-fills
// the panel first, so padding rows, columns and k hold 0.

// A panel from rows of A (element (i, p) at a[i * lda + p]).
template <int MR, int KR, typename T, typename F>
inline void pack_rows(const uint8_t* a, size_t lda, size_t rows, size_t k, T* dst, F f) {
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * lda;
    for (size_t p = 0; p < k; ++p) dst[(p / KR) * MR * KR + r * KR + p % KR] = f(row[p]);
  }
}

// A B panel of `cols` columns (element (p, j) at b[p * rs + j * cs]); k is the outer loop so row-major B is read
// along its rows. colsum[j] = sum of f(b) over k, modulo 2^32 (summed as uint32: k may exceed 2^24, where an
// int32 sum of bytes could overflow).
template <int NR, int KR, typename T, typename F>
inline void pack_cols(const uint8_t* b, size_t rs, size_t cs, size_t cols, size_t k, T* dst, int32_t* colsum, F f) {
  uint32_t sums[NR] = {};
  for (size_t p = 0; p < k; ++p) {
    const uint8_t* row = b + p * rs;
    T* d = dst + (p / KR) * NR * KR + p % KR;
    for (size_t c = 0; c < cols; ++c) {
      const T v = f(row[c * cs]);
      d[c * KR] = v;
      sums[c] += static_cast<uint32_t>(v);  // modulo 2^32 (v may be negative)
    }
  }
  for (size_t c = 0; c < cols; ++c) colsum[c] = static_cast<int32_t>(sums[c]);
}

// pack_cols for byte operands (T = int8, f(v) = v ^ flip) with fast paths for the two layouts B comes in: a
// group of KR k values of one column is KR bytes of the panel, gathered from KR rows of row-major B (cs == 1), or
// KR contiguous bytes of one row of the n x k transB layout (rs == 1), copied whole. The k tail (k % KR) and other
// strides take pack_cols. Identical output; written so the tier's compiler vectorizes the row-major case.
#if defined(__SSE2__) || defined(_M_X64)
// Row-major B, KR = 4: the k group's 4 rows of 16 columns interleaved bytewise into 16 dwords (64 bytes).
inline void interleave4_16(const uint8_t* r0, size_t rs, __m128i vflip, uint8_t* d) {
  const __m128i x0 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r0)), vflip);
  const __m128i x1 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + rs)), vflip);
  const __m128i x2 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + 2 * rs)), vflip);
  const __m128i x3 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + 3 * rs)), vflip);
  const __m128i lo01 = _mm_unpacklo_epi8(x0, x1), hi01 = _mm_unpackhi_epi8(x0, x1);
  const __m128i lo23 = _mm_unpacklo_epi8(x2, x3), hi23 = _mm_unpackhi_epi8(x2, x3);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_unpacklo_epi16(lo01, lo23));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 16), _mm_unpackhi_epi16(lo01, lo23));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 32), _mm_unpacklo_epi16(hi01, hi23));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 48), _mm_unpackhi_epi16(hi01, hi23));
}
// Row-major B, KR = 2: 2 rows of 16 columns into 16 byte pairs (32 bytes).
inline void interleave2_16(const uint8_t* r0, size_t rs, __m128i vflip, uint8_t* d) {
  const __m128i x0 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r0)), vflip);
  const __m128i x1 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + rs)), vflip);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_unpacklo_epi8(x0, x1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 16), _mm_unpackhi_epi8(x0, x1));
}
// Sum of 16 bytes read as int8 after the flip: psadbw sums them as uint8 (x ^ 0x80 = int8 x + 128).
inline __m128i sad_int8(const uint8_t* p, __m128i vflip80) {
  return _mm_sad_epu8(_mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), vflip80), _mm_setzero_si128());
}
#define QK_PACK_SSE2 1
#endif

template <int NR, int KR>
inline void pack_cols_bytes(const uint8_t* b, size_t rs, size_t cs, size_t cols, size_t k, uint8_t flip,
                            int8_t* dst, int32_t* colsum) {
  static_assert(KR == 2 || KR == 4, "byte groups of 2 or 4");
  const size_t kfull = k / KR * KR;
  uint32_t sums[NR] = {};  // modulo 2^32, like pack_cols
  uint8_t* d = reinterpret_cast<uint8_t*>(dst);
  if (cs == 1) {
    size_t c16 = 0;  // columns done by the vector path
#if QK_PACK_SSE2
    c16 = cols / 16 * 16;
    const __m128i vflip = _mm_set1_epi8(static_cast<char>(flip));
    for (size_t p = 0; p < kfull; p += KR, d += NR * KR) {
      const uint8_t* r0 = b + p * rs;
      for (size_t c = 0; c < c16; c += 16) {
        if (KR == 4) interleave4_16(r0 + c, rs, vflip, d + c * KR);
        else interleave2_16(r0 + c, rs, vflip, d + c * KR);
      }
      for (int i = 0; i < KR; ++i)  // column sums: a loop the compiler vectorizes
        for (size_t c = 0; c < c16; ++c)
          sums[c] += static_cast<uint32_t>(static_cast<int8_t>(r0[i * rs + c] ^ flip));
    }
    d = reinterpret_cast<uint8_t*>(dst);
#endif
    if (c16 < cols)
      for (size_t p = 0; p < kfull; p += KR, d += NR * KR) {
        const uint8_t* r0 = b + p * rs;
        for (size_t c = c16; c < cols; ++c)
          for (int i = 0; i < KR; ++i) {
            const uint8_t v = r0[i * rs + c] ^ flip;
            d[c * KR + i] = v;
            sums[c] += static_cast<uint32_t>(static_cast<int8_t>(v));
          }
      }
  } else if (rs == 1) {
    size_t c4 = 0, kv = 0;  // columns and k done by the vector path
#if QK_PACK_SSE2
    if (KR == 4) {
      // Four columns at a time: 16 bytes (4 k groups) of each, a 4 x 4 dword transpose, 4 stores of one k group.
      c4 = cols / 4 * 4;
      kv = kfull / 16 * 16;
      const __m128i vflip = _mm_set1_epi8(static_cast<char>(flip));
      for (size_t c = 0; c < c4; c += 4) {
        const uint8_t* c0 = b + c * cs;
        uint8_t* dc = d + c * KR;
        for (size_t p = 0; p < kv; p += 16, dc += 4 * NR * KR) {
          const __m128i x0 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c0 + p)), vflip);
          const __m128i x1 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c0 + cs + p)), vflip);
          const __m128i x2 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c0 + 2 * cs + p)), vflip);
          const __m128i x3 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c0 + 3 * cs + p)), vflip);
          const __m128i t0 = _mm_unpacklo_epi32(x0, x1), t1 = _mm_unpackhi_epi32(x0, x1);
          const __m128i t2 = _mm_unpacklo_epi32(x2, x3), t3 = _mm_unpackhi_epi32(x2, x3);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(dc), _mm_unpacklo_epi64(t0, t2));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(dc + NR * KR), _mm_unpackhi_epi64(t0, t2));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(dc + 2 * NR * KR), _mm_unpacklo_epi64(t1, t3));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(dc + 3 * NR * KR), _mm_unpackhi_epi64(t1, t3));
        }
      }
      // Column sums over the vector part: psadbw, 16 bytes at a time.
      const __m128i vflip80 = _mm_set1_epi8(static_cast<char>(flip ^ 0x80));
      for (size_t c = 0; c < c4; ++c) {
        const uint8_t* col = b + c * cs;
        __m128i acc = _mm_setzero_si128();
        for (size_t p = 0; p < kv; p += 16) acc = _mm_add_epi64(acc, sad_int8(col + p, vflip80));
        alignas(16) uint64_t lanes[2];
        _mm_store_si128(reinterpret_cast<__m128i*>(lanes), acc);
        sums[c] = static_cast<uint32_t>(lanes[0] + lanes[1]) - 128u * static_cast<uint32_t>(kv);
      }
    }
#endif
    for (size_t c = 0; c < cols; ++c) {
      const size_t p_from = c < c4 ? kv : 0;
      const uint8_t* col = b + c * cs;
      uint32_t s = 0;
      uint8_t* dc = d + c * KR + (p_from / KR) * NR * KR;
      for (size_t p = p_from; p < kfull; p += KR, dc += NR * KR)
        for (int i = 0; i < KR; ++i) {
          const uint8_t v = col[p + i] ^ flip;
          dc[i] = v;
          s += static_cast<uint32_t>(static_cast<int8_t>(v));
        }
      sums[c] += s;
    }
  } else {
    pack_cols<NR, KR>(b, rs, cs, cols, k, dst, colsum, [flip](uint8_t v) { return int8_t(v ^ flip); });
    return;
  }
  if (kfull < k) {
    int32_t tail[NR] = {};
    pack_cols<NR, KR>(b + kfull * rs, rs, cs, cols, k - kfull, dst + kfull * NR, tail,
                      [flip](uint8_t v) { return int8_t(v ^ flip); });
    for (size_t c = 0; c < cols; ++c) sums[c] += static_cast<uint32_t>(tail[c]);
  }
  for (size_t c = 0; c < cols; ++c) colsum[c] = static_cast<int32_t>(sums[c]);
}

// Zero-fills a panel of `bytes` for pack_cols_bytes, except the leading bytes it writes in full: with row-major B
// and all NR columns, every byte of the whole k groups (a panel filled twice measured about 8% of an unpacked
// 16x4096x4096 call). The k tail group, padding k and padding columns are zeroed.
template <int NR, int KR>
inline void pack_cols_bytes_clear(void* panel, size_t bytes, size_t cs, size_t cols, size_t k) {
  const size_t full = cs == 1 && cols == static_cast<size_t>(NR) ? std::min(bytes, k / KR * NR * KR) : 0;
  std::memset(static_cast<uint8_t*>(panel) + full, 0, bytes - full);
}

// The inverse of pack_cols (a tier's unpack_b): element (p, j) of a panel back to b[p * rs + j * cs] for p < k,
// j < cols, `g` mapping the stored operand back to B's byte.
template <int NR, int KR, typename T, typename G>
inline void unpack_cols(const T* src, size_t cols, size_t k, uint8_t* b, size_t rs, size_t cs, G g) {
  for (size_t p = 0; p < k; ++p) {
    const T* s = src + (p / KR) * NR * KR + p % KR;
    uint8_t* row = b + p * rs;
    for (size_t c = 0; c < cols; ++c) row[c * cs] = g(s[c * KR]);
  }
}

// The inverse of pack_cols_bytes: the stored byte XOR the same flip.
template <int NR, int KR>
inline void unpack_cols_bytes(const void* panel, size_t cols, size_t k, uint8_t flip, uint8_t* b, size_t rs,
                              size_t cs) {
  unpack_cols<NR, KR>(static_cast<const uint8_t*>(panel), cols, k, b, rs, cs,
                      [flip](uint8_t v) { return static_cast<uint8_t>(v ^ flip); });
}

// Row sums of raw int8 / uint8 values (wrapping), written so each tier's compiler vectorizes it.
inline void row_sums_generic(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, int32_t* rowsum) {
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * lda;
    uint32_t s = 0;
    if (a_signed) {
      const int8_t* v = reinterpret_cast<const int8_t*>(row);
      for (size_t p = 0; p < k; ++p) s += static_cast<uint32_t>(static_cast<int32_t>(v[p]));
    } else {
      for (size_t p = 0; p < k; ++p) s += row[p];
    }
    rowsum[r] = static_cast<int32_t>(s);
  }
}

}  // namespace

}  // namespace qk
