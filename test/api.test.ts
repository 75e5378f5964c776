// The public API contract: documented semantics against a plain TypeScript reference, `out` handling,
// allocation, and errors (TypeError / RangeError naming the parameter) for bad input.
import t from 'tap';
import {
  dequantize,
  fromBFloat16,
  fromFloat16,
  quantize,
  toBFloat16,
  toFloat16,
} from '../lib/index';
import { native } from '../lib/native';
import { forEachIsa, randomFloats, sameBits } from './_harness';

/** Round half to even on a float32 value, in float64 (exact for float32 inputs). */
function roundEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The documented formula, written independently of the C++ kernels. */
function refQuantize(x: Float32Array, scale: number, zp: number, qmin: number, qmax: number): number[] {
  const inv = Math.fround(1 / Math.fround(scale));
  return [...x].map((v) => {
    const p = Math.fround(v * inv);
    if (Number.isNaN(p)) return zp;
    return Math.min(Math.max(roundEven(p) + zp, qmin), qmax);
  });
}

t.test('quantize follows the documented formula on every tier', async (t) => {
  const x = randomFloats(3000, 5);
  forEachIsa(t, (t) => {
    for (const [scale, zp, dtype, lo, hi] of [
      [0.02, 0, 'int8', -128, 127],
      [1 / 3, -7, 'int8', -128, 127],
      [0.5, 128, 'uint8', 0, 255],
      [1e-3, 255, 'uint8', 0, 255],
    ] as const) {
      const got = [...quantize(x, { scale, zeroPoint: zp, dtype })];
      const want = refQuantize(x, scale, zp, lo, hi);
      const i = got.findIndex((g, k) => g !== want[k]);
      t.equal(i, -1, `${dtype} scale=${scale} zp=${zp}` + (i >= 0 ? `: x=${x[i]} got ${got[i]} want ${want[i]}` : ''));
    }
  });
});

t.test('quantize edge values', async (t) => {
  forEachIsa(t, (t) => {
    const x = new Float32Array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, NaN, Infinity, -Infinity, -0, 1e30, -1e30]);
    t.same([...quantize(x, { scale: 1 })], [0, 2, 2, 0, -2, -2, 0, 127, -128, 0, 127, -128], 'int8 ties to even, NaN, infinities');
    t.same([...quantize(x, { scale: 1, zeroPoint: 10, dtype: 'uint8' })], [10, 12, 12, 10, 8, 8, 10, 255, 0, 10, 255, 0], 'uint8 with zero point');
    t.same([...quantize(x, { scale: 1, zeroPoint: 3, quantMin: -8, quantMax: 7 })], [3, 5, 5, 3, 1, 1, 3, 7, -8, 3, 7, -8], '4-bit range');
  });
});

t.test('dequantize follows the documented formula', async (t) => {
  forEachIsa(t, (t) => {
    const q = new Int8Array(256).map((_, i) => i - 128);
    const scale = 0.1;
    const want = Float32Array.from(q, (v) => Math.fround((v - 5) * Math.fround(scale)));
    sameBits(t, dequantize(q, { scale, zeroPoint: 5 }), want, 'int8');
    const u = new Uint8Array(256).map((_, i) => i);
    const wantU = Float32Array.from(u, (v) => Math.fround((v - 200) * Math.fround(scale)));
    sameBits(t, dequantize(u, { scale, zeroPoint: 200 }), wantU, 'uint8');
  });
});

t.test('FP16 / BF16 known values', async (t) => {
  forEachIsa(t, (t) => {
    const x = new Float32Array([1, -2, 65504, 65519.99, 65520, 2 ** -24, 2 ** -25, 3 * 2 ** -26, -0, Infinity, NaN, -NaN]);
    const h = toFloat16(x);
    t.same([...h].slice(0, 10), [0x3c00, 0xc000, 0x7bff, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x0001, 0x8000, 0x7c00], "toFloat16 (3*2^-26 is 0.75 of the smallest subnormal: rounds up to it)");
    t.ok((h[10]! & 0x7c00) === 0x7c00 && (h[10]! & 0x3ff) !== 0, 'NaN stays NaN');
    t.equal(h[11]! >> 15, 1, 'NaN keeps its sign');
    const back = fromFloat16(h);
    t.same([...back].slice(0, 10), [1, -2, 65504, 65504, Infinity, 2 ** -24, 0, 2 ** -24, -0, Infinity], "fromFloat16");
    t.ok(Number.isNaN(back[10]) && Number.isNaN(back[11]), 'NaN decodes to NaN');
    const b = toBFloat16(new Float32Array([1, 1.00390625, 1.01171875, -3, 3.4e38, NaN]));
    t.same([...b].slice(0, 5), [0x3f80, 0x3f80, 0x3f82, 0xc040, 0x7f80], 'toBFloat16 rounds half to even, overflows to Infinity');
    t.ok(Number.isNaN(fromBFloat16(b)[5]), 'bf16 NaN stays NaN');
    t.same([...fromBFloat16(new Uint16Array([0x3f80, 0xc000, 0x0001]))], [1, -2, 2 ** -133], 'fromBFloat16');
  });
});

t.test('out parameters', async (t) => {
  const x = new Float32Array([0.1, 0.2, -0.3]);
  const o = new Int8Array(3);
  t.equal(quantize(x, { scale: 0.1 }, o), o, 'quantize returns the out it was given');
  t.same([...o], [1, 2, -3]);
  const u = new Uint8Array(3);
  t.equal(quantize(x, { scale: 0.1, zeroPoint: 10, dtype: 'uint8' }, u), u);
  const f = new Float32Array(3);
  t.equal(dequantize(o, { scale: 0.1 }, f), f, 'dequantize returns its out');
  const h = new Uint16Array(3);
  t.equal(toFloat16(x, h), h, 'toFloat16 returns its out');
  t.equal(fromFloat16(h, f), f, 'fromFloat16 returns its out');
  t.equal(toBFloat16(x, h), h, 'toBFloat16 returns its out');
  t.equal(fromBFloat16(h, f), f, 'fromBFloat16 returns its out');
  t.type(quantize(x, { scale: 1, dtype: 'uint8' }), Uint8Array, 'uint8 allocates a Uint8Array');
  t.type(quantize(x, { scale: 1 }), Int8Array, 'int8 is the default');
  t.equal(quantize(new Float32Array(0), { scale: 1 }).length, 0, 'empty input');
  const sub = new Float32Array([9, 0.1, 0.2, 9]).subarray(1, 3);
  t.same([...quantize(sub, { scale: 0.1 })], [1, 2], 'subarray views with a byteOffset');
});

t.test('per-channel parameters', async (t) => {
  const x = new Float32Array([1, 2, 3, 4, 5, 6]);
  t.same([...quantize(x, { scale: new Float32Array([1, 2]), axis: 0, shape: [2, 3] })], [1, 2, 3, 2, 2, 3], 'axis 0');
  t.same([...quantize(x, { scale: [1, 2, 0.5], zeroPoint: [0, 1, -1], axis: 1, shape: [2, 3] })], [1, 2, 5, 4, 3, 11], 'axis 1 with arrays (5/2 = 2.5 ties to 2)');
  t.same([...quantize(x, { scale: [1, 2, 0.5], axis: -1, shape: [2, 3] })], [1, 1, 6, 4, 2, 12], 'negative axis');
  const q = quantize(x, { scale: [1, 2], zeroPoint: [3, 4], axis: 0, shape: [2, 3], dtype: 'uint8' });
  t.same([...dequantize(q, { scale: [1, 2], zeroPoint: [3, 4], axis: 0, shape: [2, 3] })], [1, 2, 3, 4, 4, 6], 'dequantize round trip (2.5 ties to 2)');
});

t.test('bad input throws a TypeError or RangeError naming the parameter', async (t) => {
  const x = new Float32Array(6);
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    ['x not a Float32Array', () => quantize(new Float64Array(3) as never, { scale: 1 }), TypeError, /expected a Float32Array for x, received Float64Array\(3\)/],
    ['x an array', () => quantize([1, 2] as never, { scale: 1 }), TypeError, /for x, received Array\(2\)/],
    ['params missing', () => quantize(x, undefined as never), TypeError, /options object for params, received undefined/],
    ['scale zero', () => quantize(x, { scale: 0 }), RangeError, /positive finite float32.* for scale, received number 0/],
    ['scale negative', () => quantize(x, { scale: -1 }), RangeError, /for scale, received number -1/],
    ['scale NaN', () => quantize(x, { scale: NaN }), RangeError, /for scale, received number NaN/],
    ['scale Infinity', () => quantize(x, { scale: Infinity }), RangeError, /for scale/],
    ['scale underflows float32', () => quantize(x, { scale: 1e-50 }), RangeError, /for scale/],
    ['scale a string', () => quantize(x, { scale: '1' as never }), TypeError, /for scale, received string "1"/],
    ['zeroPoint fractional', () => quantize(x, { scale: 1, zeroPoint: 0.5 }), RangeError, /integer in \[-128, 127\] for zeroPoint, received number 0.5/],
    ['zeroPoint out of int8', () => quantize(x, { scale: 1, zeroPoint: 128 }), RangeError, /for zeroPoint, received number 128/],
    ['zeroPoint out of uint8', () => quantize(x, { scale: 1, zeroPoint: -1, dtype: 'uint8' }), RangeError, /\[0, 255\] for zeroPoint/],
    ['zeroPoint outside quant range', () => quantize(x, { scale: 1, zeroPoint: 9, quantMin: -8, quantMax: 7 }), RangeError, /\[-8, 7\] for zeroPoint/],
    ['dtype unknown', () => quantize(x, { scale: 1, dtype: 'int4' as never }), RangeError, /one of 'int8', 'uint8' for dtype, received string "int4"/],
    ['quantMin >= quantMax', () => quantize(x, { scale: 1, quantMin: 5, quantMax: 5 }), RangeError, /greater than quantMin \(5\) for quantMax/],
    ['quantMax outside dtype', () => quantize(x, { scale: 1, quantMax: 200 }), RangeError, /for quantMax, received number 200/],
    ['out wrong type', () => quantize(x, { scale: 1 }, new Uint8Array(6) as never), TypeError, /Int8Array \(dtype 'int8'\) for out, received Uint8Array\(6\)/],
    ['out wrong length', () => quantize(x, { scale: 1 }, new Int8Array(5)), RangeError, /length 6 \(x.length\) for out, received Int8Array\(5\)/],
    ['shape product', () => quantize(x, { scale: [1, 1], axis: 0, shape: [2, 2] }), RangeError, /product is the input length 6 for shape/],
    ['shape not an array', () => quantize(x, { scale: [1, 1], axis: 0, shape: 6 as never }), TypeError, /array of dimensions .* for shape/],
    ['shape negative', () => quantize(x, { scale: [1, 1], axis: 0, shape: [-2, -3] }), RangeError, /for shape\[0\]/],
    ['axis out of range', () => quantize(x, { scale: [1, 1], axis: 2, shape: [2, 3] }), RangeError, /integer in \[-2, 1\] for axis, received number 2/],
    ['scale array wrong length', () => quantize(x, { scale: [1, 1, 1], axis: 0, shape: [2, 3] }), RangeError, /length 2 \(shape\[0\]\) for scale/],
    ['zeroPoint array wrong length', () => quantize(x, { scale: [1, 1], zeroPoint: [0], axis: 0, shape: [2, 3] }), RangeError, /length 2 \(shape\[0\]\) for zeroPoint/],
    ['per-channel scale zero', () => quantize(x, { scale: [1, 0], axis: 0, shape: [2, 3] }), RangeError, /for scale\[1\], received number 0/],
    ['per-channel zeroPoint range', () => quantize(x, { scale: [1, 1], zeroPoint: [0, 300], axis: 0, shape: [2, 3] }), RangeError, /for zeroPoint\[1\], received number 300/],
    ['scale typed wrong', () => quantize(x, { scale: new Float64Array(2) as never, axis: 0, shape: [2, 3] }), TypeError, /for scale, received Float64Array\(2\)/],
    ['dequantize q type', () => dequantize(new Int16Array(3) as never, { scale: 1 }), TypeError, /Int8Array or Uint8Array for q, received Int16Array\(3\)/],
    ['dequantize dtype mismatch', () => dequantize(new Int8Array(3), { scale: 1, dtype: 'uint8' }), TypeError, /Uint8Array \(params.dtype 'uint8'\) for q/],
    ['dequantize out length', () => dequantize(new Int8Array(3), { scale: 1 }, new Float32Array(4)), RangeError, /length 3 \(q.length\) for out/],
    ['dequantize out type', () => dequantize(new Int8Array(3), { scale: 1 }, new Float64Array(3) as never), TypeError, /Float32Array for out/],
    ['dequantize scale', () => dequantize(new Int8Array(3), { scale: 0 }), RangeError, /for scale/],
    ['toFloat16 x', () => toFloat16(new Float64Array(2) as never), TypeError, /Float32Array for x, received Float64Array\(2\)/],
    ['toFloat16 out length', () => toFloat16(new Float32Array(2), new Uint16Array(3)), RangeError, /length 2 \(x.length\) for out/],
    ['toFloat16 out type', () => toFloat16(new Float32Array(2), new Int16Array(2) as never), TypeError, /Uint16Array.* for out/],
    ['fromFloat16 h', () => fromFloat16(new Int16Array(2) as never), TypeError, /for h, received Int16Array\(2\)/],
    ['fromFloat16 out', () => fromFloat16(new Uint16Array(2), new Float32Array(1)), RangeError, /length 2 \(input length\) for out/],
    ['toBFloat16 x', () => toBFloat16([1] as never), TypeError, /Float32Array for x/],
    ['fromBFloat16 h', () => fromBFloat16(new Float32Array(1) as never), TypeError, /bfloat16 bit patterns for h/],
  ];
  for (const [name, fn, type, re] of cases) t.throws(fn, { constructor: type, message: re }, name);
});

// The addon re-checks every length itself (the TypeScript layer is not the only caller): dimensions go up to
// 2^40, so m * k as a size_t wraps (2^32 * 2^32 = 0), and a check against the raw product would let empty arrays
// through to a GEMM of 2^96 multiply-adds on them. Each binding must refuse such a call with a RangeError.
t.test('the native bindings refuse dimensions whose products wrap', async (t) => {
  const big = 2 ** 32;
  const u8 = new Uint8Array(0), i8 = new Int8Array(0);
  const tooMany = /would have more elements than any typed array/;
  t.throws(() => native.gemm(u8, i8, null, big, big, big, false, 0, 0, 0, null, null, null, false, 1, 0, new Int32Array(0)), { constructor: RangeError, message: tooMany }, 'gemm');
  t.throws(() => native.packB(i8, big, big, false), { constructor: RangeError, message: tooMany }, 'packB');
  t.throws(() => native.sgemm(new Float32Array(0), new Float32Array(0), big, big, big, false, new Float32Array(0)), { constructor: RangeError, message: tooMany }, 'sgemm');
  const pw = native.packB(new Int8Array(4), 2, 2, false);
  t.throws(() => native.linearDynamic(new Float32Array(0), pw, 2 ** 40, 2, 2, 1, null, false, new Float32Array(0), false), { constructor: RangeError, message: /must have length/ }, 'linearDynamic');
  // One dimension past what a typed array holds, the others small: refused as well, before any work.
  t.throws(() => native.gemm(new Uint8Array(2 ** 13), i8, null, 1, 2 ** 40, 2 ** 13, false, 0, 0, 0, null, null, null, false, 1, 0, new Int32Array(0)), { constructor: RangeError, message: tooMany }, 'gemm with n * k past 2^52');
});
