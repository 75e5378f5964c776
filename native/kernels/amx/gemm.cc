// qkernels amx tier: INT8 GEMM with AMX-INT8 tiles (Intel Sapphire Rapids and later). A 32 x 32 tile of C is 2 x 2
// int32 tiles (16 rows x 16 columns each); per 64 k values it loads two A tiles (16 rows x 64 bytes, straight
// from A's rows) and two B tiles (16 groups of 4 k x 16 columns) and runs four tile dot products. B is packed as
// int8 (uint8 B shifted, b - 128, like the avx512 tier) and A is used as it is: tdpbusd for uint8 A, tdpbssd for
// int8 A, both adding four exact byte products per int32 without saturation, wrapping like the reference. The
// element-wise ops inherit the avx512 kernels.
#include <algorithm>
#include <cstring>

#include "qk/amx.h"
#include "qk/gemm.h"
#include "qk/gemm_epilogue.h"
#include "qk/gemm_out_avx512.h"
#include "qk/kernels.h"

namespace qk {
namespace {

constexpr int kMR = 32, kNR = 32, kKR = 64, kGroup = 4;
constexpr size_t kBRow = kNR * kGroup;  // bytes of one k group of a B panel: 32 columns x 4 k

// B: k rounded up to 64 (whole tiles), for each k group of 4, kNR dwords, dword c = b~[4q .. 4q + 3][c]. A B
// tile for columns 16h .. 16h + 15 and k 64t .. 64t + 63 is 16 rows of 64 bytes at panel + t * 16 * kBRow + 64h,
// row stride kBRow.
size_t b_panel_bytes(size_t kpad) { return kpad * kNR; }

void pack_b(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t cols, size_t k, void* panel,
            int32_t* colsum) {
  pack_cols_bytes_clear<kNR, kGroup>(panel, b_panel_bytes(round_up(k, kKR)), cs, cols, k);
  const uint8_t flip = b_signed ? 0x00 : 0x80;
  pack_cols_bytes<kNR, kGroup>(b, rs, cs, cols, k, flip, static_cast<int8_t*>(panel), colsum);
}

void unpack_b(const void* panel, size_t cols, size_t k, bool b_signed, uint8_t* b, size_t rs, size_t cs) {
  unpack_cols_bytes<kNR, kGroup>(panel, cols, k, b_signed ? 0x00 : 0x80, b, rs, cs);
}

// Row sums and the aligned copy of A: the avx512 tier's.
void row_sums(const uint8_t* a, size_t lda, bool a_signed, size_t rows, size_t k, int32_t* rowsum) {
  gemm_avx512()->row_sums(a, lda, a_signed, rows, k, rowsum);
}

// A few rows against an unpacked B: the avx512 tier's VNNI gemv (memory-bound; tiles would not help).
void gemv(size_t m, size_t k, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b, size_t rs, size_t cs,
          bool b_signed, size_t j0, size_t j1, uint32_t* d, size_t ldd, uint32_t* colsum) {
  gemm_avx512()->gemv(m, k, a, lda, a_signed, b, rs, cs, b_signed, j0, j1, d, ldd, colsum);
}

void copy_a(const uint8_t* a, size_t lda, uint8_t* dst, size_t ldd, size_t rows, size_t k, uint8_t flip,
            bool a_signed, int32_t* rowsum) {
  gemm_avx512()->copy_a(a, lda, dst, ldd, rows, k, flip, a_signed, rowsum);
}

// A tile whose output kernel_out deferred to the next tile's products: its sums as the tiles stored them, its output
// and how many of its rows are written. Writing rows is vector work on other ports than the tile products:
// interleaved with them it is nearly free (a loop of four tdpbusd took the same time with 32 groups of load,
// subtract, convert, multiply, add and store between them as without).
struct Pending {
  alignas(64) uint32_t sums[kMR * kNR];
  GemmTileOut out;
  size_t rows = 0, done = 0;
};
thread_local Pending t_pending;

// Writes up to `count` more rows of the pending tile.
void pending_rows(Pending& p, size_t count) {
  const size_t end = std::min(p.rows, p.done + count);
  if (end <= p.done) return;
  const GemmTileOut o = p.out;  // a local copy (see out_rows_mem)
  switch (o.mode) {
    case GemmOut::Int32: out_rows_mem<GemmOut::Int32, kNR / 16>(o, p.done, end, p.sums, kNR); break;
    case GemmOut::Float32: out_rows_mem<GemmOut::Float32, kNR / 16>(o, p.done, end, p.sums, kNR); break;
    default: out_rows_mem<GemmOut::Int8, kNR / 16>(o, p.done, end, p.sums, kNR); break;  // int8, uint8 alike
  }
  p.done = end;
}

// Every tile 16 rows x 64 bytes: C (int32), A (64 k per row), B (16 k groups per row).
void begin() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  tile_loadconfig(&cfg);
  t_pending.rows = t_pending.done = 0;  // nothing of another run (end() writes each run's last tile)
}

// The pending tile's rest (kernel_out), then the tiles are released.
void end() {
  pending_rows(t_pending, t_pending.rows);
  tile_release();
}

// Tiles: 0-3 C (row tile r, column tile h at 2r + h), 4-5 A, 6-7 B. R row tiles (rows <= 16: one).
// With a pending tile (kernel_out), its rows are written a share per 64 k between the products, and the rest
// before this tile's sums are stored over its own.
template <int R, bool ASigned>
void tile(size_t kc, const uint8_t* a, size_t lda, const uint8_t* b, const int32_t* acc, size_t ldacc, int32_t* c,
          size_t ldc, Pending* pending) {
  const size_t chunks = std::max<size_t>((kc + kKR - 1) / kKR, 1);
  const size_t share = pending ? (pending->rows - pending->done + chunks - 1) / chunks : 0;
  const size_t accb = ldacc * 4, cb = ldc * 4;
  if (acc) {
    QK_TILE_LOADD(0, acc, accb);
    QK_TILE_LOADD(1, acc + 16, accb);
    if (R > 1) {
      QK_TILE_LOADD(2, acc + 16 * ldacc, accb);
      QK_TILE_LOADD(3, acc + 16 * ldacc + 16, accb);
    }
  } else {
    QK_TILE_ZERO(0);
    QK_TILE_ZERO(1);
    if (R > 1) {
      QK_TILE_ZERO(2);
      QK_TILE_ZERO(3);
    }
  }
  // Software-pipelined: tile registers are not renamed, so a load into a tile waits for the dot products still
  // reading it; each next-chunk load is issued right after the last product that reads the old contents, and
  // overlaps the products that remain.
#define QK_DP(cc, aa, bb)         \
  if (ASigned) QK_TDPBSSD(cc, aa, bb); \
  else QK_TDPBUSD(cc, aa, bb);
  const uint8_t* a1 = a + 16 * lda;
  if (kc == 0) goto store;
  QK_TILE_LOADD(4, a, lda);
  QK_TILE_LOADD(6, b, kBRow);
  QK_TILE_LOADD(7, b + 64, kBRow);
  if (R > 1) QK_TILE_LOADD(5, a1, lda);
  for (size_t p = 0;;) {
    const size_t np = p + kKR;
    const bool more = np < kc;
    const uint8_t* nb = b + 16 * kBRow;
    if (R > 1) {
      QK_DP(0, 4, 6)
      QK_DP(1, 4, 7)
      if (pending) pending_rows(*pending, share);
      if (more) QK_TILE_LOADD(4, a + np, lda);
      QK_DP(2, 5, 6)
      if (more) QK_TILE_LOADD(6, nb, kBRow);
      QK_DP(3, 5, 7)
      if (more) {
        QK_TILE_LOADD(7, nb + 64, kBRow);
        QK_TILE_LOADD(5, a1 + np, lda);
      }
    } else {
      QK_DP(0, 4, 6)
      if (more) QK_TILE_LOADD(6, nb, kBRow);
      QK_DP(1, 4, 7)
      if (pending) pending_rows(*pending, share);
      if (more) {
        QK_TILE_LOADD(4, a + np, lda);
        QK_TILE_LOADD(7, nb + 64, kBRow);
      }
    }
    if (!more) break;
    p = np;
    b = nb;
  }
#undef QK_DP
store:
  if (pending) pending_rows(*pending, pending->rows);
  QK_TILE_STORED(0, c, cb);
  QK_TILE_STORED(1, c + 16, cb);
  if (R > 1) {
    QK_TILE_STORED(2, c + 16 * ldc, cb);
    QK_TILE_STORED(3, c + 16 * ldc + 16, cb);
  }
}

void tiles(size_t rows, size_t kc, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b_panel,
           const int32_t* acc, size_t ldacc, int32_t* c, size_t ldc, Pending* pending) {
  if (rows > 16) {
    if (a_signed) tile<2, true>(kc, a, lda, b_panel, acc, ldacc, c, ldc, pending);
    else tile<2, false>(kc, a, lda, b_panel, acc, ldacc, c, ldc, pending);
  } else {
    if (a_signed) tile<1, true>(kc, a, lda, b_panel, acc, ldacc, c, ldc, pending);
    else tile<1, false>(kc, a, lda, b_panel, acc, ldacc, c, ldc, pending);
  }
}

// Reads and writes 16 or 32 whole rows (a_full_rows; acc and c are the driver's 32 x 32 buffers).
void kernel(size_t rows, size_t kc, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b_panel,
            const int32_t* acc, size_t ldacc, int32_t* c, size_t ldc, const uint8_t*, size_t) {
#ifndef QK_NO_ROWS32
  // A few rows of uint8 A (m = 1 to 4: a GEMV against packed weights, memory-bound): the avx512 tier's VNNI loop
  // over the same panel streams it faster than 16-row tiles that are mostly padding.
  if (rows <= 4 && !a_signed) return gemm_rows32_vnni(rows, kc, a, lda, b_panel, acc, ldacc, c, ldc);
#endif
  tiles(rows, kc, a, lda, a_signed, b_panel, acc, ldacc, c, ldc, nullptr);
}

// The last k block with the output written from the tiles' stored sums; float32 and requantized output deferred to
// the next call's products (or to end(); see Pending): the pending tile is written during this one's.
void kernel_out(size_t rows, size_t kc, const uint8_t* a, size_t lda, bool a_signed, const uint8_t* b_panel,
                const int32_t* acc, size_t ldacc, const GemmTileOut& out, const uint8_t*, size_t) {
  Pending& p = t_pending;
  int32_t* sums = reinterpret_cast<int32_t*>(p.sums);
  // int32 output is written right away: deferred into the next tile's products it measured 5-10% slower at
  // 512^3 and 3136x64x576 (it has few vector operations to hide per store, and its stores probably compete with
  // the tile loads), while float32 and int8 output gain 15-20%.
  const bool defer = out.mode != GemmOut::Int32;
#ifndef QK_NO_ROWS32
  const bool vnni_rows = rows <= 4 && !a_signed;
#else
  const bool vnni_rows = false;
#endif
  if (!defer || vnni_rows) pending_rows(p, p.rows);  // the buffer takes this tile's sums now
  if (vnni_rows) gemm_rows32_vnni(rows, kc, a, lda, b_panel, acc, ldacc, sums, kNR);
  else tiles(rows, kc, a, lda, a_signed, b_panel, acc, ldacc, sums, kNR, defer ? &p : nullptr);
  p.out = out;
  p.rows = rows;
  p.done = 0;
  if (!defer) pending_rows(p, rows);
}

void epilogue(const GemmArgs& g, const GemmTerms& terms, size_t i0, size_t rows, size_t j0, size_t cols,
              const uint32_t* a0, const uint32_t* rs, const uint32_t* tile, size_t ldt) {
  gemm_epilogue_tile(g, terms, i0, rows, j0, cols, a0, rs, tile, ldt);
}

const GemmUkernel kGemm = {
    "gemm_x8s8_32x32c4_amx",
    kMR, kNR, kKR,
    {0, 0}, {0, 128},
    /*kc=*/1024, /*mc=*/256, /*nc=*/512, /*macs_per_us=*/1000000,
    b_panel_bytes, /*b_kbytes=*/kNR, pack_b, unpack_b,
    /*a_panel_bytes=*/nullptr, /*pack_a=*/nullptr, /*a_xor=*/{0, 0}, /*a_read_k=*/kKR, /*a_full_rows=*/true, /*a_align=*/64,
    row_sums, copy_a, kernel, gemv, epilogue,
    begin, end, /*rows_outer=*/true, /*gemv_centered=*/nullptr, kernel_out,
};

}  // namespace

const GemmUkernel* gemm_amx() { return &kGemm; }

void fill_amx(Kernels& k) { k.gemm = &kGemm; }

}  // namespace qk
