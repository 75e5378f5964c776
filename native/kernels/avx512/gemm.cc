// qkernels avx512 tier: INT8 GEMM micro-kernel with AVX-512 VNNI (vpdpbusd), 6 rows x 64 columns, k in groups
// of 4. vpdpbusd multiplies unsigned by signed bytes, so A is shifted to unsigned (a + 128 when A is int8) and
// B to signed (b - 128 when B is uint8); the driver's column/row-sum corrections recover the exact result.
// vpdpbusd adds four 16-bit-exact products into int32 without saturation, wrapping like the reference.
#include <cstring>

#include "qk/gemm.h"
#include "qk/gemm_epilogue.h"
#include "qk/kernels.h"
#include "qk/simd_x86.h"

namespace qk {
namespace {

constexpr int kMR = 6, kNR = 64, kKR = 4;

size_t a_panel_bytes(size_t kpad) { return kpad * kMR; }
size_t b_panel_bytes(size_t kpad) { return kpad * kNR; }

// A: for each k group of 4, kMR dwords, dword r = a~[r][4q .. 4q + 3] (a~ = a + 128 for int8 A).
void pack_a(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, void* panel, int32_t* rowsum) {
  std::memset(panel, 0, a_panel_bytes(round_up(k, kKR)));
  const uint8_t flip = a_signed ? 0x80 : 0x00;
  pack_rows<kMR, kKR>(a, lda, rows, k, static_cast<uint8_t*>(panel), rowsum,
                      [flip](uint8_t v) { return uint8_t(v ^ flip); });
}

// B: for each k group of 4, kNR dwords, dword c = b~[4q .. 4q + 3][c] (b~ = b - 128 for uint8 B).
void pack_b(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t cols, size_t k, void* panel,
            int32_t* colsum) {
  std::memset(panel, 0, b_panel_bytes(round_up(k, kKR)));
  const uint8_t flip = b_signed ? 0x00 : 0x80;
  pack_cols<kNR, kKR>(b, rs, cs, cols, k, static_cast<int8_t*>(panel), colsum,
                      [flip](uint8_t v) { return int8_t(v ^ flip); });
}

// Named accumulators (24 zmm) + 4 B vectors + a broadcast: 29 of the 32 registers. GCC spills an array of
// vector accumulators on every k step, so each one is its own variable.
#define QK_ACC(r) __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = c##r##0, c##r##2 = c##r##0, c##r##3 = c##r##0;
#define QK_ROW(r)                                  \
  if (R > r) {                                     \
    const __m512i av = _mm512_set1_epi32(a[r]);    \
    c##r##0 = _mm512_dpbusd_epi32(c##r##0, av, b0); \
    c##r##1 = _mm512_dpbusd_epi32(c##r##1, av, b1); \
    c##r##2 = _mm512_dpbusd_epi32(c##r##2, av, b2); \
    c##r##3 = _mm512_dpbusd_epi32(c##r##3, av, b3); \
  }
#define QK_STORE(r)                                  \
  if (R > r) {                                       \
    _mm512_storeu_si512(c + r * ldc, c##r##0);       \
    _mm512_storeu_si512(c + r * ldc + 16, c##r##1);  \
    _mm512_storeu_si512(c + r * ldc + 32, c##r##2);  \
    _mm512_storeu_si512(c + r * ldc + 48, c##r##3);  \
  }

template <int R>
void tile(size_t kpad, const int32_t* a, const uint8_t* b, int32_t* c, size_t ldc) {
  QK_ACC(0) QK_ACC(1) QK_ACC(2) QK_ACC(3) QK_ACC(4) QK_ACC(5)
  for (size_t q = 0; q < kpad / 4; ++q, a += kMR, b += kNR * 4) {
    const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
    const __m512i b2 = _mm512_loadu_si512(b + 128), b3 = _mm512_loadu_si512(b + 192);
    QK_ROW(0) QK_ROW(1) QK_ROW(2) QK_ROW(3) QK_ROW(4) QK_ROW(5)
  }
  QK_STORE(0) QK_STORE(1) QK_STORE(2) QK_STORE(3) QK_STORE(4) QK_STORE(5)
}
#undef QK_ACC
#undef QK_ROW
#undef QK_STORE

// Writes the full rows x kNR tile (padding columns hold zeros).
void kernel(size_t rows, size_t, size_t kpad, const void* a_panel, const void* b_panel, int32_t* c, size_t ldc) {
  const int32_t* a = static_cast<const int32_t*>(a_panel);
  const uint8_t* b = static_cast<const uint8_t*>(b_panel);
  switch (rows) {
    case 1: tile<1>(kpad, a, b, c, ldc); break;
    case 2: tile<2>(kpad, a, b, c, ldc); break;
    case 3: tile<3>(kpad, a, b, c, ldc); break;
    case 4: tile<4>(kpad, a, b, c, ldc); break;
    case 5: tile<5>(kpad, a, b, c, ldc); break;
    default: tile<6>(kpad, a, b, c, ldc); break;
  }
}

void epilogue(const GemmArgs& g, const GemmTerms& terms, size_t i0, size_t rows, size_t j0, size_t cols,
              const uint32_t* a0, const uint32_t* rs, uint32_t* tile, size_t ldt) {
  gemm_epilogue_tile(g, terms, i0, rows, j0, cols, a0, rs, tile, ldt);
}

const GemmUkernel kGemm = {
    "gemm_u8s8_6x64c4_vnni__avx512", kMR, kNR, kKR, {128, 0}, {0, 128}, a_panel_bytes, b_panel_bytes, pack_a, pack_b,
    kernel, epilogue,
};

}  // namespace

const GemmUkernel* gemm_avx512() { return &kGemm; }

}  // namespace qk
