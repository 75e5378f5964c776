// qkernels: the INT8 GEMM driver. Packs B into column panels (once per PackedB and tier) and A into row
// panels, runs the tier's micro-kernel over the tile grid on the thread pool, then applies the zero-point
// corrections and the output epilogue in shared code, so every tier produces identical outputs.
#include "qk/gemm_driver.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "qk/convert.h"
#include "qk/gemm_epilogue.h"
#include "qk/threads.h"

namespace qk {
namespace {

// Below this many multiply-adds a call stays on one thread (waking workers costs more than it saves).
constexpr double kMinMacsPerThread = 1 << 20;

inline uint32_t u(int64_t v) { return static_cast<uint32_t>(v); }

}  // namespace

void gemm_reference(const GemmArgs& g, const uint8_t* b, size_t rs, size_t cs, bool b_signed) {
  if (g.m == 0 || g.n == 0) return;
  std::vector<uint32_t> row(g.n);
  for (size_t i = 0; i < g.m; ++i) {
    const int32_t za = g.za[i * g.za_step];
    for (size_t j = 0; j < g.n; ++j) {
      const int32_t zb = g.zb[j * g.zb_step];
      uint32_t acc = 0;  // wrapping: the contract is exact modulo 2^32
      for (size_t p = 0; p < g.k; ++p) {
        const uint8_t av = g.a[i * g.lda + p], bv = b[p * rs + j * cs];
        const int32_t ai = g.a_signed ? static_cast<int8_t>(av) : av;
        const int32_t bi = b_signed ? static_cast<int8_t>(bv) : bv;
        acc += u(static_cast<int64_t>(ai - za) * static_cast<int64_t>(bi - zb));
      }
      row[j] = acc;
    }
    gemm_output_row(g, i, 0, g.n, row.data());
  }
}

void pack_b_panels(const GemmUkernel* uk, const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t k, size_t n,
                   PackedPanels* out) {
  out->uk = uk;
  out->kpad = round_up(k, static_cast<size_t>(uk->kr));
  out->panels = (n + uk->nr - 1) / uk->nr;
  out->panel_bytes = uk->b_panel_bytes(out->kpad);
  // At least one byte: with k = 0 the panels are empty, and a null data() would reach pack_b's memset (UB).
  out->data.assign(std::max<size_t>(out->panels * out->panel_bytes, 1), 0);
  out->colsum.assign(out->panels * uk->nr, 0);
  for (size_t p = 0; p < out->panels; ++p) {
    const size_t j0 = p * uk->nr, cols = std::min<size_t>(uk->nr, n - j0);
    uk->pack_b(b + j0 * cs, rs, cs, b_signed, cols, k, out->data.data() + p * out->panel_bytes,
               out->colsum.data() + j0);
  }
}

PackedB::PackedB(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t k, size_t n)
    : k_(k), n_(n), signed_(b_signed), values_(k * n), packs_(static_cast<size_t>(Isa::Count)) {
  if (cs == 1 && rs == n) {
    if (k * n) std::memcpy(values_.data(), b, k * n);
    return;
  }
  // Any other layout (n x k for transB) is copied in 64 x 64 blocks so both sides stay in cache.
  constexpr size_t kBlock = 64;
  for (size_t p0 = 0; p0 < k; p0 += kBlock)
    for (size_t j0 = 0; j0 < n; j0 += kBlock) {
      const size_t p1 = std::min(k, p0 + kBlock), j1 = std::min(n, j0 + kBlock);
      for (size_t j = j0; j < j1; ++j)
        for (size_t p = p0; p < p1; ++p) values_[p * n + j] = b[p * rs + j * cs];
    }
}

const PackedPanels& PackedB::panels(const GemmUkernel* uk) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& p : packs_)
    if (p && p->uk == uk) return *p;
  for (auto& p : packs_)
    if (!p) {
      p = std::make_unique<PackedPanels>();
      pack_b_panels(uk, values_.data(), n_, 1, signed_, k_, n_, p.get());
      return *p;
    }
  // More micro-kernel families than slots cannot happen (one per tier); replace the first to stay safe.
  packs_[0] = std::make_unique<PackedPanels>();
  pack_b_panels(uk, values_.data(), n_, 1, signed_, k_, n_, packs_[0].get());
  return *packs_[0];
}

void gemm(const Kernels& kt, const GemmArgs& g, const uint8_t* b, size_t rs, size_t cs, bool b_signed,
          PackedB* packed, int threads) {
  if (g.m == 0 || g.n == 0) return;
  const GemmUkernel* uk = kt.gemm;
  if (uk == nullptr) {  // the scalar tier: the reference loops, split by rows
    if (packed) {
      b = packed->values();
      rs = packed->n();
      cs = 1;
    }
    const double macs = static_cast<double>(g.m) * g.n * std::max<size_t>(g.k, 1);
    const int t = static_cast<int>(std::min<double>(threads, std::max(1.0, macs / kMinMacsPerThread)));
    const size_t rows_per = (g.m + t - 1) / t;
    parallel_for((g.m + rows_per - 1) / rows_per, t, [&](size_t task) {
      GemmArgs part = g;
      const size_t i0 = task * rows_per;
      part.m = std::min(rows_per, g.m - i0);
      part.a = g.a + i0 * g.lda;
      part.za = g.za + i0 * g.za_step;
      if (g.a_scale) part.a_scale = g.a_scale + i0 * g.a_scale_step;
      const size_t esize = g.mode == GemmOut::Int32 || g.mode == GemmOut::Float32 ? 4 : 1;
      part.c = static_cast<uint8_t*>(g.c) + i0 * g.ldc * esize;
      gemm_reference(part, b, rs, cs, b_signed);
    });
    return;
  }

  PackedPanels local;
  const PackedPanels* pb;
  if (packed) pb = &packed->panels(uk);
  else {
    pack_b_panels(uk, b, rs, cs, b_signed, g.k, g.n, &local);
    pb = &local;
  }
  const size_t mr = uk->mr, nr = uk->nr, kpad = pb->kpad;
  const size_t row_panels = (g.m + mr - 1) / mr, col_panels = pb->panels;

  // Pack all of A once (row panels are reused for every column panel).
  const size_t a_bytes = uk->a_panel_bytes(kpad);
  std::vector<uint8_t> apack(std::max<size_t>(row_panels * a_bytes, 1));  // non-null even when k = 0
  std::vector<int32_t> rowsum(row_panels * mr, 0);
  const double macs = static_cast<double>(g.m) * g.n * std::max<size_t>(g.k, 1);
  const int t = static_cast<int>(std::min<double>(threads, std::max(1.0, macs / kMinMacsPerThread)));
  parallel_for(row_panels, t, [&](size_t ip) {
    const size_t i0 = ip * mr;
    uk->pack_a(g.a + i0 * g.lda, g.lda, g.a_signed, std::min(mr, g.m - i0), g.k, apack.data() + ip * a_bytes,
               rowsum.data() + i0);
  });

  // Correction terms (see qk/gemm.h): per column B0[j] and colsum[j] - k * B0[j], per row A0[i]; all modulo 2^32.
  const int32_t sa = uk->sa[g.a_signed ? 0 : 1], sb = uk->sb[b_signed ? 0 : 1];
  const uint32_t ku = u(static_cast<int64_t>(g.k));
  std::vector<uint32_t> b0(g.n), csk(g.n), a0(row_panels * mr, 0);
  for (size_t j = 0; j < g.n; ++j) {
    b0[j] = u(static_cast<int64_t>(g.zb[j * g.zb_step]) - sb);
    csk[j] = static_cast<uint32_t>(pb->colsum[j]) - ku * b0[j];
  }
  for (size_t i = 0; i < g.m; ++i) a0[i] = u(static_cast<int64_t>(g.za[i * g.za_step]) + sa);
  GemmTerms terms;
  terms.b0 = b0.data();
  terms.csk = csk.data();
  const uint32_t* rsum = reinterpret_cast<const uint32_t*>(rowsum.data());

  // Work items: contiguous ranges of column panels (each thread keeps its B panel hot across all row panels),
  // or of row panels when there are fewer column panels than threads.
  const bool split_cols = col_panels >= static_cast<size_t>(t) || row_panels == 1;
  const size_t items = split_cols ? col_panels : row_panels;
  const size_t chunk = std::max<size_t>(1, (items + t * 4 - 1) / (t * 4));
  parallel_for((items + chunk - 1) / chunk, t, [&](size_t task) {
    std::vector<uint32_t> tile(mr * nr);
    const size_t lo = task * chunk, hi = std::min(items, lo + chunk);
    const size_t jp0 = split_cols ? lo : 0, jp1 = split_cols ? hi : col_panels;
    const size_t ip0 = split_cols ? 0 : lo, ip1 = split_cols ? row_panels : hi;
    for (size_t jp = jp0; jp < jp1; ++jp) {
      const size_t j0 = jp * nr, cols = std::min(nr, g.n - j0);
      const uint8_t* bpanel = pb->data.data() + jp * pb->panel_bytes;
      for (size_t ip = ip0; ip < ip1; ++ip) {
        const size_t i0 = ip * mr, rows = std::min(mr, g.m - i0);
        uk->kernel(rows, cols, kpad, apack.data() + ip * a_bytes, bpanel, reinterpret_cast<int32_t*>(tile.data()), nr);
        uk->epilogue(g, terms, i0, rows, j0, cols, a0.data() + i0, rsum + i0, tile.data(), nr);
      }
    }
  });
}

}  // namespace qk
