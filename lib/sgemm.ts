// Float32 GEMM: C = A x B with the same conventions as int8Gemm (row-major, m x k times k x n, or B given as n x k
// with transB). The in-package baseline for INT8 speedups, and a float matmul for training in the examples.
//
// Accuracy: each tier sums in float32 (FMA on the SIMD tiers, blocked over k), so results are close to but not
// bit-identical across tiers; for one tier they are deterministic and identical for any thread count.
import { newOutput } from './aligned';
import { native } from './native';
import { MAX_GEMM_DIM, rangeError, requireBoolean, requireDim, requireObject, settleInto, typeError } from './validate';

export interface SgemmOptions {
  /** Rows of A and C. */
  m: number;
  /** Columns of B and C. */
  n: number;
  /** Columns of A, rows of B (the inner dimension). */
  k: number;
  /** `b` is n x k row-major (PyTorch's Linear weight layout) instead of k x n. Default false. */
  transB?: boolean;
}

type NativeArgs = Parameters<typeof native.sgemm>;

function prepare(a: unknown, b: unknown, options: unknown, out: unknown): NativeArgs {
  if (!(a instanceof Float32Array)) throw typeError('a', 'a Float32Array', a);
  if (!(b instanceof Float32Array)) throw typeError('b', 'a Float32Array', b);
  const o = requireObject('options', options);
  const m = requireDim('m', o.m, 0, MAX_GEMM_DIM);
  const n = requireDim('n', o.n, 0, MAX_GEMM_DIM);
  const k = requireDim('k', o.k, 0, MAX_GEMM_DIM);
  const transB = requireBoolean('transB', o.transB);
  if (a.length !== m * k) throw rangeError('a', `length ${m * k} (m * k = ${m} * ${k})`, a);
  if (b.length !== k * n) throw rangeError('b', `length ${k * n} (k * n = ${k} * ${n}${transB ? ', transB' : ''})`, b);
  let c: Float32Array;
  if (out === undefined) c = newOutput(Float32Array, m * n);
  else {
    if (!(out instanceof Float32Array)) throw typeError('out', 'a Float32Array', out);
    if (out.length !== m * n) throw rangeError('out', `length ${m * n} (m * n = ${m} * ${n})`, out);
    c = out;
  }
  return [a, b, m, n, k, transB, c];
}

/**
 * Float32 matrix product C = A x B: A is m x k, B is k x n (or n x k with `transB`), C is m x n, all row-major.
 * SIMD micro-kernels (FMA) on every tier, blocked for the caches and split over the threads (`setNumThreads`).
 * Results agree with a float64 product to within the usual float32 bound (about k * 2^-24 * sum |a||b| per
 * element), are deterministic for the active tier and do not depend on the thread count. NaN and infinities
 * propagate. `out` may share memory with `a` or `b`.
 * @param out optional Float32Array of length m * n; overwritten and returned.
 * @example
 * sgemm(new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8]), { m: 2, n: 2, k: 2 })
 * // Float32Array [19, 22, 43, 50]
 * sgemm(x, weight, { m: batch, n: outFeatures, k: inFeatures, transB: true })  // x @ weight.T
 */
export function sgemm(a: Float32Array, b: Float32Array, options: SgemmOptions, out?: Float32Array): Float32Array {
  const args = prepare(a, b, options, out);
  native.sgemm(...args);
  return args[6];
}

/**
 * `sgemm` on a worker thread of the libuv pool: resolves with the output once it is written (the same values as
 * `sgemm`). The inputs must not be modified, nor their buffers transferred or detached, until then (as with
 * `int8GemmAsync`: their memory is kept alive, a transferred `out` rejects, resizable ArrayBuffers are refused).
 * Bad arguments reject with the errors `sgemm` throws. The ISA tier and thread count are those active at the call.
 * @example
 * const c = await sgemmAsync(a, b, { m: 512, n: 512, k: 512 })
 */
export async function sgemmAsync(a: Float32Array, b: Float32Array, options: SgemmOptions, out?: Float32Array): Promise<Float32Array> {
  const args = prepare(a, b, options, out);
  return settleInto('sgemmAsync', [['a', a], ['b', b]], args[6], () => native.sgemmAsync(...args));
}
