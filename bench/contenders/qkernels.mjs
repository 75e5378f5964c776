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

/** Wraps a call so the case runs with `tier` active and the previous tier comes back afterwards. */
function onTier(tier, fn, output) {
  let before;
  return {
    fn,
    output,
    enter: () => {
      before = qkernels().setIsa(tier);
    },
    exit: () => {
      if (before !== undefined) qkernels().setIsa(before);
      before = undefined;
    },
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
