// qkernels avx2 tier: float32 GEMM micro-kernel, 6 rows x 16 columns with FMA. Twelve ymm accumulators, two B
// vectors and one broadcast A value per k step (15 of the 16 registers); each k step is 12 FMAs.
#include <immintrin.h>

#include <cmath>

#include "qk/sgemm.h"

namespace qk {
namespace {

constexpr int kMR = 6, kNR = 16;

// Writes one row of the tile: all 16 columns, or the first `cols` (the same lanes element by element; a float add
// is the same add in either form).
inline void store_row(float* cr, __m256 v0, __m256 v1, size_t cols, bool accumulate) {
  if (cols == kNR) {
    if (accumulate) {
      v0 = _mm256_add_ps(_mm256_loadu_ps(cr), v0);
      v1 = _mm256_add_ps(_mm256_loadu_ps(cr + 8), v1);
    }
    _mm256_storeu_ps(cr, v0);
    _mm256_storeu_ps(cr + 8, v1);
    return;
  }
  alignas(32) float t[kNR];
  _mm256_store_ps(t, v0);
  _mm256_store_ps(t + 8, v1);
  if (accumulate)
    for (size_t j = 0; j < cols; ++j) cr[j] = cr[j] + t[j];
  else
    for (size_t j = 0; j < cols; ++j) cr[j] = t[j];
}

// R rows (R <= kMR; the panel still holds kMR rows per k step). The accumulators are named variables, not an
// array: GCC keeps an array of vectors in memory and stores it on every k step.
template <int R>
void tile(size_t cols, size_t kc, const float* a, const float* b, float* c, size_t ldc, bool accumulate) {
  // Start fetching the C tile now: its load (or the store's read-for-ownership) would otherwise stall at the end.
  for (int r = 0; r < R; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + kNR - 1), _MM_HINT_T0);
  }
#define QK_DECL(r) __m256 c##r##0 = _mm256_setzero_ps(), c##r##1 = _mm256_setzero_ps();
  QK_DECL(0) QK_DECL(1) QK_DECL(2) QK_DECL(3) QK_DECL(4) QK_DECL(5)
#undef QK_DECL
  for (size_t p = 0; p < kc; ++p, a += kMR, b += kNR) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#define QK_ROW(r)                                     \
  if constexpr (r < R) {                              \
    const __m256 av = _mm256_broadcast_ss(a + r);     \
    c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);       \
    c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1);       \
  }
    QK_ROW(0) QK_ROW(1) QK_ROW(2) QK_ROW(3) QK_ROW(4) QK_ROW(5)
#undef QK_ROW
  }
#define QK_STORE(r) \
  if constexpr (r < R) store_row(c + r * ldc, c##r##0, c##r##1, cols, accumulate);
  QK_STORE(0) QK_STORE(1) QK_STORE(2) QK_STORE(3) QK_STORE(4) QK_STORE(5)
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
    default: tile<6>(cols, kc, a, b, c, ldc, accumulate); break;
  }
}

// A few rows against row-major B in place, one k block: the rows' sums for `cols` columns accumulate in acc
// (L1), four rows of B at a time (each sum loaded and stored once per four fused multiply-adds, not per one), B's
// rows read once each, with the rows kAhead ahead prefetched. Per element the chain is kernel's: acc from +0, one
// fused multiply-add per p in order (std::fma for the last cols % 8 columns is the same fused operation).
template <int R>
void rows_tile(size_t cols, size_t kc, const float* a, size_t lda, const float* b, size_t rs, float* acc) {
  constexpr size_t kAhead = 8;
  for (size_t j = 0; j < R * cols; ++j) acc[j] = 0.0f;
  const size_t vec = cols / 8 * 8;
  size_t p = 0;
  for (; p + 4 <= kc; p += 4) {
    const float* br = b + p * rs;
    if (p + kAhead + 4 <= kc)
      for (size_t q = 0; q < 4; ++q)
        for (size_t j = 0; j < cols; j += 16)
          _mm_prefetch(reinterpret_cast<const char*>(br + (kAhead + q) * rs + j), _MM_HINT_T0);
    __m256 av[R][4];
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < 4; ++q) av[r][q] = _mm256_set1_ps(a[r * lda + p + q]);
    size_t j = 0;
    for (; j < vec; j += 8) {
      const __m256 b0 = _mm256_loadu_ps(br + j), b1 = _mm256_loadu_ps(br + rs + j);
      const __m256 b2 = _mm256_loadu_ps(br + 2 * rs + j), b3 = _mm256_loadu_ps(br + 3 * rs + j);
      for (int r = 0; r < R; ++r) {
        float* ar = acc + r * cols + j;
        __m256 x = _mm256_loadu_ps(ar);
        x = _mm256_fmadd_ps(av[r][0], b0, x);
        x = _mm256_fmadd_ps(av[r][1], b1, x);
        x = _mm256_fmadd_ps(av[r][2], b2, x);
        x = _mm256_fmadd_ps(av[r][3], b3, x);
        _mm256_storeu_ps(ar, x);
      }
    }
    for (; j < cols; ++j)
      for (int r = 0; r < R; ++r) {
        float x = acc[r * cols + j];
        for (size_t q = 0; q < 4; ++q) x = std::fma(a[r * lda + p + q], br[q * rs + j], x);
        acc[r * cols + j] = x;
      }
  }
  for (; p < kc; ++p) {
    const float* br = b + p * rs;
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_set1_ps(a[r * lda + p]);
      float* ar = acc + r * cols;
      size_t j = 0;
      for (; j < vec; j += 8) _mm256_storeu_ps(ar + j, _mm256_fmadd_ps(av, _mm256_loadu_ps(br + j), _mm256_loadu_ps(ar + j)));
      for (; j < cols; ++j) ar[j] = std::fma(a[r * lda + p], br[j], ar[j]);
    }
  }
}

}  // namespace

void sgemm_rows_avx2(size_t rows, size_t cols, size_t kc, const float* a, size_t lda, const float* b, size_t rs,
                     float* c, size_t ldc, bool accumulate, float* acc) {
  switch (rows) {
    case 1: rows_tile<1>(cols, kc, a, lda, b, rs, acc); break;
    case 2: rows_tile<2>(cols, kc, a, lda, b, rs, acc); break;
    case 3: rows_tile<3>(cols, kc, a, lda, b, rs, acc); break;
    default: rows_tile<4>(cols, kc, a, lda, b, rs, acc); break;
  }
  for (size_t r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    const float* ar = acc + r * cols;
    if (accumulate)
      for (size_t j = 0; j < cols; ++j) cr[j] = cr[j] + ar[j];
    else
      for (size_t j = 0; j < cols; ++j) cr[j] = ar[j];
  }
}

namespace {

// kc 256: a B panel (16 KB) stays in L1 while a task's A block (144 rows, 144 KB) streams from L2.
const SgemmUkernel kSgemm = {"sgemm_6x16__avx2_fma", kMR, kNR, 256, 144, 2048, kernel, sgemm_rows_avx2};

}  // namespace

const SgemmUkernel* sgemm_avx2() { return &kSgemm; }

}  // namespace qk
