// Fake quantization for quantization-aware training (QAT), bit-exact with PyTorch 1.13's CPU kernels:
//
//   fakeQuant          torch.fake_quantize_per_tensor_affine / torch.fake_quantize_per_channel_affine (+ the mask)
//                        q = zeroPoint + nearbyint(x * (1.0f / scale))        (float32, ties to even)
//                        y = (clamp(q, quantMin, quantMax) - zeroPoint) * scale,  mask = quantMin <= q <= quantMax
//   fakeQuantBackward  their autograd backward, the straight-through estimator gradOut * mask
//   fakeQuantLearnable torch._fake_quantize_learnable_per_tensor_affine / _per_channel_affine (LSQ, learnable scale
//                      and zero point) with its backward (gradX, gradScale, gradZeroPoint)
//   FakeQuantize       torch.ao.quantization.FakeQuantize: an observer (any Calibrator method) plus fake quant
//
// Every tier's native kernels agree bit for bit (native/include/qk/fakequant.h has the exact arithmetic).
import { newOutput } from './aligned';
import { Calibrator } from './calibrate';
import type { CalibrateOptions, Calibration } from './calibrate';
import { native } from './native';
import type { QuantDtype } from './quantize';
import { overlaps, rangeError, requireDim, requireInteger, requireObject, requireScale, requireScales, typeError } from './validate';

/** quantMin / quantMax bound: every integer of the range and every difference of two is exact in float32. */
const Q_LIMIT = 2 ** 24;

/** Parameters shared by every fake-quant op: the integer range, e.g. -128 / 127 (int8) or -8 / 7 (4-bit). */
interface RangeParams {
  /** Smallest quantized value: an integer in [-2^24, 2^24]. */
  quantMin: number;
  /** Largest quantized value: an integer greater than quantMin, at most 2^24 and quantMin + 2^24. */
  quantMax: number;
}

/** Fake quantization with one scale and zero point. */
export interface FakeQuantTensorParams extends RangeParams {
  /** Positive finite float32 (1 / scale finite too). */
  scale: number;
  /** Integer in [quantMin, quantMax]; default 0. */
  zeroPoint?: number;
}

/**
 * Per-channel fake quantization: one scale and zero point per index along `axis` of a contiguous row-major tensor
 * of `shape` (PyTorch's fake_quantize_per_channel_affine with ch_axis = axis).
 */
export interface FakeQuantChannelParams extends RangeParams {
  scale: Float32Array | readonly number[];
  /** One integer in [quantMin, quantMax] per channel; default all 0. */
  zeroPoint?: Int32Array | readonly number[];
  /** Channel axis; negative counts from the end. */
  axis: number;
  shape: readonly number[];
}

export type FakeQuantParams = FakeQuantTensorParams | FakeQuantChannelParams;

export interface FakeQuantResult {
  /** The fake-quantized values. */
  output: Float32Array;
  /** 1 where quantMin <= q <= quantMax (the gradient passes), 0 elsewhere (clamped, or NaN input). */
  mask: Uint8Array;
}

/** Learnable (LSQ) fake quantization with one scale and zero point. */
export interface LearnableTensorParams extends RangeParams {
  /** Positive finite float32 (1 / scale finite too). */
  scale: number;
  /**
   * The zero point as a float (PyTorch keeps it a float tensor; default 0). The forward rounds it half to even
   * and clamps it to [quantMin, quantMax]; the backward, as PyTorch's per-tensor kernel does, uses
   * trunc(clamp(zeroPoint + 0.5, quantMin, quantMax)), which differs for negative non-integers and for halves.
   */
  zeroPoint?: number;
  /** Multiplies the scale and zero-point gradients (LSQ uses 1 / sqrt(numel * quantMax)); default 1. */
  gradFactor?: number;
}

/** Per-channel learnable (LSQ) fake quantization. */
export interface LearnableChannelParams extends RangeParams {
  scale: Float32Array | readonly number[];
  /** One float zero point per channel (default all 0), rounded half to even and clamped, forward and backward. */
  zeroPoint?: Float32Array | readonly number[];
  /** Channel axis; negative counts from the end. */
  axis: number;
  shape: readonly number[];
  /** Multiplies the scale and zero-point gradients; default 1. */
  gradFactor?: number;
}

export type LearnableParams = LearnableTensorParams | LearnableChannelParams;

/** Gradients of the learnable fake quantization: numbers per tensor, one Float32Array entry per channel. */
export interface LearnableGradients<S extends number | Float32Array = number | Float32Array> {
  /** dL/dx: gradOut where the recomputed q lies in [quantMin, quantMax], gradOut * 0 elsewhere. */
  gradX: Float32Array;
  /** dL/dscale, float32 (per channel: Float32Array(channels)). */
  gradScale: S;
  /** dL/dzeroPoint, float32 (per channel: Float32Array(channels)). */
  gradZeroPoint: S;
}

export interface LearnableResult<S extends number | Float32Array = number | Float32Array> {
  output: Float32Array;
  /**
   * The backward pass for this forward: x (kept by reference: do not change it before calling backward) and the
   * parameters as they were at the forward. `out` receives gradX (it may be gradOut itself).
   */
  backward(gradOut: Float32Array, out?: Float32Array): LearnableGradients<S>;
}

// ------------------------------------------------------------------------------------------------ validation

interface Layout {
  outer: number;
  channels: number;
  inner: number;
}

function requireRange(p: Record<string, unknown>): [number, number] {
  if (p.quantMin === undefined) throw typeError('quantMin', 'an integer (the smallest quantized value)', p.quantMin);
  if (p.quantMax === undefined) throw typeError('quantMax', 'an integer (the largest quantized value)', p.quantMax);
  const qmin = requireInteger('quantMin', p.quantMin, -Q_LIMIT, Q_LIMIT);
  const qmax = requireInteger('quantMax', p.quantMax, -Q_LIMIT, Q_LIMIT);
  if (qmin >= qmax) throw rangeError('quantMax', `an integer greater than quantMin (${qmin})`, qmax);
  if (qmax - qmin > Q_LIMIT) throw rangeError('quantMax', `an integer at most quantMin + 2^24 (${qmin + Q_LIMIT})`, qmax);
  return [qmin, qmax];
}

function requireFloat32Array(name: string, v: unknown, what: string): Float32Array {
  if (v instanceof Float32Array) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'number') throw typeError(`${name}[${i}]`, 'a number', v[i]);
    return Float32Array.from(v as number[]);
  }
  throw typeError(name, what, v);
}

/** [outer, channels, inner] of a contiguous tensor of `shape` (product = length) split at `axis`. */
function channelLayout(p: Record<string, unknown>, length: number): Layout {
  if (!Array.isArray(p.shape)) throw typeError('shape', 'an array of dimensions (per-channel)', p.shape);
  const shape = p.shape as unknown[];
  const rank = shape.length;
  if (rank === 0) throw rangeError('shape', 'at least one dimension (per-channel)', p.shape);
  let total = 1;
  for (let i = 0; i < rank; i++) total *= requireDim(`shape[${i}]`, shape[i]);
  if (total !== length)
    throw rangeError('shape', `dimensions whose product is the input length ${length}`, `[${shape.join(', ')}]` as unknown);
  if (p.axis === undefined) throw typeError('axis', 'an integer channel axis (per-channel: scale is an array)', p.axis);
  const a = requireInteger('axis', p.axis, -rank, rank - 1);
  const axis = a < 0 ? a + rank : a;
  if ((shape[axis] as number) < 1) throw rangeError(`shape[${axis}]`, 'at least one channel (shape[axis] >= 1)', shape[axis]);
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i] as number;
  let inner = 1;
  for (let i = axis + 1; i < rank; i++) inner *= shape[i] as number;
  return { outer, channels: shape[axis] as number, inner };
}

function requireChannelScales(v: unknown, channels: number): Float32Array {
  const s = requireFloat32Array('scale', v, 'a Float32Array or number[] (per channel) or a number (per tensor)');
  if (s.length !== channels) throw rangeError('scale', `length ${channels} (shape[axis])`, s);
  requireScales('scale', s);
  return s;
}

function requireGradFactor(v: unknown): number {
  if (v === undefined) return 1;
  if (typeof v !== 'number') throw typeError('gradFactor', 'a number', v);
  if (!Number.isFinite(Math.fround(v))) throw rangeError('gradFactor', 'a finite float32', v);
  return Math.fround(v);
}

function requireFloat32Input(name: string, v: unknown): Float32Array {
  if (!(v instanceof Float32Array)) throw typeError(name, 'a Float32Array', v);
  return v;
}

function sameRange(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;
}

/**
 * A Float32Array output of `length`, allocated when not given; it may be one of `inputs` itself, never partly
 * overlap one, and must not overlap any of `kept` (inputs needed again later).
 */
function floatOut(
  name: string,
  out: unknown,
  length: number,
  inputs: [string, Float32Array][],
  kept: [string, Float32Array][] = [],
): Float32Array {
  if (out === undefined) return newOutput(Float32Array, length);
  if (!(out instanceof Float32Array)) throw typeError(name, 'a Float32Array', out);
  if (out.length !== length) throw rangeError(name, `length ${length}`, out);
  for (const [inName, input] of inputs)
    if (overlaps(out, input) && !sameRange(out, input))
      throw rangeError(name, `an array that is ${inName} itself or does not overlap it`, out);
  for (const [inName, input] of kept)
    if (overlaps(out, input)) throw rangeError(name, `an array that does not overlap ${inName} (the backward reads it)`, out);
  return out;
}

function maskOut(out: unknown, length: number, others: [string, ArrayBufferView][]): Uint8Array {
  if (out === undefined) return newOutput(Uint8Array, length);
  if (!(out instanceof Uint8Array)) throw typeError('out.mask', 'a Uint8Array', out);
  if (out.length !== length) throw rangeError('out.mask', `length ${length}`, out);
  for (const [name, v] of others) if (overlaps(out, v)) throw rangeError('out.mask', `an array that does not overlap ${name}`, out);
  return out;
}

/** nearbyint (ties to even) of a float32 value. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ------------------------------------------------------------------------------------------------ fakeQuant

interface ResolvedFq {
  qmin: number;
  qmax: number;
  /** null per tensor. */
  layout: Layout | null;
  scale: number;
  zeroPoint: number;
  scales: Float32Array;
  zeroPoints: Int32Array;
}

const EMPTY_F32 = new Float32Array(0);
const EMPTY_I32 = new Int32Array(0);

function resolveFq(p: Record<string, unknown>, length: number): ResolvedFq {
  const [qmin, qmax] = requireRange(p);
  if (typeof p.scale === 'number') {
    if (p.axis !== undefined) throw typeError('scale', 'a Float32Array of per-channel scales when axis is given', p.scale);
    const scale = requireScale('scale', p.scale);
    const zeroPoint = p.zeroPoint === undefined ? 0 : requireInteger('zeroPoint', p.zeroPoint, qmin, qmax);
    if (p.zeroPoint === undefined && (0 < qmin || 0 > qmax))
      throw rangeError('zeroPoint', `an integer in [${qmin}, ${qmax}] (the default 0 lies outside the range)`, p.zeroPoint);
    return { qmin, qmax, layout: null, scale, zeroPoint, scales: EMPTY_F32, zeroPoints: EMPTY_I32 };
  }
  if (!(p.scale instanceof Float32Array) && !Array.isArray(p.scale))
    throw typeError('scale', 'a number (per tensor) or a Float32Array / number[] (per channel)', p.scale);
  const layout = channelLayout(p, length);
  const scales = requireChannelScales(p.scale, layout.channels);
  let zeroPoints: Int32Array;
  const z = p.zeroPoint;
  if (z === undefined) zeroPoints = new Int32Array(layout.channels);
  else if (z instanceof Int32Array) zeroPoints = z;
  else if (Array.isArray(z)) zeroPoints = Int32Array.from(z as unknown[], (v, i) => requireInteger(`zeroPoint[${i}]`, v, qmin, qmax));
  else throw typeError('zeroPoint', 'an Int32Array or number[] (one integer per channel)', z);
  if (zeroPoints.length !== layout.channels) throw rangeError('zeroPoint', `length ${layout.channels} (shape[axis])`, zeroPoints);
  for (let c = 0; c < layout.channels; c++) {
    const v = zeroPoints[c]!;
    if (v < qmin || v > qmax) throw rangeError(`zeroPoint[${c}]`, `an integer in [${qmin}, ${qmax}]`, v);
  }
  return { qmin, qmax, layout, scale: 0, zeroPoint: 0, scales, zeroPoints };
}

function runFq(x: Float32Array, r: ResolvedFq, y: Float32Array, mask: Uint8Array): void {
  if (r.layout === null) native.fakeQuant(x, y, mask, r.scale, r.zeroPoint, r.qmin, r.qmax);
  else {
    const l = r.layout;
    native.fakeQuantPerChannel(x, y, mask, r.scales, r.zeroPoints, l.outer, l.channels, l.inner, r.qmin, r.qmax);
  }
}

/**
 * Fake quantization (quantize, then dequantize) with the mask of the values that were not clamped, per tensor
 * (`scale: number`) or per channel (`scale: Float32Array` with `axis` and `shape`). Bit-identical to
 * `torch.fake_quantize_per_tensor_affine` / `torch.fake_quantize_per_channel_affine` (and their cachemask mask)
 * for finite inputs. NaN gives NaN with mask 0; +Infinity clamps to quantMax and -Infinity to quantMin, mask 0.
 * A calibration result (`Calibrator.compute()`) can be passed as `params` as it is.
 * @param out optional `{ output, mask }` to write (either may be left out); `output` may be `x` itself.
 * @example
 * const { output, mask } = fakeQuant(x, { scale: 0.1, zeroPoint: 0, quantMin: -128, quantMax: 127 })
 * const gradX = fakeQuantBackward(gradOut, mask)
 */
export function fakeQuant(
  x: Float32Array,
  params: FakeQuantParams,
  out?: { output?: Float32Array; mask?: Uint8Array },
): FakeQuantResult {
  requireFloat32Input('x', x);
  const p = requireObject('params', params);
  const r = resolveFq(p, x.length);
  let o: Record<string, unknown> = {};
  if (out !== undefined) o = requireObject('out', out);
  const output = floatOut('out.output', o.output, x.length, [['x', x]]);
  const mask = maskOut(o.mask, x.length, [['x', x], ['out.output', output]]);
  runFq(x, r, output, mask);
  return { output, mask };
}

/**
 * The straight-through estimator: `gradOut * mask` (PyTorch's autograd for fake quantization), i.e. gradOut where
 * the mask is non-zero and gradOut * 0 elsewhere (so NaN and infinite gradients there give NaN, negative ones -0).
 * @param out optional output of the same length; may be gradOut itself.
 */
export function fakeQuantBackward(gradOut: Float32Array, mask: Uint8Array, out?: Float32Array): Float32Array {
  requireFloat32Input('gradOut', gradOut);
  if (!(mask instanceof Uint8Array)) throw typeError('mask', 'a Uint8Array (the mask fakeQuant returned)', mask);
  if (mask.length !== gradOut.length) throw rangeError('mask', `length ${gradOut.length} (gradOut.length)`, mask);
  const o = floatOut('out', out, gradOut.length, [['gradOut', gradOut]]);
  if (overlaps(o, mask)) throw rangeError('out', 'an array that does not overlap mask', o);
  native.fakeQuantBackward(gradOut, mask, o);
  return o;
}

// ------------------------------------------------------------------------------------------------ learnable

/**
 * Learnable fake quantization (LSQ: learned step size, with a learnable zero point), exactly as
 * `torch._fake_quantize_learnable_per_tensor_affine` / `_per_channel_affine`: the forward is fakeQuant with the
 * rounded zero point; `backward(gradOut)` returns gradX (bit-identical to PyTorch's) and the scale and zero-point
 * gradients (PyTorch's per-element terms, bit-identical, summed in double in a fixed order and rounded to float32:
 * within float32 summation error of PyTorch's float32 sum).
 *
 * Per element, with q = nearbyint(fma(x, 1 / scale, zp)) (PyTorch's AVX2 / AVX-512 / aarch64 kernels fuse this):
 * gradScale += gradOut * (quantMin - zp) below the range, gradOut * (quantMax - zp) above it and
 * gradOut * ((q - zp) * scale - x) / scale inside (fused, then * (1 / scale)); gradZeroPoint += -gradOut * scale
 * outside the range, 0 inside; both times gradFactor. Per channel, gradScale and gradZeroPoint are Float32Arrays
 * with one entry per channel (the sums over every other axis, as PyTorch's).
 * Requires quantMin <= 0 <= quantMax (PyTorch's backward does).
 * @param out optional output for the forward values (not overlapping x: the backward reads x).
 * @example
 * const n = w.length
 * const fq = fakeQuantLearnable(w, { scale: s, zeroPoint: 0, quantMin: -8, quantMax: 7, gradFactor: 1 / Math.sqrt(n * 7) })
 * const { gradX, gradScale } = fq.backward(gradOut)
 */
export function fakeQuantLearnable(x: Float32Array, params: LearnableTensorParams, out?: Float32Array): LearnableResult<number>;
export function fakeQuantLearnable(x: Float32Array, params: LearnableChannelParams, out?: Float32Array): LearnableResult<Float32Array>;
export function fakeQuantLearnable(x: Float32Array, params: LearnableParams, out?: Float32Array): LearnableResult;
export function fakeQuantLearnable(x: Float32Array, params: LearnableParams, out?: Float32Array): LearnableResult {
  requireFloat32Input('x', x);
  const p = requireObject('params', params);
  const [qmin, qmax] = requireRange(p);
  if (qmin > 0) throw rangeError('quantMin', 'an integer <= 0 (the learnable op needs 0 in [quantMin, quantMax])', qmin);
  if (qmax < 0) throw rangeError('quantMax', 'an integer >= 0 (the learnable op needs 0 in [quantMin, quantMax])', qmax);
  const gradFactor = requireGradFactor(p.gradFactor);
  const clamp = (v: number) => Math.min(Math.max(v, qmin), qmax);
  const n = x.length;
  const output = floatOut('out', out, n, [], [['x', x]]);
  const mask = new Uint8Array(n);

  if (typeof p.scale === 'number') {
    if (p.axis !== undefined) throw typeError('scale', 'a Float32Array of per-channel scales when axis is given', p.scale);
    const scale = Math.fround(requireScale('scale', p.scale));
    let zf = 0;
    if (p.zeroPoint !== undefined) {
      if (typeof p.zeroPoint !== 'number') throw typeError('zeroPoint', 'a number (per tensor)', p.zeroPoint);
      if (!Number.isFinite(Math.fround(p.zeroPoint))) throw rangeError('zeroPoint', 'a finite float32', p.zeroPoint);
      zf = Math.fround(p.zeroPoint);
    }
    const zpForward = clamp(roundHalfEven(zf)) + 0;
    const zpBackward = Math.trunc(clamp(Math.fround(zf + 0.5))) + 0;
    native.fakeQuant(x, output, mask, scale, zpForward, qmin, qmax);
    const sums = new Float64Array(2);
    return {
      output,
      backward(gradOut: Float32Array, gOut?: Float32Array): LearnableGradients<number> {
        requireFloat32Input('gradOut', gradOut);
        if (gradOut.length !== n) throw rangeError('gradOut', `length ${n} (x.length)`, gradOut);
        const gradX = floatOut('out', gOut, n, [['gradOut', gradOut]], [['x', x]]);
        native.lsqBackward(x, gradOut, gradX, scale, zpBackward, qmin, qmax, gradFactor, sums);
        return { gradX, gradScale: Math.fround(sums[0]!), gradZeroPoint: Math.fround(sums[1]!) };
      },
    };
  }

  if (!(p.scale instanceof Float32Array) && !Array.isArray(p.scale))
    throw typeError('scale', 'a number (per tensor) or a Float32Array / number[] (per channel)', p.scale);
  const l = channelLayout(p, n);
  const scales = Float32Array.from(requireChannelScales(p.scale, l.channels)); // copies: the backward uses these values
  const zps = new Int32Array(l.channels);
  if (p.zeroPoint !== undefined) {
    const zf = requireFloat32Array('zeroPoint', p.zeroPoint, 'a Float32Array or number[] (one float zero point per channel)');
    if (zf.length !== l.channels) throw rangeError('zeroPoint', `length ${l.channels} (shape[axis])`, zf);
    for (let c = 0; c < l.channels; c++) {
      if (!Number.isFinite(zf[c]!)) throw rangeError(`zeroPoint[${c}]`, 'a finite float32', zf[c]);
      zps[c] = clamp(roundHalfEven(zf[c]!));
    }
  }
  native.fakeQuantPerChannel(x, output, mask, scales, zps, l.outer, l.channels, l.inner, qmin, qmax);
  const gs = new Float64Array(l.channels);
  const gz = new Float64Array(l.channels);
  return {
    output,
    backward(gradOut: Float32Array, gOut?: Float32Array): LearnableGradients<Float32Array> {
      requireFloat32Input('gradOut', gradOut);
      if (gradOut.length !== n) throw rangeError('gradOut', `length ${n} (x.length)`, gradOut);
      const gradX = floatOut('out', gOut, n, [['gradOut', gradOut]], [['x', x]]);
      native.lsqBackwardPerChannel(x, gradOut, gradX, scales, zps, l.outer, l.channels, l.inner, qmin, qmax, gradFactor, gs, gz);
      return { gradX, gradScale: Float32Array.from(gs), gradZeroPoint: Float32Array.from(gz) };
    },
  };
}

// ------------------------------------------------------------------------------------------------ FakeQuantize

/**
 * FakeQuantize options: the observer's (Calibrator) options. The method defaults to `'movingAverage'` (PyTorch's
 * default FakeQuantize observer); per channel with `axis` and `shape` (any method).
 */
export type FakeQuantizeOptions = CalibrateOptions;

/** Per channel (an `axis`): the array type; without one: number; not known statically: either. */
type ByAxis<O, Tensor, Channel> = 'axis' extends keyof O ? (O extends { axis: number } ? Channel : Tensor | Channel) : Tensor;
type ScaleOf<O> = ByAxis<O, number, Float32Array>;
type ZeroPointOf<O> = ByAxis<O, number, Int32Array>;

/** Parameters of a FakeQuantize, usable with fakeQuant() and quantize() as they are. */
export type FakeQuantizeParams =
  | (FakeQuantTensorParams & { dtype: QuantDtype; zeroPoint: number })
  | (FakeQuantChannelParams & { dtype: QuantDtype; scale: Float32Array; zeroPoint: Int32Array; shape: number[] });

/**
 * Observer plus fake quantization, like `torch.ao.quantization.FakeQuantize`. forward(x): when observerEnabled,
 * the observer sees x and the scale and zero point become what it computes (PyTorch's order); then, when
 * fakeQuantEnabled, x is fake-quantized with them (otherwise x itself is returned, or copied into `out`). backward(gradOut) is the
 * straight-through estimator for the last forward (gradOut itself when fake quant was off).
 *
 * Before anything is observed the scale is 1 and the zero point 0 (PyTorch's initial values). Per tensor for
 * activations, per channel (`axis`, `shape`) for weights; any bit width through quantMin / quantMax.
 * @example
 * const fq = new FakeQuantize({ dtype: 'int8', symmetric: true, method: 'movingAverage' })
 * const y = fq.forward(x)
 * const gx = fq.backward(gy)
 * fq.observerEnabled = false          // freeze the parameters
 * quantize(x, fq.qparams)             // the int8 values after training
 */
export class FakeQuantize<const O extends FakeQuantizeOptions = FakeQuantizeOptions> {
  /** The observer. */
  readonly calibrator: Calibrator;
  private observing = true;
  private quantizing = true;
  private s: number | Float32Array;
  private z: number | Int32Array;
  private mask: Uint8Array | null = null;
  private lastLength = -1;

  constructor(options?: O) {
    const o = options === undefined ? {} : requireObject('options', options);
    this.calibrator = new Calibrator({ ...o, method: o.method === undefined ? 'movingAverage' : o.method } as CalibrateOptions);
    const pc = this.calibrator.options.perChannel;
    if (pc === null) {
      this.s = 1;
      this.z = 0;
    } else {
      const channels = pc.shape[pc.axis]!;
      this.s = new Float32Array(channels).fill(1);
      this.z = new Int32Array(channels);
    }
  }

  /** Whether forward() feeds the observer and updates the scale and zero point (default true). */
  get observerEnabled(): boolean {
    return this.observing;
  }
  set observerEnabled(on: boolean) {
    if (typeof on !== 'boolean') throw typeError('observerEnabled', 'a boolean', on);
    this.observing = on;
  }
  /** Whether forward() fake-quantizes (default true); when false forward returns x and backward gradOut. */
  get fakeQuantEnabled(): boolean {
    return this.quantizing;
  }
  set fakeQuantEnabled(on: boolean) {
    if (typeof on !== 'boolean') throw typeError('fakeQuantEnabled', 'a boolean', on);
    this.quantizing = on;
  }
  /** PyTorch's enable_observer(enabled). */
  enableObserver(on = true): this {
    this.observerEnabled = on;
    return this;
  }
  /** PyTorch's enable_fake_quant(enabled). */
  enableFakeQuant(on = true): this {
    this.fakeQuantEnabled = on;
    return this;
  }

  /** The current scale (a copy per channel). */
  get scale(): ScaleOf<O> {
    return (typeof this.s === 'number' ? this.s : Float32Array.from(this.s)) as ScaleOf<O>;
  }
  /** The current zero point (a copy per channel). */
  get zeroPoint(): ZeroPointOf<O> {
    return (typeof this.z === 'number' ? this.z : Int32Array.from(this.z)) as ZeroPointOf<O>;
  }
  get quantMin(): number {
    return this.calibrator.options.quantMin;
  }
  get quantMax(): number {
    return this.calibrator.options.quantMax;
  }
  get dtype(): QuantDtype {
    return this.calibrator.options.dtype;
  }

  /** The current parameters, ready for fakeQuant() and quantize(). */
  get qparams(): FakeQuantizeParams {
    const { quantMin, quantMax, dtype } = this;
    const pc = this.calibrator.options.perChannel;
    if (pc === null) return { scale: this.s as number, zeroPoint: this.z as number, quantMin, quantMax, dtype };
    return {
      scale: Float32Array.from(this.s as Float32Array),
      zeroPoint: Int32Array.from(this.z as Int32Array),
      axis: pc.axis,
      shape: [...pc.shape],
      quantMin,
      quantMax,
      dtype,
    };
  }

  /** What the observer computes from everything seen so far (PyTorch's calculate_qparams()). */
  calculateQParams(): Calibration {
    return this.calibrator.compute();
  }

  /**
   * The forward pass. Per channel, `shape` is x's shape (default: options.shape, with the leading dimension
   * inferred from x's length when the channel axis is not 0). `out` receives the output (a new array otherwise;
   * reusing one saves the allocation, which dominates for large tensors); it may be x itself.
   */
  forward(x: Float32Array, shape?: readonly number[], out?: Float32Array): Float32Array {
    requireFloat32Input('x', x);
    const output = out === undefined ? undefined : floatOut('out', out, x.length, [['x', x]]);
    const pc = this.calibrator.options.perChannel;
    let fullShape: number[] | undefined;
    if (pc !== null) fullShape = this.shapeFor(x, shape, pc);
    else if (shape !== undefined) throw typeError('shape', 'undefined (per-tensor FakeQuantize)', shape);
    if (this.observing) {
      this.calibrator.observe(x, fullShape);
      if (this.calibrator.count > 0) {
        const r = this.calibrator.compute();
        this.s = r.scale;
        this.z = r.zeroPoint;
      }
    }
    this.lastLength = x.length;
    if (!this.quantizing) {
      this.mask = null;
      if (output === undefined) return x;
      if (output !== x) output.set(x);
      return output;
    }
    const mask = this.mask !== null && this.mask.length === x.length ? this.mask : newOutput(Uint8Array, x.length);
    const y = output ?? newOutput(Float32Array, x.length);
    const { quantMin: qmin, quantMax: qmax } = this;
    if (pc === null) native.fakeQuant(x, y, mask, this.s as number, this.z as number, qmin, qmax);
    else {
      let outer = 1;
      for (let i = 0; i < pc.axis; i++) outer *= fullShape![i]!;
      let inner = 1;
      for (let i = pc.axis + 1; i < fullShape!.length; i++) inner *= fullShape![i]!;
      const channels = fullShape![pc.axis]!;
      native.fakeQuantPerChannel(x, y, mask, this.s as Float32Array, this.z as Int32Array, outer, channels, inner, qmin, qmax);
    }
    this.mask = mask;
    return y;
  }

  /**
   * The straight-through backward of the last forward: gradOut * mask, or gradOut itself (copied into `out` when
   * given) when that forward did not fake-quantize.
   */
  backward(gradOut: Float32Array, out?: Float32Array): Float32Array {
    requireFloat32Input('gradOut', gradOut);
    if (this.lastLength < 0) throw new Error('qkernels: FakeQuantize.backward() needs a forward() first');
    if (gradOut.length !== this.lastLength) throw rangeError('gradOut', `length ${this.lastLength} (the last forward's x.length)`, gradOut);
    if (this.mask === null) {
      if (out === undefined) return gradOut;
      const o = floatOut('out', out, gradOut.length, [['gradOut', gradOut]]);
      if (o !== gradOut) o.set(gradOut);
      return o;
    }
    return fakeQuantBackward(gradOut, this.mask, out);
  }

  /** Forgets everything observed and returns to scale 1, zero point 0. */
  reset(): void {
    this.calibrator.reset();
    if (typeof this.s === 'number') {
      this.s = 1;
      this.z = 0;
    } else {
      this.s = new Float32Array(this.s.length).fill(1);
      this.z = new Int32Array(this.s.length);
    }
    this.mask = null;
    this.lastLength = -1;
  }

  /** x's full shape per channel, by the Calibrator's rule. */
  private shapeFor(x: Float32Array, shape: readonly number[] | undefined, pc: { axis: number; shape: number[] }): number[] {
    const { axis } = pc;
    if (shape !== undefined) {
      if (!Array.isArray(shape)) throw typeError('shape', 'an array of dimensions', shape);
      const s = shape.map((d, i) => requireDim(`shape[${i}]`, d));
      if (s.length !== pc.shape.length || s[axis] !== pc.shape[axis])
        throw rangeError('shape', `rank ${pc.shape.length} with shape[${axis}] = ${pc.shape[axis]} channels (options.shape [${pc.shape.join(', ')}])`, `[${s.join(', ')}]` as unknown);
      if (s.reduce((a, d) => a * d, 1) !== x.length) throw rangeError('x', `a Float32Array of ${s.reduce((a, d) => a * d, 1)} elements (shape [${s.join(', ')}])`, x);
      return s;
    }
    let s = [...pc.shape];
    let total = s.reduce((a, d) => a * d, 1);
    if (total !== x.length && axis !== 0) {
      const rest = s.slice(1).reduce((a, d) => a * d, 1);
      if (rest > 0 && x.length % rest === 0) {
        s = [x.length / rest, ...s.slice(1)];
        total = x.length;
      }
    }
    if (total !== x.length)
      throw rangeError('x', `a Float32Array of ${total} elements (shape [${s.join(', ')}]${axis !== 0 ? ', or any multiple of the trailing dimensions' : ''})`, x);
    return s;
  }
}
