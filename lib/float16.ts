// FP16 (IEEE binary16) and BF16 (bfloat16) <-> float32 conversion. Halves travel as their bit patterns in a
// Uint16Array (Node 20 has no Float16Array); where the runtime has Float16Array it is accepted and returned too.
import { newOutput } from './aligned';
import { native } from './native';
import { rangeError, requireDisjoint, typeError } from './validate';

type F16ArrayCtor = { new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): ArrayLike<number> & ArrayBufferView };
const Float16ArrayCtor: F16ArrayCtor | undefined = (globalThis as { Float16Array?: F16ArrayCtor }).Float16Array;

/**
 * The runtime's `Float16Array` type where the TypeScript lib in use declares one (`lib: ["ESNext"]` with a
 * TypeScript that knows it), else `never`: a Float32Array or Int16Array never type-checks as halves.
 */
export type Float16ArrayLike = typeof globalThis extends { Float16Array: { prototype: infer P } } ? P & ArrayBufferView & ArrayLike<number> : never;

function isFloat16Array(v: unknown): v is Float16ArrayLike {
  return Float16ArrayCtor !== undefined && v instanceof Float16ArrayCtor;
}

function bitsView(v: Uint16Array | Float16ArrayLike): Uint16Array {
  if (v instanceof Uint16Array) return v;
  const f = v as ArrayBufferView & ArrayLike<number>;  // a runtime Float16Array (isFloat16Array checked it)
  return new Uint16Array(f.buffer, f.byteOffset, f.length);
}

function halfInput(name: string, h: unknown): Uint16Array {
  if (h instanceof Uint16Array) return h;
  if (isFloat16Array(h)) return bitsView(h);
  throw typeError(name, Float16ArrayCtor ? 'a Uint16Array (binary16 bits) or a Float16Array' : 'a Uint16Array of 16-bit patterns', h);
}

function floatOut(out: unknown, length: number, input: Uint16Array): Float32Array {
  if (out === undefined) return newOutput(Float32Array, length);
  if (!(out instanceof Float32Array)) throw typeError('out', 'a Float32Array', out);
  if (out.length !== length) throw rangeError('out', `length ${length} (input length)`, out);
  requireDisjoint('out', out, [['h', input]]);  // 4-byte results would overwrite halves not yet read
  return out;
}

function halfOut<O>(out: O | undefined, length: number, allowF16: boolean, input: Float32Array): [Uint16Array, O | Uint16Array] {
  if (out === undefined) {
    const o = newOutput(Uint16Array, length);
    return [o, o];
  }
  if (!(out instanceof Uint16Array) && !(allowF16 && isFloat16Array(out)))
    throw typeError('out', allowF16 && Float16ArrayCtor ? 'a Uint16Array or a Float16Array' : 'a Uint16Array', out);
  const view = bitsView(out as unknown as Uint16Array);
  if (view.length !== length) throw rangeError('out', `length ${length} (x.length)`, out);
  requireDisjoint('out', view, [['x', input]]);
  return [view, out];
}

function floatInput(x: unknown): Float32Array {
  if (!(x instanceof Float32Array)) throw typeError('x', 'a Float32Array', x);
  return x;
}

/**
 * float32 -> IEEE binary16 bits, round to nearest even; subnormals exact, overflow to Infinity, NaN stays NaN
 * with its sign. Bit-identical to numpy's `astype(float16)` for every non-NaN input.
 * @example toFloat16(new Float32Array([1, 65520, 1e-7])) // Uint16Array [0x3c00, 0x7c00, 0x0002]
 */
export function toFloat16(x: Float32Array): Uint16Array;
export function toFloat16<O extends Uint16Array | Float16ArrayLike>(x: Float32Array, out: O): O;
export function toFloat16(x: Float32Array, out?: Uint16Array | Float16ArrayLike): Uint16Array | Float16ArrayLike {
  const xs = floatInput(x);
  const [view, result] = halfOut(out, xs.length, true, xs);
  native.f32ToF16(xs, view);
  return result;
}

/**
 * IEEE binary16 bits (or a Float16Array) -> float32, exact for all 65,536 patterns.
 * @example fromFloat16(new Uint16Array([0x3c00, 0x0001])) // Float32Array [1, 5.960464477539063e-8]
 */
export function fromFloat16(h: Uint16Array | Float16ArrayLike, out?: Float32Array): Float32Array {
  const hs = halfInput('h', h);
  const o = floatOut(out, hs.length, hs);
  native.f16ToF32(hs, o);
  return o;
}

/**
 * float32 -> bfloat16 bits (the top 16 bits), round to nearest even; NaN stays NaN.
 * @example toBFloat16(new Float32Array([1, 1.00390625])) // Uint16Array [0x3f80, 0x3f80] (tie to even)
 */
export function toBFloat16(x: Float32Array, out?: Uint16Array): Uint16Array {
  const xs = floatInput(x);
  const [view] = halfOut(out, xs.length, false, xs);
  native.f32ToBf16(xs, view);
  return view;
}

/**
 * bfloat16 bits -> float32 (exact: the bits shifted into the top half).
 * @example fromBFloat16(new Uint16Array([0x3f80, 0xc000])) // Float32Array [1, -2]
 */
export function fromBFloat16(h: Uint16Array, out?: Float32Array): Float32Array {
  if (!(h instanceof Uint16Array)) throw typeError('h', 'a Uint16Array of bfloat16 bit patterns', h);
  const o = floatOut(out, h.length, h);
  native.bf16ToF32(h, o);
  return o;
}
