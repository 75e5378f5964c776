// INT8 GEMM: exact u8/s8 matrix products with zero points, fused float or requantized outputs, packed weights,
// threads and async.
//
//   C[i][j] = sum_p (a[i][p] - aZeroPoint) * (b[p][j] - bZeroPoint[j])            exact, modulo 2^32
//   'float32':      y = float(C) * (aScale * bScale[j]) + bias[j]   (then relu)   float32 arithmetic
//   'int8'/'uint8': q = clamp(nearbyint(y * (1 / outScale)) + outZeroPoint)    quantize's rule; relu clamps at
//                                                                                the output zero point
import { newOutput } from './aligned';
import { native } from './native';
import { MAX_GEMM_DIM, rangeError, requireBoolean, requireDim, requireDisjoint, requireInteger, requireObject, requireOneOf, requireScale, requireScales, settleInto, typeError, type NamedInputs } from './validate';

export type GemmOutput = 'int32' | 'float32' | 'int8' | 'uint8';
export type GemmOutputArray<O extends GemmOutput> = O extends 'float32'
  ? Float32Array
  : O extends 'int8'
    ? Int8Array
    : O extends 'uint8'
      ? Uint8Array
      : Int32Array;

const OUTPUTS: readonly GemmOutput[] = ['int32', 'float32', 'int8', 'uint8'];
const MODE: Record<GemmOutput, number> = { int32: 0, float32: 1, int8: 2, uint8: 3 };
const OUT_CTOR = { int32: Int32Array, float32: Float32Array, int8: Int8Array, uint8: Uint8Array } as const;

const handles = new WeakMap<PackedMatrix, unknown>();
// Only packB makes packed matrices: a constructor call without this token throws (a PackedMatrix with no native
// handle would otherwise pass every instanceof check and fail in the addon with a confusing message).
const PACK_TOKEN: unique symbol = Symbol('qkernels.packB');

/**
 * A B matrix packed once for reuse across calls (`packB`): the layout every tier's micro-kernel reads, plus the
 * column sums the zero-point terms need. Gives results bit-identical to passing the unpacked matrix. Safe to
 * share between concurrent async calls. Opaque: only its shape is readable.
 */
export class PackedMatrix {
  /** Rows of B (the inner dimension). */
  readonly k: number;
  /** Columns of B (the output width). */
  readonly n: number;
  /** The element type B was packed from. */
  readonly dtype: 'int8' | 'uint8';
  /** Not for direct use: packed matrices come from `packB` (anything else throws a TypeError). */
  constructor(token: typeof PACK_TOKEN, handle: unknown, k: number, n: number, dtype: 'int8' | 'uint8') {
    if (token !== PACK_TOKEN) throw typeError('PackedMatrix', 'a call of packB() (the constructor is not public)', token);
    handles.set(this, handle);
    this.k = k;
    this.n = n;
    this.dtype = dtype;
    Object.freeze(this);
  }
}

export interface PackOptions {
  k: number;
  n: number;
  /** `b` is n x k row-major (PyTorch's Linear weight layout) instead of k x n. */
  transB?: boolean;
  /** Optional check: must agree with b's array type. */
  dtype?: 'int8' | 'uint8';
}

function byteMatrix(name: string, v: unknown): 'int8' | 'uint8' {
  if (v instanceof Int8Array) return 'int8';
  if (v instanceof Uint8Array) return 'uint8';
  throw typeError(name, 'an Int8Array or Uint8Array', v);
}

/**
 * Packs B for repeated products, for the active tier, now (on the GEMM threads). The packed matrix holds only
 * that packing (about k x n bytes; `b` itself is neither kept nor referenced, so it may be reused or freed). After
 * `setIsa`, the first product under another tier rebuilds B from the packing and packs it for that tier too, so
 * `setIsa` never makes it stale; under the scalar tier it keeps the rebuilt values.
 * @example
 * const w = new Int8Array(4096 * 4096)                       // PyTorch Linear weight, out x in
 * const pw = packB(w, { k: 4096, n: 4096, transB: true })
 * const y = int8Gemm(x, pw, { m: 1, n: 4096, k: 4096 })
 */
export function packB(b: Int8Array | Uint8Array, options: PackOptions): PackedMatrix {
  const dtype = byteMatrix('b', b);
  const o = requireObject('options', options);
  const k = requireDim('k', o.k, 1, MAX_GEMM_DIM);
  const n = requireDim('n', o.n, 1, MAX_GEMM_DIM);
  const transB = requireBoolean('transB', o.transB);
  if (o.dtype !== undefined && requireOneOf('dtype', o.dtype, ['int8', 'uint8'] as const) !== dtype)
    throw typeError('b', `a ${o.dtype === 'int8' ? 'Int8Array' : 'Uint8Array'} (dtype '${String(o.dtype)}')`, b);
  if (b.length !== k * n) throw rangeError('b', `length ${k * n} (k * n)`, b);
  return new PackedMatrix(PACK_TOKEN, native.packB(b, k, n, transB), k, n, dtype);
}

/** What every output mode takes: the shape, B's layout and the zero points. */
export interface GemmShapeOptions {
  m: number;
  n: number;
  k: number;
  /** b is n x k row-major (ignored for a packed b, which carries its layout). */
  transB?: boolean;
  /** Subtracted from every element of a; an integer in a's dtype range. Default 0. */
  aZeroPoint?: number;
  /** Subtracted from b, one value or one per column (length n); integers in b's dtype range. Default 0. */
  bZeroPoint?: number | Int32Array;
}

/** `output: 'int32'` (the default): the exact sums, so none of the scaling options apply (a TypeError if given). */
export interface Int32GemmOptions extends GemmShapeOptions {
  output?: 'int32';
  aScale?: never;
  bScale?: never;
  bias?: never;
  relu?: never;
  outScale?: never;
  outZeroPoint?: never;
}

/** The options of the scaled outputs ('float32', 'int8', 'uint8'). */
export interface GemmScaleOptions {
  /** Scale of a. */
  aScale: number;
  /** Scale of b, one value or one per column (length n). */
  bScale: number | Float32Array;
  /** Added per column after scaling (length n). */
  bias?: Float32Array;
  /** max(y, 0) after the bias (for quantized outputs: clamp at outZeroPoint). */
  relu?: boolean;
}

/** `output: 'float32'`: `C * aScale * bScale[j] + bias[j]`, optionally relu. */
export interface Float32GemmOptions extends GemmShapeOptions, GemmScaleOptions {
  output: 'float32';
  outScale?: never;
  outZeroPoint?: never;
}

/** `output: 'int8' | 'uint8'`: the float32 value requantized with outScale and outZeroPoint. */
export interface QuantizedGemmOptions<O extends 'int8' | 'uint8' = 'int8' | 'uint8'> extends GemmShapeOptions, GemmScaleOptions {
  output: O;
  /** Output scale. */
  outScale: number;
  /** Output zero point, in the output dtype's range; default 0. */
  outZeroPoint?: number;
}

/**
 * The options of `int8Gemm` for output `O`: the type only admits the options that output uses (the runtime checks
 * the same rules, with a TypeError naming the option). `GemmOptions` (all outputs) is the union of the four.
 */
export type GemmOptions<O extends GemmOutput = GemmOutput> = O extends 'int32'
  ? Int32GemmOptions
  : O extends 'float32'
    ? Float32GemmOptions
    : O extends 'int8' | 'uint8'
      ? QuantizedGemmOptions<O>
      : never;

const DTYPE_RANGE = { int8: [-128, 127], uint8: [0, 255] } as const;

type NativeArgs = Parameters<typeof native.gemm>;

/** B's zero point: 0 when absent, a number, or an Int32Array of one per column; each in b's dtype range. */
function columnZeroPoint(v: unknown, n: number, bType: 'int8' | 'uint8'): number | Int32Array {
  const [blo, bhi] = DTYPE_RANGE[bType];
  if (v === undefined) return 0;
  if (typeof v === 'number') return requireInteger('bZeroPoint', v, blo, bhi);
  if (!(v instanceof Int32Array)) throw typeError('bZeroPoint', 'a number or an Int32Array (one per column)', v);
  if (v.length !== n) throw rangeError('bZeroPoint', `length ${n} (n)`, v);
  for (let j = 0; j < n; j++) {
    const z = v[j]!;
    if (z < blo || z > bhi) throw rangeError(`bZeroPoint[${j}]`, `an integer in [${blo}, ${bhi}]`, z);
  }
  return v;
}

/** B's scale: a number, or a Float32Array of one per column; each a valid scale. */
function columnScale(v: unknown, n: number): number | Float32Array {
  if (typeof v === 'number') return requireScale('bScale', v);
  if (!(v instanceof Float32Array)) throw typeError('bScale', 'a number or a Float32Array (one per column)', v);
  if (v.length !== n) throw rangeError('bScale', `length ${n} (n)`, v);
  requireScales('bScale', v);
  return v;
}

/** The optional per-column bias: null when absent, else a Float32Array of length n. */
function columnBias(v: unknown, n: number): Float32Array | null {
  if (v === undefined) return null;
  if (!(v instanceof Float32Array)) throw typeError('bias', 'a Float32Array', v);
  if (v.length !== n) throw rangeError('bias', `length ${n} (n)`, v);
  return v;
}

function prepare(a: unknown, b: unknown, options: unknown, out: unknown): { args: NativeArgs; out: Int32Array | Float32Array | Int8Array | Uint8Array; inputs: NamedInputs } {
  const aType = byteMatrix('a', a);
  const o = requireObject('options', options);
  const m = requireDim('m', o.m, 0, MAX_GEMM_DIM);
  const n = requireDim('n', o.n, 0, MAX_GEMM_DIM);
  const k = requireDim('k', o.k, 0, MAX_GEMM_DIM);
  const transB = requireBoolean('transB', o.transB);
  const relu = requireBoolean('relu', o.relu);
  const A = a as Int8Array | Uint8Array;
  if (A.length !== m * k) throw rangeError('a', `length ${m * k} (m * k)`, A);
  let bArray: Int8Array | Uint8Array | null = null;
  let handle: unknown = null;
  let bType: 'int8' | 'uint8';
  if (b instanceof PackedMatrix) {
    if (b.k !== k || b.n !== n) throw rangeError('b', `a packed matrix of k x n = ${k} x ${n}`, `packed ${b.k} x ${b.n}` as unknown);
    handle = handles.get(b);
    bType = b.dtype;
  } else {
    if (!(b instanceof Int8Array) && !(b instanceof Uint8Array)) throw typeError('b', 'an Int8Array, Uint8Array or a packB() matrix', b);
    bType = byteMatrix('b', b);
    if (b.length !== k * n) throw rangeError('b', `length ${k * n} (k * n)`, b);
    bArray = b;
  }
  const output: GemmOutput = o.output === undefined ? 'int32' : requireOneOf('output', o.output, OUTPUTS);
  const [alo, ahi] = DTYPE_RANGE[aType];
  // Broadcast values go to the addon as numbers (a one-element typed array per call costs about a microsecond).
  const za = o.aZeroPoint === undefined ? 0 : requireInteger('aZeroPoint', o.aZeroPoint, alo, ahi);
  const zb = columnZeroPoint(o.bZeroPoint, n, bType);

  let aScale: number | null = null;
  let bScale: number | Float32Array | null = null;
  let bias: Float32Array | null = null;
  let outScale = 1;
  let outZeroPoint = 0;
  if (output !== 'int32') {
    if (o.aScale === undefined) throw typeError('aScale', `a number (required for output '${output}')`, o.aScale);
    aScale = requireScale('aScale', o.aScale);
    if (o.bScale === undefined) throw typeError('bScale', `a number or Float32Array (required for output '${output}')`, o.bScale);
    bScale = columnScale(o.bScale, n);
    bias = columnBias(o.bias, n);
    if (output === 'float32') {
      for (const key of ['outScale', 'outZeroPoint'] as const)
        if (o[key] !== undefined) throw typeError(key, `nothing for output 'float32' (it applies to 'int8' and 'uint8')`, o[key]);
    } else {
      if (o.outScale === undefined) throw typeError('outScale', `a number (required for output '${output}')`, o.outScale);
      outScale = requireScale('outScale', o.outScale);
      const [olo, ohi] = DTYPE_RANGE[output];
      outZeroPoint = o.outZeroPoint === undefined ? 0 : requireInteger('outZeroPoint', o.outZeroPoint, olo, ohi);
    }
  } else {
    for (const key of ['aScale', 'bScale', 'bias', 'outScale', 'outZeroPoint'] as const)
      if (o[key] !== undefined) throw typeError(key, `nothing for output 'int32' (set output to 'float32', 'int8' or 'uint8')`, o[key]);
    if (relu) throw typeError('relu', `nothing for output 'int32' (set output to 'float32', 'int8' or 'uint8')`, o.relu);
  }
  const inputs: NamedInputs = [['a', A], ['b', bArray], ['bZeroPoint', typeof zb === 'number' ? null : zb], ['bScale', typeof bScale === 'number' ? null : bScale], ['bias', bias]];
  const Ctor = OUT_CTOR[output];
  let C: Int32Array | Float32Array | Int8Array | Uint8Array;
  if (out === undefined) C = newOutput<Int32Array | Float32Array | Int8Array | Uint8Array>(Ctor, m * n);
  else {
    if (!(out instanceof Ctor)) throw typeError('out', `a ${Ctor.name} (output '${output}')`, out);
    if (out.length !== m * n) throw rangeError('out', `length ${m * n} (m * n)`, out);
    requireDisjoint('out', out, inputs);
    C = out;
  }
  const args: NativeArgs = [A, bArray, handle, m, n, k, transB, za, zb, MODE[output], aScale, bScale, bias, relu, outScale, outZeroPoint, C];
  return { args, out: C, inputs };
}

/**
 * INT8 matrix product C = (A - aZeroPoint) x (B - bZeroPoint), A m x k, B k x n (or n x k with `transB`, or a
 * `packB` matrix); int8 or uint8 operands in any combination. Exact int32 output (modulo 2^32), or fused
 * float32 / requantized int8 / uint8 output. Identical results on every ISA tier and for any thread count.
 * @example
 * const c = int8Gemm(new Int8Array([1, 2, 3, 4]), new Int8Array([5, 6, 7, 8]), { m: 2, n: 2, k: 2 })
 * // Int32Array [19, 22, 43, 50]
 */
export function int8Gemm(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: Int32GemmOptions, out?: Int32Array): Int32Array;
export function int8Gemm(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: Float32GemmOptions, out?: Float32Array): Float32Array;
export function int8Gemm(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: QuantizedGemmOptions<'int8'>, out?: Int8Array): Int8Array;
export function int8Gemm(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: QuantizedGemmOptions<'uint8'>, out?: Uint8Array): Uint8Array;
/** The output type `O` given explicitly, or by a generic caller. */
export function int8Gemm<O extends GemmOutput>(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: GemmOptions<O>, out?: GemmOutputArray<O>): GemmOutputArray<O>;
/** Options whose output is a union (no `out`: its type would depend on the output): the union of the arrays. */
export function int8Gemm(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: GemmOptions): GemmOutputArray<GemmOutput>;
export function int8Gemm(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: GemmOptions, out?: GemmOutputArray<GemmOutput>): GemmOutputArray<GemmOutput> {
  const p = prepare(a, b, options, out);
  native.gemm(...p.args);
  return p.out;
}

/**
 * `int8Gemm` off the main thread: resolves with the output when done; the event loop stays responsive. The
 * arrays' memory is kept alive until then, even if their buffers are transferred meanwhile, but do not modify,
 * transfer or detach them before it settles: inputs changed meanwhile give unspecified results, and a
 * transferred `out` rejects (its results are lost). Arrays over resizable ArrayBuffers are refused (TypeError).
 * Bad input rejects. The ISA tier is the one active at the call.
 */
export function int8GemmAsync(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: Int32GemmOptions, out?: Int32Array): Promise<Int32Array>;
export function int8GemmAsync(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: Float32GemmOptions, out?: Float32Array): Promise<Float32Array>;
export function int8GemmAsync(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: QuantizedGemmOptions<'int8'>, out?: Int8Array): Promise<Int8Array>;
export function int8GemmAsync(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: QuantizedGemmOptions<'uint8'>, out?: Uint8Array): Promise<Uint8Array>;
/** The output type `O` given explicitly, or by a generic caller. */
export function int8GemmAsync<O extends GemmOutput>(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: GemmOptions<O>, out?: GemmOutputArray<O>): Promise<GemmOutputArray<O>>;
/** Options whose output is a union (no `out`: its type would depend on the output): the union of the arrays. */
export function int8GemmAsync(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: GemmOptions): Promise<GemmOutputArray<GemmOutput>>;
export async function int8GemmAsync(a: Int8Array | Uint8Array, b: Int8Array | Uint8Array | PackedMatrix, options: GemmOptions, out?: GemmOutputArray<GemmOutput>): Promise<GemmOutputArray<GemmOutput>> {
  const p = prepare(a, b, options, out);
  return settleInto('int8GemmAsync', p.inputs, p.out, () => native.gemmAsync(...p.args));
}

/** Threads one large call may use (default: the available parallelism). `setNumThreads(0)` restores the default. */
export function setNumThreads(threads: number): void {
  native.setNumThreads(requireInteger('threads', threads, 0, 256));
}

/** The thread count calls use now. */
export function getNumThreads(): number {
  return native.getNumThreads();
}


export interface LinearDynamicOptions {
  /** Rows of x (tokens / batch). */
  m: number;
  /** Weight scale, one value or one per output column (length n). */
  bScale: number | Float32Array;
  /** Added per output column (length n). */
  bias?: Float32Array;
  relu?: boolean;
  /**
   * The weights' zero point, one value or one per output column (length n), in the packed dtype's range.
   * Default 0 (symmetric int8 weights, PyTorch's qint8); uint8 weights usually have 128.
   */
  bZeroPoint?: number | Int32Array;
  /**
   * How each row of x is quantized. 'uint8' (default): affine, the row's range (widened to include 0) over 255
   * levels, with a zero point (ONNX Runtime's DynamicQuantizeLinear, PyTorch's dynamic Linear). 'int8': symmetric,
   * scale max|x| / 127.5 and zero point 0 (PyTorch's symmetric qint8 rule, what `calibrate(row, { symmetric: true })`
   * gives), as W8A8 schemes with symmetric activations use.
   */
  dtype?: 'uint8' | 'int8';
}

function prepareLinear(x: unknown, w: unknown, options: unknown, out: unknown): [Parameters<typeof native.linearDynamic>, Float32Array, NamedInputs] {
  if (!(x instanceof Float32Array)) throw typeError('x', 'a Float32Array', x);
  if (!(w instanceof PackedMatrix)) throw typeError('w', 'a packed weight matrix from packB()', w);
  const o = requireObject('options', options);
  const m = requireDim('m', o.m, 0, MAX_GEMM_DIM);
  const { k, n } = w;
  const relu = requireBoolean('relu', o.relu);
  const zb = columnZeroPoint(o.bZeroPoint, n, w.dtype);
  if (x.length !== m * k) throw rangeError('x', `length ${m * k} (m * k)`, x);
  const bScale = columnScale(o.bScale, n);
  const bias = columnBias(o.bias, n);
  const inputs: NamedInputs = [['x', x], ['bScale', typeof bScale === 'number' ? null : bScale], ['bias', bias], ['bZeroPoint', typeof zb === 'number' ? null : zb]];
  let y: Float32Array;
  if (out === undefined) y = newOutput(Float32Array, m * n);
  else {
    if (!(out instanceof Float32Array)) throw typeError('out', 'a Float32Array', out);
    if (out.length !== m * n) throw rangeError('out', `length ${m * n} (m * n)`, out);
    requireDisjoint('out', out, inputs);
    y = out;
  }
  const dtype = o.dtype === undefined ? 'uint8' : requireOneOf('dtype', o.dtype, ['uint8', 'int8'] as const);
  return [[x, handles.get(w), m, n, k, bScale, bias, relu, y, dtype === 'int8', zb], y, inputs];
}

/**
 * The dynamic-quantization linear layer (ONNX Runtime's DynamicQuantizeMatMul, PyTorch's dynamic Linear):
 * each row of x is quantized to uint8 with its own scale and zero point (its range, widened to include 0, over
 * 255 levels; or, with `dtype: 'int8'`, symmetric int8 with scale max|x| / 127.5), multiplied by the packed
 * weights (int8 or uint8, minus `bZeroPoint`), and dequantized with the weight scales; plus bias. Float32 in,
 * float32 out (m x n). Each row's result is exactly `int8Gemm` of that row quantized with those parameters
 * (float32 output). Every value of x must be finite: a row holding NaN or ±Infinity has no range to quantize
 * by, and the call throws (or rejects with) a RangeError naming the row.
 * @example
 * const pw = packB(wInt8, { k: 4096, n: 4096, transB: true })     // quantized PyTorch Linear weight
 * const y = linearDynamic(x, pw, { m: 128, bScale: wScales, bias }) // x: Float32Array 128 x 4096
 */
export function linearDynamic(x: Float32Array, w: PackedMatrix, options: LinearDynamicOptions, out?: Float32Array): Float32Array {
  const [args, y] = prepareLinear(x, w, options, out);
  native.linearDynamic(...args);
  return y;
}

/**
 * `linearDynamic` off the main thread; resolves with the output. As with `int8GemmAsync`, the arrays must stay
 * untouched (not written, transferred or detached) until it settles, and resizable ArrayBuffers are refused;
 * bad input (a non-finite row too) rejects.
 */
export async function linearDynamicAsync(x: Float32Array, w: PackedMatrix, options: LinearDynamicOptions, out?: Float32Array): Promise<Float32Array> {
  const [args, y, inputs] = prepareLinear(x, w, options, out);
  return settleInto('linearDynamicAsync', inputs, y, () => native.linearDynamicAsync(...args));
}
