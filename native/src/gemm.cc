// qkernels: the INT8 GEMM driver. Packs B into column panels (once per PackedB and tier), splits C into tasks of
// up to mc rows x nc columns run on the thread pool, walks k in blocks of kc inside each task (a B panel's k block
// stays in L1 across the task's row tiles, the task's A block in L2), runs the tier's micro-kernel on each tile
// and applies the zero-point corrections and the output epilogue in shared code after the last k block, so every
// tier produces identical outputs.
#include "qk/gemm_driver.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "qk/convert.h"
#include "qk/gemm_epilogue.h"
#include "qk/scratch.h"
#include "qk/threads.h"

namespace qk {
namespace {


// The largest mr x nr tile of any tier (the kernel writes the last k block's tile here for the epilogue).
constexpr size_t kMaxTile = 32 * 64;
constexpr size_t kMaxRows = 32;  // the tallest tile (amx); gemm() checks every tier's mr against it

inline uint32_t u(int64_t v) { return static_cast<uint32_t>(v); }

// Threads for an m x n x k problem: one per min_micros_per_thread(threads) of work (waking a spinning worker takes about a
// microsecond, a sleeping one tens; splitting also shrinks what each thread reuses). The work is the slower of the
// multiply-adds at `macs_per_us` and reading the operands (m k + k n bytes) at about 10 GB/s per thread, so
// memory-bound shapes (m = 1: the weights) split too.
int threads_for(size_t m, size_t n, size_t k, int threads, double macs_per_us) {
  const double macs = static_cast<double>(m) * n * std::max<size_t>(k, 1);
  const double bytes = (static_cast<double>(m) + n) * std::max<size_t>(k, 1);
  const double us = std::max(macs / macs_per_us, bytes / 10000.0);
  const double by_work = us / std::max(min_micros_per_thread(threads), 1e-9);
  return static_cast<int>(std::min<double>(std::max(threads, 1), std::max(1.0, by_work)));
}

// Per-thread scratch: k-block accumulators, packed or staged A, a staged task's row sums, the rows-outer strip, the
// copy of A's last rows, the gemv path's sums and correction terms, a fused task's per-row output terms.
thread_local Scratch t_acc, t_apack, t_rsum, t_strip, t_atail, t_gemv, t_outrows;
// What this thread's t_apack and t_rsum hold when a call staged all of a row block's k (see the driver): the
// call's number and the block's first row.
thread_local uint64_t t_staged_call = 0;
thread_local size_t t_staged_row = 0;
std::atomic<uint64_t> g_calls{0};

// The output size from which rows_outer tiers write C through row strips (about an L2; tests lower it).
std::atomic<size_t> g_strip_min_bytes{size_t{2} << 20};
// The most bytes of a task's rows a staged A copies for all of k at once (tests set 0: one k block at a time).
std::atomic<size_t> g_stage_all_max_bytes{size_t{1} << 20};

}  // namespace

void set_gemm_strip_min_bytes(size_t bytes) { g_strip_min_bytes.store(bytes, std::memory_order_relaxed); }
void set_gemm_stage_all_max_bytes(size_t bytes) { g_stage_all_max_bytes.store(bytes, std::memory_order_relaxed); }
size_t gemm_stage_all_max_bytes() { return g_stage_all_max_bytes.load(std::memory_order_relaxed); }
size_t gemm_strip_min_bytes() { return g_strip_min_bytes.load(std::memory_order_relaxed); }

AlignedBytes::~AlignedBytes() { aligned_free(ptr_); }

bool AlignedBytes::assign(size_t n, bool zero) {
  const size_t want = std::max<size_t>(n, 1);
  if (alloc_refused(want) || want > SIZE_MAX - 63) {
    aligned_free(ptr_);
    ptr_ = nullptr;
    size_ = capacity_ = 0;
    return false;
  }
  if (ptr_ == nullptr || capacity_ < want) {
    aligned_free(ptr_);
    capacity_ = round_up(want, 64);
    ptr_ = static_cast<uint8_t*>(aligned_malloc64(capacity_));
    if (ptr_ == nullptr) {
      size_ = capacity_ = 0;
      return false;
    }
  }
  size_ = want;
  if (zero) std::memset(ptr_, 0, size_);
  return true;
}

bool gemm_reference(const GemmArgs& g, const uint8_t* b, size_t rs, size_t cs, bool b_signed) {
  if (g.m == 0 || g.n == 0) return true;
  const std::unique_ptr<uint32_t[]> row = make_array<uint32_t>(g.n);
  if (!row) return false;
  for (size_t i = 0; i < g.m; ++i) {
    const int32_t za = g.za[i * g.za_step];
    for (size_t j = 0; j < g.n; ++j) {
      const int32_t zb = g.zb[j * g.zb_step];
      uint32_t acc = 0;  // wrapping: the contract is exact modulo 2^32
      for (size_t p = 0; p < g.k; ++p) {
        const uint8_t av = g.a[i * g.lda + p], bv = b[p * rs + j * cs];
        const int32_t ai = g.a_signed ? static_cast<int8_t>(av) : av;
        const int32_t bi = b_signed ? static_cast<int8_t>(bv) : bv;
        acc += u((static_cast<int64_t>(ai) - za) * (static_cast<int64_t>(bi) - zb));  // any int32 zero point
      }
      row[j] = acc;
    }
    gemm_output_row(g, i, 0, g.n, row.get());
  }
  return true;
}

bool pack_b_panels(const GemmUkernel* uk, const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t k, size_t n,
                   PackedPanels* out, int threads) {
  out->uk = nullptr;  // set once the packing is complete
  out->kpad = round_up(k, static_cast<size_t>(uk->kr));
  out->panels = (n + uk->nr - 1) / uk->nr;
  out->panel_bytes = uk->b_panel_bytes(out->kpad);
  // At least one byte: with k = 0 the panels are empty, and a null data() would reach pack_b's memset (UB). Not
  // zeroed here: pack_b zero-fills each panel before writing it. The column sums are zeroed (padding columns).
  if (!out->data.assign(out->panels * out->panel_bytes, false) || !out->sums.assign(out->panels * uk->nr * 4))
    return false;
  const int t = threads_for(1, n, k, threads, 2000);  // packing: about 2000 bytes per microsecond
  int32_t* colsum = out->colsum();
  // Row-major B of many rows: a panel reads a few bytes of every row, rs bytes apart, so panel by panel each row
  // costs a cache miss and a TLB miss (a 4096 x 4096 B: 4096 pages per panel). Panels are packed in chunks of about
  // 1 KB of columns instead, kKBlock rows at a time for all of the chunk's panels (the tiers' panel layouts allow
  // it: k block p0 of a panel starts at byte p0 * b_kbytes), so the chunk's later panels find those rows in cache.
  // bench_gemm --unpacked 16x4096x4096, 1 thread, old/new alternated: amx 7.0-8.0 -> 5.7-6.6 ms, avx512 5.4-6.0
  // -> 3.8 ms (earlier, at a faster hour: avx2 14 -> 9-11 ms; 2 threads amx 3.1-3.4 -> 2.3-2.4 ms). Other layouts,
  // and fewer rows, pack each panel whole, a panel per task.
  constexpr size_t kKBlock = 256, kChunkBytes = 1024;
  const size_t nr = uk->nr, panels = out->panels;
  const bool blocked = cs == 1 && k > kKBlock && kKBlock % uk->kr == 0;
  const size_t kb = blocked ? kKBlock : std::max<size_t>(k, 1);
  const size_t per_thread = std::max<size_t>(1, panels / static_cast<size_t>(std::max(t, 1)));
  const size_t chunk = blocked ? std::min(per_thread, std::max<size_t>(1, kChunkBytes / nr)) : 1;
  parallel_for((panels + chunk - 1) / chunk, t, [&](size_t ch) {
    const size_t p0 = ch * chunk, p1 = std::min(panels, p0 + chunk);
    for (size_t q0 = 0; q0 == 0 || q0 < k; q0 += kb) {  // once for k = 0 (pack_b writes the column sums)
      const size_t kn = std::min(kb, k - q0);
      for (size_t p = p0; p < p1; ++p) {
        const size_t j0 = p * nr, cols = std::min<size_t>(nr, n - j0);
        uint8_t* panel = out->data.data() + p * out->panel_bytes + q0 * uk->b_kbytes;
        if (q0 == 0) {
          uk->pack_b(b + j0 * cs, rs, cs, b_signed, cols, kn, panel, colsum + j0);
          continue;
        }
        int32_t part[kMaxTile];  // nr <= kMaxTile (every tier's tile fits the driver's buffers)
        uk->pack_b(b + q0 * rs + j0 * cs, rs, cs, b_signed, cols, kn, panel, part);
        for (size_t c = 0; c < cols; ++c)  // modulo 2^32
          colsum[j0 + c] = static_cast<int32_t>(u(colsum[j0 + c]) + u(part[c]));
      }
    }
  });
  out->uk = uk;
  return true;
}

void unpack_b_panels(const PackedPanels& pb, bool b_signed, size_t k, size_t n, uint8_t* b, int threads) {
  const GemmUkernel* uk = pb.uk;
  const size_t nr = uk->nr;
  // Tasks of kRows rows of B across all panels (a multiple of every tier's kr; each task writes whole rows, so no
  // two share a cache line of the output).
  constexpr size_t kRows = 256;
  const int t = threads_for(1, n, k, threads, 2000);
  parallel_for((k + kRows - 1) / kRows, t, [&](size_t task) {
    const size_t q0 = task * kRows, kn = std::min(kRows, k - q0);
    for (size_t p = 0; p < pb.panels; ++p) {
      const size_t j0 = p * nr;
      uk->unpack_b(pb.data.data() + p * pb.panel_bytes + q0 * uk->b_kbytes, std::min(nr, n - j0), kn, b_signed,
                   b + q0 * n + j0, n, 1);
    }
  });
}

std::unique_ptr<PackedB> PackedB::create(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t k, size_t n,
                                         const GemmUkernel* uk, int threads) {
  std::unique_ptr<PackedB> p(new (std::nothrow) PackedB(b, rs, cs, b_signed, k, n, uk, threads));
  if (p && !p->ok()) p.reset();
  return p;
}

PackedB::PackedB(const uint8_t* b, size_t rs, size_t cs, bool b_signed, size_t k, size_t n, const GemmUkernel* uk,
                 int threads)
    : k_(k), n_(n), signed_(b_signed) {
  if (uk) {
    std::unique_ptr<PackedPanels> pack(new (std::nothrow) PackedPanels());
    if (!pack || !pack_b_panels(uk, b, rs, cs, b_signed, k, n, pack.get(), threads)) return;  // ok() stays false
    packs_[0] = std::move(pack);
    ok_ = true;
    return;
  }
  if (!values_.assign(k * n, false)) return;
  ok_ = true;
  const bool row_major = cs == 1 && rs == n, trans = rs == 1 && cs == k;
  rs_ = n;
  cs_ = 1;
  if (row_major || trans) {
    if (k * n != 0) std::memcpy(values_.data(), b, k * n);
    rs_ = rs;
    cs_ = cs;
    return;
  }
  // Any other layout is copied to row-major in 64 x 64 blocks so both sides stay in cache.
  constexpr size_t kBlock = 64;
  for (size_t p0 = 0; p0 < k; p0 += kBlock)
    for (size_t j0 = 0; j0 < n; j0 += kBlock) {
      const size_t p1 = std::min(k, p0 + kBlock), j1 = std::min(n, j0 + kBlock);
      for (size_t j = j0; j < j1; ++j)
        for (size_t p = p0; p < p1; ++p) values_.data()[p * n + j] = b[p * rs + j * cs];
    }
}

bool PackedB::rebuild_locked(AlignedBytes* out, int threads) const {
  if (!out->assign(k_ * n_, false)) return false;
  if (k_ * n_ == 0) return true;
  for (const auto& p : packs_)
    if (p) {
      unpack_b_panels(*p, signed_, k_, n_, out->data(), threads);
      break;
    }
  return true;
}

bool PackedB::values(Values* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ok_) return false;
  if (values_.size() == 0) {  // made for a tier: rebuilt once, row-major
    if (!rebuild_locked(&values_, 1)) return false;
    rs_ = n_;
    cs_ = 1;
  }
  *out = Values{values_.data(), rs_, cs_};
  return true;
}

const PackedPanels* PackedB::panels(const GemmUkernel* uk, int threads) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ok_) return nullptr;
  for (auto& p : packs_)
    if (p && p->uk == uk) return p.get();
  // A free slot; more micro-kernel families than slots cannot happen (one per tier): replace the last to stay
  // safe (never the first, which may be the only packing, and the source of this one).
  std::unique_ptr<PackedPanels>* slot = &packs_.back();
  for (auto& p : packs_)
    if (!p) {
      slot = &p;
      break;
    }
  // B's values: kept (made for, or used by, the scalar tier), or rebuilt from a packing for this one and dropped.
  AlignedBytes rebuilt;
  const uint8_t* b = values_.data();
  size_t rs = rs_, cs = cs_;
  if (values_.size() == 0) {
    if (!rebuild_locked(&rebuilt, threads)) return nullptr;
    b = rebuilt.data(), rs = n_, cs = 1;
  }
  // Packed aside and stored only when complete: a failed packing is never found by the lookup above.
  std::unique_ptr<PackedPanels> fresh(new (std::nothrow) PackedPanels());
  if (!fresh || !pack_b_panels(uk, b, rs, cs, signed_, k_, n_, fresh.get(), threads)) return nullptr;
  *slot = std::move(fresh);
  return slot->get();
}

size_t PackedB::bytes() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t total = values_.size();
  for (const auto& p : packs_)
    if (p) total += p->data.size() + p->sums.size();
  return total;
}

namespace {

// A few rows of A against an unpacked B: the tier's gemv on column chunks in parallel, each chunk corrected and
// written by the epilogue as soon as it is done. The gemv sums raw values (no shifts: sa = sb = 0), or, with the
// tier's gemv_centered, A minus its zero point (then A0 = 0 and the row sums are those of a - za: no column sums
// needed). False: out of memory.
bool gemv(const Kernels& kt, const GemmArgs& g, const uint8_t* b, size_t rs, size_t cs, bool b_signed, int threads) {
  const GemmUkernel& uk = *kt.gemm;
  const size_t m = g.m, n = g.n, k = g.k;
  const uint32_t ku = u(static_cast<int64_t>(k));
  // d (m rows of n, stride ldd), colsum, b0, csk (n each), a0 and rsum (m each) in this thread's buffer, kept
  // between calls; d's rows and colsum start on 64-byte boundaries (the VNNI gemv accumulates in them with
  // full-vector loads and stores, which cost twice across cache lines). Every value is written before it is read.
  // Rows (and colsum) a multiple of 4 KB apart would have their loads wait on the stores to the other rows at the
  // same offsets (4K aliasing): the stride then gets one more cache line.
  size_t ldd = round_up(n, 16);
  if (ldd % 1024 == 0) ldd += 16;
  uint32_t* d = t_gemv.get<uint32_t>((m + 1) * ldd + 2 * n + 2 * m);
  if (d == nullptr) return false;
  uint32_t *colsum = d + m * ldd, *b0 = colsum + ldd, *csk = b0 + n, *a0 = csk + n, *rsum = a0 + m;
  // Centering keeps |a - za| <= 255 (the products exact in the tier's int16 pairs) for zero points in A's range,
  // which is all the API accepts; the core takes any int32, so others keep the column sums.
  const int32_t zlo = g.a_signed ? -128 : 0, zhi = g.a_signed ? 127 : 255;
  int32_t za[kGemvDirectRows];  // the rows' zero points, contiguous for gemv_centered
  bool centered = uk.gemv_centered != nullptr;
  for (size_t i = 0; i < m; ++i) {
    za[i] = g.za[i * g.za_step];
    centered &= za[i] >= zlo && za[i] <= zhi;
    a0[i] = static_cast<uint32_t>(za[i]), rsum[i] = 0;
  }
  if (k) uk.row_sums(g.a, g.lda, g.a_signed, m, k, reinterpret_cast<int32_t*>(rsum));
  if (centered)
    for (size_t i = 0; i < m; ++i) rsum[i] -= ku * a0[i], a0[i] = 0;  // sum (a - za) = rowsum - k za
  GemmTerms terms;
  terms.b0 = b0;
  terms.csk = csk;
  terms.quantize_s8 = kt.quantize_s8;
  terms.quantize_u8 = kt.quantize_u8;
  // Row-major B is read a row segment per chunk: wide chunks (one per thread) keep those segments long, and each
  // page of B is then visited once per chunk rather than once per 256 columns (1x4096x4096: 12 -> 26 GB/s).
  const size_t kChunk = cs == 1 ? std::max<size_t>(256, round_up((n + threads - 1) / threads, 64)) : 256;
  const size_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(chunks, threads, [&](size_t c) {
    const size_t j0 = c * kChunk, j1 = std::min(n, j0 + kChunk);
    // All m <= kGemvMaxRows rows in one call: the VNNI gemv reads B once for them, the avx2 one in two passes of
    // up to 4 rows; either costs less than packing B (bench_gemm --unpacked 8x4096x4096, 1 thread: amx 4.0 ms
    // packed per call, 1.9-2.1 ms in two passes, 1.5 ms in one; avx2 6.5 -> 4.0 ms; transB amx 3.4 -> 1.4 ms).
    if (centered)
      uk.gemv_centered(m, k, g.a, g.lda, g.a_signed, za, b, rs, cs, b_signed, j0, j1, d, ldd);
    else
      uk.gemv(m, k, g.a, g.lda, g.a_signed, b, rs, cs, b_signed, j0, j1, d, ldd, colsum);
    if (centered) {
      for (size_t j = j0; j < j1; ++j) b0[j] = static_cast<uint32_t>(g.zb[j * g.zb_step]), csk[j] = 0;
    } else {
      for (size_t j = j0; j < j1; ++j) {
        b0[j] = static_cast<uint32_t>(g.zb[j * g.zb_step]);
        csk[j] = colsum[j] - ku * b0[j];
      }
    }
    uk.epilogue(g, terms, 0, m, j0, j1 - j0, a0, rsum, d + j0, ldd);
  });
  return true;
}

}  // namespace

bool gemm(const Kernels& kt, const GemmArgs& g, const uint8_t* b, size_t rs, size_t cs, bool b_signed,
          PackedB* packed, int threads) {
  if (g.m == 0 || g.n == 0) return true;
  if (packed && !packed->ok()) return false;
  const GemmUkernel* uk = kt.gemm;
  const size_t m = g.m, n = g.n, k = g.k;
  const int t = threads_for(m, n, k, threads, uk ? uk->macs_per_us : 1000);
  if (uk == nullptr) {  // the scalar tier: the reference loops, split by rows
    if (packed) {  // the values, kept or rebuilt once from the packing
      PackedB::Values v;
      if (!packed->values(&v)) return false;
      b = v.data, rs = v.rs, cs = v.cs;
    }
    const size_t rows_per = (m + t - 1) / t;
    std::atomic<bool> oom{false};
    parallel_for((m + rows_per - 1) / rows_per, t, [&](size_t task) {
      if (oom.load(std::memory_order_relaxed)) return;
      GemmArgs part = g;
      const size_t i0 = task * rows_per;
      part.m = std::min(rows_per, m - i0);
      part.a = g.a + i0 * g.lda;
      part.za = g.za + i0 * g.za_step;
      if (g.a_scale) part.a_scale = g.a_scale + i0 * g.a_scale_step;
      const size_t esize = g.mode == GemmOut::Int32 || g.mode == GemmOut::Float32 ? 4 : 1;
      part.c = static_cast<uint8_t*>(g.c) + i0 * g.ldc * esize;
      if (!gemm_reference(part, b, rs, cs, b_signed)) oom.store(true, std::memory_order_relaxed);
    });
    return !oom.load();
  }

  if (!packed && m <= kGemvDirectRows && uk->gemv && (cs == 1 || rs == 1)) return gemv(kt, g, b, rs, cs, b_signed, t);

  // An unpacked B is packed per call into this thread's buffer, kept for the next call (fresh pages for a
  // 4096 x 4096 matrix cost 4096 page faults, more than the packing).
  static thread_local PackedPanels t_unpacked;
  const PackedPanels* pb;
  if (packed) pb = packed->panels(uk, threads);
  else pb = pack_b_panels(uk, b, rs, cs, b_signed, k, n, &t_unpacked, t) ? &t_unpacked : nullptr;
  if (pb == nullptr) return false;  // out of memory
  const size_t mr = uk->mr, nr = uk->nr, kr = uk->kr;
  if (mr * nr > kMaxTile || mr > kMaxRows) std::abort();  // a tier's tile must fit the epilogue's buffers
  const size_t panels = pb->panels;
  const bool direct = uk->pack_a == nullptr;

  // k blocks of equal size (a multiple of kr), at most uk->kc; k = 0 still runs one (empty) block. Blocking k keeps
  // a B panel's block in cache for the task's other row tiles (and a packed A block in L1). With one row tile and
  // A read in place there is nothing to keep: one block streams each panel once, front to back, with no
  // accumulator round trips (amx, kc 1024: 32x4096x4096 820 -> 680 us, 16x4096x4096 680 -> 655 us; the avx2
  // tier, which packs A, is slower that way: its 6 x k int16 panel no longer fits L1).
  const size_t kpad = pb->kpad;
  const bool one_block = m <= mr && direct;
  const size_t kc_max = uk->kc && !one_block ? std::min(uk->kc, std::max(kpad, kr)) : std::max(kpad, kr);
  const size_t kblocks = std::max<size_t>(1, (kpad + kc_max - 1) / kc_max);
  const size_t kc = round_up((kpad + kblocks - 1) / kblocks, kr);

  // Correction terms (see qk/gemm.h): per column B0[j] and colsum[j] - k * B0[j], per row A0[i] and rowsum(a~)[i];
  // all modulo 2^32. Row sums are only needed where some B0[j] is not 0.
  const int32_t sa = uk->sa[g.a_signed ? 0 : 1], sb = uk->sb[b_signed ? 0 : 1];
  const uint32_t ku = u(static_cast<int64_t>(k));
  // b0, csk, colterm (n each), a0 and rsum (m each), zeroed, in one allocation.
  const std::unique_ptr<uint32_t[]> terms_buf = make_array<uint32_t>(3 * n + 2 * m);
  if (!terms_buf) return false;
  uint32_t *b0 = terms_buf.get(), *csk = b0 + n, *colterm = csk + n, *a0 = colterm + n, *rsum = a0 + m;
  const int32_t* colsum = pb->colsum();
  bool need_rowsum = false;
  for (size_t j = 0; j < n; ++j) {
    b0[j] = u(static_cast<int64_t>(g.zb[j * g.zb_step]) - sb);
    csk[j] = static_cast<uint32_t>(colsum[j]) - ku * b0[j];
    need_rowsum |= b0[j] != 0;
  }
  need_rowsum &= k != 0;
  for (size_t i = 0; i < m; ++i) a0[i] = u(static_cast<int64_t>(g.za[i * g.za_step]) + sa);

  // How the kernel gets A:
  //   packed   (tiers with pack_a): the tier packs each task's rows per k block;
  //   staged   (direct kernels where A must be XOR-flipped or realigned): each task copies its rows' k block into an
  //            aligned per-thread buffer right before using it (so the copy is read back from L2, and the row sums
  //            are taken in the same pass);
  //   in place (direct kernels otherwise), with a zero-padded copy of the last row panels wherever the kernel's
  //            reads would leave A's memory.
  const uint8_t flip = direct ? uk->a_xor[g.a_signed ? 0 : 1] : 0;
  const size_t align = std::max<size_t>(direct ? uk->a_align : 1, 1);
  const size_t a_read = direct ? std::max<size_t>(uk->a_read_k, align) : 1;
  const bool misaligned = align > 1 && (reinterpret_cast<uintptr_t>(g.a) % align != 0 || g.lda % align != 0);
  const bool staged = direct && (flip != 0 || misaligned);
  const bool a_signed = flip ? !g.a_signed : g.a_signed;  // the sign-bit flip maps int8 to uint8 and back
  // A staged task copies its rows for all of k at once where they fit 1 MB (kst_all per row), and the thread's next
  // tasks on the same rows (its share of the tasks is contiguous: a row block's column blocks) reuse the copy:
  // per task and k block, 128x4096x4096 on amx copied A eight times (0.3 of 2.15 ms). Else one k block at a time.
  const size_t kst_all = round_up(std::max<size_t>(k, 1), a_read);
  const size_t kst = round_up(std::max<size_t>(kc, 1), a_read);  // row stride of a staged block
  uint8_t* atail = nullptr;
  size_t tail_row0 = m, tail_lda = 0;
  if (direct && !staged) {
    // Row i's reads end at byte i * lda + kread of A, which holds (m - 1) * lda + k bytes: rows from `unsafe` on
    // would read past it, and with a_full_rows a partial last panel reads rows that do not exist.
    const size_t kread = round_up(std::max<size_t>(k, 1), a_read);
    const size_t bytes = (m - 1) * g.lda + k;
    size_t unsafe = kread <= k ? m : (bytes >= kread ? (bytes - kread) / g.lda + 1 : 0);
    if (uk->a_full_rows && m % mr != 0) unsafe = std::min(unsafe, (m - 1) / mr * mr);
    if (unsafe < m) {
      tail_row0 = unsafe / mr * mr;
      tail_lda = kread;
      // The calling thread's buffer, kept between calls (fresh, a 32-row tile of 4096 k is 128 KB of page faults and
      // zeroing per call), and not zeroed: what the kernels read past k in a row, or in rows past m, meets B's zero
      // padding or lands in rows of C that are never written out (like the staged path's per-thread copies).
      atail = static_cast<uint8_t*>(t_atail.get(round_up(m - tail_row0, mr) * kread));
      if (atail == nullptr) return false;
      if (k)
        for (size_t i = tail_row0; i < m; ++i) std::memcpy(atail + (i - tail_row0) * kread, g.a + i * g.lda, k);
    }
  }
  // Row sums up front (staged and packed tasks take their own while copying or packing), in chunks of rows.
  if (need_rowsum && direct && !staged) {
    constexpr size_t kRowChunk = 32;
    const int tp = threads_for(m, k, 1, t, 5000);  // about 5000 bytes per microsecond
    parallel_for((m + kRowChunk - 1) / kRowChunk, tp, [&](size_t c) {
      const size_t i0 = c * kRowChunk, rows = std::min(kRowChunk, m - i0);
      uk->row_sums(g.a + i0 * g.lda, g.lda, g.a_signed, rows, k, reinterpret_cast<int32_t*>(rsum + i0));
      for (size_t r = 0; r < rows; ++r) rsum[i0 + r] += ku * static_cast<uint32_t>(sa);  // sum a~ = sum a + k sa
    });
  }
  GemmTerms terms;
  terms.b0 = b0;
  terms.csk = csk;
  terms.quantize_s8 = kt.quantize_s8;
  terms.quantize_u8 = kt.quantize_u8;
  // One A zero point: A0 * csk[j] once per column, not per element. The shared epilogue takes it where B has one
  // zero point too (its uniform form); kernel_out with either.
  if (g.za_step == 0) {
    for (size_t j = 0; j < n; ++j) colterm[j] = a0[0] * csk[j];
    if (g.zb_step == 0) {
      terms.colterm = colterm;
      terms.b0u = b0[0];
    }
  }

  // Tasks: row blocks of mc x column blocks of nc. With few tasks per thread, the row blocks are chosen so the
  // threads finish together: the count rb minimizes the slowest thread's tiles, ceil(tasks / t) * tiles per task
  // (256^3 on 2 threads: 43 row tiles in 6 blocks of up to 8 left one thread 5 tiles idle; 4 blocks of 11 do
  // not). Rows are split before columns: tasks side by side in one row block write the same rows of C, and where
  // C is not 64-byte aligned (a JavaScript array) they share a cache line on every row, which two threads then
  // pass back and forth (256^3 on 2 threads: 39 us misaligned against 31 us aligned). Columns are split only
  // when there are fewer row tiles than threads can share.
  const size_t row_tiles = (m + mr - 1) / mr;
  size_t pcount = std::max<size_t>(1, std::min(panels, uk->nc / nr));
  size_t rb = (m + std::max(uk->mc, mr) - 1) / std::max(uk->mc, mr);
  const size_t want = t > 1 ? static_cast<size_t>(t) * 3 : 1;
  auto col_count = [&] { return (panels + pcount - 1) / pcount; };
  if (t > 1 && rb * col_count() < static_cast<size_t>(8 * t)) {
    while (row_tiles * col_count() < want && pcount > 1) pcount = (pcount + 1) / 2;
    const size_t cb = col_count(), target = (want + cb - 1) / cb;
    size_t best = rb, best_cost = SIZE_MAX;
    for (size_t r = rb; r <= std::min(row_tiles, std::max(rb, 2 * target)); ++r) {  // tasks cost time too
      const size_t cost = (r * cb + t - 1) / t * ((row_tiles + r - 1) / r);
      const auto dist = [&](size_t x) { return x > target ? x - target : target - x; };
      if (cost < best_cost || (cost == best_cost && dist(r) < dist(best))) best = r, best_cost = cost;
    }
    rb = best;
  }
  const size_t mc = mr * ((row_tiles + rb - 1) / rb);
  auto task_count = [&] { return ((m + mc - 1) / mc) * col_count(); };
  const size_t col_blocks = (panels + pcount - 1) / pcount;
  const size_t tasks = task_count();
  const size_t a_bytes = direct ? 0 : uk->a_panel_bytes(kc);
  const bool stage_all = staged && mc * kst_all <= g_stage_all_max_bytes.load(std::memory_order_relaxed);
  const size_t kst_task = stage_all ? kst_all : kst;
  const uint64_t call = stage_all ? g_calls.fetch_add(1, std::memory_order_relaxed) + 1 : 0;

  const size_t esize = g.mode == GemmOut::Int32 || g.mode == GemmOut::Float32 ? 4 : 1;  // bytes per output
  // Row strips (rows_outer, below) for outputs of at least an L2, except where the tier's kernel_out writes float32
  // or requantized output during the next tile's products (amx): there the strip's epilogue, which runs after the
  // products, measured slower (amx, 1 thread, float32: 2048^3 10.3-11.4 -> 8.8-10.2 ms, 128x4096x4096 2.27-2.57 ->
  // 2.18-2.47 ms, 1024^3 within 3%; int8 2048^3 8.5-10.4 -> 7.3-8.5 ms; 2 threads alike). int32 output, which
  // kernel_out writes right after its tile, keeps the strips (1024^3: 1.07-1.19 against 1.32-1.42 ms).
  const bool use_strip = uk->rows_outer && (!uk->kernel_out || g.mode == GemmOut::Int32) &&
                         m * n * esize >= g_strip_min_bytes.load(std::memory_order_relaxed);
  // A tier whose kernel writes the output itself: no tile, no epilogue call. out_call holds what is the same for
  // every tile; each tile sets its pointers.
  const bool fused = uk->kernel_out && !use_strip;
  GemmTileOut out_call;
  out_call.mode = g.mode;
  out_call.ldc = g.ldc;
  out_call.bs_per_col = g.b_scale_step != 0;
  out_call.relu = g.relu;
  out_call.inv_out_scale = g.inv_out_scale;
  out_call.out_zp = g.out_zp, out_call.qmin = g.qmin, out_call.qmax = g.qmax;
  // A task that cannot get its scratch sets this and returns; the tasks after it return at once.
  std::atomic<bool> oom{false};
  parallel_for(tasks, t, [&](size_t task) {
    if (oom.load(std::memory_order_relaxed)) return;
    const size_t i0 = (task / col_blocks) * mc, i1 = std::min(m, i0 + mc);
    const size_t jp0 = (task % col_blocks) * pcount, jp1 = std::min(panels, jp0 + pcount);
    // k-block accumulators, one contiguous mr x nr tile after another (row strides of a whole block row put a
    // tile's rows in the same few L1 sets, where they evict the B panel).
    const size_t row_tiles = (i1 - i0 + mr - 1) / mr;
    int32_t* acc = kblocks > 1 ? static_cast<int32_t*>(t_acc.get(row_tiles * (jp1 - jp0) * mr * nr * 4)) : nullptr;
    const size_t a_task_bytes = !direct ? row_tiles * a_bytes : staged ? row_tiles * mr * kst_task : 0;
    uint8_t* apack = !direct || staged ? static_cast<uint8_t*>(t_apack.get(a_task_bytes)) : nullptr;  // never null
    // A staged or packed task's row sums, taken while copying or packing its rows: over its k blocks, as uint32
    // (wrapping).
    const bool own_sums = (staged || !direct) && need_rowsum;
    uint32_t* tsum = own_sums ? static_cast<uint32_t*>(t_rsum.get(row_tiles * mr * 4)) : nullptr;
    if ((kblocks > 1 && !acc) || ((!direct || staged) && !apack) || (own_sums && !tsum)) {
      oom.store(true, std::memory_order_relaxed);
      return;
    }
    // The rows staged (and summed) by this thread's previous task of this call.
    const bool have_staged = stage_all && t_staged_call == call && t_staged_row == i0;
    if (tsum && !have_staged) std::fill(tsum, tsum + (i1 - i0), ku * static_cast<uint32_t>(sa));
    const uint32_t* rsum_task = tsum ? tsum : rsum + i0;  // row sums of rows i0 ..
    alignas(64) int32_t tile[kMaxTile];
    // Tiers with rows_outer, where C is at least the size of an L2 (smaller, the strip's own traffic through L1
    // costs more than it saves: amx 256^3 on 2 threads 12.8 -> 14.2 us): one row tile's strip of all the task's
    // panels (see below).
    const size_t strip_ld = (jp1 - jp0) * nr;
    int32_t* strip = use_strip ? static_cast<int32_t*>(t_strip.get(mr * strip_ld * 4)) : nullptr;
    if (use_strip && !strip) {
      oom.store(true, std::memory_order_relaxed);
      return;
    }
    if (uk->begin) uk->begin();
    for (size_t kb = 0; kb < kblocks; ++kb) {
      const size_t p0 = kb * kc, kn = p0 < k ? std::min(kc, k - p0) : 0;
      const bool first = kb == 0, last = kb + 1 == kblocks;
      if (!direct) {
        alignas(64) int32_t part[kMaxRows];  // a row tile's sums over this k block
        for (size_t ir = i0; ir < i1; ir += mr) {
          const size_t rows = std::min(mr, i1 - ir);
          uk->pack_a(g.a + ir * g.lda + p0, g.lda, g.a_signed, rows, kn, apack + ((ir - i0) / mr) * a_bytes,
                     tsum && kn ? part : nullptr);
          if (tsum && kn)
            for (size_t r = 0; r < rows; ++r) tsum[ir - i0 + r] += static_cast<uint32_t>(part[r]);
        }
      } else if (staged && kn && (stage_all ? kb == 0 && !have_staged : true)) {
        // This k block, or (stage_all) all of k.
        const size_t q0 = stage_all ? 0 : p0, qn = stage_all ? k : kn;
        alignas(64) int32_t part[256];
        for (size_t r0 = i0; r0 < i1; r0 += 256) {
          const size_t rn = std::min<size_t>(256, i1 - r0);
          const uint8_t* src = g.a + r0 * g.lda + q0;
          uint8_t* dst = apack + (r0 - i0) * kst_task;
          if (uk->copy_a) {
            uk->copy_a(src, g.lda, dst, kst_task, rn, qn, flip, g.a_signed, tsum ? part : nullptr);
          } else {
            for (size_t r = 0; r < rn; ++r)
              for (size_t p = 0; p < qn; ++p) dst[r * kst_task + p] = src[r * g.lda + p] ^ flip;
            if (tsum) uk->row_sums(src, g.lda, g.a_signed, rn, qn, part);
          }
          if (tsum)
            for (size_t r = 0; r < rn; ++r) tsum[r0 - i0 + r] += static_cast<uint32_t>(part[r]);
        }
        if (stage_all) t_staged_call = call, t_staged_row = i0;
      }
      // kernel_out's per-row terms for the task's rows, once its row sums are complete; they stay valid to the
      // task's end (a tier may write a tile's output during its next tile).
      uint32_t* out_rowterm = nullptr;
      float* out_as = nullptr;
      if (last && fused) {
        out_rowterm = static_cast<uint32_t*>(t_outrows.get((i1 - i0) * 8));
        if (out_rowterm == nullptr) {
          oom.store(true, std::memory_order_relaxed);
          break;
        }
        out_as = reinterpret_cast<float*>(out_rowterm + (i1 - i0));
        const uint32_t rb0 = g.zb_step ? 1u : b0[0];
        for (size_t i = i0; i < i1; ++i) {
          out_rowterm[i - i0] = rb0 * rsum_task[i - i0];
          out_as[i - i0] = g.mode != GemmOut::Int32 ? g.a_scale[i * g.a_scale_step] : 0.0f;
        }
      }
      // The panel run next (the next panel of this k block, or the first of the next block) is prefetched into
      // L2 while this one runs, a share of its lines per row tile.
      const size_t block_lines = (round_up(kn, kr) * uk->b_kbytes + 63) / 64;
      const size_t pf_share = (block_lines + row_tiles - 1) / row_tiles;
      // kernel(jp, ir, out, ldo): one tile, k block kb, into out (the last block) or its accumulators.
      auto run_tile = [&](size_t jp, size_t ir, int32_t* out, size_t ldo) {
        const uint8_t* bp = pb->data.data() + jp * pb->panel_bytes + p0 * uk->b_kbytes;
        const uint8_t* pf = nullptr;
        size_t pf_lines = 0;
        if (jp + 1 < jp1) {
          pf = bp + pb->panel_bytes;
          pf_lines = block_lines;
        } else if (!last) {
          const size_t np0 = p0 + kc, nkn = np0 < k ? std::min(kc, k - np0) : 0;
          pf = pb->data.data() + jp0 * pb->panel_bytes + np0 * uk->b_kbytes;
          pf_lines = (round_up(nkn, kr) * uk->b_kbytes + 63) / 64;
        }
        const size_t t0 = (ir - i0) / mr * pf_share;
        const uint8_t* tpf = pf ? pf + t0 * 64 : nullptr;
        const size_t tpf_lines = t0 < pf_lines ? std::min(pf_share, pf_lines - t0) : 0;
        const size_t rows = std::min(mr, i1 - ir);
        const uint8_t* ap;
        size_t ld = g.lda;
        if (!direct) ap = apack + ((ir - i0) / mr) * a_bytes;
        else if (staged) ap = apack + (ir - i0) * kst_task + (stage_all ? p0 : 0), ld = kst_task;
        else if (ir >= tail_row0) ap = atail + (ir - tail_row0) * tail_lda + p0, ld = tail_lda;
        else ap = g.a + ir * g.lda + p0;
        int32_t* accp = acc ? acc + ((jp - jp0) * row_tiles + (ir - i0) / mr) * mr * nr : nullptr;
        if (last && fused) {
          // Corrected and converted in the kernel, straight to C (kernel_out).
          const size_t j0 = jp * nr;
          GemmTileOut o = out_call;
          o.c = static_cast<uint8_t*>(g.c) + (ir * g.ldc + j0) * esize;
          o.cols = std::min(nr, n - j0);
          o.rowterm = out_rowterm + (ir - i0);
          o.b0 = g.zb_step ? b0 + j0 : nullptr;
          o.a0 = g.za_step == 0 ? nullptr : a0 + ir;
          o.colterm = (g.za_step == 0 ? colterm : csk) + j0;
          o.as = out_as + (ir - i0);
          o.bs = g.b_scale + (g.b_scale_step ? j0 : 0);
          o.bias = g.bias ? g.bias + j0 : nullptr;
          uk->kernel_out(rows, kn, ap, ld, a_signed, bp, first ? nullptr : accp, nr, o, tpf, tpf_lines);
          return;
        }
        uk->kernel(rows, kn, ap, ld, a_signed, bp, first ? nullptr : accp, nr, last ? out : accp, last ? ldo : nr, tpf,
                   tpf_lines);
      };
      if (last && strip) {
        // Rows outer: a row tile's results for all of the task's panels go to one strip, corrected and written to
        // C as whole rows of the task's columns. Tile by tile, a C that is not 64-byte aligned (a JavaScript
        // array) has a cache line at every panel boundary of every row that two tiles write at different times.
        const size_t j0 = jp0 * nr, cols = std::min(jp1 * nr, n) - j0;
        for (size_t ir = i0; ir < i1; ir += mr) {
          for (size_t jp = jp0; jp < jp1; ++jp) run_tile(jp, ir, strip + (jp - jp0) * nr, strip_ld);
          uk->epilogue(g, terms, ir, std::min(mr, i1 - ir), j0, cols, a0 + ir, rsum_task + (ir - i0),
                       reinterpret_cast<uint32_t*>(strip), strip_ld);
        }
      } else {
        for (size_t jp = jp0; jp < jp1; ++jp) {
          const size_t j0 = jp * nr, cols = std::min(nr, n - j0);
          for (size_t ir = i0; ir < i1; ir += mr) {
            run_tile(jp, ir, tile, nr);
            if (last && !fused)
              uk->epilogue(g, terms, ir, std::min(mr, i1 - ir), j0, cols, a0 + ir, rsum_task + (ir - i0),
                           reinterpret_cast<uint32_t*>(tile), nr);
          }
        }
      }
    }
    if (uk->end) uk->end();
  });
  return !oom.load();
}

}  // namespace qk
