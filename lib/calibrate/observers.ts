// Observers: the per-method state a Calibrator keeps between batches. Each sees validated batches (a Float32Array
// and, per channel, its layout) and turns what it saw into a float32 range per tensor or per channel.
import { native } from '../native';
import { rangeError } from '../validate';
import { ChannelHistograms, StreamingHistogram } from './histogram';
import { rangeErrorText, type ResolvedOptions } from './options';
import { qparamsOf, symmetricZeroPoint } from './qparams';
import { entropyLevels, histQuantile } from './search';

export interface Layout {
  outer: number;
  channels: number;
  inner: number;
}

/** What an observer reports: the clipping range (per tensor or per channel) and, for histograms, details. */
export interface ObservedRange {
  min: number | Float32Array;
  max: number | Float32Array;
  /** Histogram methods: the observed data range before clipping. */
  dataMin?: number | Float32Array;
  dataMax?: number | Float32Array;
  /** Histogram methods: the number of bins the histogram ended with. */
  histogramBins?: number | Int32Array;
}

export interface Observer {
  observe(x: Float32Array, layout: Layout | null, name: string): { count: number; nans: number };
  range(): ObservedRange;
}

const scratch = new Float64Array(3);

/** Min, max and NaN count of x; throws on an infinity (the methods need finite ranges). */
function tensorMinMax(x: Float32Array, name: string, method: string): [number, number, number] {
  native.minmax(x, scratch);
  const mn = scratch[0]!;
  const mx = scratch[1]!;
  const nans = scratch[2]!;
  if (mn === -Infinity || mx === Infinity)
    throw rangeErrorText(name, `finite values or NaN (method '${method}' cannot use an infinity)`, `a Float32Array(${x.length}) holding ${mx === Infinity ? 'Infinity' : '-Infinity'}`);
  return [mn, mx, nans];
}

function channelMinMax(x: Float32Array, l: Layout, name: string, method: string): [Float32Array, Float32Array, number] {
  const mn = new Float32Array(l.channels);
  const mx = new Float32Array(l.channels);
  const nans = native.minmaxPerChannel(x, l.outer, l.channels, l.inner, mn, mx);
  for (let c = 0; c < l.channels; c++)
    if (mn[c] === -Infinity || mx[c] === Infinity)
      throw rangeError(name, `finite values or NaN (method '${method}' cannot use an infinity; channel ${c} holds one)`, x);
  return [mn, mx, nans];
}

/** Running min / max (PyTorch's MinMaxObserver and PerChannelMinMaxObserver). */
export class MinMaxObserver implements Observer {
  protected min: number | Float32Array;
  protected max: number | Float32Array;
  constructor(
    protected readonly r: ResolvedOptions,
    channels: number,
  ) {
    this.min = channels ? new Float32Array(channels).fill(Infinity) : Infinity;
    this.max = channels ? new Float32Array(channels).fill(-Infinity) : -Infinity;
  }
  observe(x: Float32Array, layout: Layout | null, name: string): { count: number; nans: number } {
    if (layout === null) {
      const [mn, mx, nans] = tensorMinMax(x, name, this.r.method);
      if (x.length - nans > 0) this.update(mn, mx);
      return { count: x.length - nans, nans };
    }
    const [mn, mx, nans] = channelMinMax(x, layout, name, this.r.method);
    this.updateChannels(mn, mx);
    return { count: x.length - nans, nans };
  }
  protected update(mn: number, mx: number): void {
    this.min = Math.min(this.min as number, mn);
    this.max = Math.max(this.max as number, mx);
  }
  protected updateChannels(mn: Float32Array, mx: Float32Array): void {
    const a = this.min as Float32Array;
    const b = this.max as Float32Array;
    for (let c = 0; c < a.length; c++) {
      if (mn[c]! < a[c]!) a[c] = mn[c]!;
      if (mx[c]! > b[c]!) b[c] = mx[c]!;
    }
  }
  range(): ObservedRange {
    return {
      min: typeof this.min === 'number' ? this.min : Float32Array.from(this.min),
      max: typeof this.max === 'number' ? this.max : Float32Array.from(this.max),
    };
  }
}

/**
 * Moving averages of each batch's min and max (PyTorch's MovingAverageMinMaxObserver and
 * MovingAveragePerChannelMinMaxObserver): the first batch is taken as it is, then, in float32,
 * min = min + c * (batchMin - min) with c = float32(averagingConstant), and the same for max. A batch (or, per
 * channel, a channel of a batch) with no non-NaN value leaves the averages as they are.
 */
export class MovingAverageObserver extends MinMaxObserver {
  private readonly c: number;
  constructor(r: ResolvedOptions, channels: number) {
    super(r, channels);
    this.c = Math.fround(r.averagingConstant);
  }
  private avg(old: number, cur: number): number {
    const f = Math.fround;
    if (old === Infinity || old === -Infinity) return cur;
    return f(old + f(this.c * f(cur - old)));
  }
  protected override update(mn: number, mx: number): void {
    this.min = this.avg(this.min as number, mn);
    this.max = this.avg(this.max as number, mx);
  }
  protected override updateChannels(mn: Float32Array, mx: Float32Array): void {
    const a = this.min as Float32Array;
    const b = this.max as Float32Array;
    for (let c = 0; c < a.length; c++) {
      if (mn[c] === Infinity) continue; // no value in this channel
      a[c] = this.avg(a[c]!, mn[c]!);
      b[c] = this.avg(b[c]!, mx[c]!);
    }
  }
}

/**
 * The clipping range of each histogram hists[c] (one per tensor, or one per channel) whose data range is
 * [min[c], max[c]] (min[c] > max[c]: no value, the range stays empty): [lo[c], hi[c]] as the HistogramObserver
 * comment describes. Histogram c's stored counts are counts[c * stride ...]. Percentile runs here; entropy and mse
 * run natively over all histograms at once (qk::entropy_search, qk::mse_search: the same arithmetic as
 * search.ts's entropyThreshold and mseThreshold, bit for bit).
 */
function clippingRanges(
  hists: readonly StreamingHistogram[],
  counts: Float64Array,
  stride: number,
  min: ArrayLike<number>,
  max: ArrayLike<number>,
  r: ResolvedOptions,
): { lo: Float64Array; hi: Float64Array } {
  const n = hists.length;
  const lo = new Float64Array(n);
  const hi = new Float64Array(n);
  const search = new Int32Array(n); // bins of each histogram the native search looks at (0: none)
  for (let c = 0; c < n; c++) {
    const h = hists[c]!;
    lo[c] = min[c]!;
    hi[c] = max[c]!;
    if (h.counts !== null && min[c]! <= max[c]!) search[c] = h.counts.length;
  }
  const maxAbs = (c: number) => Math.max(-min[c]!, max[c]!);
  const rangeOf = (c: number, t: number): [number, number] =>
    r.symmetric ? [-t, t] : [Math.max(min[c]!, -t), Math.min(max[c]!, t)];
  if (r.method === 'percentile') {
    for (let c = 0; c < n; c++) {
      if (search[c] === 0) continue;
      const h = hists[c]!;
      const view = { counts: h.counts!, edge: (k: number) => h.edge(k), width: h.width };
      if (h.abs) {
        const t = Math.fround(Math.min(histQuantile(view, r.percentile, true), maxAbs(c)));
        lo[c] = -t;
        hi[c] = t;
      } else {
        lo[c] = Math.fround(Math.max(histQuantile(view, r.percentile, false), min[c]!));
        hi[c] = Math.fround(Math.min(histQuantile(view, r.percentile, true), max[c]!));
      }
    }
  } else if (r.method === 'entropy') {
    const levels = new Int32Array(n);
    for (let c = 0; c < n; c++) levels[c] = entropyLevels(r, min[c]!);
    const index = new Int32Array(n);
    if (search.some((b) => b > 0)) native.entropySearch(counts, stride, search, levels, index, null);
    for (let c = 0; c < n; c++) {
      if (search[c] === 0) continue;
      const t = index[c]! < 0 ? maxAbs(c) : Math.min(hists[c]!.edge(index[c]!), maxAbs(c));
      [lo[c], hi[c]] = rangeOf(c, Math.fround(t));
    }
  } else {
    const grid = new Float64Array(3 * n);
    const data = new Float64Array(3 * n);
    for (let c = 0; c < n; c++) {
      if (search[c] === 0) continue;
      const h = hists[c]!;
      // The widest candidate range has the largest scale: if it is finite in float32, every candidate's is.
      qparamsOf(...rangeOf(c, Math.fround(maxAbs(c))), r, n === 1 ? 'range' : `the range of channel ${c}`);
      grid.set([h.anchor, h.first, h.width], 3 * c);
      data.set([maxAbs(c), min[c]!, max[c]!], 3 * c);
    }
    const threshold = new Float64Array(n);
    const candidate = new Int32Array(n);
    if (search.some((b) => b > 0))
      native.mseSearch(counts, stride, search, grid, data, r.symmetric, r.quantMin, r.quantMax, symmetricZeroPoint(r), threshold, candidate);
    for (let c = 0; c < n; c++) if (search[c] !== 0) [lo[c], hi[c]] = rangeOf(c, threshold[c]!);
  }
  for (let c = 0; c < n; c++) {
    lo[c] = lo[c]! + 0;
    hi[c] = hi[c]! + 0;
  }
  return { lo, hi };
}

/**
 * Histogram methods (percentile, entropy, mse). Symmetric schemes keep a histogram of |x| (NVIDIA's methods
 * are defined on |x|); affine schemes keep a histogram of x for percentile and mse (both tails, both sides of the
 * quantizer scored) and of |x| for entropy (the KL search is defined on |x| only).
 *
 * Clipping range: symmetric [-t, t]. Otherwise percentile clips each tail ([lo, hi] from the two quantiles) and
 * entropy / mse clip the observed range at the threshold, [max(min, -t), min(max, t)] ([0, t] for non-negative
 * data). Every threshold is capped at the observed max |x| (lo at the observed min). Per channel
 * (ChannelHistogramObserver) every channel gets exactly this with its own histogram and data range.
 */
export class HistogramObserver implements Observer {
  private readonly hist: StreamingHistogram;
  private min = Infinity;
  private max = -Infinity;
  constructor(private readonly r: ResolvedOptions) {
    const abs = r.method === 'entropy' || r.symmetric;
    this.hist = new StreamingHistogram(r.bins, abs);
  }
  observe(x: Float32Array, _layout: Layout | null, name: string): { count: number; nans: number } {
    const [mn, mx, nans] = tensorMinMax(x, name, this.r.method);
    const count = x.length - nans;
    if (count === 0) return { count, nans };
    this.min = Math.min(this.min, mn);
    this.max = Math.max(this.max, mx);
    if (this.hist.abs) this.hist.add(x, 0, Math.max(-mn, mx), count);
    else this.hist.add(x, mn, mx, count);
    return { count, nans };
  }
  /** The histogram (for tests and diagnostics). */
  get histogram(): StreamingHistogram {
    return this.hist;
  }
  range(): ObservedRange {
    const { min, max } = this;
    const h = this.hist;
    const base = { dataMin: min, dataMax: max, histogramBins: h.counts ? h.counts.length : 0 };
    const counts = h.counts ?? new Float64Array(0);
    const { lo, hi } = clippingRanges([h], counts, counts.length, [min], [max], this.r);
    return { min: lo[0]!, max: hi[0]!, ...base };
  }
}

/**
 * Per-channel histogram methods: HistogramObserver's method on one histogram per channel, each with its own
 * data range and grid (ChannelHistograms), over the native per-channel min/max and histogram kernels.
 */
export class ChannelHistogramObserver implements Observer {
  private readonly hists: ChannelHistograms;
  private readonly min: Float32Array;
  private readonly max: Float32Array;
  constructor(
    private readonly r: ResolvedOptions,
    channels: number,
  ) {
    this.hists = new ChannelHistograms(channels, r.bins, r.method === 'entropy' || r.symmetric);
    this.min = new Float32Array(channels).fill(Infinity);
    this.max = new Float32Array(channels).fill(-Infinity);
  }
  observe(x: Float32Array, layout: Layout | null, name: string): { count: number; nans: number } {
    const [mn, mx, nans] = channelMinMax(x, layout!, name, this.r.method);
    const count = x.length - nans;
    if (count === 0) return { count, nans };
    for (let c = 0; c < mn.length; c++) {
      if (mn[c]! < this.min[c]!) this.min[c] = mn[c]!;
      if (mx[c]! > this.max[c]!) this.max[c] = mx[c]!;
    }
    this.hists.add(x, layout!, mn, mx);
    return { count, nans };
  }
  /** Channel c's histogram (for tests and diagnostics). */
  histogram(c: number): StreamingHistogram {
    this.hists.flush();
    return this.hists.hists[c]!;
  }
  range(): ObservedRange {
    this.hists.flush();
    const { hists, store, bins } = this.hists;
    const { lo, hi } = clippingRanges(hists, store, bins, this.min, this.max, this.r);
    return {
      min: Float32Array.from(lo),
      max: Float32Array.from(hi),
      dataMin: Float32Array.from(this.min),
      dataMax: Float32Array.from(this.max),
      histogramBins: Int32Array.from(hists, (h) => (h.counts ? h.counts.length : 0)),
    };
  }
}
