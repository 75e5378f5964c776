// The package under test, through its public API (the compiled dist/, as users get it), once per ISA tier: the
// tier is selected with setIsa() around each case and restored afterwards.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** @type {typeof import('../../dist/index.js') | undefined} */
let qk;

/** The compiled package (loaded on first use so a missing build gives one clear error). */
export function qkernels() {
  if (!qk) {
    try {
      qk = require('../../dist/index.js');
    } catch (err) {
      throw new Error(`cannot load ../dist/index.js (run \`npm run build\` first): ${err.message.split('\n')[0]}`);
    }
  }
  return qk;
}

/** The addon's private exports (the histogram pass has no public entry point of its own). */
function native() {
  qkernels();
  return require('../../dist/native.js').native;
}

/**
 * Wraps a call so the case runs with `tier` active (and, when `threads` is given, that many GEMM threads), and
 * the previous tier and the default thread count come back afterwards.
 */
function onTier(tier, fn, output, threads) {
  let before;
  return {
    fn,
    output,
    enter: () => {
      before = qkernels().setIsa(tier);
      if (threads) qkernels().setNumThreads(threads);
    },
    exit: () => {
      if (before !== undefined) qkernels().setIsa(before);
      before = undefined;
      if (threads) qkernels().setNumThreads(0);
    },
  };
}

/** int8Gemm with `output` ('int32', 'float32', 'int8') on packed or unpacked B. */
function gemm(d, out, tier, s, ctx, output, packed) {
  const { int8Gemm, packB } = qkernels();
  const b = packed ? packB(d.b, { k: s.k, n: s.n }) : d.b;
  const o = { m: s.m, n: s.n, k: s.k, aZeroPoint: d.aZeroPoint, bZeroPoint: d.bZeroPoint, output };
  if (output !== 'int32') Object.assign(o, { aScale: d.aScale, bScale: d.bScale, bias: d.bias });
  if (output === 'int8') Object.assign(o, { outScale: d.outScale, outZeroPoint: d.outZeroPoint });
  return onTier(
    tier,
    () => int8Gemm(d.a, b, o, out),
    () => out,
    ctx.threads,
  );
}

/**
 * A fresh calibrator per call, observing x once. Output (checked, not timed): compute()'s min, max (the observed
 * range for minmax and movingAverage, the clipping range for the histogram methods), count and NaN count.
 */
function observe(options) {
  return (d, _out, tier) => {
    const { Calibrator } = qkernels();
    let cal;
    return onTier(
      tier,
      () => {
        cal = new Calibrator(options(d)).observe(d.x);
      },
      () => {
        const r = cal.compute();
        const counts = Float64Array.of(r.count, r.nanCount);
        return typeof r.min === 'number' ? Float64Array.of(r.min, r.max, ...counts) : [r.min, r.max, counts];
      },
    );
  };
}

/** compute() on a calibrator that observed x once (the threshold search alone). */
function search(method) {
  return (d, _out, tier) => {
    const { Calibrator } = qkernels();
    let cal;
    let result;
    const r = onTier(
      tier,
      () => {
        result = cal.compute();
      },
      () => Float64Array.of(result.scale, result.zeroPoint),
    );
    const enter = r.enter;
    r.enter = () => {
      enter();
      cal = new Calibrator({ method, symmetric: method !== 'percentile' }).observe(d.x);
    };
    return r;
  };
}

/** @type {import('./index.mjs').Contender} */
export default {
  id: 'qkernels',
  kind: 'qkernels',
  label: (tier) => `qkernels ${tier}`,
  description: 'this package, through its public API, one row per ISA tier',
  async load() {
    const q = qkernels();
    return { version: require('../../package.json').version, variants: q.cpuInfo().isas };
  },
  ops: {
    quantize(d, out, tier) {
      const params = { scale: d.scale, zeroPoint: d.zeroPoint, dtype: d.dtype };
      const { quantize } = qkernels();
      return onTier(
        tier,
        () => quantize(d.x, params, out),
        () => out,
      );
    },
    'quantize-per-channel'(d, out, tier) {
      const params = { scale: d.scales, zeroPoint: d.zeroPoints, axis: d.axis, shape: d.dims, dtype: d.dtype };
      const { quantize } = qkernels();
      return onTier(
        tier,
        () => quantize(d.x, params, out),
        () => out,
      );
    },
    dequantize(d, out, tier) {
      const params = { scale: d.scale, zeroPoint: d.zeroPoint };
      const { dequantize } = qkernels();
      return onTier(
        tier,
        () => dequantize(d.q, params, out),
        () => out,
      );
    },
    'dequantize-per-channel'(d, out, tier) {
      const params = { scale: d.scales, zeroPoint: d.zeroPoints, axis: d.axis, shape: d.dims };
      const { dequantize } = qkernels();
      return onTier(
        tier,
        () => dequantize(d.q, params, out),
        () => out,
      );
    },
    toFloat16(d, out, tier) {
      const { toFloat16 } = qkernels();
      return onTier(
        tier,
        () => toFloat16(d.x, out),
        () => out,
      );
    },
    fromFloat16(d, out, tier) {
      const { fromFloat16 } = qkernels();
      return onTier(
        tier,
        () => fromFloat16(d.h, out),
        () => out,
      );
    },
    toBFloat16(d, out, tier) {
      const { toBFloat16 } = qkernels();
      return onTier(
        tier,
        () => toBFloat16(d.x, out),
        () => out,
      );
    },
    'gemm-s32': (d, out, tier, s, ctx) => gemm(d, out, tier, s, ctx, 'int32', true),
    'gemm-s32-unpacked': (d, out, tier, s, ctx) => gemm(d, out, tier, s, ctx, 'int32', false),
    'gemm-f32': (d, out, tier, s, ctx) => gemm(d, out, tier, s, ctx, 'float32', true),
    'gemm-s8': (d, out, tier, s, ctx) => gemm(d, out, tier, s, ctx, 'int8', true),
    linearDynamic(d, out, tier, s, ctx) {
      const { linearDynamic, packB } = qkernels();
      const w = packB(d.w, { k: s.k, n: s.n });
      const o = { m: s.m, bScale: d.bScale, bias: d.bias };
      return onTier(
        tier,
        () => linearDynamic(d.x, w, o, out),
        () => out,
        ctx.threads,
      );
    },
    'observe-minmax': observe(() => ({ method: 'minmax' })),
    'observe-movingAverage': observe(() => ({ method: 'movingAverage' })),
    'observe-percentile': observe(() => ({ method: 'percentile' })),
    'observe-entropy': observe(() => ({ method: 'entropy' })),
    'observe-mse': observe(() => ({ method: 'mse' })),
    'observe-per-channel': observe((d) => ({ axis: 0, shape: [d.channels, d.x.length / d.channels] })),
    histogram(d, _out, tier) {
      const nat = native();
      const mm = new Float64Array(3);
      nat.minmax(d.x, mm);
      const scale = Math.fround(2048 / Math.max(-mm[0], mm[1]));
      const counts = new Float64Array(2048);
      return onTier(
        tier,
        () => nat.histogram(d.x, 0, scale, true, counts.fill(0)),
        () => counts,
      );
    },
    'compute-entropy': search('entropy'),
    'compute-mse': search('mse'),
    'compute-percentile': search('percentile'),
    fakeQuant(d, out, tier) {
      const { fakeQuant } = qkernels();
      const o = { output: out, mask: new Uint8Array(out.length) };
      return onTier(
        tier,
        () => fakeQuant(d.x, d.params, o),
        () => [out, o.mask],
      );
    },
    fakeQuantBackward(d, out, tier) {
      const { fakeQuant, fakeQuantBackward } = qkernels();
      const { mask } = fakeQuant(d.x, d.params);
      return onTier(
        tier,
        () => fakeQuantBackward(d.g, mask, out),
        () => out,
      );
    },
    'fakeQuant-fwd-bwd'(d, out, tier) {
      const { fakeQuant, fakeQuantBackward } = qkernels();
      const o = { output: new Float32Array(out.length), mask: new Uint8Array(out.length) };
      return onTier(
        tier,
        () => fakeQuantBackward(d.g, fakeQuant(d.x, d.params, o).mask, out),
        () => [o.output, o.mask, out],
      );
    },
    fakeQuantLearnable(d, out, tier) {
      const { fakeQuantLearnable } = qkernels();
      const y = new Float32Array(out.length);
      const p = { ...d.params, gradFactor: d.gradFactor };
      let grads;
      return onTier(
        tier,
        () => {
          grads = fakeQuantLearnable(d.x, p, y).backward(d.g, out);
        },
        () => [y, out, Float32Array.of(grads.gradScale, grads.gradZeroPoint)],
      );
    },
    fromBFloat16(d, out, tier) {
      const { fromBFloat16 } = qkernels();
      return onTier(
        tier,
        () => fromBFloat16(d.h, out),
        () => out,
      );
    },
  },
};
