// qkernels avx2 tier: INT8 GEMM micro-kernel, 4 rows x 16 columns, exact for every input.
//
// vpmaddubsw would saturate its 16-bit pair sums (255 * -128 * 2 does not fit in int16), so this kernel widens
// both operands to int16 when packing and multiplies with vpmaddwd, whose pair sums (at most 2 * 255 * 255) fit
// in int32. Accumulation wraps modulo 2^32 exactly like the reference. No operand shifts: sa = sb = 0.
#include <immintrin.h>

#include <cstring>

#include "qk/gemm.h"
#include "qk/kernels.h"

namespace qk {
namespace {

constexpr int kMR = 4, kNR = 16, kKR = 2;
constexpr int kNV = kNR / 8;  // vectors per row

size_t a_panel_bytes(size_t kpad) { return kpad * kMR * 2; }
size_t b_panel_bytes(size_t kpad) { return kpad * kNR * 2; }

inline int16_t widen(uint8_t v, bool is_signed) { return is_signed ? static_cast<int8_t>(v) : v; }

// Layout: for each k pair, kMR int32 words, word r = (a[r][2q], a[r][2q + 1]) as int16.
void pack_a(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, void* panel, int32_t* rowsum) {
  const size_t kpad = round_up(k, kKR);
  int16_t* dst = static_cast<int16_t*>(panel);
  std::memset(dst, 0, a_panel_bytes(kpad));
  for (size_t r = 0; r < rows; ++r) {
    int32_t sum = 0;
    for (size_t p = 0; p < k; ++p) {
      const int16_t v = widen(a[r * lda + p], a_signed);
      dst[(p / 2) * kMR * 2 + r * 2 + (p & 1)] = v;
      sum += v;
    }
    rowsum[r] = sum;
  }
}

// Layout: for each k pair, kNR int32 words, word c = (b[2q][c], b[2q + 1][c]) as int16.
void pack_b(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t cols, size_t k, void* panel,
            int32_t* colsum) {
  const size_t kpad = round_up(k, kKR);
  int16_t* dst = static_cast<int16_t*>(panel);
  std::memset(dst, 0, b_panel_bytes(kpad));
  for (size_t c = 0; c < cols; ++c) {
    int32_t sum = 0;
    for (size_t p = 0; p < k; ++p) {
      const int16_t v = widen(b[p * rs + c * cs], b_signed);
      dst[(p / 2) * kNR * 2 + c * 2 + (p & 1)] = v;
      sum += v;
    }
    colsum[c] = sum;
  }
}

// 8 accumulators + 2 B vectors + broadcasts and products fit the 16 ymm registers (GCC spills at 6 rows).
template <int R>
void tile(size_t kpad, const int32_t* a, const __m256i* b, int32_t* c, size_t ldc) {
  __m256i acc[R][kNV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < kNV; ++v) acc[r][v] = _mm256_setzero_si256();
  for (size_t q = 0; q < kpad / 2; ++q, a += kMR, b += kNV) {
    const __m256i b0 = _mm256_loadu_si256(b), b1 = _mm256_loadu_si256(b + 1);
    for (int r = 0; r < R; ++r) {
      const __m256i av = _mm256_set1_epi32(a[r]);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < kNV; ++v) _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc + v * 8), acc[r][v]);
}

// Writes the full rows x kNR tile (padding columns hold zeros).
void kernel(size_t rows, size_t, size_t kpad, const void* a_panel, const void* b_panel, int32_t* c, size_t ldc) {
  const int32_t* a = static_cast<const int32_t*>(a_panel);
  const __m256i* b = static_cast<const __m256i*>(b_panel);
  switch (rows) {
    case 1: tile<1>(kpad, a, b, c, ldc); break;
    case 2: tile<2>(kpad, a, b, c, ldc); break;
    case 3: tile<3>(kpad, a, b, c, ldc); break;
    default: tile<4>(kpad, a, b, c, ldc); break;
  }
}

const GemmUkernel kGemm = {
    "gemm_x8x8_4x16c2_widen16__avx2", kMR, kNR, kKR, {0, 0}, {0, 0}, a_panel_bytes, b_panel_bytes, pack_a, pack_b,
    kernel,
};

}  // namespace

const GemmUkernel* gemm_avx2() { return &kGemm; }

}  // namespace qk
