// Inputs that used to slip through: outputs sharing memory with inputs, non-boolean flags, options that do not
// apply, dimensions beyond the addon's limit, hand-made packed matrices, empty channel axes, and raw-binding
// arguments (zero-point arrays, search parameters, foreign handles) that the C++ side must refuse on its own.
import t from 'tap';
import {
  dequantize,
  fakeQuant,
  fromBFloat16,
  fromFloat16,
  int8Gemm,
  int8GemmAsync,
  linearDynamic,
  packB,
  PackedMatrix,
  quantize,
  sgemm,
  toBFloat16,
  toFloat16,
} from '../lib/index';
import { native } from '../lib/native';

const shared = /does not share memory with/;

t.test('an output that shares memory with an input is a RangeError naming out', async (t) => {
  const m = 4, n = 64, k = 64;
  // A's memory as the uint8 output (m x n = m x k bytes): the GEMM would overwrite A while it still reads it.
  const buf = new ArrayBuffer(m * k + m * n);
  const a = new Uint8Array(buf, 0, m * k);
  for (let i = 0; i < a.length; i++) a[i] = i % 251;
  const w = new Int8Array(k * n).map((_, i) => (i % 255) - 127);
  const pw = packB(w, { k, n });
  const q = { m, n, k, output: 'uint8' as const, aScale: 0.02, bScale: 0.01, outScale: 0.5 };
  t.throws(() => int8Gemm(a, pw, q, new Uint8Array(buf, 0, m * n)), { constructor: RangeError, message: /for out/ });
  t.throws(() => int8Gemm(a, pw, q, new Uint8Array(buf, 32, m * n)), { constructor: RangeError, message: shared }, 'partly overlapping');
  await t.rejects(int8GemmAsync(a, pw, q, new Uint8Array(buf, 0, m * n)), { constructor: RangeError, message: shared }, 'async');
  const wBuf = new Int8Array(k * n + m * n);
  t.throws(() => int8Gemm(a, wBuf.subarray(0, k * n), { m, n, k, output: 'int8', aScale: 1, bScale: 1, outScale: 1 }, wBuf.subarray(k * n - 4, k * n - 4 + m * n)), { constructor: RangeError, message: /share memory with b/ }, 'unpacked b');
  const bias = new Float32Array(n + m * n);
  t.throws(() => int8Gemm(a, pw, { m, n, k, output: 'float32', aScale: 1, bScale: 1, bias: bias.subarray(0, n) }, bias.subarray(n - 1, n - 1 + m * n)), { constructor: RangeError, message: /share memory with bias/ }, 'bias');
  // Disjoint views of one buffer are fine, and give what a separate output gives.
  const c = int8Gemm(a, pw, q, new Uint8Array(buf, m * k, m * n));
  t.same([...c], [...int8Gemm(a, pw, q)], 'a disjoint view of the same buffer');

  const x = new Float32Array(m * k).fill(0.5);
  t.throws(() => linearDynamic(x, pw, { m, bScale: 0.01 }, x.subarray(0, m * n)), { constructor: RangeError, message: /share memory with x/ }, 'linearDynamic');

  const f = new Float32Array(256).map((_, i) => i / 7);
  t.throws(() => quantize(f, { scale: 0.1 }, new Int8Array(f.buffer, 0, 256)), { constructor: RangeError, message: /share memory with x/ }, 'quantize');
  const q8 = new Int8Array(new ArrayBuffer(1024), 0, 256);
  t.throws(() => dequantize(q8, { scale: 0.1 }, new Float32Array(q8.buffer, 0, 256)), { constructor: RangeError, message: /share memory with q/ }, 'dequantize');
  t.throws(() => toFloat16(f, new Uint16Array(f.buffer, 0, 256)), { constructor: RangeError, message: /share memory with x/ }, 'toFloat16');
  t.throws(() => toBFloat16(f, new Uint16Array(f.buffer, 0, 256)), { constructor: RangeError, message: /share memory with x/ }, 'toBFloat16');
  const h = new Uint16Array(new ArrayBuffer(1024), 0, 256);
  t.throws(() => fromFloat16(h, new Float32Array(h.buffer, 0, 256)), { constructor: RangeError, message: /share memory with h/ }, 'fromFloat16');
  t.throws(() => fromBFloat16(h, new Float32Array(h.buffer, 0, 256)), { constructor: RangeError, message: /share memory with h/ }, 'fromBFloat16');
  // sgemm documents in-place outputs (it computes into a temporary): still accepted.
  const sa = new Float32Array(16).fill(1);
  t.same([...sgemm(sa, new Float32Array(16).fill(2), { m: 4, n: 4, k: 4 }, sa)], new Array(16).fill(8), 'sgemm in place');
});

t.test('flags must be booleans and options must apply to the output', async (t) => {
  const a = new Int8Array(6), b = new Int8Array(6);
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    ['packB transB', () => packB(b, { k: 3, n: 2, transB: 1 as never }), TypeError, /a boolean for transB, received number 1/],
    ['int8Gemm transB', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, transB: 'yes' as never }), TypeError, /a boolean for transB/],
    ['int8Gemm relu', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, output: 'float32', aScale: 1, bScale: 1, relu: 1 as never }), TypeError, /a boolean for relu/],
    // @ts-expect-error the types refuse it too
    ['int8Gemm relu, int32', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, relu: true }), TypeError, /nothing for output 'int32'.* for relu/],
    // @ts-expect-error the types refuse it too
    ['int8Gemm outScale, float32', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, output: 'float32', aScale: 1, bScale: 1, outScale: 2 }), TypeError, /nothing for output 'float32'.* for outScale/],
    // @ts-expect-error the types refuse it too
    ['int8Gemm outZeroPoint, float32', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, output: 'float32', aScale: 1, bScale: 1, outZeroPoint: 0 }), TypeError, /for outZeroPoint/],
    ['linearDynamic relu', () => linearDynamic(new Float32Array(6), packB(b, { k: 3, n: 2 }), { m: 2, bScale: 1, relu: 'no' as never }), TypeError, /a boolean for relu/],
    ['int8Gemm m beyond 2^40', () => int8Gemm(new Int8Array(0), new Int8Array(0), { m: 2 ** 41, n: 0, k: 0 }), RangeError, /an integer in \[0, 1099511627776\] for m/],
    ['packB n beyond 2^40', () => packB(new Int8Array(0), { k: 1, n: 2 ** 41 }), RangeError, /an integer in \[1, 1099511627776\] for n/],
    ['sgemm k beyond 2^40', () => sgemm(new Float32Array(0), new Float32Array(0), { m: 0, n: 0, k: 2 ** 41 }), RangeError, /an integer in \[0, 1099511627776\] for k/],
    ['PackedMatrix constructor', () => new PackedMatrix(undefined as never, null, 3, 2, 'int8'), TypeError, /packB\(\) .* for PackedMatrix/],
    ['quantize, no channels', () => quantize(new Float32Array(0), { scale: new Float32Array(0), axis: 0, shape: [0] }), RangeError, /at least one channel .* for shape\[0\]/],
    ['dequantize, no channels', () => dequantize(new Int8Array(0), { scale: new Float32Array(0), axis: 1, shape: [2, 0] }), RangeError, /for shape\[1\]/],
    ['fakeQuant, no channels', () => fakeQuant(new Float32Array(0), { scale: new Float32Array(0), zeroPoint: new Int32Array(0), axis: 0, shape: [0], quantMin: -128, quantMax: 127 }), RangeError, /for shape\[0\]/],
  ];
  for (const [name, fn, ctor, message] of cases) t.throws(fn, { constructor: ctor, message }, name);
  t.same([...int8Gemm(new Int8Array([1, 2]), new Int8Array([3, 4]), { m: 1, n: 1, k: 2, transB: false })], [11], 'transB: false is fine');
});

t.test('the C++ side refuses what the TypeScript layer would', async (t) => {
  const handle = native.packB(new Int8Array(6), 3, 2, false);
  const args = (packed: unknown, zb: unknown): Parameters<typeof native.gemm> =>
    [new Int8Array(6), null, packed, 2, 2, 3, false, 0, zb as number, 0, null, null, null, false, 1, 0, new Int32Array(4)];
  native.gemm(...args(handle, 0));
  for (const [what, v] of [['a plain object', {}], ['an array', []], ['a frozen copy', Object.freeze({ ...(handle as object) })]] as const)
    t.throws(() => native.gemm(...args(v, 0)), { constructor: TypeError, message: /packed must be a matrix returned by packB/ }, what);
  t.throws(() => native.gemm(...args(handle, Int32Array.of(0, 300))), { constructor: RangeError, message: /bZeroPoint\[1\] must be an integer in \[-128, 127\]/ }, 'zero point array');
  t.throws(() => native.dequantizePerChannel(Int8Array.of(1), new Float32Array(1), Float32Array.of(1), Int32Array.of(-(2 ** 31)), 1, 1, 1), { constructor: RangeError, message: /zeroPoint\[0\] must lie in \[-128, 127\]/ });
  // The entropy search's levels and the mse search's candidate count are bounded (a crafted call would run for hours).
  const counts = new Float64Array(2048).fill(1);
  t.throws(() => native.entropySearch(counts, 2048, Int32Array.of(2048), Int32Array.of(2 ** 31 - 1), new Int32Array(1), null), { constructor: RangeError, message: /levels\[0\] must be in \[1, 65536\]/ });
  t.throws(() => native.mseSearch(counts, 2048, Int32Array.of(2048), Float64Array.of(0, 0, 5e-324), Float64Array.of(1, -1, 1), true, -128, 127, 0, new Float64Array(1), new Int32Array(1)), { constructor: RangeError, message: /too many mse candidates/ });
});
