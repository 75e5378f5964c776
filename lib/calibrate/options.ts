// Calibration options: the public option types and their validation. Every error names the option.
import { DTYPES, type QuantDtype } from '../quantize';
import { rangeError, requireBoolean, requireDim, requireInteger, requireObject, requireOneOf, typeError } from '../validate';

/**
 * How a calibrator turns observed values into a clipping range:
 *
 * - `'minmax'`: the running min and max (PyTorch's `MinMaxObserver` / `PerChannelMinMaxObserver`).
 * - `'movingAverage'`: moving averages of each batch's min and max (PyTorch's `MovingAverageMinMaxObserver` /
 *   `MovingAveragePerChannelMinMaxObserver`).
 * - `'percentile'`: the given percentile of a histogram (of |x| when symmetric, of x with both tails otherwise).
 * - `'entropy'`: the KL-divergence threshold of a histogram of |x| (TensorRT's method as NVIDIA's
 *   pytorch-quantization implements it).
 * - `'mse'`: the threshold of a histogram that minimizes the expected quantization MSE (NVIDIA's `mse`); the minmax
 *   range unless clipping lowers that by at least 3.5%.
 */
export type CalibrationMethod = 'minmax' | 'movingAverage' | 'percentile' | 'entropy' | 'mse';

export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'movingAverage', 'percentile', 'entropy', 'mse'];

/** The histogram-based methods. */
export const HISTOGRAM_METHODS: readonly CalibrationMethod[] = ['percentile', 'entropy', 'mse'];

export interface CalibrateOptions<D extends QuantDtype = QuantDtype> {
  /** Default `'minmax'`. */
  method?: CalibrationMethod;
  /** Quantized type the parameters are for: `'int8'` (default) or `'uint8'`. */
  dtype?: D;
  /**
   * Symmetric quantization (default false): the range is [-m, m] with m = max(-min, max), the zero point 0 for
   * int8 and 128 for uint8 ((quantMin + quantMax) >> 1 with a custom range), as PyTorch's `*_symmetric` schemes.
   */
  symmetric?: boolean;
  /** Use one bit less (PyTorch's `reduce_range`): uint8 [0, 127], int8 [-64, 63]; a custom range is halved. */
  reduceRange?: boolean;
  /** Smallest quantized value, e.g. -8 for signed 4-bit (default: the dtype's). Must be <= 0. */
  quantMin?: number;
  /** Largest quantized value, e.g. 7 for signed 4-bit (default: the dtype's). Must be >= 0. */
  quantMax?: number;
  /** `'movingAverage'` only: c in (0, 1] of `min += c * (batchMin - min)`; default 0.01. */
  averagingConstant?: number;
  /** `'percentile'` only: the percentile in (0, 100] to clip at; default 99.99. */
  percentile?: number;
  /** Histogram methods only: number of bins, an integer >= 128 (default 2048). */
  bins?: number;
  /**
   * Per-channel calibration (every method): the channel axis of `shape`; negative counts from the end. The
   * histogram methods keep one histogram per channel, each with its own range and grid.
   */
  axis?: number;
  /**
   * Per-channel calibration: the row-major shape of each batch. The leading dimension may differ from batch to
   * batch (a smaller last batch) unless it is the channel axis.
   */
  shape?: readonly number[];
}

/** Options after validation. */
export interface ResolvedOptions {
  method: CalibrationMethod;
  dtype: QuantDtype;
  symmetric: boolean;
  reduceRange: boolean;
  /** The quantized range actually used (after reduceRange). */
  quantMin: number;
  quantMax: number;
  /** quantMin / quantMax were given (PyTorch's has_customized_qrange). */
  customRange: boolean;
  averagingConstant: number;
  percentile: number;
  bins: number;
  /** null for per-tensor calibration. */
  perChannel: { axis: number; shape: number[] } | null;
}

const KNOWN = new Set([
  'method', 'dtype', 'symmetric', 'reduceRange', 'quantMin', 'quantMax', 'averagingConstant', 'percentile', 'bins',
  'axis', 'shape',
]);

const DTYPE_RANGE = { int8: [-128, 127], uint8: [0, 255] } as const;

/** A RangeError in validate.ts's shape whose received part is already text. */
export function rangeErrorText(name: string, expected: string, received: string): RangeError {
  return new RangeError(`qkernels: expected ${expected} for ${name}, received ${received}`);
}

function only(name: string, o: Record<string, unknown>, methods: readonly CalibrationMethod[], method: CalibrationMethod): void {
  if (o[name] !== undefined && !methods.includes(method))
    throw rangeError(`options.${name}`, `no ${name} with method '${method}' (it applies to ${methods.map((m) => `'${m}'`).join(', ')})`, o[name]);
}

/** Validates a shape (array of non-negative safe integers, at least one dimension). */
export function requireShape(name: string, v: unknown): number[] {
  if (!Array.isArray(v)) throw typeError(name, 'an array of dimensions', v);
  if (v.length === 0) throw rangeError(name, 'at least one dimension', v);
  return v.map((d, i) => requireDim(`${name}[${i}]`, d));
}

export function resolveOptions(options: unknown): ResolvedOptions {
  const o = options === undefined ? {} : requireObject('options', options);
  for (const k of Object.keys(o))
    if (!KNOWN.has(k)) throw rangeErrorText('options', `only the options ${[...KNOWN].join(', ')}`, `an option named ${JSON.stringify(k)}`);
  const method = o.method === undefined ? 'minmax' : requireOneOf('options.method', o.method, CALIBRATION_METHODS);
  const dtype = o.dtype === undefined ? 'int8' : requireOneOf('options.dtype', o.dtype, DTYPES);
  const symmetric = requireBoolean('options.symmetric', o.symmetric);
  const reduceRange = requireBoolean('options.reduceRange', o.reduceRange);

  only('averagingConstant', o, ['movingAverage'], method);
  only('percentile', o, ['percentile'], method);
  only('bins', o, HISTOGRAM_METHODS, method);

  const [dlo, dhi] = DTYPE_RANGE[dtype];
  const customRange = o.quantMin !== undefined || o.quantMax !== undefined;
  let qmin = o.quantMin === undefined ? dlo : requireInteger('options.quantMin', o.quantMin, dlo, dhi);
  let qmax = o.quantMax === undefined ? dhi : requireInteger('options.quantMax', o.quantMax, dlo, dhi);
  if (qmin >= qmax) throw rangeError('options.quantMax', `an integer greater than quantMin (${qmin})`, qmax);
  if (customRange && qmin > 0) throw rangeError('options.quantMin', 'an integer <= 0 (the range must include 0)', qmin);
  if (customRange && qmax < 0) throw rangeError('options.quantMax', 'an integer >= 0 (the range must include 0)', qmax);
  if (reduceRange) {
    if (customRange) {
      qmin = Math.floor(qmin / 2);
      qmax = Math.floor(qmax / 2);
      if (qmin >= qmax) throw rangeError('options.reduceRange', `false: the halved range [${qmin}, ${qmax}] is empty`, true);
    } else if (dtype === 'int8') {
      qmin = -64;
      qmax = 63;
    } else {
      if (symmetric)
        throw rangeError('options.reduceRange', "false with symmetric uint8 (PyTorch's zero point 128 lies outside [0, 127])", true);
      qmin = 0;
      qmax = 127;
    }
  }

  let averagingConstant = 0.01;
  if (o.averagingConstant !== undefined) {
    const c = o.averagingConstant;
    if (typeof c !== 'number') throw typeError('options.averagingConstant', 'a number', c);
    if (!(c > 0 && c <= 1)) throw rangeError('options.averagingConstant', 'a number in (0, 1]', c);
    averagingConstant = c;
  }
  let percentile = 99.99;
  if (o.percentile !== undefined) {
    const p = o.percentile;
    if (typeof p !== 'number') throw typeError('options.percentile', 'a number', p);
    if (!(p > 0 && p <= 100)) throw rangeError('options.percentile', 'a number in (0, 100]', p);
    percentile = p;
  }
  let bins = 2048;
  if (o.bins !== undefined) bins = requireInteger('options.bins', o.bins, 128, 1 << 24);

  let perChannel: ResolvedOptions['perChannel'] = null;
  if (o.axis !== undefined || o.shape !== undefined) {
    if (o.axis === undefined) throw typeError('options.axis', 'an integer channel axis (shape is given: per-channel)', o.axis);
    if (o.shape === undefined) throw typeError('options.shape', 'the batch shape (axis is given: per-channel)', o.shape);
    const shape = requireShape('options.shape', o.shape);
    const a = requireInteger('options.axis', o.axis, -shape.length, shape.length - 1);
    const axis = a < 0 ? a + shape.length : a;
    if (shape[axis]! < 1) throw rangeError(`options.shape[${axis}]`, 'at least one channel (shape[axis] >= 1)', shape[axis]);
    perChannel = { axis, shape };
  }
  return { method, dtype, symmetric, reduceRange, quantMin: qmin, quantMax: qmax, customRange, averagingConstant, percentile, bins, perChannel };
}

/** Outer / channels / inner of a batch with `shape` and channel `axis`. */
export function layoutOf(shape: readonly number[], axis: number): { outer: number; channels: number; inner: number } {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return { outer, channels: shape[axis]!, inner };
}
