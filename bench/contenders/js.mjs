// Baseline: plain JavaScript loops with qkernels' exact semantics (bit-identical output, checked on every run),
// written the way a careful JS programmer would: no allocation per call, typed-array views made once, float32
// rounding via Math.fround, and round-half-to-even done properly (Math.round rounds halves up, so it is not used).

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

const u32 = (a) => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** @type {import('./index.mjs').Contender} */
export default {
  id: 'js',
  kind: 'baseline',
  label: () => 'JS loop',
  description: 'a plain JavaScript loop with the same semantics (bit-identical output)',
  async load() {
    return { version: process.version };
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
  },
};
