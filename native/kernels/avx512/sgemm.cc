// qkernels avx512 tier: float32 GEMM micro-kernel, 14 rows x 32 columns with 512-bit FMA. 28 zmm accumulators, two
// B vectors and one broadcast A value per k step (31 of the 32 registers); each k step is 28 FMAs. Partial tiles
// use masked loads and stores. Intrinsics come from qk/simd_x86.h, so test builds can compile this file against
// SIMDe and run it on CPUs without AVX-512.
#include "qk/sgemm.h"
#include "qk/simd_x86.h"

namespace qk {
namespace {

constexpr int kMR = 14, kNR = 32;

// Writes one row of the tile: all 32 columns, or the first `cols` with masked loads and stores (masked-off lanes
// are neither read nor written: AVX-512 fault suppression), so a tile never touches memory past its last column.
inline void store_row(float* cr, __m512 v0, __m512 v1, size_t cols, bool accumulate) {
  if (cols == kNR) {
    if (accumulate) {
      v0 = _mm512_add_ps(_mm512_loadu_ps(cr), v0);
      v1 = _mm512_add_ps(_mm512_loadu_ps(cr + 16), v1);
    }
    _mm512_storeu_ps(cr, v0);
    _mm512_storeu_ps(cr + 16, v1);
    return;
  }
  const __mmask16 k0 = static_cast<__mmask16>(cols >= 16 ? 0xffffu : (1u << cols) - 1u);
  const __mmask16 k1 = static_cast<__mmask16>(cols <= 16 ? 0u : (1u << (cols - 16)) - 1u);
  if (accumulate) {
    v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(k0, cr), v0);
    v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(k1, cr + 16), v1);
  }
  _mm512_mask_storeu_ps(cr, k0, v0);
  _mm512_mask_storeu_ps(cr + 16, k1, v1);
}

// R rows (R <= kMR; the panel still holds kMR rows per k step). The accumulators are named variables, not an
// array: GCC keeps an array of vectors in memory and stores it on every k step.
template <int R>
void tile(size_t cols, size_t kc, const float* a, const float* b, float* c, size_t ldc, bool accumulate) {
  // Start fetching the C tile now: its load (or the store's read-for-ownership) would otherwise stall at the end.
  for (int r = 0; r < R; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 16), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + kNR - 1), _MM_HINT_T0);
  }
#define QK_DECL(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps();
  QK_DECL(0) QK_DECL(1) QK_DECL(2) QK_DECL(3) QK_DECL(4) QK_DECL(5) QK_DECL(6)
  QK_DECL(7) QK_DECL(8) QK_DECL(9) QK_DECL(10) QK_DECL(11) QK_DECL(12) QK_DECL(13)
#undef QK_DECL
#pragma GCC unroll 2
  for (size_t p = 0; p < kc; ++p, a += kMR, b += kNR) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#define QK_ROW(r)                                 \
  if constexpr (r < R) {                          \
    const __m512 av = _mm512_set1_ps(a[r]);       \
    c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0);   \
    c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);   \
  }
    QK_ROW(0) QK_ROW(1) QK_ROW(2) QK_ROW(3) QK_ROW(4) QK_ROW(5) QK_ROW(6)
    QK_ROW(7) QK_ROW(8) QK_ROW(9) QK_ROW(10) QK_ROW(11) QK_ROW(12) QK_ROW(13)
#undef QK_ROW
  }
#define QK_STORE(r) \
  if constexpr (r < R) store_row(c + r * ldc, c##r##0, c##r##1, cols, accumulate);
  QK_STORE(0) QK_STORE(1) QK_STORE(2) QK_STORE(3) QK_STORE(4) QK_STORE(5) QK_STORE(6)
  QK_STORE(7) QK_STORE(8) QK_STORE(9) QK_STORE(10) QK_STORE(11) QK_STORE(12) QK_STORE(13)
#undef QK_STORE
}

void kernel(size_t rows, size_t cols, size_t kc, const float* a, const float* b, float* c, size_t ldc,
            bool accumulate) {
  switch (rows) {
    case 1: tile<1>(cols, kc, a, b, c, ldc, accumulate); break;
    case 2: tile<2>(cols, kc, a, b, c, ldc, accumulate); break;
    case 3: tile<3>(cols, kc, a, b, c, ldc, accumulate); break;
    case 4: tile<4>(cols, kc, a, b, c, ldc, accumulate); break;
    case 5: tile<5>(cols, kc, a, b, c, ldc, accumulate); break;
    case 6: tile<6>(cols, kc, a, b, c, ldc, accumulate); break;
    case 7: tile<7>(cols, kc, a, b, c, ldc, accumulate); break;
    case 8: tile<8>(cols, kc, a, b, c, ldc, accumulate); break;
    case 9: tile<9>(cols, kc, a, b, c, ldc, accumulate); break;
    case 10: tile<10>(cols, kc, a, b, c, ldc, accumulate); break;
    case 11: tile<11>(cols, kc, a, b, c, ldc, accumulate); break;
    case 12: tile<12>(cols, kc, a, b, c, ldc, accumulate); break;
    case 13: tile<13>(cols, kc, a, b, c, ldc, accumulate); break;
    default: tile<14>(cols, kc, a, b, c, ldc, accumulate); break;
  }
}

// kc 512, mc 168: a task's A block (168 rows, 336 KB) stays in L2 and the B panel (64 KB) mostly in L1; on a Xeon with
// a 48 KB L1 this measured best (198-200 GFLOPS, 81% of the FMA peak, at 1024^3-2048^3; kc 192 gave 180-185).
// rows: the avx2 tier's (the avx512 tier's CPUs have AVX2 and FMA; reading B bounds it, not the vector width).
const SgemmUkernel kSgemm = {"sgemm_14x32__avx512f", kMR, kNR, 512, 168, 2048, kernel, sgemm_rows_avx2};

}  // namespace

const SgemmUkernel* sgemm_avx512() { return &kSgemm; }

}  // namespace qk
