// A streaming histogram of x (or |x|) whose range grows with the data, exactly and deterministically.
//
// Grid. Bin j (an integer, possibly negative) covers [anchor + j * width, anchor + (j + 1) * width); the histogram
// stores the bins first .. first + counts.length - 1. The first batch with a non-empty range [lo, hi] sets
// anchor = lo (0 for |x|), width = max((hi - lo) / bins, 2^-100) and `bins` bins. Later batches extend the grid
// by whole bins, keeping anchor and width, to jlo = floor((lo - anchor) / width) .. jhi = ceil((hi - anchor) /
// width) (jhi at least jlo + 1); while that would need more than `bins` bins the width doubles and every pair of
// bins 2J, 2J + 1 merges into bin J (indices halve with floor, ends with ceil). Counts are never split, so
// nothing is lost or approximated beyond the coarser bins, and the result depends only on the batches and their
// order. After growth the histogram holds between bins / 2 and bins bins.
//
// Binning (native, every tier bit-exact): a value v goes to bin
//   clamp(floor(float32(float32(v - lo32) * scale32)), 0, n - 1)
// of the stored n bins, with lo32 = float32(anchor + first * width) (clamped to the finite float32 range) and
// scale32 = float32(1 / width): qk::ref::hist_bin in native/include/qk/reduce.h.
//
// Until a batch with two distinct values arrives (all values equal so far, e.g. all zeros), the histogram keeps
// just that value and its count; they go into their bin when the grid is created.
//
// Per channel (ChannelHistograms), every channel is such a histogram with its own grid, growing and merging on
// its own; one native call bins a whole batch into all of them (qk::Kernels::histogram_channels).
import { native } from '../native';
import type { Layout } from './observers';

const MIN_WIDTH = 2 ** -100;
const FLT_MAX = 3.4028234663852886e38;

function floorDiv2(j: number, shift: number): number {
  return Math.floor(j / 2 ** shift);
}
function ceilDiv2(j: number, shift: number): number {
  return Math.ceil(j / 2 ** shift);
}

/** qk::ref::hist_bin in JS (float32 arithmetic through Math.fround). */
export function histBin(v: number, lo32: number, scale32: number, bins: number): number {
  let t = Math.fround(Math.fround(v - lo32) * scale32);
  t = t > 0 ? t : 0;
  t = t < bins - 1 ? t : bins - 1;
  return Math.trunc(t);
}

export class StreamingHistogram {
  /** Target bin count. */
  readonly bins: number;
  /** Bins |x| (anchor 0) instead of x. */
  readonly abs: boolean;
  anchor = 0;
  width = 0;
  first = 0;
  /** The stored bins (per channel: a view of the channel's slot in ChannelHistograms). */
  counts: Float64Array | null = null;
  /** All values so far equal `pendingValue` (counts === null). */
  pendingValue = 0;
  pendingCount = 0;
  /** Storage for up to `bins` bins, or null: each grid change allocates. */
  private readonly slot: Float64Array | null;

  constructor(bins: number, abs: boolean, slot: Float64Array | null = null) {
    this.bins = bins;
    this.abs = abs;
    this.slot = slot;
  }

  /** Left edge of stored bin k (k = counts.length gives the right edge of the last bin). */
  edge(k: number): number {
    return this.anchor + (this.first + k) * this.width;
  }

  /** lo32 and scale32 the kernels bin with. */
  binning(): [number, number] {
    const lo = Math.min(Math.max(this.edge(0), -FLT_MAX), FLT_MAX);
    return [Math.fround(lo), Math.fround(1 / this.width)];
  }

  /**
   * Adds a batch whose binned values (|x| when abs) lie in [lo, hi] (float32 values, NaN excluded); `count` is
   * the number of non-NaN values.
   */
  add(x: Float32Array, lo: number, hi: number, count: number): void {
    if (count === 0) return;
    if (!this.prepare(lo, hi)) {
      this.pendingCount += count;
      return;
    }
    const [lo32, sc32] = this.binning();
    native.histogram(x, lo32, sc32, this.abs, this.counts!);
  }

  /**
   * Makes the grid cover a batch whose binned values lie in [lo, hi] (at least one value). Returns false when
   * there is still no grid (every value so far equal): the caller adds the batch's count to pendingCount.
   * `beforeRebin` runs before stored counts move to a coarser or wider grid.
   */
  prepare(lo: number, hi: number, beforeRebin?: () => void): boolean {
    if (this.abs) lo = 0;
    if (this.counts !== null) {
      this.grow(lo, hi, beforeRebin);
      return true;
    }
    if (this.pendingCount > 0) {
      lo = Math.min(lo, this.pendingValue);
      hi = Math.max(hi, this.pendingValue);
    }
    if (!(hi > lo)) {
      this.pendingValue = hi;
      return false;
    }
    this.anchor = lo;
    this.width = Math.max((hi - lo) / this.bins, MIN_WIDTH);
    this.first = 0;
    this.counts = this.storage(this.bins);
    if (this.pendingCount > 0) {
      const [lo32, sc32] = this.binning();
      this.counts[histBin(this.pendingValue, lo32, sc32, this.bins)]! += this.pendingCount;
      this.pendingCount = 0;
    }
    return true;
  }

  /** Zeroed storage for n bins. */
  private storage(n: number): Float64Array {
    if (this.slot === null) return new Float64Array(n);
    this.slot.fill(0);
    return this.slot.subarray(0, n);
  }

  private grow(lo: number, hi: number, beforeRebin?: () => void): void {
    const n = this.counts!.length;
    const jlo = Math.floor((lo - this.anchor) / this.width);
    let jhi = Math.ceil((hi - this.anchor) / this.width);
    if (jhi <= jlo) jhi = jlo + 1;
    let start = Math.min(this.first, jlo);
    let end = Math.max(this.first + n, jhi);
    if (start === this.first && end === this.first + n) return;
    beforeRebin?.();
    const counts = this.counts!;
    let shift = 0;
    while (end - start > this.bins) {
      start = floorDiv2(start, 1);
      end = ceilDiv2(end, 1);
      shift++;
    }
    const next = new Float64Array(end - start);
    for (let k = 0; k < n; k++) {
      const c = counts[k]!;
      if (c !== 0) next[floorDiv2(this.first + k, shift) - start]! += c;
    }
    this.width *= 2 ** shift;
    this.first = start;
    if (this.slot === null) this.counts = next;
    else {
      this.counts = this.storage(next.length);
      this.counts.set(next);
    }
  }
}

/**
 * One StreamingHistogram per channel, each with its own grid. The stored counts of all channels live in one
 * float64 array (channel c's bins at c * bins); the native kernel adds each batch into a uint32 copy of that
 * layout, which is folded into the float64 counts before a channel's grid changes, before the uint32 counts
 * could overflow, and before the counts are read (flush()). A channel without a grid yet (every value so far
 * equal) is binned into one bin, which counts its values.
 */
export class ChannelHistograms {
  readonly channels: number;
  readonly bins: number;
  readonly abs: boolean;
  readonly hists: StreamingHistogram[];
  /** Channel c's stored bins at store[c * bins ...] (hists[c].counts is a view of them). */
  readonly store: Float64Array;
  private readonly acc: Uint32Array;
  private readonly dirty: Uint8Array;
  /** Values per channel added to acc since the last full flush: a bound on every acc entry. */
  private accValues = 0;
  private readonly lo32: Float32Array;
  private readonly sc32: Float32Array;
  private readonly nb: Uint32Array;

  constructor(channels: number, bins: number, abs: boolean) {
    this.channels = channels;
    this.bins = bins;
    this.abs = abs;
    this.store = new Float64Array(channels * bins);
    this.acc = new Uint32Array(channels * bins);
    this.dirty = new Uint8Array(channels);
    this.hists = [];
    for (let c = 0; c < channels; c++) this.hists.push(new StreamingHistogram(bins, abs, this.store.subarray(c * bins, (c + 1) * bins)));
    this.lo32 = new Float32Array(channels);
    this.sc32 = new Float32Array(channels);
    this.nb = new Uint32Array(channels);
  }

  /** Adds a batch with layout l whose channel c holds values in [mn[c], mx[c]] (+Inf / -Inf: no value). */
  add(x: Float32Array, l: Layout, mn: Float32Array, mx: Float32Array): void {
    const perChannel = l.outer * l.inner;
    if (this.accValues + perChannel > 0xffffffff) this.flush();
    const pending: number[] = [];
    for (let c = 0; c < this.channels; c++) {
      const h = this.hists[c]!;
      let grid = h.counts !== null;
      if (mn[c]! <= mx[c]!) {
        const hi = this.abs ? Math.max(-mn[c]!, mx[c]!) : mx[c]!;
        grid = h.prepare(mn[c]!, hi, () => this.flushChannel(c));
      }
      if (grid) {
        [this.lo32[c], this.sc32[c]] = h.binning();
        this.nb[c] = h.counts!.length;
        this.dirty[c] = 1;
      } else {
        this.lo32[c] = 0;
        this.sc32[c] = 1;
        this.nb[c] = 1;
        pending.push(c);
      }
    }
    native.histogramPerChannel(x, l.outer, l.channels, l.inner, this.lo32, this.sc32, this.nb, this.bins, this.abs, this.acc);
    this.accValues += perChannel;
    for (const c of pending) {
      this.hists[c]!.pendingCount += this.acc[c * this.bins]!;
      this.acc[c * this.bins] = 0;
    }
  }

  private flushChannel(c: number): void {
    if (!this.dirty[c]) return;
    const counts = this.hists[c]!.counts!;
    const base = c * this.bins;
    for (let k = 0; k < counts.length; k++) {
      counts[k]! += this.acc[base + k]!;
      this.acc[base + k] = 0;
    }
    this.dirty[c] = 0;
  }

  /** Folds every count the kernel added into the float64 counts. */
  flush(): void {
    for (let c = 0; c < this.channels; c++) this.flushChannel(c);
    this.accValues = 0;
  }
}
