// Baseline: plain JavaScript loops with qkernels' exact semantics (bit-identical output, checked on every run),
// written the way a careful JS programmer would: no allocation per call, typed-array views made once, float32
// rounding via Math.fround, and round-half-to-even done properly (Math.round rounds halves up, so it is not used).
// One per op: the element-wise conversions, the INT8 GEMM outputs and linearDynamic (small shapes only), the
// calibrator's min/max and histogram passes, and fake quantization forward, backward and learnable (LSQ).

const f32 = Math.fround;
// Adding and subtracting 1.5 * 2^52 rounds a double to an integer, ties to even, for |v| < 2^51; larger values
// stay large (and clamp the same way), and +-Infinity stays infinite.
const RINT = 6755399441055744;

/** q = clamp(rint(f32(x * inv)) + zp, qmin, qmax); NaN -> zp. `inv` must be a float32 value. */
export function quantizeJs(x, q, inv, zp, qmin, qmax, start = 0, end = x.length) {
  for (let i = start; i < end; i++) {
    const v = f32(x[i] * inv); // a float32 product: exact in double, rounded once
    if (v !== v) {
      q[i] = zp;
      continue;
    }
    const r = v + RINT - RINT + zp;
    q[i] = r < qmin ? qmin : r > qmax ? qmax : r;
  }
}

/** ONNX QuantizeLinear's semantics (x / scale instead of x * (1 / scale)); only used to explain peer mismatches. */
export function quantizeDivJs(x, q, scale, zp, qmin, qmax, start = 0, end = x.length) {
  for (let i = start; i < end; i++) {
    const v = f32(x[i] / scale); // float32 division, correctly rounded via double
    const r = v !== v ? zp : v + RINT - RINT + zp;
    q[i] = r < qmin ? qmin : r > qmax ? qmax : r;
  }
}

/** Per channel along axis 0 of [channels, inner] (outer = 1). */
export function quantizePerChannelJs(x, q, invs, zps, inner, qmin, qmax) {
  for (let c = 0, off = 0; c < invs.length; c++, off += inner)
    quantizeJs(x, q, invs[c], zps[c], qmin, qmax, off, off + inner);
}

/** y = f32((q - zp) * scale): the integer difference times a float32 is exact in double, rounded once on store. */
export function dequantizeJs(q, y, scale, zp, start = 0, end = q.length) {
  for (let i = start; i < end; i++) y[i] = (q[i] - zp) * scale;
}

export function dequantizePerChannelJs(q, y, scales, zps, inner) {
  for (let c = 0, off = 0; c < scales.length; c++, off += inner)
    dequantizeJs(q, y, scales[c], zps[c], off, off + inner);
}

/** float32 bits -> binary16 bits, round to nearest even; NaN keeps sign and top payload, quieted. */
export function toFloat16Js(x32, h) {
  const n = x32.length;
  for (let i = 0; i < n; i++) {
    const x = x32[i];
    const sign = (x >>> 16) & 0x8000;
    const ax = x & 0x7fffffff;
    if (ax >= 0x38800000 && ax < 0x477ff000) {
      // Normal result: rebias the exponent and round the 13 dropped bits to even (a carry into the exponent is
      // correct, and ax < 0x477ff000 keeps the result finite).
      h[i] = sign | ((ax - 0x38000000 + 0xfff + ((ax >>> 13) & 1)) >>> 13);
    } else if (ax > 0x7f800000) h[i] = sign | 0x7e00 | ((ax >>> 13) & 0x3ff);
    else if (ax >= 0x477ff000) h[i] = sign | 0x7c00;
    else {
      // Below 2^-14: a binary16 subnormal (unit 2^-24) or zero.
      const shift = 126 - (ax >>> 23);
      if (shift >= 25) h[i] = sign;
      else {
        const m = (ax & 0x7fffff) | 0x800000;
        const half = 1 << (shift - 1);
        const rem = m & ((half << 1) - 1);
        let r = m >>> shift;
        if (rem > half || (rem === half && r & 1)) r++;
        h[i] = sign | r;
      }
    }
  }
}

/** binary16 bits -> float32 (writes through a Uint32Array view `y32` of the output); NaN quieted. */
export function fromFloat16Js(h, y, y32) {
  const n = h.length;
  for (let i = 0; i < n; i++) {
    const b = h[i];
    const sign = (b & 0x8000) << 16;
    const e = (b >>> 10) & 0x1f;
    const m = b & 0x3ff;
    if (e === 0)
      y[i] = (sign ? -m : m) * 5.960464477539063e-8; // m * 2^-24, exact; -0 for a negative zero
    else if (e === 31) y32[i] = sign | 0x7f800000 | (m ? 0x400000 | (m << 13) : 0);
    else y32[i] = sign | ((e + 112) << 23) | (m << 13);
  }
}

/** float32 bits -> bfloat16 bits, round to nearest even; NaN keeps sign and top payload, quieted. */
export function toBFloat16Js(x32, h) {
  const n = x32.length;
  for (let i = 0; i < n; i++) {
    const x = x32[i];
    h[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
}

/** bfloat16 bits -> float32 bits. */
export function fromBFloat16Js(h, y32) {
  const n = h.length;
  for (let i = 0; i < n; i++) y32[i] = h[i] << 16;
}

// ------------------------------------------------------------------------------------------------ INT8 GEMM
//
// The int8Gemm definition in i-p-j order: for each row of A, one row of B at a time into n Int32Array
// accumulators (C is exact modulo 2^32, like the addon: every product and partial sum is exact in double before
// the store wraps it), then the addon's epilogue for float32 and requantized outputs. About 1 G ops/s in V8, so
// the bench runs it only on the smaller shapes (JS_GEMM_MAX_OPS).

/** GEMM shapes up to this many ops (2 m n k) per call get a JS-loop row (about a second a call at the limit). */
export const JS_GEMM_MAX_OPS = 1e9;

/** Row i of C = (A - za) x (B - zb) into acc: A m x k and B k x n row-major byte matrices. */
export function gemmRowJs(a, b, i, n, k, za, zb, acc) {
  acc.fill(0);
  for (let p = 0, ai = i * k; p < k; p++) {
    const av = a[ai + p] - za;
    for (let j = 0, bp = p * n; j < n; j++) acc[j] += av * (b[bp + j] - zb);
  }
}

/**
 * Float32 output of one row: y = f32(C) * f32(aScale * bScale[j]) + bias[j], each operation rounded to float32
 * (the addon's epilogue, no fused multiply-add; the store rounds the sum).
 */
export function gemmRowF32Js(acc, aScale, bScale, bias, y, off, n) {
  for (let j = 0; j < n; j++) y[off + j] = f32(f32(acc[j]) * f32(aScale * bScale[j])) + bias[j];
}

/** Requantized int8 output of one row: quantize's rule on the float32 y above, with inv = f32(1 / outScale). */
export function gemmRowS8Js(acc, aScale, bScale, bias, inv, zp, q, off, n) {
  for (let j = 0; j < n; j++) {
    const v = f32(f32(f32(f32(acc[j]) * f32(aScale * bScale[j])) + bias[j]) * inv);
    const r = v !== v ? zp : v + RINT - RINT + zp;
    q[off + j] = r < -128 ? -128 : r > 127 ? 127 : r;
  }
}

/** int8Gemm over m rows, output 'int32', 'float32' or 'int8' (d: the bench's GEMM data, per-column scales). */
export function gemmJs(d, m, n, k, output, acc, out) {
  const inv = f32(1 / d.outScale);
  const as = f32(d.aScale);
  for (let i = 0; i < m; i++) {
    gemmRowJs(d.a, d.b, i, n, k, d.aZeroPoint, d.bZeroPoint, acc);
    if (output === 'int32') out.set(acc, i * n);
    else if (output === 'float32') gemmRowF32Js(acc, as, d.bScale, d.bias, out, i * n, n);
    else gemmRowS8Js(acc, as, d.bScale, d.bias, inv, d.outZeroPoint, out, i * n, n);
  }
}

/**
 * linearDynamic: each row of x quantized to uint8 over its range widened to include 0 (scale = f32(hi - lo) /
 * 255, zero point = quantize(-lo)), times the int8 weights w (k x n), float32 output with the row's scale.
 */
export function linearDynamicJs(x, w, m, n, k, bScale, bias, qa, acc, y) {
  for (let i = 0, start = 0; i < m; i++, start += k) {
    let mn = Infinity;
    let mx = -Infinity;
    for (let p = start; p < start + k; p++) {
      const v = x[p];
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    const lo = mn < 0 ? mn : 0;
    const hi = mx > 0 ? mx : 0;
    let scale = f32(f32(hi - lo) / 255);
    if (!(scale > 0) || !Number.isFinite(scale) || !Number.isFinite(f32(1 / scale))) scale = 1;
    const inv = f32(1 / scale);
    const z = f32(-lo * inv) + RINT - RINT;
    const zp = z < 0 ? 0 : z > 255 ? 255 : z;
    quantizeJs(x, qa, inv, zp, 0, 255, start, start + k);
    gemmRowJs(qa, w, i, n, k, zp, 0, acc);
    gemmRowF32Js(acc, scale, bScale, bias, y, i * n, n);
  }
}

// ------------------------------------------------------------------------------------------------ calibration

/** Min and max (NaN skipped, -0 as +0) and the NaN count of x into out[0..2]. */
export function minmaxJs(x, out) {
  let mn = Infinity;
  let mx = -Infinity;
  let nans = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v !== v) nans++;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  out[0] = mn + 0;
  out[1] = mx + 0;
  out[2] = nans;
}

/** Per-channel min and max of [outer, channels, inner] (NaN skipped, -0 as +0); returns the NaN count. */
export function minmaxPerChannelJs(x, outer, channels, inner, mn, mx) {
  mn.fill(Infinity);
  mx.fill(-Infinity);
  let nans = 0;
  for (let o = 0, i = 0; o < outer; o++)
    for (let c = 0; c < channels; c++) {
      let lo = mn[c];
      let hi = mx[c];
      for (const end = i + inner; i < end; i++) {
        const v = x[i];
        if (v !== v) nans++;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      mn[c] = lo + 0;
      mx[c] = hi + 0;
    }
  return nans;
}

/**
 * Adds the histogram of x (|x| when abs) into counts: bin = trunc(clamp(f32(f32(v - lo) * scale), 0, bins - 1))
 * with lo and scale float32 (qk::ref::hist_bin); NaN skipped and counted (returned).
 */
export function histogramJs(x, lo, scale, abs, counts) {
  const top = counts.length - 1;
  let nans = 0;
  for (let i = 0; i < x.length; i++) {
    const v = abs ? Math.abs(x[i]) : x[i];
    if (v !== v) {
      nans++;
      continue;
    }
    let t = f32(f32(v - lo) * scale);
    t = t > 0 ? t : 0;
    counts[(t < top ? t : top) | 0]++;
  }
  return nans;
}

// ------------------------------------------------------------------------------------------------ fake quant

/**
 * fakeQuant forward with its mask: q = f32(nearbyint(f32(x * inv)) + zp), mask = qmin <= q <= qmax,
 * y = (clamp(q) - zp) * scale (float32); NaN x gives NaN with mask 0.
 */
export function fakeQuantJs(x, y, mask, scale, inv, zp, qmin, qmax) {
  for (let i = 0; i < x.length; i++) {
    const v = f32(x[i] * inv);
    if (v !== v) {
      mask[i] = 0;
      y[i] = v;
      continue;
    }
    const q = f32(v + RINT - RINT + zp);
    const inside = q >= qmin && q <= qmax;
    mask[i] = inside ? 1 : 0;
    y[i] = ((inside ? q : q < qmin ? qmin : qmax) - zp) * scale;
  }
}

/** The straight-through gradient: g where mask is set, g * 0 elsewhere. */
export function fakeQuantBackwardJs(g, mask, out) {
  for (let i = 0; i < g.length; i++) out[i] = mask[i] !== 0 ? g[i] : g[i] * 0;
}

/**
 * fmaf(a, b, c) for float32 a, b, c: a * b is exact in double, so s = a * b + c has one rounding, whose error e
 * (TwoSum) is exact. Rounding s to float32 is then correct unless s landed exactly on a float32 midpoint (the
 * only case where rounding twice differs from rounding once); there the exact sum lies on e's side of it.
 */
function fmaf(a, b, c) {
  const p = a * b;
  const s = p + c;
  const bs = s - p;
  const e = p - (s - bs) + (c - bs);
  const r = f32(s);
  if (e === 0 || r === s) return r;
  const o = 2 * s - r; // the other float32 neighbour when s is their midpoint
  if (f32(o) !== o) return r;
  return e > 0 ? Math.max(r, o) : Math.min(r, o);
}

/**
 * The learnable (LSQ) backward per tensor: gradX into dx, and the gradScale and gradZeroPoint sums into
 * sums[0..1], with q = nearbyint(fmaf(x, inv, zp)) and each term as qk::ref::lsq_grad_one (float32 operations);
 * term i is added in double to lane i % 16 of `lanes` (Float64Array(32): scale lanes, then zero-point lanes),
 * the lanes summed in order (the addon's fixed order).
 */
export function lsqBackwardJs(x, dy, dx, scale, inv, zp, qmin, qmax, gf, lanes, sums) {
  lanes.fill(0);
  for (let i = 0; i < x.length; i++) {
    const q = fmaf(x[i], inv, zp) + RINT - RINT;
    const g = dy[i];
    const inside = q >= qmin && q <= qmax;
    dx[i] = inside ? g : g * 0;
    const lane = i & 15;
    if (q < qmin || q > qmax) {
      lanes[lane] += f32(f32(g * (q < qmin ? qmin - zp : qmax - zp)) * gf);
      lanes[16 + lane] += f32(f32(f32(-g) * scale) * gf);
    } else lanes[lane] += f32(f32(f32(g * fmaf((inside ? q : qmax) - zp, scale, -x[i])) * inv) * gf);
  }
  let s = lanes[0];
  let z = lanes[16];
  for (let j = 1; j < 16; j++) {
    s += lanes[j];
    z += lanes[16 + j];
  }
  sums[0] = s;
  sums[1] = z;
}

const u32 = (a) => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** A GEMM op's runner: m rows of gemmJs with one row of accumulators, allocated once. */
function gemm(output) {
  return (d, out, _v, s) => {
    const acc = new Int32Array(s.n);
    return { fn: () => gemmJs(d, s.m, s.n, s.k, output, acc, out), output: () => out };
  };
}

/** observe() of a minmax or movingAverage calibrator on its first batch: one min/max pass. */
function observeMinmax(d) {
  const r = new Float64Array(3);
  return { fn: () => minmaxJs(d.x, r), output: () => Float64Array.of(r[0], r[1], d.x.length - r[2], r[2]) };
}

/** The fake-quant parameters as the addon takes them: float32 scale and its float32 reciprocal. */
function fqParams(d) {
  const p = d.params;
  const scale = f32(p.scale);
  return { scale, inv: f32(1 / scale), zp: p.zeroPoint ?? 0, qmin: p.quantMin, qmax: p.quantMax };
}

const HISTOGRAM_OBSERVE = 'no loop of its own: observe() is a min/max pass and one histogram pass, the observe-minmax and histogram JS rows';
const SEARCH = "the threshold search is JavaScript in qkernels itself (lib/calibrate/search.ts): a copy would time the same code";

/** @type {import('./index.mjs').Contender} */
export default {
  id: 'js',
  kind: 'baseline',
  label: () => 'JS loop',
  description: 'a plain JavaScript loop with the same semantics (bit-identical output)',
  async load() {
    return { version: process.version };
  },
  /** No row (a 'skipped' one saying why) for GEMM shapes a JS loop takes too long on, and for threads > 1. */
  skip(op, s, threads) {
    if (op.family !== 'gemm') return undefined;
    if (threads > 1) return 'single-threaded (timed at 1 thread only)';
    const ops = op.ops(s);
    if (ops > JS_GEMM_MAX_OPS)
      return `too slow for a JS loop (${(ops / 1e9).toFixed(1)} G ops a call; JS rows run up to ${JS_GEMM_MAX_OPS / 1e9} G ops)`;
    return undefined;
  },
  unsupported: {
    'observe-percentile': HISTOGRAM_OBSERVE,
    'observe-entropy': HISTOGRAM_OBSERVE,
    'observe-mse': HISTOGRAM_OBSERVE,
    'compute-entropy': SEARCH,
    'compute-mse': SEARCH,
    'compute-percentile': SEARCH,
  },
  ops: {
    quantize(d, out) {
      const inv = f32(1 / d.scale);
      return { fn: () => quantizeJs(d.x, out, inv, d.zeroPoint, d.qmin, d.qmax), output: () => out };
    },
    'quantize-per-channel'(d, out) {
      const invs = d.scales.map((s) => f32(1 / s));
      return {
        fn: () => quantizePerChannelJs(d.x, out, invs, d.zeroPoints, d.inner, d.qmin, d.qmax),
        output: () => out,
      };
    },
    dequantize(d, out) {
      return { fn: () => dequantizeJs(d.q, out, d.scale, d.zeroPoint), output: () => out };
    },
    'dequantize-per-channel'(d, out) {
      return { fn: () => dequantizePerChannelJs(d.q, out, d.scales, d.zeroPoints, d.inner), output: () => out };
    },
    toFloat16(d, out) {
      const x32 = u32(d.x);
      return { fn: () => toFloat16Js(x32, out), output: () => out };
    },
    fromFloat16(d, out) {
      const y32 = u32(out);
      return { fn: () => fromFloat16Js(d.h, out, y32), output: () => out };
    },
    toBFloat16(d, out) {
      const x32 = u32(d.x);
      return { fn: () => toBFloat16Js(x32, out), output: () => out };
    },
    fromBFloat16(d, out) {
      const y32 = u32(out);
      return { fn: () => fromBFloat16Js(d.h, y32), output: () => out };
    },
    'gemm-s32': gemm('int32'),
    'gemm-s32-unpacked': gemm('int32'), // nothing to pack in JS: the same loop on B as it is
    'gemm-f32': gemm('float32'),
    'gemm-s8': gemm('int8'),
    linearDynamic(d, out, _v, s) {
      const qa = new Uint8Array(s.m * s.k);
      const acc = new Int32Array(s.n);
      return { fn: () => linearDynamicJs(d.x, d.w, s.m, s.n, s.k, d.bScale, d.bias, qa, acc, out), output: () => out };
    },
    'observe-minmax': observeMinmax,
    'observe-movingAverage': observeMinmax, // the first batch is taken as it is
    'observe-per-channel'(d) {
      const mn = new Float32Array(d.channels);
      const mx = new Float32Array(d.channels);
      const inner = d.x.length / d.channels;
      let nans = 0;
      return {
        fn: () => {
          nans = minmaxPerChannelJs(d.x, 1, d.channels, inner, mn, mx);
        },
        output: () => [mn, mx, Float64Array.of(d.x.length - nans, nans)],
      };
    },
    histogram(d) {
      const mm = new Float64Array(3);
      minmaxJs(d.x, mm);
      const scale = f32(2048 / Math.max(-mm[0], mm[1]));
      const counts = new Float64Array(2048);
      return { fn: () => histogramJs(d.x, 0, scale, true, counts.fill(0)), output: () => counts };
    },
    fakeQuant(d, out) {
      const { scale, inv, zp, qmin, qmax } = fqParams(d);
      const mask = new Uint8Array(out.length);
      return { fn: () => fakeQuantJs(d.x, out, mask, scale, inv, zp, qmin, qmax), output: () => [out, mask] };
    },
    fakeQuantBackward(d, out) {
      const { scale, inv, zp, qmin, qmax } = fqParams(d);
      const mask = new Uint8Array(out.length);
      fakeQuantJs(d.x, new Float32Array(out.length), mask, scale, inv, zp, qmin, qmax);
      return { fn: () => fakeQuantBackwardJs(d.g, mask, out), output: () => out };
    },
    'fakeQuant-fwd-bwd'(d, out) {
      const { scale, inv, zp, qmin, qmax } = fqParams(d);
      const y = new Float32Array(out.length);
      const mask = new Uint8Array(out.length);
      return {
        fn: () => {
          fakeQuantJs(d.x, y, mask, scale, inv, zp, qmin, qmax);
          fakeQuantBackwardJs(d.g, mask, out);
        },
        output: () => [y, mask, out],
      };
    },
    fakeQuantLearnable(d, out) {
      const { scale, inv, qmin, qmax } = fqParams(d);
      // The zero point as fakeQuantLearnable resolves it: rounded half to even for the forward, PyTorch's
      // trunc(clamp(zp + 0.5)) for the per-tensor backward.
      const zf = f32(d.params.zeroPoint ?? 0);
      const clamp = (v) => Math.min(Math.max(v, qmin), qmax);
      const zpForward = clamp(zf + RINT - RINT) + 0;
      const zpBackward = Math.trunc(clamp(f32(zf + 0.5))) + 0;
      const gf = f32(d.gradFactor);
      const y = new Float32Array(out.length);
      const mask = new Uint8Array(out.length);
      const lanes = new Float64Array(32);
      const sums = new Float64Array(2);
      const grads = new Float32Array(2); // gradScale, gradZeroPoint: the sums rounded to float32
      return {
        fn: () => {
          fakeQuantJs(d.x, y, mask, scale, inv, zpForward, qmin, qmax);
          lsqBackwardJs(d.x, d.g, out, scale, inv, zpBackward, qmin, qmax, gf, lanes, sums);
          grads.set(sums);
        },
        output: () => [y, out, grads],
      };
    },
  },
};
