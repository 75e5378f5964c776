// qkernels avx2 tier: float32 GEMM micro-kernel, 6 rows x 16 columns with FMA. Twelve ymm accumulators, two B
// vectors and one broadcast A value per k step (15 of the 16 registers); each k step is 12 FMAs.
#include <immintrin.h>

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

// kc 256: a B panel (16 KB) stays in L1 while a task's A block (144 rows, 144 KB) streams from L2.
const SgemmUkernel kSgemm = {"sgemm_6x16__avx2_fma", kMR, kNR, 256, 144, 2048, kernel};

}  // namespace

const SgemmUkernel* sgemm_avx2() { return &kSgemm; }

}  // namespace qk
