// Argument validation for the public API. Every message names the parameter, what was expected and what was
// received, in one shape: "qkernels: expected <what> for <name>, received <actual>". TypeError for a wrong type,
// RangeError for a value outside what the op accepts.

export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** A short description of a value for error messages: `Float64Array(12)`, `number 3.5`, `string "x"`. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (ArrayBuffer.isView(v)) {
    const name = v.constructor?.name ?? 'ArrayBufferView';
    return 'length' in v ? `${name}(${(v as TypedArray).length})` : name;
  }
  if (Array.isArray(v)) return `Array(${v.length})`;
  switch (typeof v) {
    case 'number':
      return `number ${v}`;
    case 'string':
      return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
    case 'bigint':
      return `bigint ${v}n`;
    case 'object':
      return `object ${v.constructor?.name ?? 'Object'}`;
    default:
      return typeof v;
  }
}

export function typeError(name: string, expected: string, actual: unknown): TypeError {
  return new TypeError(`qkernels: expected ${expected} for ${name}, received ${describe(actual)}`);
}

export function rangeError(name: string, expected: string, actual: unknown): RangeError {
  return new RangeError(`qkernels: expected ${expected} for ${name}, received ${describe(actual)}`);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

export function requireObject(name: string, v: unknown): Record<string, unknown> {
  if (!isObject(v)) throw typeError(name, 'an options object', v);
  return v;
}

export function requireInstance<T>(name: string, v: unknown, ctor: new (...a: never[]) => T, what: string): T {
  if (!(v instanceof ctor)) throw typeError(name, what, v);
  return v;
}

/** A finite number that rounds to a positive, finite float32 with a finite float32 reciprocal. */
export function requireScale(name: string, v: unknown): number {
  if (typeof v !== 'number') throw typeError(name, 'a number', v);
  const f = Math.fround(v);
  if (!(f > 0) || !Number.isFinite(f) || !Number.isFinite(Math.fround(1 / f)))
    throw rangeError(name, 'a positive finite float32 (and 1/scale finite)', v);
  return v;
}

/** Every element a valid scale (see requireScale); the error names the first bad element, e.g. `scale[3]`. */
export function requireScales(name: string, v: ArrayLike<number>): void {
  for (let i = 0; i < v.length; i++) {
    const f = Math.fround(v[i]!);
    // The fast path checks values only; the message (and its name) is built when one fails.
    if (!(f > 0 && f < Infinity && Math.fround(1 / f) < Infinity)) requireScale(`${name}[${i}]`, v[i]);
  }
}

export function requireInteger(name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number') throw typeError(name, 'a number', v);
  if (!Number.isInteger(v) || v < lo || v > hi) throw rangeError(name, `an integer in [${lo}, ${hi}]`, v);
  return v;
}

/** A non-negative safe integer dimension, at most `max`. */
export function requireDim(name: string, v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number') throw typeError(name, 'a number', v);
  if (!Number.isSafeInteger(v) || v < min || v > max)
    throw rangeError(name, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`, v);
  return v;
}

/** The largest GEMM dimension (m, n, k) the addon accepts. */
export const MAX_GEMM_DIM = 2 ** 40;

/** `undefined` (false) or a boolean; anything else is a TypeError (`transB: 1` must not mean false). */
export function requireBoolean(name: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw typeError(name, 'a boolean', v);
  return v;
}

/** True when the two views share at least one byte. */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * An output must not share memory with the inputs the kernel still reads while writing it (a GEMM reads A
 * again for every column block; an element-wise op with wider output elements would overwrite input it has not
 * read yet): a RangeError naming `name` and the input. Null inputs (absent options) are skipped.
 */
export function requireDisjoint(name: string, out: ArrayBufferView, inputs: NamedInputs): void {
  for (const [inName, v] of inputs)
    if (v && overlaps(out, v)) throw rangeError(name, `an array that does not share memory with ${inName}`, out);
}

export function requireOneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
    throw (typeof v === 'string' ? rangeError : typeError)(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, v);
  return v as T;
}

export function requireLength(name: string, v: { length: number }, length: number, why = ''): void {
  if (v.length !== length) throw rangeError(name, `length ${length}${why ? ` (${why})` : ''}`, v);
}

/** The arrays a call reads, by parameter name; absent ones (unused options, a packed B) are null. */
export type NamedInputs = [string, ArrayBufferView | null | undefined][];

/**
 * Runs an async call over `inputs` and its output `out`, resolving with `out`. The addon holds the arrays'
 * memory until the call settles, even if their buffers are detached meanwhile, but it cannot hold a resizable
 * ArrayBuffer at its size (shrinking it would free memory the worker uses): a TypeError names the first array
 * over one, before the call. After it, an `out` the caller detached (transferred) while the call ran is a
 * TypeError: its results went to memory the addon kept alive for the call and are lost. (A detached view has
 * byteLength 0; a length-tracking view over a growable SharedArrayBuffer, which only grows, may have grown.)
 */
export async function settleInto<T extends ArrayBufferView>(op: string, inputs: NamedInputs, out: T, call: () => Promise<void>): Promise<T> {
  for (const [name, v] of [...inputs, ['out', out] as const])
    if (v && (v.buffer as { resizable?: boolean }).resizable === true)
      throw typeError(name, 'an array over a fixed-length ArrayBuffer (an async call cannot keep a resizable one at its size)', v);
  const bytes = out.byteLength;
  await call();
  if (bytes !== 0 && out.byteLength === 0)
    throw new TypeError(`qkernels: out was detached while ${op} ran, so its results are lost (do not transfer an async call's arrays until it settles)`);
  return out;
}
