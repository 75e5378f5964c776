// qkernels neon-dotprod tier (armv8.2-a+dotprod): INT8 GEMM micro-kernel with sdot, 8 rows x 12 columns, k in
// groups of 4. sdot multiplies signed bytes, so uint8 operands are shifted to signed (v - 128, i.e. v ^ 0x80)
// when packing and the driver's row/column-sum corrections recover the exact result. The element-wise ops
// inherit the neon kernels.
#include <arm_neon.h>

#include <cstring>

#include "qk/gemm.h"
#include "qk/gemm_epilogue.h"
#include "qk/gemv.h"
#include "qk/kernels.h"

namespace qk {
namespace {

constexpr int kMR = 8, kNR = 12, kKR = 4;

size_t a_panel_bytes(size_t kpad) { return kpad * kMR; }
size_t b_panel_bytes(size_t kpad) { return kpad * kNR; }

// A: for each k group of 4, kMR dwords, dword r = a~[r][4q .. 4q + 3] (a~ = a - 128 for uint8 A).
void pack_a(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, void* panel, int32_t* rowsum) {
  if (rowsum) row_sums_generic(a, lda, a_signed, rows, k, rowsum);
  std::memset(panel, 0, a_panel_bytes(round_up(k, kKR)));
  const uint8_t flip = a_signed ? 0x00 : 0x80;
  pack_rows<kMR, kKR>(a, lda, rows, k, static_cast<int8_t*>(panel), [flip](uint8_t v) { return int8_t(v ^ flip); });
}

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

// Named accumulators (24) + 2 A + 3 B vectors: 29 of the 32 registers (GCC spills arrays of accumulators).
void row_sums(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, int32_t* rowsum) {
  row_sums_generic(a, lda, a_signed, rows, k, rowsum);
}

// Writes the full rows x kNR tile (padding columns hold acc or zeros).
void kernel(size_t rows, size_t kc, const uint8_t* a_panel, size_t, bool, const uint8_t* b_panel, const int32_t* acc,
            size_t ldacc, int32_t* c, size_t ldc, const uint8_t*, size_t) {
  const int8_t* a = reinterpret_cast<const int8_t*>(a_panel);
  const int8_t* b = reinterpret_cast<const int8_t*>(b_panel);
  const size_t kpad = round_up(kc, kKR);
#define QK_ACC(r)                                                                                  \
  int32x4_t c##r##0 = vdupq_n_s32(0), c##r##1 = c##r##0, c##r##2 = c##r##0;                        \
  if (acc && rows > r) {                                                                           \
    c##r##0 = vld1q_s32(acc + r * ldacc);                                                          \
    c##r##1 = vld1q_s32(acc + r * ldacc + 4);                                                      \
    c##r##2 = vld1q_s32(acc + r * ldacc + 8);                                                      \
  }
  QK_ACC(0) QK_ACC(1) QK_ACC(2) QK_ACC(3) QK_ACC(4) QK_ACC(5) QK_ACC(6) QK_ACC(7)
#undef QK_ACC
  for (size_t q = 0; q < kpad / 4; ++q, a += kMR * 4, b += kNR * 4) {
    const int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16);
    const int8x16_t b0 = vld1q_s8(b), b1 = vld1q_s8(b + 16), b2 = vld1q_s8(b + 32);
#define QK_ROW(r, av, lane)                          \
  c##r##0 = vdotq_laneq_s32(c##r##0, b0, av, lane);  \
  c##r##1 = vdotq_laneq_s32(c##r##1, b1, av, lane);  \
  c##r##2 = vdotq_laneq_s32(c##r##2, b2, av, lane);
    QK_ROW(0, a0, 0) QK_ROW(1, a0, 1) QK_ROW(2, a0, 2) QK_ROW(3, a0, 3)
    QK_ROW(4, a1, 0) QK_ROW(5, a1, 1) QK_ROW(6, a1, 2) QK_ROW(7, a1, 3)
#undef QK_ROW
  }
  const int32x4_t sums[kMR][3] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32},
                                  {c40, c41, c42}, {c50, c51, c52}, {c60, c61, c62}, {c70, c71, c72}};
  for (size_t r = 0; r < rows; ++r)
    for (int v = 0; v < 3; ++v) vst1q_s32(c + r * ldc + 4 * v, sums[r][v]);
}

void epilogue(const GemmArgs& g, const GemmTerms& terms, size_t i0, size_t rows, size_t j0, size_t cols,
              const uint32_t* a0, const uint32_t* rs, const uint32_t* tile, size_t ldt) {
  gemm_epilogue_tile(g, terms, i0, rows, j0, cols, a0, rs, tile, ldt);
}

const GemmUkernel kGemm = {
    "gemm_s8s8_8x12c4_sdot__neondot",
    kMR, kNR, kKR,
    {0, -128}, {0, 128},
    /*kc=*/512, /*mc=*/256, /*nc=*/1020, /*macs_per_us=*/60000,
    b_panel_bytes, /*b_kbytes=*/kNR, pack_b, unpack_b,
    a_panel_bytes, pack_a, /*a_xor=*/{0, 0}, /*a_read_k=*/1, /*a_full_rows=*/false, /*a_align=*/0,
    row_sums, /*copy_a=*/nullptr, kernel, gemv_generic, epilogue,
    /*begin=*/nullptr, /*end=*/nullptr, /*rows_outer=*/false, gemv_generic_centered, /*kernel_out=*/nullptr,
};

}  // namespace

void fill_neondot(Kernels& k) { k.gemm = &kGemm; }

}  // namespace qk
