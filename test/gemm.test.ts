// INT8 GEMM: every tier against the scalar reference bit for bit (shapes around every tile edge, all four
// signedness pairs, zero points at both ends, saturating extremes, transB, packed, threads, async), the scalar
// reference against a TypeScript model of the definition, and the fused outputs against float64.
import t from 'tap';
import {
  calibrate,
  quantize,
  getNumThreads,
  int8Gemm,
  int8GemmAsync,
  linearDynamic,
  PackedMatrix,
  linearDynamicAsync,
  packB,
  setNumThreads,
  withIsa,
  type GemmOptions,
} from '../lib/index';
import { native } from '../lib/native';
import { TIERS, forEachIsa, rng, sameBits, scalar } from './_harness';

const DIMS = [1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129];
type Bytes = Int8Array | Uint8Array;

function randBytes(n: number, seed: number, signed: boolean, extremes = false): Bytes {
  const r = rng(seed);
  const a = signed ? new Int8Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (extremes) a[i] = signed ? (r() < 0.5 ? -128 : 127) : (r() < 0.5 ? 255 : 0);
    else a[i] = Math.floor(r() * 256) - (signed ? 128 : 0);
  }
  return a;
}

/** The definition, in float64 (exact below 2^53), wrapped to int32. */
function refGemm(a: Bytes, b: Bytes, m: number, n: number, k: number, za: number, zb: number | Int32Array, transB: boolean): Int32Array {
  const c = new Int32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      const z = typeof zb === 'number' ? zb : zb[j]!;
      let s = 0;
      for (let p = 0; p < k; p++) s += (a[i * k + p]! - za) * ((transB ? b[j * k + p]! : b[p * n + j]!) - z);
      c[i * n + j] = s | 0;
    }
  return c;
}

const PAIRS = [
  [true, true],
  [false, true],
  [true, false],
  [false, false],
] as const;

t.test('scalar reference equals the definition', async (t) => {
  let seed = 1;
  for (const [as, bs] of PAIRS)
    for (const [m, n, k] of [[1, 1, 1], [3, 5, 7], [17, 16, 33], [4, 65, 63]] as const)
      for (const transB of [false, true]) {
        const a = randBytes(m * k, seed++, as), b = randBytes(k * n, seed++, bs);
        const za = as ? -128 : 255, zb = bs ? 127 : 0;
        const got = scalar(() => int8Gemm(a, b, { m, n, k, transB, aZeroPoint: za, bZeroPoint: zb }));
        sameBits(t, got, refGemm(a, b, m, n, k, za, zb, transB), `${as ? 's8' : 'u8'}x${bs ? 's8' : 'u8'} ${m}x${n}x${k} transB=${transB}`);
      }
});

t.test('every tier equals scalar: shapes around every tile edge', async (t) => {
  const cases: { m: number; n: number; k: number; as: boolean; bs: boolean; transB: boolean; za: number; zb: number | Int32Array; seed: number }[] = [];
  let seed = 100;
  for (let mi = 0; mi < DIMS.length; mi++)
    for (let ni = 0; ni < DIMS.length; ni++) {
      const [as, bs] = PAIRS[(mi + ni) % 4]!;
      const k = DIMS[(mi * 7 + ni * 3) % DIMS.length]!;
      const m = DIMS[mi]!, n = DIMS[ni]!;
      const r = rng(seed);
      const za = as ? [-128, 0, 127][mi % 3]! : [0, 128, 255][mi % 3]!;
      const zb = ni % 3 === 0 ? Int32Array.from({ length: n }, () => Math.floor(r() * 256) - (bs ? 128 : 0)) : bs ? [-128, 127][ni % 2]! : [0, 255][ni % 2]!;
      cases.push({ m, n, k, as, bs, transB: (mi + ni) % 2 === 1, za, zb, seed: seed++ });
    }
  forEachIsa(t, (t, isa) => {
    if (isa === 'scalar') return t.pass('scalar is the reference');
    for (const c of cases) {
      const a = randBytes(c.m * c.k, c.seed, c.as), b = randBytes(c.k * c.n, c.seed + 1, c.bs);
      const o: GemmOptions = { m: c.m, n: c.n, k: c.k, transB: c.transB, aZeroPoint: c.za, bZeroPoint: c.zb };
      sameBits(t, int8Gemm(a, b, o), scalar(() => int8Gemm(a, b, o)), `${c.as ? 's8' : 'u8'}x${c.bs ? 's8' : 'u8'} ${c.m}x${c.n}x${c.k} transB=${c.transB}`);
    }
  });
});

t.test('extreme values that saturate 16-bit intermediates, and int32 wrap-around', async (t) => {
  forEachIsa(t, (t) => {
    for (const [as, bs] of PAIRS)
      for (const [m, n, k] of [[5, 70, 256], [1, 64, 1023], [7, 24, 130]] as const) {
        const a = randBytes(m * k, m * k, as, true), b = randBytes(k * n, k, bs, true);
        for (const [za, zb] of [[0, 0], [as ? 127 : 0, bs ? -128 : 255], [as ? -128 : 255, bs ? 127 : 0]]) {
          const o = { m, n, k, aZeroPoint: za!, bZeroPoint: zb! };
          sameBits(t, int8Gemm(a, b, o), refGemm(a, b, m, n, k, za!, zb!, false), `${as ? 's8' : 'u8'}x${bs ? 's8' : 'u8'} extremes ${m}x${n}x${k} za=${za} zb=${zb}`);
        }
      }
    // 255 * -128 pairs: every product is the most negative u8 x s8 value.
    const a = new Uint8Array(4 * 300).fill(255), b = new Int8Array(300 * 40).fill(-128);
    t.equal(int8Gemm(a, b, { m: 4, n: 40, k: 300 })[0], 255 * -128 * 300, '255 x -128, k = 300');
    // Sums beyond int32 wrap modulo 2^32 identically on every tier.
    const k = 70000;
    const aw = new Uint8Array(k).fill(255), bw = new Uint8Array(k).fill(255);
    t.equal(int8Gemm(aw, bw, { m: 1, n: 1, k, aZeroPoint: 0, bZeroPoint: 0 })[0], (255 * 255 * k) | 0, 'wraps modulo 2^32');
    t.equal(int8Gemm(aw, bw, { m: 1, n: 1, k, aZeroPoint: 0, bZeroPoint: 0 })[0], scalar(() => int8Gemm(aw, bw, { m: 1, n: 1, k })[0]));
  });
});

t.test('packed B equals unpacked, reusable across tiers and calls', async (t) => {
  for (const [as, bs] of PAIRS)
    for (const transB of [false, true]) {
      const m = 9, n = 77, k = 45;
      const a = randBytes(m * k, 5, as), b = randBytes(k * n, 6, bs);
      const pb = packB(b, { k, n, transB });
      t.equal(pb.k, k);
      t.equal(pb.n, n);
      t.equal(pb.dtype, bs ? 'int8' : 'uint8');
      const o = { m, n, k, transB, aZeroPoint: 3, bZeroPoint: Int32Array.from({ length: n }, (_, j) => (bs ? j - 40 : j + 100)) };
      const want = scalar(() => int8Gemm(a, b, o));
      for (const isa of TIERS) sameBits(t, withIsa(isa, () => int8Gemm(a, pb, o)), want, `${isa} packed ${as ? 's8' : 'u8'}x${bs ? 's8' : 'u8'} transB=${transB}`);
      sameBits(t, int8Gemm(a, pb, o), want, 'reused');
    }
});

t.test('packB under each tier: the packing is all it keeps, and every tier rebuilds B from it', async (t) => {
  const m = 5, n = 70, k = 131;
  for (const [as, bs] of PAIRS) {
    const a = randBytes(m * k, 11, as), b = randBytes(k * n, 12, bs);
    const o = { m, n, k, aZeroPoint: as ? -7 : 200, bZeroPoint: bs ? 5 : 130 };
    const want = scalar(() => int8Gemm(a, b, o));
    for (const from of TIERS) {
      const copy = b.slice();
      const pb = withIsa(from, () => packB(copy, { k, n }));
      copy.fill(0);  // packB copied what it needs: b may change afterwards
      for (const isa of TIERS)
        sameBits(t, withIsa(isa, () => int8Gemm(a, pb, o)), want, `packed under ${from}, run under ${isa} (${as ? 's8' : 'u8'}x${bs ? 's8' : 'u8'})`);
    }
  }
});

t.test('threads: identical results for 1 thread and all threads', async (t) => {
  const before = getNumThreads();
  // These shapes are small for the fast tiers, which would then stay on one thread: make every call split.
  native.setMinMicrosPerThread(0);
  t.teardown(() => native.setMinMicrosPerThread(20));
  forEachIsa(t, (t) => {
    for (const [m, n, k] of [[256, 256, 256], [1, 4096, 512], [300, 70, 129], [3136, 64, 72]] as const) {
      const a = randBytes(m * k, 1, false), b = randBytes(k * n, 2, true);
      setNumThreads(1);
      const one = int8Gemm(a, b, { m, n, k, aZeroPoint: 7 });
      setNumThreads(0);
      const all = int8Gemm(a, b, { m, n, k, aZeroPoint: 7 });
      setNumThreads(8);
      const eight = int8Gemm(a, b, { m, n, k, aZeroPoint: 7 });
      sameBits(t, all, one, `${m}x${n}x${k}: default threads = 1 thread`);
      sameBits(t, eight, one, `${m}x${n}x${k}: 8 threads = 1 thread`);
    }
  });
  setNumThreads(before === getNumThreads() ? 0 : before);
  t.throws(() => setNumThreads(-1), { constructor: RangeError, message: /integer in \[0, 256\] for threads/ });
});

/** float64 model of the float epilogue. */
function refFloat(c: Int32Array, m: number, n: number, aScale: number, bScale: Float32Array, bias: Float32Array | undefined, relu: boolean): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let v = c[i * n + j]! * aScale * bScale[j]! + (bias ? bias[j]! : 0);
      if (relu) v = Math.max(v, 0);
      y[i * n + j] = v;
    }
  return y;
}

t.test('float32 and requantized outputs', async (t) => {
  const m = 13, n = 40, k = 97;
  const a = randBytes(m * k, 21, false), b = randBytes(k * n, 22, true);
  const r = rng(23);
  const aScale = 0.02, bScale = Float32Array.from({ length: n }, () => 0.001 + r() * 0.01);
  const bias = Float32Array.from({ length: n }, () => (r() - 0.5) * 4);
  const c = refGemm(a, b, m, n, k, 120, 0, false);
  forEachIsa(t, (t) => {
    for (const relu of [false, true]) {
      const want = refFloat(c, m, n, aScale, bScale, bias, relu);
      const y = int8Gemm(a, b, { m, n, k, aZeroPoint: 120, output: 'float32', aScale, bScale, bias, relu });
      t.type(y, Float32Array);
      const bad = [...y].findIndex((v, i) => Math.abs(v - want[i]!) > 1e-5 * Math.max(Math.abs(want[i]!), 1));
      t.equal(bad, -1, `float32 relu=${relu} within 1e-5 of float64` + (bad >= 0 ? `: [${bad}] ${y[bad]} vs ${want[bad]}` : ''));
      sameBits(t, y, scalar(() => int8Gemm(a, b, { m, n, k, aZeroPoint: 120, output: 'float32', aScale, bScale, bias, relu })), `float32 relu=${relu} identical to scalar`);
      for (const [output, outZeroPoint] of [['int8', -5], ['uint8', 128]] as const) {
        const outScale = 0.05;
        const q = int8Gemm(a, b, { m, n, k, aZeroPoint: 120, output, aScale, bScale, bias, relu, outScale, outZeroPoint });
        const [lo, hi] = output === 'int8' ? [-128, 127] : [0, 255];
        const off = [...q].findIndex((v, i) => {
          const exact = Math.min(Math.max(Math.round(want[i]! / outScale) + outZeroPoint, relu ? Math.max(lo, outZeroPoint) : lo), hi);
          return Math.abs(v - exact) > 1;
        });
        t.equal(off, -1, `${output} relu=${relu} within 1 of the float64 reference`);
        if (relu) t.ok([...q].every((v) => v >= outZeroPoint), `${output} relu clamps at the output zero point`);
        sameBits(t, q, scalar(() => int8Gemm(a, b, { m, n, k, aZeroPoint: 120, output, aScale, bScale, bias, relu, outScale, outZeroPoint })), `${output} relu=${relu} identical to scalar`);
      }
    }
    const scalarB = int8Gemm(a, b, { m, n, k, output: 'float32', aScale: 0.5, bScale: 0.25 });
    const want = refFloat(refGemm(a, b, m, n, k, 0, 0, false), m, n, 0.5, new Float32Array(n).fill(0.25), undefined, false);
    t.same([...scalarB], [...want].map(Math.fround), 'scalar bScale, no bias (exact: power-of-two scales)');
  });
});

t.test('async equals sync; the event loop keeps running', async (t) => {
  const m = 200, n = 300, k = 400;
  const a = randBytes(m * k, 31, true), b = randBytes(k * n, 32, true);
  const pb = packB(b, { k, n });
  for (const isa of TIERS) {
    const want = withIsa(isa, () => int8Gemm(a, pb, { m, n, k, aZeroPoint: -3 }));
    const p = withIsa(isa, () => int8GemmAsync(a, pb, { m, n, k, aZeroPoint: -3 }));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const [got, got2] = await Promise.all([p, withIsa(isa, () => int8GemmAsync(a, b, { m, n, k, aZeroPoint: -3 }))]);
    clearInterval(timer);
    sameBits(t, got, want, `${isa}: async packed equals sync`);
    sameBits(t, got2, want, `${isa}: async unpacked equals sync`);
  }
  const out = new Float32Array(m * n);
  t.equal(await int8GemmAsync(a, pb, { m, n, k, output: 'float32', aScale: 1, bScale: 1 }, out), out, 'async returns its out');
  await t.rejects(int8GemmAsync(a, pb, { m: 1, n, k }), RangeError, 'bad arguments reject the promise');
});

t.test('linearDynamic: quantize rows, int8 GEMM, dequantize', async (t) => {
  const m = 6, n = 50, k = 130;
  const r = rng(41);
  const x = Float32Array.from({ length: m * k }, () => (r() - 0.3) * 6);
  const w = randBytes(n * k, 42, true) as Int8Array;
  const wScale = Float32Array.from({ length: n }, () => 0.01 + r() * 0.02);
  const bias = Float32Array.from({ length: n }, () => r() - 0.5);
  const pw = packB(w, { k, n, transB: true });
  // float64 reference of the float layer (no activation quantization) bounds the quantization error.
  forEachIsa(t, (t) => {
    const y = linearDynamic(x, pw, { m, bScale: wScale, bias });
    sameBits(t, y, scalar(() => linearDynamic(x, pw, { m, bScale: wScale, bias })), 'identical to scalar');
    let maxErr = 0, maxRef = 0;
    for (let i = 0; i < m; i++) {
      let lo = 0, hi = 0;
      for (let p = 0; p < k; p++) (lo = Math.min(lo, x[i * k + p]!)), (hi = Math.max(hi, x[i * k + p]!));
      const step = (hi - lo) / 255;
      for (let j = 0; j < n; j++) {
        let s = 0, wabs = 0;
        for (let p = 0; p < k; p++) (s += x[i * k + p]! * w[j * k + p]! * wScale[j]!), (wabs += Math.abs(w[j * k + p]! * wScale[j]!));
        s += bias[j]!;
        maxRef = Math.max(maxRef, Math.abs(s));
        const err = Math.abs(y[i * n + j]! - s);
        // Each activation is off by at most half a step (plus float rounding).
        maxErr = Math.max(maxErr, err / (0.5 * step * wabs + 1e-4));
      }
    }
    t.ok(maxErr <= 1.001, `error within half an activation step per weight (ratio ${maxErr.toFixed(3)})`);
    const relu = linearDynamic(x, pw, { m, bScale: wScale, bias, relu: true });
    t.ok([...relu].every((v, i) => v === Math.max(y[i]!, 0)), 'relu');
  });
  const y = linearDynamic(x, pw, { m, bScale: wScale, bias });
  sameBits(t, await linearDynamicAsync(x, pw, { m, bScale: wScale, bias }), y, 'async equals sync');
  t.same([...linearDynamic(new Float32Array(k), pw, { m: 1, bScale: 1 })], new Array(n).fill(0), 'zero input row');
});

// Each row of linearDynamic is exactly int8Gemm of that row quantized with the documented per-row parameters: for
// uint8, the row's range widened to include 0 over 255 levels (scale and zero point in float32 as the addon computes
// them); for int8, calibrate()'s symmetric rule (PyTorch's qint8 observer: max|x| / 127.5, zero point 0).
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
function rowParams(row: Float32Array, dtype: 'uint8' | 'int8'): { scale: number; zeroPoint: number } {
  if (dtype === 'int8') {
    const c = calibrate(row, { symmetric: true, dtype: 'int8' });
    return { scale: c.scale as number, zeroPoint: c.zeroPoint as number };
  }
  let lo = 0, hi = 0;
  for (const v of row) if (!Number.isNaN(v)) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  let scale = Math.fround(Math.fround(hi - lo) / 255);
  if (scale === Infinity) scale = Math.fround((hi - lo) / 255);  // hi - lo beyond float32: the quotient in float64
  if (!(scale > 0) || !Number.isFinite(Math.fround(1 / scale))) scale = 1;
  const inv = Math.fround(1 / scale);
  return { scale, zeroPoint: Math.min(255, Math.max(0, roundHalfEven(Math.fround(-lo * inv)))) };
}

t.test('linearDynamic: each row is int8Gemm of the row quantized with its own parameters', async (t) => {
  const m = 6, n = 37, k = 70;
  const r = rng(77);
  // Rows of different ranges: all positive, all negative, mixed, tiny, one with a zero, and one whose range
  // (-3e38 .. 3e38) is wider than float32 holds.
  const x = Float32Array.from({ length: m * k }, (_, i) => {
    const row = Math.floor(i / k), v = r() - 0.5;
    const wide = i % k === 0 ? -3e38 : i % k === 1 ? 3e38 : v * 1e38;
    return [v * 8 + 4, v * 8 - 4, v * 3, v * 1e-6, i % k === 0 ? 0 : v * 50, wide][row]!;
  });
  const bScale = Float32Array.from({ length: n }, () => 0.005 + r() * 0.02);
  const bias = Float32Array.from({ length: n }, () => r() - 0.5);
  // int8 weights (zero point 0), and uint8 weights with per-column zero points and with one zero point.
  const weights: [string, PackedMatrix, number | Int32Array | undefined][] = [
    ['int8 w', packB(randBytes(n * k, 78, true) as Int8Array, { k, n, transB: true }), undefined],
    ['uint8 w, zero point per column', packB(randBytes(n * k, 79, false) as Uint8Array, { k, n, transB: true }), Int32Array.from({ length: n }, (_, j) => (j * 37) % 256)],
    ['uint8 w, zero point 128', packB(randBytes(n * k, 80, false) as Uint8Array, { k, n }), 128],
  ];
  for (const [wName, pw, bZeroPoint] of weights)
    for (const dtype of ['uint8', 'int8'] as const)
      for (const relu of [false, true])
        forEachIsa(t, (t) => {
          const y = linearDynamic(x, pw, { m, bScale, bias, relu, dtype, bZeroPoint });
          for (let i = 0; i < m; i++) {
            const row = x.subarray(i * k, (i + 1) * k);
            const qp = rowParams(row, dtype);
            const q = quantize(row, { ...qp, dtype });
            const want = int8Gemm(q, pw, { m: 1, n, k, aZeroPoint: qp.zeroPoint, bZeroPoint, output: 'float32', aScale: qp.scale, bScale, bias, relu });
            sameBits(t, y.subarray(i * n, (i + 1) * n), want, `${wName}, ${dtype}${relu ? ' relu' : ''} row ${i}`);
          }
        });
  const pw = weights[0]![1];
  const y8 = linearDynamic(x, pw, { m, bScale, bias, dtype: 'int8' });
  sameBits(t, await linearDynamicAsync(x, pw, { m, bScale, bias, dtype: 'int8' }), y8, 'int8: async equals sync');
  t.throws(() => linearDynamic(x, pw, { m, bScale, dtype: 'int4' as never }), { constructor: RangeError, message: /one of 'uint8', 'int8' for dtype/ });
  t.throws(() => linearDynamic(x, pw, { m, bScale, bZeroPoint: 128 }), { constructor: RangeError, message: /integer in \[-128, 127\] for bZeroPoint/ }, 'int8 weights: zero point in int8 range');
  t.throws(() => linearDynamic(x, weights[1]![1], { m, bScale, bZeroPoint: new Int32Array(3) }), { constructor: RangeError, message: /length 37 \(n\) for bZeroPoint/ });
});

t.test('linearDynamic: a row that is not finite is a RangeError naming the row', async (t) => {
  const m = 4, n = 8, k = 40;
  const pw = packB(randBytes(n * k, 81, true) as Int8Array, { k, n });
  for (const [bad, rows] of [[NaN, [2]], [Infinity, [3, 1]], [-Infinity, [0]]] as const)
    for (const dtype of ['uint8', 'int8'] as const)
      forEachIsa(t, (t) => {
        const x = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i));
        for (const row of rows) x[row * k + 7] = bad;
        const first = Math.min(...rows);
        const message = new RegExp(`finite values for x .* received NaN or Infinity in row ${first}$`);
        t.throws(() => linearDynamic(x, pw, { m, bScale: 0.01, dtype }), { constructor: RangeError, message }, `${bad} in rows ${rows}, ${dtype}`);
      });
  const x = new Float32Array(m * k).fill(1);
  x[5 * 1 + k] = NaN;
  await t.rejects(linearDynamicAsync(x, pw, { m, bScale: 0.01 }), { constructor: RangeError, message: /in row 1$/ }, 'async rejects');
  x[5 + k] = 1;
  t.equal((await linearDynamicAsync(x, pw, { m, bScale: 0.01 })).length, m * n, 'and works once the row is finite');
});

t.test('bad input', async (t) => {
  const a = new Int8Array(6), b = new Int8Array(6);
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    ['a type', () => int8Gemm(new Int16Array(6) as never, b, { m: 2, n: 2, k: 3 }), TypeError, /Int8Array or Uint8Array for a, received Int16Array\(6\)/],
    ['b type', () => int8Gemm(a, new Float32Array(6) as never, { m: 2, n: 2, k: 3 }), TypeError, /packB\(\) matrix for b, received Float32Array\(6\)/],
    ['a length', () => int8Gemm(a, b, { m: 3, n: 2, k: 3 }), RangeError, /length 9 \(m \* k\) for a, received Int8Array\(6\)/],
    ['b length', () => int8Gemm(a, b, { m: 2, n: 3, k: 3 }), RangeError, /length 9 \(k \* n\) for b/],
    ['m fractional', () => int8Gemm(a, b, { m: 1.5, n: 2, k: 3 }), RangeError, /an integer in \[0, 1099511627776\] for m, received number 1.5/],
    ['k missing', () => int8Gemm(a, b, { m: 2, n: 2 } as never), TypeError, /a number for k, received undefined/],
    ['options', () => int8Gemm(a, b, null as never), TypeError, /options object for options, received null/],
    ['output', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, output: 'int16' } as never), RangeError, /one of 'int32', 'float32', 'int8', 'uint8' for output/],
    ['aZeroPoint range', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, aZeroPoint: 128 }), RangeError, /\[-128, 127\] for aZeroPoint, received number 128/],
    ['aZeroPoint uint8 range', () => int8Gemm(new Uint8Array(6), b, { m: 2, n: 2, k: 3, aZeroPoint: -1 }), RangeError, /\[0, 255\] for aZeroPoint/],
    ['bZeroPoint length', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, bZeroPoint: new Int32Array(3) }), RangeError, /length 2 \(n\) for bZeroPoint/],
    ['bZeroPoint element', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, bZeroPoint: Int32Array.of(0, 200) }), RangeError, /for bZeroPoint\[1\], received number 200/],
    ['bZeroPoint type', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, bZeroPoint: [1, 2] as never }), TypeError, /for bZeroPoint, received Array\(2\)/],
    // @ts-expect-error the types refuse it too
    ['float32 needs aScale', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, output: 'float32', bScale: 1 }), TypeError, /required for output 'float32'\) for aScale, received undefined/],
    ['bScale zero', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, output: 'float32', aScale: 1, bScale: 0 }), RangeError, /for bScale, received number 0/],
    ['bScale element', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, output: 'float32', aScale: 1, bScale: Float32Array.of(1, -1) }), RangeError, /for bScale\[1\]/],
    ['bias length', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, output: 'float32', aScale: 1, bScale: 1, bias: new Float32Array(3) }), RangeError, /length 2 \(n\) for bias/],
    // @ts-expect-error the types refuse it too
    ['int8 needs outScale', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, output: 'int8', aScale: 1, bScale: 1 }), TypeError, /for outScale, received undefined/],
    ['outZeroPoint range', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, output: 'uint8', aScale: 1, bScale: 1, outScale: 1, outZeroPoint: 256 }), RangeError, /\[0, 255\] for outZeroPoint/],
    // @ts-expect-error the types refuse it too
    ['int32 with scales', () => int8Gemm(a, b, { m: 2, n: 2, k: 3, aScale: 1 }), TypeError, /nothing for output 'int32'.* for aScale/],
    ['out type', () => int8Gemm(a, b, { m: 2, n: 2, k: 3 }, new Float32Array(4) as never), TypeError, /Int32Array \(output 'int32'\) for out, received Float32Array\(4\)/],
    ['out length', () => int8Gemm(a, b, { m: 2, n: 2, k: 3 }, new Int32Array(5)), RangeError, /length 4 \(m \* n\) for out/],
    ['packed shape', () => int8Gemm(a, packB(b, { k: 2, n: 3 }), { m: 2, n: 2, k: 3 }), RangeError, /packed matrix of k x n = 3 x 2 for b/],
    ['packB length', () => packB(b, { k: 4, n: 2 }), RangeError, /length 8 \(k \* n\) for b/],
    ['packB k zero', () => packB(new Int8Array(0), { k: 0, n: 2 }), RangeError, /an integer in \[1, 1099511627776\] for k/],
    ['packB dtype', () => packB(b, { k: 3, n: 2, dtype: 'uint8' }), TypeError, /Uint8Array \(dtype 'uint8'\) for b/],
    ['linearDynamic w', () => linearDynamic(new Float32Array(6), b as never, { m: 2, bScale: 1 }), TypeError, /packed weight matrix from packB\(\) for w/],
    ['linearDynamic x', () => linearDynamic(new Float32Array(5), packB(b, { k: 3, n: 2 }), { m: 2, bScale: 1 }), RangeError, /length 6 \(m \* k\) for x/],
    ['linearDynamic bScale', () => linearDynamic(new Float32Array(6), packB(b, { k: 3, n: 2 }), { m: 2, bScale: NaN }), RangeError, /for bScale, received number NaN/],
  ];
  for (const [name, fn, type, re] of cases) t.throws(fn, { constructor: type, message: re }, name);
  t.same([...int8Gemm(new Int8Array(0), new Int8Array(0), { m: 0, n: 0, k: 0 })], [], 'empty');
  t.same([...int8Gemm(new Int8Array(0), new Int8Array(0), { m: 2, n: 2, k: 0 })], [0, 0, 0, 0], 'k = 0 gives zeros');
  t.same([...int8Gemm(Int8Array.of(1, 2, 3, 4), Int8Array.of(5, 6, 7, 8), { m: 2, n: 2, k: 2 })], [19, 22, 43, 50], 'the README example');
});

t.test('the native layer re-checks broadcast zero points and scales passed as numbers', async (t) => {
  const a = new Uint8Array(6), b = new Int8Array(12), out = new Int32Array(8), f = new Float32Array(8);
  const call = (za: number, zb: number, mode = 0, as: number | null = null, bs: number | null = null, o: Int32Array | Float32Array = out) =>
    native.gemm(a, b, null, 2, 4, 3, false, za, zb, mode, as, bs, null, false, 1, 0, o);
  call(255, -128);
  t.same([...out], new Array(8).fill(-255 * 128 * 3), "(0 - 255) * (0 + 128) summed over k = 3");
  call(3, 5);
  t.same([...out], new Array(8).fill(3 * 5 * 3), 'sum over k of (0 - za) * (0 - zb)');
  t.throws(() => call(256, 0), { constructor: RangeError, message: /aZeroPoint must be an integer in \[0, 255\]/ });
  t.throws(() => call(1.5, 0), { constructor: RangeError, message: /aZeroPoint must be an integer/ });
  t.throws(() => call(0, 128), { constructor: RangeError, message: /bZeroPoint must be an integer in \[-128, 127\]/ });
  t.throws(() => call(0, 0, 1, 0, 1, f), { constructor: RangeError, message: /aScale must be a positive finite float32/ });
  t.throws(() => call(0, 0, 1, 1, Infinity, f), { constructor: RangeError, message: /bScale must be a positive finite float32/ });
  t.throws(() => call(0, 0, 1, 1, 1e-50, f), { constructor: RangeError, message: /bScale must be a positive finite float32/ }, 'rounds to 0 in float32');
  call(1, 2, 1, 0.5, 0.25, f);
  t.same([...f], new Array(8).fill(1 * 2 * 3 * 0.5 * 0.25), 'float output with number scales');
  const p = native.gemmAsync(a, b, null, 2, 4, 3, false, 7, 1, 0, null, null, null, false, 1, 0, out);
  // The number arguments live in the queued call, not on the JS stack.
  await p;
  t.same([...out], new Array(8).fill(7 * 1 * 3), 'async with number zero points');
});

// The option types follow `output` (checked by `tsc --noEmit` in pretest; the @ts-expect-error lines fail the
// type check if the types stop refusing them), and so does the result type; the runtime agrees.
t.test('option and result types follow output', (tt) => {
  const a = new Int8Array(6), b = new Int8Array(6);
  const shape = { m: 2, n: 2, k: 3 };
  const i32: Int32Array = int8Gemm(a, b, shape);
  const f32: Float32Array = int8Gemm(a, b, { ...shape, output: 'float32', aScale: 1, bScale: 1, relu: true });
  const u8: Uint8Array = int8Gemm(a, b, { ...shape, output: 'uint8', aScale: 1, bScale: 1, outScale: 1, outZeroPoint: 3 });
  const i8: Int8Array = int8Gemm(a, b, { ...shape, output: 'int8', aScale: 1, bScale: 1, outScale: 1 });
  tt.ok(i32 instanceof Int32Array && f32 instanceof Float32Array && u8 instanceof Uint8Array && i8 instanceof Int8Array);
  const any: GemmOptions = Math.random() < 2 ? { ...shape } : { ...shape, output: 'float32', aScale: 1, bScale: 1 };
  tt.ok(int8Gemm(a, b, any) instanceof Int32Array, 'the union of all options is accepted');
  // @ts-expect-error an Int32Array out for output 'float32'
  tt.throws(() => int8Gemm(a, b, { ...shape, output: 'float32', aScale: 1, bScale: 1 }, new Int32Array(4)), TypeError);
  // @ts-expect-error bias without a scaled output
  tt.throws(() => int8Gemm(a, b, { ...shape, bias: new Float32Array(2) }), TypeError);
  tt.end();
});
