// Scale and zero point from a range, exactly as PyTorch's observers compute them
// (torch.ao.quantization.observer.UniformQuantizationObserverBase._calculate_qparams, float32 tensors):
//
//   minNeg = min(min, 0), maxPos = max(max, 0)                                   (the range always includes 0)
//   affine:     scale = float32(float32(maxPos - minNeg) / (quantMax - quantMin)), floored at eps
//               zeroPoint = clamp(quantMin - roundHalfEven(float32(minNeg / scale)), quantMin, quantMax)
//   symmetric:  scale = float32(max(-minNeg, maxPos) / ((quantMax - quantMin) / 2)), floored at eps
//               zeroPoint = 0 (int8); 128 (uint8), or (quantMin + quantMax) >> 1 with a custom uint8 range
//
// eps = torch.finfo(torch.float32).eps = 2^-23. Each float32 operation is one IEEE float32 rounding; in JS the
// double result of +, -, / on float32 operands rounded with Math.fround is that same rounding.
import { rangeError } from '../validate';
import { rangeErrorText, resolveOptions, type ResolvedOptions } from './options';

export const FLOAT32_EPS = 2 ** -23;

type QRange = Pick<ResolvedOptions, 'dtype' | 'symmetric' | 'quantMin' | 'quantMax' | 'customRange'>;

/** Round half to even (torch.round, numpy.rint) of a double. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The symmetric zero point of a range. */
export function symmetricZeroPoint(r: QRange): number {
  if (r.dtype === 'int8') return 0;
  return r.customRange ? Math.floor((r.quantMin + r.quantMax) / 2) : 128;
}

/**
 * [scale, zeroPoint] for the float32 range [min, max] (min <= max). Throws a RangeError when the scale overflows
 * float32 (a range wider than about 8.7e40 / 2^8 cannot be quantized).
 */
export function qparamsOf(min: number, max: number, r: QRange, what = 'range'): [number, number] {
  const f = Math.fround;
  const minNeg = Math.min(f(min), 0);
  const maxPos = Math.max(f(max), 0);
  const { quantMin: qmin, quantMax: qmax } = r;
  let scale: number;
  let zeroPoint: number;
  if (r.symmetric) {
    scale = f(Math.max(-minNeg, maxPos) / f((qmax - qmin) / 2));
    scale = Math.max(scale, FLOAT32_EPS);
    zeroPoint = symmetricZeroPoint(r);
  } else {
    scale = f(f(maxPos - minNeg) / (qmax - qmin));
    scale = Math.max(scale, FLOAT32_EPS);
    zeroPoint = qmin - roundHalfEven(f(minNeg / scale));
    zeroPoint = Math.min(Math.max(zeroPoint, qmin), qmax);
  }
  if (!Number.isFinite(scale)) throw rangeErrorText(what, 'a range whose scale is finite in float32', `[${min}, ${max}]`);
  return [scale, zeroPoint + 0];
}

/**
 * Scale and zero point for a range, by PyTorch's observer rule (the rule every calibration method ends with).
 * The range is widened to include 0.
 * @example
 * qparamsFromRange(-1, 2, { dtype: 'uint8' })                 // { scale: 0.011764706..., zeroPoint: 85, ... }
 * qparamsFromRange(-1, 2, { dtype: 'int8', symmetric: true }) // { scale: 0.015686275..., zeroPoint: 0, ... }
 */
export function qparamsFromRange(
  min: number,
  max: number,
  options: { dtype?: 'int8' | 'uint8'; symmetric?: boolean; reduceRange?: boolean; quantMin?: number; quantMax?: number } = {},
): { scale: number; zeroPoint: number; dtype: 'int8' | 'uint8'; quantMin: number; quantMax: number } {
  const r = resolveOptions({ ...options, method: 'minmax' });
  for (const [name, v] of [['min', min], ['max', max]] as const) {
    if (typeof v !== 'number') throw new TypeError(`qkernels: expected a number for ${name}, received ${typeof v}`);
    if (!Number.isFinite(v)) throw rangeError(name, 'a finite number', v);
  }
  if (!(min <= max)) throw rangeError('max', `a number >= min (${min})`, max);
  const [scale, zeroPoint] = qparamsOf(min, max, r);
  return { scale, zeroPoint, dtype: r.dtype, quantMin: r.quantMin, quantMax: r.quantMax };
}
