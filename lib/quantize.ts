// quantize / dequantize, per tensor and per channel, with PyTorch's semantics (bit-exact):
//   q = clamp(nearbyint(x * (1.0f / scale)) + zeroPoint, quantMin, quantMax)   (float32 product, ties to even)
//   x = (q - zeroPoint) * scale                                                  (one float32 rounding)
import { newOutput } from './aligned';
import { native } from './native';
import {
  isObject,
  rangeError,
  requireDim,
  requireDisjoint,
  requireInteger,
  requireObject,
  requireOneOf,
  requireScale,
  requireScales,
  typeError,
} from './validate';

export type QuantDtype = 'int8' | 'uint8';
/** The array type that holds a dtype's values. */
export type QuantArrayOf<D extends QuantDtype> = D extends 'uint8' ? Uint8Array : Int8Array;

export const DTYPES: readonly QuantDtype[] = ['int8', 'uint8'];
const DTYPE_RANGE = { int8: [-128, 127], uint8: [0, 255] } as const;

interface CommonParams<D extends QuantDtype> {
  /** Output type, `'int8'` (default) or `'uint8'`. */
  dtype?: D;
  /** Smallest quantized value (default: the dtype's minimum), e.g. -8 for 4-bit or 0 for reduce-range uint8. */
  quantMin?: number;
  /** Largest quantized value (default: the dtype's maximum). */
  quantMax?: number;
}

/** One scale and zero point for the whole tensor. */
export interface PerTensorParams<D extends QuantDtype = QuantDtype> extends CommonParams<D> {
  scale: number;
  /** Integer inside [quantMin, quantMax]; default 0. */
  zeroPoint?: number;
}

/** One scale and zero point per index along `axis` of a contiguous row-major tensor of `shape`. */
export interface PerChannelParams<D extends QuantDtype = QuantDtype> extends CommonParams<D> {
  scale: Float32Array | readonly number[];
  /** One integer per channel; default all 0. */
  zeroPoint?: Int32Array | readonly number[];
  /** Channel axis; negative counts from the end. */
  axis: number;
  shape: readonly number[];
}

export type QuantParams<D extends QuantDtype = QuantDtype> = PerTensorParams<D> | PerChannelParams<D>;

interface Resolved {
  qmin: number;
  qmax: number;
  perChannel: boolean;
  scale: number;
  zeroPoint: number;
  scales: Float32Array;
  zeroPoints: Int32Array;
  outer: number;
  channels: number;
  inner: number;
}

const EMPTY_F32 = new Float32Array(0);
const EMPTY_I32 = new Int32Array(0);

function resolveRange(p: Record<string, unknown>, dtype: QuantDtype): [number, number] {
  const [lo, hi] = DTYPE_RANGE[dtype];
  const qmin = p.quantMin === undefined ? lo : requireInteger('quantMin', p.quantMin, lo, hi);
  const qmax = p.quantMax === undefined ? hi : requireInteger('quantMax', p.quantMax, lo, hi);
  if (qmin >= qmax) throw rangeError('quantMax', `an integer greater than quantMin (${qmin})`, qmax);
  return [qmin, qmax];
}

function toF32(name: string, v: unknown): Float32Array {
  if (v instanceof Float32Array) return v;
  if (Array.isArray(v)) return Float32Array.from(v as number[]);
  throw typeError(name, 'a Float32Array (per-channel) or a number (per-tensor)', v);
}

function toI32(name: string, v: unknown, channels: number): Int32Array {
  if (v === undefined) return new Int32Array(channels);
  if (v instanceof Int32Array) return v;
  if (Array.isArray(v)) return Int32Array.from(v as number[], (z, i) => requireInteger(`${name}[${i}]`, z, -(2 ** 31), 2 ** 31 - 1));
  throw typeError(name, 'an Int32Array or number[] (one zero point per channel)', v);
}

/** Validates the parameters against a tensor of `length` elements. */
function resolve(p: Record<string, unknown>, dtype: QuantDtype, length: number): Resolved {
  const [qmin, qmax] = resolveRange(p, dtype);
  if (typeof p.scale === 'number') {
    const scale = requireScale('scale', p.scale);
    const zeroPoint = p.zeroPoint === undefined ? 0 : requireInteger('zeroPoint', p.zeroPoint, qmin, qmax);
    if (p.axis !== undefined) throw typeError('scale', 'a Float32Array of per-channel scales when axis is given', p.scale);
    return { qmin, qmax, perChannel: false, scale, zeroPoint, scales: EMPTY_F32, zeroPoints: EMPTY_I32, outer: 0, channels: 0, inner: 0 };
  }
  const scales = toF32('scale', p.scale);
  if (!Array.isArray(p.shape)) throw typeError('shape', 'an array of dimensions (per-channel)', p.shape);
  const shape = p.shape as unknown[];
  const rank = shape.length;
  if (rank === 0) throw rangeError('shape', 'at least one dimension (per-channel)', p.shape);
  let total = 1;
  for (let i = 0; i < rank; i++) total *= requireDim(`shape[${i}]`, shape[i]);
  if (total !== length) throw rangeError('shape', `dimensions whose product is the input length ${length}`, `[${shape.join(', ')}]` as unknown);
  const axisIn = requireInteger('axis', p.axis, -rank, rank - 1);
  const axis = axisIn < 0 ? axisIn + rank : axisIn;
  const channels = shape[axis] as number;
  if (channels < 1) throw rangeError(`shape[${axis}]`, 'at least one channel (shape[axis] >= 1)', channels);
  if (scales.length !== channels) throw rangeError('scale', `length ${channels} (shape[${axis}])`, scales);
  const zeroPoints = toI32('zeroPoint', p.zeroPoint, channels);
  if (zeroPoints.length !== channels) throw rangeError('zeroPoint', `length ${channels} (shape[${axis}])`, zeroPoints);
  requireScales('scale', scales);
  for (let c = 0; c < channels; c++) {
    const z = zeroPoints[c]!;
    if (z < qmin || z > qmax) throw rangeError(`zeroPoint[${c}]`, `an integer in [${qmin}, ${qmax}]`, z);
  }
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i] as number;
  let inner = 1;
  for (let i = axis + 1; i < rank; i++) inner *= shape[i] as number;
  return { qmin, qmax, perChannel: true, scale: 0, zeroPoint: 0, scales, zeroPoints, outer, channels, inner };
}

/**
 * Quantizes float32 values to int8 or uint8, per tensor (`scale: number`) or per channel (`scale: Float32Array`
 * with `axis` and `shape`). Bit-identical to `torch.quantize_per_tensor` / `torch.quantize_per_channel`; NaN maps
 * to the zero point, +Infinity to quantMax and -Infinity to quantMin.
 * @param out optional output of the dtype's array type and the same length, not sharing memory with x; written
 * and returned.
 * @example
 * quantize(new Float32Array([0.1, -0.25, 3]), { scale: 0.02 })                      // Int8Array [5, -12, 127]
 * quantize(new Float32Array([0.1, -0.25]), { scale: 0.02, zeroPoint: 128, dtype: 'uint8' }) // Uint8Array [133, 116] (-12.5 ties to even)
 */
export function quantize<D extends QuantDtype = 'int8'>(
  x: Float32Array,
  params: QuantParams<D>,
  out?: QuantArrayOf<D>,
): QuantArrayOf<D> {
  if (!(x instanceof Float32Array)) throw typeError('x', 'a Float32Array', x);
  const p = requireObject('params', params);
  const dtype = p.dtype === undefined ? 'int8' : requireOneOf('dtype', p.dtype, DTYPES);
  const r = resolve(p, dtype, x.length);
  let o: Int8Array | Uint8Array;
  if (out === undefined) o = dtype === 'int8' ? newOutput(Int8Array, x.length) : newOutput(Uint8Array, x.length);
  else {
    const want = dtype === 'int8' ? Int8Array : Uint8Array;
    if (!(out instanceof want)) throw typeError('out', `a ${want.name} (dtype '${dtype}')`, out);
    if (out.length !== x.length) throw rangeError('out', `length ${x.length} (x.length)`, out);
    requireDisjoint('out', out, [['x', x], ['scale', r.perChannel ? r.scales : null], ['zeroPoint', r.perChannel ? r.zeroPoints : null]]);
    o = out;
  }
  if (r.perChannel) native.quantizePerChannel(x, o, r.scales, r.zeroPoints, r.outer, r.channels, r.inner, r.qmin, r.qmax);
  else native.quantize(x, o, r.scale, r.zeroPoint, r.qmin, r.qmax);
  return o as QuantArrayOf<D>;
}

/**
 * Dequantizes int8 or uint8 values: `(q - zeroPoint) * scale`, the exact integer difference times the float32
 * scale with one rounding. The dtype follows `q`'s type (a `dtype` in `params` must agree).
 * @example
 * dequantize(new Int8Array([5, -12, 127]), { scale: 0.02 }) // Float32Array [0.1, -0.24, 2.54] (float32 values)
 */
export function dequantize(q: Int8Array | Uint8Array, params: QuantParams, out?: Float32Array): Float32Array {
  let dtype: QuantDtype;
  if (q instanceof Int8Array) dtype = 'int8';
  else if (q instanceof Uint8Array) dtype = 'uint8';
  else throw typeError('q', 'an Int8Array or Uint8Array', q);
  const p = requireObject('params', params);
  if (p.dtype !== undefined && requireOneOf('dtype', p.dtype, DTYPES) !== dtype)
    throw typeError('q', `a ${p.dtype === 'int8' ? 'Int8Array' : 'Uint8Array'} (params.dtype '${String(p.dtype)}')`, q);
  const r = resolve(p, dtype, q.length);
  let o = out;
  if (o === undefined) o = newOutput(Float32Array, q.length);
  else {
    if (!(o instanceof Float32Array)) throw typeError('out', 'a Float32Array', o);
    if (o.length !== q.length) throw rangeError('out', `length ${q.length} (q.length)`, o);
    requireDisjoint('out', o, [['q', q], ['scale', r.perChannel ? r.scales : null], ['zeroPoint', r.perChannel ? r.zeroPoints : null]]);
  }
  if (r.perChannel) native.dequantizePerChannel(q, o, r.scales, r.zeroPoints, r.outer, r.channels, r.inner);
  else native.dequantize(q, o, r.scale, r.zeroPoint);
  return o;
}

/** True when `params` describes per-channel quantization (a scale array). */
export function isPerChannel(params: QuantParams): params is PerChannelParams {
  return isObject(params) && typeof params.scale !== 'number';
}
