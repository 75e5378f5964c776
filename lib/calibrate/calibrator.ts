// Calibrator (streaming) and calibrate() (one call over a Float32Array, an iterable or an async iterable).
import type { QuantDtype } from '../quantize';
import { rangeError, typeError } from '../validate';
import { ChannelHistogramObserver, HistogramObserver, MinMaxObserver, MovingAverageObserver, type Layout, type Observer } from './observers';
import { layoutOf, rangeErrorText, requireShape, resolveOptions, type CalibrateOptions, type CalibrationMethod, type ResolvedOptions } from './options';
import { qparamsOf } from './qparams';

interface CalibrationInfo<D extends QuantDtype> {
  method: CalibrationMethod;
  dtype: D;
  symmetric: boolean;
  /** The quantized range the parameters are for (after reduceRange); quantize() clamps to it. */
  quantMin: number;
  quantMax: number;
  /** Values observed, NaN excluded. */
  count: number;
  /** NaN values seen (and ignored). */
  nanCount: number;
  /** Batches observed. */
  batches: number;
}

/** Per-tensor calibration result: pass it to quantize() as it is. */
export interface TensorCalibration<D extends QuantDtype = QuantDtype> extends CalibrationInfo<D> {
  scale: number;
  zeroPoint: number;
  /** The clipping range the scale and zero point come from (the observed range for minmax). */
  min: number;
  max: number;
  /** Histogram methods: the observed data range. */
  dataMin?: number;
  dataMax?: number;
  /** Histogram methods: bins in the final histogram. */
  histogramBins?: number;
}

/** Per-channel calibration result: pass it to quantize() as it is (it carries axis and shape). */
export interface ChannelCalibration<D extends QuantDtype = QuantDtype> extends CalibrationInfo<D> {
  scale: Float32Array;
  zeroPoint: Int32Array;
  /** Each channel's clipping range (the observed range for minmax). */
  min: Float32Array;
  max: Float32Array;
  axis: number;
  shape: number[];
  /** Histogram methods: each channel's observed data range. */
  dataMin?: Float32Array;
  dataMax?: Float32Array;
  /** Histogram methods: bins in each channel's final histogram (0: one distinct value, no grid). */
  histogramBins?: Int32Array;
}

export type Calibration<D extends QuantDtype = QuantDtype> = TensorCalibration<D> | ChannelCalibration<D>;

/** The dtype a literal options type selects ('int8' when it has none). */
export type CalibrationDtype<O> = 'dtype' extends keyof O
  ? O extends { dtype: infer D extends QuantDtype }
    ? D
    : QuantDtype
  : 'int8';
/** The result type a literal options type selects: per channel when it has an axis. */
export type CalibrationResult<O> = O extends { axis: number }
  ? ChannelCalibration<CalibrationDtype<O>>
  : 'axis' extends keyof O
    ? O extends { axis: undefined }
      ? TensorCalibration<CalibrationDtype<O>>
      : Calibration<CalibrationDtype<O>>
    : TensorCalibration<CalibrationDtype<O>>;

/**
 * Streaming calibration: feed batches with observe(), read the parameters with compute() (any number of times;
 * observing more afterwards is fine). NaN values are skipped and counted; an infinity throws a RangeError and
 * leaves the calibrator as it was.
 * @example
 * const cal = new Calibrator({ method: 'movingAverage', dtype: 'uint8' })
 * for (const batch of batches) cal.observe(batch)
 * const qp = cal.compute()          // { scale, zeroPoint, dtype: 'uint8', quantMin, quantMax, min, max, ... }
 * const q = quantize(x, qp)         // Uint8Array
 * @example
 * // Per channel: axis and shape of each batch (the leading dimension may vary when it is not the axis)
 * const cal = new Calibrator({ axis: 1, shape: [32, 64, 7, 7], symmetric: true })
 * cal.observe(activations)
 * cal.compute()                     // { scale: Float32Array(64), zeroPoint: Int32Array(64), axis: 1, shape, ... }
 * @example
 * // Any method per channel: the histogram methods keep one histogram per channel
 * const cal = new Calibrator({ method: 'mse', axis: 1, shape: [128, 1024] })
 * for (const batch of batches) cal.observe(batch)   // Float32Array(128 * 1024), or fewer rows
 * cal.compute()                     // { scale: Float32Array(1024), ..., dataMin, dataMax, histogramBins: Int32Array(1024) }
 */
export class Calibrator<const O extends CalibrateOptions = CalibrateOptions> {
  /** The validated options. */
  readonly options: Readonly<ResolvedOptions>;
  private observer: Observer;
  private counted = 0;
  private nans = 0;
  private seen = 0;

  constructor(options?: O) {
    this.options = Object.freeze(resolveOptions(options));
    this.observer = this.makeObserver();
  }

  private makeObserver(): Observer {
    const r = this.options;
    const channels = r.perChannel ? r.perChannel.shape[r.perChannel.axis]! : 0;
    switch (r.method) {
      case 'minmax':
        return new MinMaxObserver(r, channels);
      case 'movingAverage':
        return new MovingAverageObserver(r, channels);
      default:
        return channels ? new ChannelHistogramObserver(r, channels) : new HistogramObserver(r);
    }
  }

  /** Values observed so far (NaN excluded). */
  get count(): number {
    return this.counted;
  }
  /** NaN values seen so far. */
  get nanCount(): number {
    return this.nans;
  }
  /** Batches observed so far. */
  get batches(): number {
    return this.seen;
  }

  /**
   * Observes one batch. Per channel, `shape` overrides the options' shape for this batch (same rank and the same
   * number of channels).
   */
  observe(batch: Float32Array, shape?: readonly number[]): this {
    this.observeNamed(batch, shape, 'batch');
    return this;
  }

  /** @internal */
  observeNamed(batch: unknown, shape: readonly number[] | undefined, name: string): void {
    if (!(batch instanceof Float32Array)) throw typeError(name, 'a Float32Array', batch);
    const layout = this.layoutFor(batch, shape, name);
    const { count, nans } = this.observer.observe(batch, layout, name);
    this.counted += count;
    this.nans += nans;
    this.seen++;
  }

  private layoutFor(x: Float32Array, shape: readonly number[] | undefined, name: string): Layout | null {
    const pc = this.options.perChannel;
    if (pc === null) {
      if (shape !== undefined) throw typeError('shape', 'undefined (per-tensor calibration; give axis and shape in the options for per-channel)', shape);
      return null;
    }
    const { axis } = pc;
    let s: number[];
    if (shape !== undefined) {
      s = requireShape('shape', shape);
      if (s.length !== pc.shape.length || s[axis] !== pc.shape[axis])
        throw rangeErrorText('shape', `rank ${pc.shape.length} with shape[${axis}] = ${pc.shape[axis]} channels (options.shape [${pc.shape.join(', ')}])`, `[${s.join(', ')}]`);
    } else s = pc.shape;
    let total = s.reduce((a, d) => a * d, 1);
    if (total !== x.length && shape === undefined && axis !== 0) {
      const rest = s.slice(1).reduce((a, d) => a * d, 1);
      if (rest > 0 && x.length % rest === 0) {
        s = [x.length / rest, ...s.slice(1)];
        total = x.length;
      }
    }
    if (total !== x.length)
      throw rangeError(name, `a Float32Array of ${total} elements (shape [${s.join(', ')}]${axis !== 0 ? ', or any multiple of the trailing dimensions' : ''})`, x);
    return layoutOf(s, axis);
  }

  /** Forgets everything observed. */
  reset(): void {
    this.observer = this.makeObserver();
    this.counted = 0;
    this.nans = 0;
    this.seen = 0;
  }

  /**
   * The scale and zero point for everything observed so far. Throws an Error when nothing (no non-NaN value, or
   * per channel no value in some channel) was observed.
   */
  compute(): CalibrationResult<O> {
    return this.computeNamed(undefined);
  }

  /**
   * compute(); with `param` (calibrate()'s `batches`), nothing observed is the argument's fault: a RangeError
   * naming it rather than an Error.
   * @internal
   */
  computeNamed(param: string | undefined): CalibrationResult<O> {
    const r = this.options;
    const fail = (what: string) =>
      param === undefined ? new Error(`qkernels: nothing to calibrate${what}`) : new RangeError(`qkernels: nothing to calibrate in ${param}${what}`);
    if (this.counted === 0) throw fail(`: no value observed (${this.seen} batches, ${this.nans} NaN values)`);
    const range = this.observer.range();
    const info = {
      method: r.method,
      dtype: r.dtype,
      symmetric: r.symmetric,
      quantMin: r.quantMin,
      quantMax: r.quantMax,
      count: this.counted,
      nanCount: this.nans,
      batches: this.seen,
    };
    if (r.perChannel === null) {
      const min = range.min as number;
      const max = range.max as number;
      const [scale, zeroPoint] = qparamsOf(min, max, r, 'the observed range');
      const out: TensorCalibration = { scale, zeroPoint, ...info, min, max };
      if (range.dataMin !== undefined) {
        out.dataMin = range.dataMin as number;
        out.dataMax = range.dataMax as number;
        out.histogramBins = range.histogramBins as number;
      }
      return out as CalibrationResult<O>;
    }
    const min = range.min as Float32Array;
    const max = range.max as Float32Array;
    const channels = min.length;
    const scale = new Float32Array(channels);
    const zeroPoint = new Int32Array(channels);
    for (let c = 0; c < channels; c++) {
      if (!(min[c]! <= max[c]!)) throw fail(`${param === undefined ? '' : ','} in channel ${c}: no value observed there`);
      [scale[c], zeroPoint[c]] = qparamsOf(min[c]!, max[c]!, r, `the observed range of channel ${c}`);
    }
    const out: ChannelCalibration = {
      scale,
      zeroPoint,
      ...info,
      min,
      max,
      axis: r.perChannel.axis,
      shape: [...r.perChannel.shape],
    };
    if (range.dataMin !== undefined) {
      out.dataMin = range.dataMin as Float32Array;
      out.dataMax = range.dataMax as Float32Array;
      out.histogramBins = range.histogramBins as Int32Array;
    }
    return out as CalibrationResult<O>;
  }
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}
function isIterable(v: unknown): v is Iterable<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/**
 * Chooses quantization parameters from calibration data (post-training quantization). `batches` is one
 * Float32Array, an iterable of them (arrays, generators; observed one at a time) or an async iterable (then the
 * result is a Promise). The result plugs straight into quantize().
 *
 * Methods: `'minmax'` (default) and `'movingAverage'` reproduce PyTorch's observers exactly (per tensor and per
 * channel); `'percentile'`, `'entropy'` and `'mse'` search a clipping threshold on a histogram (2048 bins by
 * default; per channel, one histogram per channel). See docs/calibration.md for the exact definitions. Batches
 * that hold no value other than NaN (none at all, or none in some channel) give a RangeError naming `batches`.
 * @example
 * const qp = calibrate(batches, { method: 'entropy', dtype: 'int8', symmetric: true })
 * const q = quantize(x, qp)                                          // Int8Array
 * @example
 * calibrate(weights, { axis: 0, shape: [64, 3, 3, 3], symmetric: true })  // per output channel
 * @example
 * calibrate(activations, { method: 'entropy', axis: 1, shape: [32, 64, 7, 7], symmetric: true })  // per channel: one histogram each
 * @example
 * const qp = await calibrate(readBatches(), { method: 'percentile', percentile: 99.9, dtype: 'uint8' })
 */
export function calibrate<const O extends CalibrateOptions = Record<never, never>>(
  batches: Float32Array | Iterable<Float32Array>,
  options?: O,
): CalibrationResult<O>;
export function calibrate<const O extends CalibrateOptions = Record<never, never>>(
  batches: AsyncIterable<Float32Array>,
  options?: O,
): Promise<CalibrationResult<O>>;
export function calibrate<const O extends CalibrateOptions>(
  batches: Float32Array | Iterable<Float32Array> | AsyncIterable<Float32Array>,
  options?: O,
): CalibrationResult<O> | Promise<CalibrationResult<O>> {
  const cal = new Calibrator<O>(options);
  if (batches instanceof Float32Array) {
    cal.observeNamed(batches, undefined, 'batches');
    return cal.computeNamed('batches');
  }
  if (isAsyncIterable(batches)) {
    return (async () => {
      let i = 0;
      for await (const b of batches) cal.observeNamed(b, undefined, `batches[${i++}]`);
      return cal.computeNamed('batches');
    })();
  }
  if (isIterable(batches)) {
    let i = 0;
    for (const b of batches) cal.observeNamed(b, undefined, `batches[${i++}]`);
    return cal.computeNamed('batches');
  }
  throw typeError('batches', 'a Float32Array, an iterable or an async iterable of Float32Array', batches);
}
