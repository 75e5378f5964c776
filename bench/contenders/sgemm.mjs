// Baseline: the package's own float32 GEMM (sgemm) on the same shapes, the float reference for the INT8 rows
// (GFLOPS, and the int8 / float speedup in the summary). The operands are the GEMM's integer inputs minus their
// zero points, as float32; its float32 output is checked within 1e-4 (relative to the largest value) of the exact
// int32 rows, the same check as oneDNN's float32 rows. The linearDynamic rows (x times the scaled weights, without
// the bias or the quantization) are not compared.
import { qkernels } from './qkernels.mjs';

const operands = new WeakMap();

/**
 * The float32 operands of a GEMM case, A - aZeroPoint and B - bZeroPoint (exact), made once per case's data and
 * shared with oneDNN's float32 rows.
 * @returns {{ a: Float32Array, b: Float32Array }}
 */
export function floatOperands(d) {
  if (!operands.has(d))
    operands.set(d, { a: Float32Array.from(d.a, (v) => v - d.aZeroPoint), b: Float32Array.from(d.b, (v) => v - d.bZeroPoint) });
  return operands.get(d);
}

function runner(a, b, s, ctx, out, compare) {
  const q = qkernels();
  const o = { m: s.m, n: s.n, k: s.k };
  return {
    fn: () => q.sgemm(a, b, o, out),
    output: () => out,
    compare,
    peak: 'vfmadd231ps',
    unit: 'GFLOPS',
    enter: () => q.setNumThreads(ctx.threads),
    exit: () => q.setNumThreads(0),
  };
}

/** @type {import('./index.mjs').Contender} */
export default {
  id: 'sgemm',
  kind: 'baseline',
  label: () => 'qkernels sgemm (float32)',
  description: "the package's float32 sgemm on the same shapes (FMA kernels, same thread count)",
  async load() {
    qkernels();
    return { version: 'float32' };
  },
  ops: {
    'gemm-s32'(d, _out, _v, s, ctx) {
      const { a, b } = floatOperands(d);
      return runner(a, b, s, ctx, qkernels().alignedArray(Float32Array, s.m * s.n), 1e-4);
    },
    linearDynamic(d, _out, _v, s, ctx) {
      const w = new Float32Array(d.w.length);
      for (let p = 0, i = 0; p < s.k; p++) for (let j = 0; j < s.n; j++, i++) w[i] = d.w[i] * d.bScale[j];
      return runner(d.x, w, s, ctx, qkernels().alignedArray(Float32Array, s.m * s.n), false); // no bias, no quantization: not comparable
    },
  },
};
