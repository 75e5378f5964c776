// Baseline for linearDynamic: int8Gemm with float32 output on the same packed weights, with the activations
// quantized to u8 (per tensor) before the timed call: the GEMM part of linearDynamic alone. The target is
// linearDynamic within 10% of this at 128x4096x4096.
import { qkernels } from './qkernels.mjs';

/** @type {import('./index.mjs').Contender} */
export default {
  id: 'int8Gemm',
  kind: 'baseline',
  label: () => 'int8Gemm f32 out, same packed W',
  description: 'int8Gemm (float32 output) on the same packed weights, activations quantized outside the timed call',
  async load() {
    qkernels();
    return { version: 'same build' };
  },
  ops: {
    linearDynamic(d, _out, _v, s, ctx) {
      const q = qkernels();
      const w = q.packB(d.w, { k: s.k, n: s.n });
      let lo = 0;
      let hi = 0;
      for (const v of d.x) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const aScale = Math.fround((hi - lo) / 255);
      const aZeroPoint = Math.min(255, Math.max(0, Math.round(-lo / aScale)));
      const a = q.quantize(d.x, { scale: aScale, zeroPoint: aZeroPoint, dtype: 'uint8' });
      const o = { m: s.m, n: s.n, k: s.k, aZeroPoint, output: 'float32', aScale, bScale: d.bScale, bias: d.bias };
      const out = new Float32Array(s.m * s.n);
      return {
        fn: () => q.int8Gemm(a, w, o, out),
        output: () => out,
        compare: 0.02,
        enter: () => q.setNumThreads(ctx.threads),
        exit: () => q.setNumThreads(0),
      };
    },
  },
};
