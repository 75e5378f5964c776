// qkernels avx2 tier: INT8 GEMM micro-kernel, 6 rows x 16 columns, exact for every input.
//
// vpmaddubsw would saturate its 16-bit pair sums (255 * -128 * 2 does not fit in int16), so this kernel
// multiplies int16 pairs with vpmaddwd, whose pair sums fit in int32: A is widened to int16 when packing; B stays
// one byte per element in the packed panel (half the memory traffic of int16 weights, which is what bounds
// m = 1) and is sign-extended in the kernel with vpmovsxbw. uint8 B is shifted to int8 (b - 128, sb = 128) when
// packing; the driver's column-sum correction restores the exact result. Accumulation wraps modulo 2^32 like
// the reference.
#include <immintrin.h>

#include <cstring>

#include "qk/gemm.h"
#include "qk/gemm_epilogue.h"
#include "qk/gemv_avx2.h"
#include "qk/kernels.h"

namespace qk {
namespace {

constexpr int kMR = 6, kNR = 16, kKR = 2;

size_t a_panel_bytes(size_t kpad) { return kpad * kMR * 2; }
size_t b_panel_bytes(size_t kpad) { return kpad * kNR; }

// A: for each k pair q, kMR int32 words, word r = (a[r][2q], a[r][2q + 1]) as int16. A full panel goes 16 k
// (8 pairs) at a time: each row's 16 bytes widened to 16 int16 (8 pair words, pairs 0-3 in the low lane, 4-7 in
// the high one), then the 6 x 8 words transposed in registers (unpacks work within each lane, so one pass
// transposes both halves) and each pair's 6 words stored contiguously: 16 stores per 16 k, where extracting each
// word took 96 (pack_a was 15% of a 3136x64x576 GEMM, where each packed A panel serves only 4 column panels).
// 8 k at a time the same with one lane; the rest (and panels of fewer rows) element by element. Only the part
// of the panel the fast paths do not write is zeroed first.
inline void store_pairs(int32_t* d, __m128i w0123, __m128i w45) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d), w0123);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(d + 4), w45);
}

inline void store_pairs_hi(int32_t* d, __m128i w0123, __m128i w45) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d), w0123);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(d + 4), _mm_unpackhi_epi64(w45, w45));
}

// Horizontal sum of 8 int32 lanes, wrapping.
inline uint32_t hsum(__m256i v) {
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(x));
}

void pack_a(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, void* panel, int32_t* rowsum) {
  int16_t* dst = static_cast<int16_t*>(panel);
  size_t p = 0;
  // Row sums of the widened values (pair sums by vpmaddwd with ones, then int32 lanes; wrapping like row_sums).
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i sum[kMR];
  for (int i = 0; i < kMR; ++i) sum[i] = _mm256_setzero_si256();
  if (rows == kMR) {
    for (; p + 16 <= k; p += 16) {
      __m256i w[kMR];
      for (int i = 0; i < kMR; ++i) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i * lda + p));
        w[i] = a_signed ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
        if (rowsum) sum[i] = _mm256_add_epi32(sum[i], _mm256_madd_epi16(w[i], ones));
      }
      // Per lane, word q of w[i] is pair q (low lane) or 4 + q (high lane) of row i.
      const __m256i t01l = _mm256_unpacklo_epi32(w[0], w[1]), t01h = _mm256_unpackhi_epi32(w[0], w[1]);
      const __m256i t23l = _mm256_unpacklo_epi32(w[2], w[3]), t23h = _mm256_unpackhi_epi32(w[2], w[3]);
      const __m256i t45l = _mm256_unpacklo_epi32(w[4], w[5]), t45h = _mm256_unpackhi_epi32(w[4], w[5]);
      const __m256i q0 = _mm256_unpacklo_epi64(t01l, t23l), q1 = _mm256_unpackhi_epi64(t01l, t23l);
      const __m256i q2 = _mm256_unpacklo_epi64(t01h, t23h), q3 = _mm256_unpackhi_epi64(t01h, t23h);
      int32_t* d = reinterpret_cast<int32_t*>(dst + p * kMR);  // pair p / 2 onwards, kMR words per pair
      for (int lane = 0; lane < 2; ++lane) {
        const auto half = [lane](__m256i v) { return lane ? _mm256_extracti128_si256(v, 1) : _mm256_castsi256_si128(v); };
        int32_t* dl = d + lane * 4 * kMR;
        store_pairs(dl + 0 * kMR, half(q0), half(t45l));
        store_pairs_hi(dl + 1 * kMR, half(q1), half(t45l));
        store_pairs(dl + 2 * kMR, half(q2), half(t45h));
        store_pairs_hi(dl + 3 * kMR, half(q3), half(t45h));
      }
    }
    for (; p + 8 <= k; p += 8) {
      __m128i w[kMR];
      for (int i = 0; i < kMR; ++i) {
        const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(a + i * lda + p));
        w[i] = a_signed ? _mm_cvtepi8_epi16(v) : _mm_cvtepu8_epi16(v);
        if (rowsum)
          sum[i] = _mm256_add_epi32(sum[i], _mm256_inserti128_si256(_mm256_setzero_si256(),
                                                                    _mm_madd_epi16(w[i], _mm256_castsi256_si128(ones)), 0));
      }
      const __m128i t01l = _mm_unpacklo_epi32(w[0], w[1]), t01h = _mm_unpackhi_epi32(w[0], w[1]);
      const __m128i t23l = _mm_unpacklo_epi32(w[2], w[3]), t23h = _mm_unpackhi_epi32(w[2], w[3]);
      const __m128i t45l = _mm_unpacklo_epi32(w[4], w[5]), t45h = _mm_unpackhi_epi32(w[4], w[5]);
      int32_t* d = reinterpret_cast<int32_t*>(dst + p * kMR);
      store_pairs(d + 0 * kMR, _mm_unpacklo_epi64(t01l, t23l), t45l);
      store_pairs_hi(d + 1 * kMR, _mm_unpackhi_epi64(t01l, t23l), t45l);
      store_pairs(d + 2 * kMR, _mm_unpacklo_epi64(t01h, t23h), t45h);
      store_pairs_hi(d + 3 * kMR, _mm_unpackhi_epi64(t01h, t23h), t45h);
    }
  }
  // The rest of the panel, zero padded (the k tail's odd element, the rows past `rows`).
  const size_t bytes = a_panel_bytes(round_up(k, kKR)), done = p * kMR * 2;
  std::memset(static_cast<uint8_t*>(panel) + done, 0, bytes - done);
  if (p < k) {
    if (a_signed)
      pack_rows<kMR, kKR>(a + p, lda, rows, k - p, dst + p * kMR, [](uint8_t v) { return int16_t(int8_t(v)); });
    else
      pack_rows<kMR, kKR>(a + p, lda, rows, k - p, dst + p * kMR, [](uint8_t v) { return int16_t(v); });
  }
  if (rowsum)
    for (size_t r = 0; r < rows; ++r) {
      uint32_t t = hsum(sum[r]);
      const uint8_t* row = a + r * lda;
      for (size_t q = p; q < k; ++q) t += a_signed ? static_cast<uint32_t>(int8_t(row[q])) : row[q];
      rowsum[r] = static_cast<int32_t>(t);
    }
}

// B: for each k pair q, 32 bytes: columns 0-7 as (b~[2q][c], b~[2q + 1][c]) byte pairs, then columns 8-15.
void pack_b(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t cols, size_t k, void* panel,
            int32_t* colsum) {
  pack_cols_bytes_clear<kNR, kKR>(panel, b_panel_bytes(round_up(k, kKR)), cs, cols, k);
  const uint8_t flip = b_signed ? 0x00 : 0x80;
  pack_cols_bytes<kNR, kKR>(b, rs, cs, cols, k, flip, static_cast<int8_t*>(panel), colsum);
}

void unpack_b(const void* panel, size_t cols, size_t k, bool b_signed, uint8_t* b, size_t rs, size_t cs) {
  unpack_cols_bytes<kNR, kKR>(panel, cols, k, b_signed ? 0x00 : 0x80, b, rs, cs);
}

// Row sums with vpsadbw; int8 rows are summed as uint8 (v ^ 0x80 = v + 128) and corrected by 128 per element.
void row_sums(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, int32_t* rowsum) {
  const __m256i flip = _mm256_set1_epi8(a_signed ? static_cast<char>(0x80) : 0);
  const __m256i zero = _mm256_setzero_si256();
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * lda;
    __m256i s = zero;
    size_t p = 0;
    for (; p + 32 <= k; p += 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + p));
      s = _mm256_add_epi64(s, _mm256_sad_epu8(_mm256_xor_si256(v, flip), zero));
    }
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
    uint32_t total = static_cast<uint32_t>(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
    for (; p < k; ++p) total += static_cast<uint32_t>(row[p] ^ (a_signed ? 0x80 : 0));
    if (a_signed) total -= static_cast<uint32_t>(k) * 128u;
    rowsum[r] = static_cast<int32_t>(total);
  }
}

// Named accumulators (12 of the 16 ymm registers, with two B vectors and a broadcast): GCC keeps these in
// registers (an array of vectors gets spilled every k step). Per k pair, 12 vpmaddwd + 12 vpaddd and the two
// vpmovsxbw that widen B share the same three vector ports; 6 rows spread those two over twice the work of 4.
#define QK_ROW(r)                                                      \
  if (R > r) {                                                         \
    const __m256i av = _mm256_set1_epi32(a[r]);                        \
    c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(av, b0));    \
    c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(av, b1));    \
  }
template <int R>
void tile(size_t kpad, const int32_t* a, const int8_t* b, const int32_t* acc, size_t ldacc, int32_t* c, size_t ldc) {
  const __m256i z = _mm256_setzero_si256();
  __m256i c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
  if (acc) {
    auto ld = [&](int r, int h) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + r * ldacc + 8 * h)); };
    c00 = ld(0, 0), c01 = ld(0, 1);
    if (R > 1) c10 = ld(1, 0), c11 = ld(1, 1);
    if (R > 2) c20 = ld(2, 0), c21 = ld(2, 1);
    if (R > 3) c30 = ld(3, 0), c31 = ld(3, 1);
    if (R > 4) c40 = ld(4, 0), c41 = ld(4, 1);
    if (R > 5) c50 = ld(5, 0), c51 = ld(5, 1);
  }
  for (size_t q = 0; q < kpad / 2; ++q, a += kMR, b += 2 * kNR) {
    const __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
    const __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16)));
    QK_ROW(0) QK_ROW(1) QK_ROW(2) QK_ROW(3) QK_ROW(4) QK_ROW(5)
  }
  auto store = [&](int r, __m256i lo, __m256i hi) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc), lo);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc + 8), hi);
  };
  store(0, c00, c01);
  if (R > 1) store(1, c10, c11);
  if (R > 2) store(2, c20, c21);
  if (R > 3) store(3, c30, c31);
  if (R > 4) store(4, c40, c41);
  if (R > 5) store(5, c50, c51);
}
#undef QK_ROW

// Writes the full rows x kNR tile (padding columns hold acc or zeros).
void kernel(size_t rows, size_t kc, const uint8_t* a_panel, size_t, bool, const uint8_t* b_panel, const int32_t* acc,
            size_t ldacc, int32_t* c, size_t ldc, const uint8_t*, size_t) {
  const int32_t* a = reinterpret_cast<const int32_t*>(a_panel);
  const int8_t* b = reinterpret_cast<const int8_t*>(b_panel);
  const size_t kpad = round_up(kc, kKR);
  switch (rows) {
    case 1: tile<1>(kpad, a, b, acc, ldacc, c, ldc); break;
    case 2: tile<2>(kpad, a, b, acc, ldacc, c, ldc); break;
    case 3: tile<3>(kpad, a, b, acc, ldacc, c, ldc); break;
    case 4: tile<4>(kpad, a, b, acc, ldacc, c, ldc); break;
    case 5: tile<5>(kpad, a, b, acc, ldacc, c, ldc); break;
    default: tile<6>(kpad, a, b, acc, ldacc, c, ldc); break;
  }
}

void epilogue(const GemmArgs& g, const GemmTerms& terms, size_t i0, size_t rows, size_t j0, size_t cols,
              const uint32_t* a0, const uint32_t* rs, const uint32_t* tile, size_t ldt) {
  gemm_epilogue_tile(g, terms, i0, rows, j0, cols, a0, rs, tile, ldt);
}

const GemmUkernel kGemm = {
    "gemm_x8s8_6x16c2_widen16__avx2",
    kMR, kNR, kKR,
    {0, 0}, {0, 128},
    /*kc=*/512, /*mc=*/240, /*nc=*/2048, /*macs_per_us=*/75000,
    b_panel_bytes, /*b_kbytes=*/kNR, pack_b, unpack_b,
    a_panel_bytes, pack_a, /*a_xor=*/{0, 0}, /*a_read_k=*/1, /*a_full_rows=*/false, /*a_align=*/0,
    row_sums, /*copy_a=*/nullptr, kernel, gemv_avx2, epilogue,
    /*begin=*/nullptr, /*end=*/nullptr, /*rows_outer=*/false, gemv_avx2_centered, /*kernel_out=*/nullptr,
};

}  // namespace

const GemmUkernel* gemm_avx2() { return &kGemm; }

}  // namespace qk
