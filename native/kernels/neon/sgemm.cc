// qkernels neon tier: float32 GEMM micro-kernel, 8 rows x 12 columns with vfmaq_laneq_f32. 24 q accumulators,
// three B vectors and the k step's eight A values in two vectors (29 of the 32 registers); each k step is 24 FMAs.
#include <arm_neon.h>

#include "qk/sgemm.h"

namespace qk {
namespace {

constexpr int kMR = 8, kNR = 12;

template <int R>
inline float32x4_t fma_row(float32x4_t acc, float32x4_t b, float32x4_t a_lo, float32x4_t a_hi) {
  // Row R's A value is lane R % 4 of a_lo (rows 0-3) or a_hi (rows 4-7).
  if constexpr (R < 4) return vfmaq_laneq_f32(acc, b, a_lo, R);
  else return vfmaq_laneq_f32(acc, b, a_hi, R - 4);
}

// Writes one row of the tile: all 12 columns, or the first `cols` (the same lanes element by element; a float add
// is the same add in either form).
inline void store_row(float* cr, float32x4_t v0, float32x4_t v1, float32x4_t v2, size_t cols, bool accumulate) {
  if (cols == kNR) {
    if (accumulate) {
      v0 = vaddq_f32(vld1q_f32(cr), v0);
      v1 = vaddq_f32(vld1q_f32(cr + 4), v1);
      v2 = vaddq_f32(vld1q_f32(cr + 8), v2);
    }
    vst1q_f32(cr, v0);
    vst1q_f32(cr + 4, v1);
    vst1q_f32(cr + 8, v2);
    return;
  }
  float t[kNR];
  vst1q_f32(t, v0);
  vst1q_f32(t + 4, v1);
  vst1q_f32(t + 8, v2);
  if (accumulate)
    for (size_t j = 0; j < cols; ++j) cr[j] = cr[j] + t[j];
  else
    for (size_t j = 0; j < cols; ++j) cr[j] = t[j];
}

// R rows (R <= kMR; the panel still holds kMR rows per k step). The accumulators are named variables, not an
// array: GCC keeps an array of vectors in memory and stores it on every k step.
template <int R>
void tile(size_t cols, size_t kc, const float* a, const float* b, float* c, size_t ldc, bool accumulate) {
#if defined(__GNUC__)
  // Start fetching the C tile now: its load (or the store's read-for-ownership) would otherwise stall at the end.
  for (int r = 0; r < R; ++r) {
    __builtin_prefetch(c + r * ldc, 1);
    __builtin_prefetch(c + r * ldc + kNR - 1, 1);
  }
#endif
#define QK_DECL(r) float32x4_t c##r##0 = vdupq_n_f32(0.0f), c##r##1 = c##r##0, c##r##2 = c##r##0;
  QK_DECL(0) QK_DECL(1) QK_DECL(2) QK_DECL(3) QK_DECL(4) QK_DECL(5) QK_DECL(6) QK_DECL(7)
#undef QK_DECL
  for (size_t p = 0; p < kc; ++p, a += kMR, b += kNR) {
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
    const float32x4_t a_lo = vld1q_f32(a), a_hi = vld1q_f32(a + 4);
#define QK_ROW(r)                                  \
  if constexpr (r < R) {                           \
    c##r##0 = fma_row<r>(c##r##0, b0, a_lo, a_hi); \
    c##r##1 = fma_row<r>(c##r##1, b1, a_lo, a_hi); \
    c##r##2 = fma_row<r>(c##r##2, b2, a_lo, a_hi); \
  }
    QK_ROW(0) QK_ROW(1) QK_ROW(2) QK_ROW(3) QK_ROW(4) QK_ROW(5) QK_ROW(6) QK_ROW(7)
#undef QK_ROW
  }
#define QK_STORE(r) \
  if constexpr (r < R) store_row(c + r * ldc, c##r##0, c##r##1, c##r##2, cols, accumulate);
  QK_STORE(0) QK_STORE(1) QK_STORE(2) QK_STORE(3) QK_STORE(4) QK_STORE(5) QK_STORE(6) QK_STORE(7)
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
    default: tile<8>(cols, kc, a, b, c, ldc, accumulate); break;
  }
}

// kc 256: a B panel (12 KB) stays in L1 while a task's A block (128 rows, 128 KB) streams from L2.
const SgemmUkernel kSgemm = {"sgemm_8x12__neon", kMR, kNR, 256, 128, 1536, kernel};

}  // namespace

const SgemmUkernel* sgemm_neon() { return &kSgemm; }

}  // namespace qk
