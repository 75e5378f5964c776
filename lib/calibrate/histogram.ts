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
import { native } from '../native';

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
  counts: Float64Array | null = null;
  /** All values so far equal `pendingValue` (counts === null). */
  pendingValue = 0;
  pendingCount = 0;

  constructor(bins: number, abs: boolean) {
    this.bins = bins;
    this.abs = abs;
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
    if (this.abs) lo = 0;
    if (this.counts === null) {
      if (this.pendingCount > 0) {
        lo = Math.min(lo, this.pendingValue);
        hi = Math.max(hi, this.pendingValue);
      }
      if (!(hi > lo)) {
        this.pendingValue = hi;
        this.pendingCount += count;
        return;
      }
      this.anchor = lo;
      this.width = Math.max((hi - lo) / this.bins, MIN_WIDTH);
      this.first = 0;
      this.counts = new Float64Array(this.bins);
      if (this.pendingCount > 0) {
        const [lo32, sc32] = this.binning();
        this.counts[histBin(this.pendingValue, lo32, sc32, this.bins)]! += this.pendingCount;
        this.pendingCount = 0;
      }
    } else {
      this.grow(lo, hi);
    }
    const [lo32, sc32] = this.binning();
    native.histogram(x, lo32, sc32, this.abs, this.counts);
  }

  private grow(lo: number, hi: number): void {
    const counts = this.counts!;
    const n = counts.length;
    const jlo = Math.floor((lo - this.anchor) / this.width);
    let jhi = Math.ceil((hi - this.anchor) / this.width);
    if (jhi <= jlo) jhi = jlo + 1;
    let start = Math.min(this.first, jlo);
    let end = Math.max(this.first + n, jhi);
    if (start === this.first && end === this.first + n) return;
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
    this.counts = next;
  }
}
