// qkernels: the float32 GEMM driver shared by every SIMD tier, blocked the Goto / BLIS way. For each block of kc
// rows of B (the tier's k block) and NC columns, the threads pack that block of B into column panels of nr (shared),
// then each task packs its rows of A for the k block into row panels of mr (its own buffer, hot in L2) and runs
// the micro-kernel with one B panel in L1 against all of its A panels. The first k block stores C, later ones add.
// When all of A's rows fit one task (m <= the tier's mc), A's k block is packed once instead and each task packs
// its own few B panels right before using them, reading B's rows with software prefetch. Up to kSgemmRowsMax rows
// against row-major B, tiers with a `rows` kernel read B in place instead (nothing packed).
//
// Determinism: which k blocks exist depends only on k and the tier, and every element is computed by one
// micro-kernel lane, so the thread count and the other block sizes never change a result.
//
// The packing buffers are kept per thread between calls (their size is bounded by the block sizes, not by the
// matrices): fresh pages for every call cost more than the packing itself. Out of memory for one of them is
// reported (sgemm returns false), not fatal.
#include "qk/sgemm.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "qk/kernels.h"
#include "qk/scratch.h"
#include "qk/threads.h"

namespace qk {
namespace {

// Below this many multiply-adds per thread a call stays on fewer threads (waking workers costs more than it saves).
constexpr double kMinMacsPerThread = 1 << 20;

// Per thread (pool workers are persistent threads): the calling thread's shared block (B's block, or in the
// few-rows path A's k block) and each task's own block (its A rows, or in the few-rows path its B panels).
thread_local Scratch t_bblock, t_ablock;

inline void prefetch_read(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

// One A panel: for p < k, mr floats a[r][p] (rows >= `rows` are 0). `a` points at the block's first element.
void pack_a_panel(const float* a, size_t lda, size_t rows, size_t k, size_t mr, float* dst) {
  for (size_t p = 0; p < k; ++p, dst += mr) {
    size_t r = 0;
    for (; r < rows; ++r) dst[r] = a[r * lda + p];
    for (; r < mr; ++r) dst[r] = 0.0f;
  }
}

// nr floats from src to dst, with fixed sizes for the tiers' panel widths (16, 32) so the copy is inlined: a libc
// memcpy call per 64 or 128 bytes cost more than the copy.
inline void copy_panel_row(float* dst, const float* src, size_t nr) {
  if (nr == 32) std::memcpy(dst, src, 32 * sizeof(float));
  else if (nr == 16) std::memcpy(dst, src, 16 * sizeof(float));
  else std::memcpy(dst, src, nr * sizeof(float));
}

// One B panel: for p < k, nr floats b[p][c] (columns >= `cols` are 0). `b` points at the block's first element.
void pack_b_panel(const float* b, size_t rs, size_t cs, size_t cols, size_t k, size_t nr, float* dst) {
  if (cs == 1 && cols == nr && (nr == 16 || nr == 32)) {
    // Whole panels of the tiers' widths: fixed-size copies. Rows ahead are prefetched: they are rs floats apart,
    // too far for the hardware prefetchers.
    constexpr size_t kAhead = 8;
    for (size_t p = 0; p < k; ++p, dst += nr) {
      if (p + kAhead < k) {
        prefetch_read(b + (p + kAhead) * rs);
        if (nr == 32) prefetch_read(b + (p + kAhead) * rs + 16);
      }
      copy_panel_row(dst, b + p * rs, nr);
    }
    return;
  }
  for (size_t p = 0; p < k; ++p, dst += nr) {
    const float* src = b + p * rs;
    size_t c = 0;
    if (cs == 1) {
      std::memcpy(dst, src, cols * sizeof(float));
      c = cols;
    } else {
      for (; c < cols; ++c) dst[c] = src[c * cs];
    }
    for (; c < nr; ++c) dst[c] = 0.0f;
  }
}

// The first and one-past-last float an operand touches (rows x cols elements, strides rs and cs), as addresses.
struct Span {
  uintptr_t lo, hi;
};
Span span(const float* p, size_t rows, size_t cols, size_t rs, size_t cs) {
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p);
  if (rows == 0 || cols == 0) return {lo, lo};
  return {lo, lo + ((rows - 1) * rs + (cols - 1) * cs + 1) * sizeof(float)};
}
bool overlaps(Span x, Span y) { return x.lo < y.hi && y.lo < x.hi; }

int threads_for(const SgemmArgs& g, int threads) {
  const double macs = static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
  return static_cast<int>(std::min<double>(std::max(threads, 1), std::max(1.0, macs / kMinMacsPerThread)));
}

bool run_reference(const SgemmArgs& g, int threads) {
  const int t = threads_for(g, threads);
  const size_t rows_per = (g.m + t - 1) / t;
  parallel_for((g.m + rows_per - 1) / rows_per, t, [&](size_t task) {
    const size_t i0 = task * rows_per;
    sgemm_reference(g, i0, std::min(g.m, i0 + rows_per));
  });
  return true;  // the reference loops allocate nothing
}

// False: out of memory (a packing buffer); C may then be partly written.
bool run_packed(const SgemmUkernel* uk, const SgemmArgs& g, int threads) {
  const size_t mr = uk->mr, nr = uk->nr, m = g.m, n = g.n, k = g.k;
  const int t = threads_for(g, threads);

  // k blocks: ceil(k / kc) of them, near-equal, fixed by k and the tier alone.
  const size_t kc_max = static_cast<size_t>(std::max(uk->kc, 1));
  const size_t kblocks = (k + kc_max - 1) / kc_max;
  const size_t kc = (k + kblocks - 1) / kblocks;

  // Column blocks of at most nc columns (whole panels); tasks of mcp row panels. With too few tasks for the threads,
  // rows are split first (down to 4 panels), then each column block is split among tasks too (each packs the
  // same A rows then), then rows again.
  const size_t row_panels = (m + mr - 1) / mr;
  const size_t nc_panels = std::min((n + nr - 1) / nr, std::max<size_t>(1, static_cast<size_t>(uk->nc) / nr));
  const size_t nc = nc_panels * nr;
  size_t mcp = std::min(row_panels, std::max<size_t>(1, static_cast<size_t>(uk->mc) / mr));
  const size_t mcp_floor = std::min<size_t>(mcp, 4);
  size_t splits = 1;
  const size_t want = t > 1 ? static_cast<size_t>(3 * t) : 1;
  while (((row_panels + mcp - 1) / mcp) * splits < want) {
    if (mcp > mcp_floor) mcp = std::max(mcp_floor, (mcp + 1) / 2);
    else if (splits < nc_panels) splits = std::min(nc_panels, splits * 2);
    else if (mcp > 1) mcp = (mcp + 1) / 2;
    else break;
  }
  const size_t row_blocks = (row_panels + mcp - 1) / mcp;
  // A task that cannot get its buffer sets this and returns; the call then stops after that parallel_for.
  std::atomic<bool> oom{false};

  if (uk->rows && m <= kSgemmRowsMax && g.cs == 1) {
    // A few rows against row-major B: no packing, each task reads its columns of B once per k block, in place
    // (packing B first cost more than the products: m = 1, 4096 x 4096, avx2 on Zen 3, 7.7 GB/s of B). The same
    // k blocks and per-element chains as the packed path, so the same bits.
    // Columns per task: a thread's share (whole rows of B stream best), at most what keeps the sums in 16 KB
    // (half a Zen 3 L1), in multiples of 64.
    const size_t share = ((n + t - 1) / t + 63) / 64 * 64;
    const size_t kCols = std::max<size_t>(64, std::min(share, 4096 / m / 64 * 64));
    const size_t tasks = (n + kCols - 1) / kCols;
    parallel_for(tasks, std::min<int>(t, static_cast<int>(tasks)), [&](size_t task) {
      if (oom.load(std::memory_order_relaxed)) return;
      float* acc = t_ablock.get<float>(m * kCols);
      if (acc == nullptr) {
        oom.store(true, std::memory_order_relaxed);
        return;
      }
      const size_t c0 = task * kCols, cols = std::min(kCols, n - c0);
      for (size_t p0 = 0; p0 < k; p0 += kc)
        uk->rows(m, cols, std::min(kc, k - p0), g.a + p0, g.lda, g.b + p0 * g.rs + c0, g.rs, g.c + c0, g.ldc,
                 p0 != 0, acc);
    });
    return !oom.load();
  }

  if (row_panels <= static_cast<size_t>(std::max(uk->mc, 1)) / mr) {
    // All of A's rows fit one task's block (few rows, e.g. a batch of tokens against a weight matrix): every B
    // panel is used by one task only, so each task packs its own panels right before using them (they stay in its
    // L2) instead of all threads packing a shared block first (written out to L3 and read back: at 128x4096x4096
    // that took a third of the call). A's k block is packed once and shared.
    float* ablock = t_bblock.get<float>(row_panels * mr * kc);
    if (ablock == nullptr) return false;
    const size_t panels = (n + nr - 1) / nr;
    constexpr size_t kChunk = 8;  // panels a task packs at once: rows of B read in runs of 8 * nr floats
    size_t chunk = kChunk;
    while (chunk > 1 && (panels + chunk - 1) / chunk < static_cast<size_t>(3 * t)) chunk /= 2;
    const size_t chunks = (panels + chunk - 1) / chunk;
    for (size_t p0 = 0; p0 < k; p0 += kc) {
      const size_t kb = std::min(kc, k - p0);
      const bool accumulate = p0 != 0;
      parallel_for(row_panels, std::min<int>(t, static_cast<int>(row_panels)), [&](size_t ip) {
        const size_t i0 = ip * mr;
        pack_a_panel(g.a + i0 * g.lda + p0, g.lda, std::min(mr, m - i0), kb, mr, ablock + ip * mr * kb);
      });
      parallel_for(chunks, t, [&](size_t task) {
        if (oom.load(std::memory_order_relaxed)) return;
        const size_t jp0 = task * chunk, jp1 = std::min(panels, jp0 + chunk);
        float* bbuf = t_ablock.get<float>(chunk * nr * kc);
        if (bbuf == nullptr) {
          oom.store(true, std::memory_order_relaxed);
          return;
        }
        const size_t c0 = jp0 * nr, ccols = std::min(n, jp1 * nr) - c0;
        if (g.cs == 1 && ccols == (jp1 - jp0) * nr) {
          // Row by row across the chunk (runs of ccols floats), prefetching rows ahead: B's rows are n floats
          // apart, too far for the hardware prefetchers, so the copy would wait on memory for every row.
          constexpr size_t kAhead = 8;
          for (size_t p = 0; p < kb; ++p) {
            if (p + kAhead < kb) {
              const char* ahead = reinterpret_cast<const char*>(g.b + (p0 + p + kAhead) * g.rs + c0);
              for (size_t off = 0; off < ccols * sizeof(float); off += 64) prefetch_read(ahead + off);
            }
            const float* src = g.b + (p0 + p) * g.rs + c0;
            for (size_t q = 0; q < jp1 - jp0; ++q) copy_panel_row(bbuf + q * nr * kb + p * nr, src + q * nr, nr);
          }
        } else {
          for (size_t jp = jp0; jp < jp1; ++jp) {
            const size_t cj = jp * nr;
            pack_b_panel(g.b + p0 * g.rs + cj * g.cs, g.rs, g.cs, std::min(nr, n - cj), kb, nr,
                         bbuf + (jp - jp0) * nr * kb);
          }
        }
        for (size_t jp = jp0; jp < jp1; ++jp) {
          const size_t c0 = jp * nr, cols = std::min(nr, n - c0);
          for (size_t ip = 0; ip < row_panels; ++ip) {
            const size_t i0 = ip * mr;
            uk->kernel(std::min(mr, m - i0), cols, kb, ablock + ip * mr * kb, bbuf + (jp - jp0) * nr * kb,
                       g.c + i0 * g.ldc + c0, g.ldc, accumulate);
          }
        }
      });
      if (oom.load()) return false;
    }
    return true;
  }

  float* bblock = t_bblock.get<float>(kc * nc);
  if (bblock == nullptr) return false;
  for (size_t j0 = 0; j0 < n; j0 += nc) {
    const size_t ncols = std::min(nc, n - j0), panels = (ncols + nr - 1) / nr;
    const size_t per_split = (panels + splits - 1) / splits;
    for (size_t p0 = 0; p0 < k; p0 += kc) {
      const size_t kb = std::min(kc, k - p0);
      const bool accumulate = p0 != 0;
      parallel_for(panels, t, [&](size_t jp) {
        const size_t c0 = j0 + jp * nr;
        pack_b_panel(g.b + p0 * g.rs + c0 * g.cs, g.rs, g.cs, std::min(nr, n - c0), kb, nr, bblock + jp * nr * kb);
      });
      parallel_for(row_blocks * splits, t, [&](size_t task) {
        const size_t ip0 = task / splits * mcp, ip1 = std::min(row_panels, ip0 + mcp);
        const size_t jp0 = task % splits * per_split, jp1 = std::min(panels, jp0 + per_split);
        if (jp0 >= jp1 || oom.load(std::memory_order_relaxed)) return;
        float* ablock = t_ablock.get<float>(mcp * mr * kc);
        if (ablock == nullptr) {
          oom.store(true, std::memory_order_relaxed);
          return;
        }
        for (size_t ip = ip0; ip < ip1; ++ip) {
          const size_t i0 = ip * mr;
          pack_a_panel(g.a + i0 * g.lda + p0, g.lda, std::min(mr, m - i0), kb, mr, ablock + (ip - ip0) * mr * kb);
        }
        for (size_t jp = jp0; jp < jp1; ++jp) {
          const size_t c0 = j0 + jp * nr, cols = std::min(nr, n - c0);
          const float* bpanel = bblock + jp * nr * kb;
          for (size_t ip = ip0; ip < ip1; ++ip) {
            const size_t i0 = ip * mr;
            uk->kernel(std::min(mr, m - i0), cols, kb, ablock + (ip - ip0) * mr * kb, bpanel, g.c + i0 * g.ldc + c0,
                       g.ldc, accumulate);
          }
        }
      });
      if (oom.load()) return false;
    }
  }
  return true;
}

}  // namespace

bool sgemm(const Kernels& kt, const SgemmArgs& g, int threads) {
  if (g.m == 0 || g.n == 0) return true;
  if (g.k == 0) {
    for (size_t i = 0; i < g.m; ++i) std::fill(g.c + i * g.ldc, g.c + i * g.ldc + g.n, 0.0f);
    return true;
  }
  // C overlapping A or B: compute into a temporary, then copy (C is untouched when that fails).
  const Span cspan = span(g.c, g.m, g.n, g.ldc, 1);
  if (overlaps(cspan, span(g.a, g.m, g.k, g.lda, 1)) || overlaps(cspan, span(g.b, g.k, g.n, g.rs, g.cs))) {
    const std::unique_ptr<float[]> tmp = make_array<float>(g.m * g.n);
    if (!tmp) return false;
    SgemmArgs h = g;
    h.c = tmp.get();
    h.ldc = g.n;
    if (!sgemm(kt, h, threads)) return false;
    for (size_t i = 0; i < g.m; ++i) std::memcpy(g.c + i * g.ldc, tmp.get() + i * g.n, g.n * sizeof(float));
    return true;
  }
  return kt.sgemm == nullptr ? run_reference(g, threads) : run_packed(kt.sgemm, g, threads);
}

}  // namespace qk
