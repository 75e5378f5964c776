// qkernels neon tier: INT8 GEMM micro-kernel without the dot-product extension, 8 rows x 8 columns. Both
// operands are widened to int16 when packing; vmlal multiplies int16 into int32 lanes exactly and accumulation
// wraps modulo 2^32 like the reference. No operand shifts: sa = sb = 0.
#include <arm_neon.h>

#include <cstring>

#include "qk/gemm.h"
#include "qk/gemm_epilogue.h"
#include "qk/gemv.h"
#include "qk/kernels.h"

namespace qk {
namespace {

constexpr int kMR = 8, kNR = 8, kKR = 1;

size_t a_panel_bytes(size_t kpad) { return kpad * kMR * 2; }
size_t b_panel_bytes(size_t kpad) { return kpad * kNR * 2; }


// A: for each p, kMR int16 (one per row).
void pack_a(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, void* panel, int32_t* rowsum) {
  if (rowsum) row_sums_generic(a, lda, a_signed, rows, k, rowsum);
  std::memset(panel, 0, a_panel_bytes(k));
  int16_t* dst = static_cast<int16_t*>(panel);
  if (a_signed) pack_rows<kMR, kKR>(a, lda, rows, k, dst, [](uint8_t v) { return int16_t(int8_t(v)); });
  else pack_rows<kMR, kKR>(a, lda, rows, k, dst, [](uint8_t v) { return int16_t(v); });
}

// B: for each p, kNR int16 (one per column).
void pack_b(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t cols, size_t k, void* panel,
            int32_t* colsum) {
  std::memset(panel, 0, b_panel_bytes(k));
  int16_t* dst = static_cast<int16_t*>(panel);
  if (b_signed) pack_cols<kNR, kKR>(b, rs, cs, cols, k, dst, colsum, [](uint8_t v) { return int16_t(int8_t(v)); });
  else pack_cols<kNR, kKR>(b, rs, cs, cols, k, dst, colsum, [](uint8_t v) { return int16_t(v); });
}

// The int16 values back to bytes (their low byte, for int8 and uint8 alike).
void unpack_b(const void* panel, size_t cols, size_t k, bool, uint8_t* b, size_t rs, size_t cs) {
  unpack_cols<kNR, kKR>(static_cast<const int16_t*>(panel), cols, k, b, rs, cs,
                        [](int16_t v) { return static_cast<uint8_t>(v); });
}

void row_sums(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, int32_t* rowsum) {
  row_sums_generic(a, lda, a_signed, rows, k, rowsum);
}

// Writes the full rows x kNR tile (padding columns hold acc or zeros).
void kernel(size_t rows, size_t kc, const uint8_t* a_panel, size_t, bool, const uint8_t* b_panel, const int32_t* acc,
            size_t ldacc, int32_t* c, size_t ldc, const uint8_t*, size_t) {
  const int16_t* a = reinterpret_cast<const int16_t*>(a_panel);
  const int16_t* b = reinterpret_cast<const int16_t*>(b_panel);
  int32x4_t lo[kMR], hi[kMR];
  for (int r = 0; r < kMR; ++r) {
    if (acc && static_cast<size_t>(r) < rows) {
      lo[r] = vld1q_s32(acc + r * ldacc);
      hi[r] = vld1q_s32(acc + r * ldacc + 4);
    } else {
      lo[r] = hi[r] = vdupq_n_s32(0);
    }
  }
  for (size_t p = 0; p < kc; ++p, a += kMR, b += kNR) {
    const int16x8_t av = vld1q_s16(a), bv = vld1q_s16(b);
    const int16x4_t bl = vget_low_s16(bv);
#define QK_ROW(r)                                       \
  lo[r] = vmlal_laneq_s16(lo[r], bl, av, r);            \
  hi[r] = vmlal_high_laneq_s16(hi[r], bv, av, r);
    QK_ROW(0) QK_ROW(1) QK_ROW(2) QK_ROW(3) QK_ROW(4) QK_ROW(5) QK_ROW(6) QK_ROW(7)
#undef QK_ROW
  }
  for (size_t r = 0; r < rows; ++r) {
    vst1q_s32(c + r * ldc, lo[r]);
    vst1q_s32(c + r * ldc + 4, hi[r]);
  }
}

void epilogue(const GemmArgs& g, const GemmTerms& terms, size_t i0, size_t rows, size_t j0, size_t cols,
              const uint32_t* a0, const uint32_t* rs, const uint32_t* tile, size_t ldt) {
  gemm_epilogue_tile(g, terms, i0, rows, j0, cols, a0, rs, tile, ldt);
}

const GemmUkernel kGemm = {
    "gemm_x8x8_8x8_widen16__neon",
    kMR, kNR, kKR,
    {0, 0}, {0, 0},
    /*kc=*/512, /*mc=*/256, /*nc=*/1024, /*macs_per_us=*/20000,
    b_panel_bytes, /*b_kbytes=*/kNR * 2, pack_b, unpack_b,
    a_panel_bytes, pack_a, /*a_xor=*/{0, 0}, /*a_read_k=*/1, /*a_full_rows=*/false, /*a_align=*/0,
    row_sums, /*copy_a=*/nullptr, kernel, gemv_generic, epilogue,
    /*begin=*/nullptr, /*end=*/nullptr, /*rows_outer=*/false, gemv_generic_centered, /*kernel_out=*/nullptr,
};

}  // namespace

const GemmUkernel* gemm_neon() { return &kGemm; }

}  // namespace qk
