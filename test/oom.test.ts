// Out of memory in the native code. The addon's internal _setAllocLimit(bytes) makes every native allocation of
// more than `bytes` fail as if the memory were gone (packing, scratch, per-call arrays). Every GEMM entry point
// must then throw (sync) or reject with (async) a RangeError that names the operation, never abort the process,
// and once the limit is lifted the same calls (the same packed matrix, whose failed packing must not have been
// kept) must give exact results again. On every tier: the scalar tier's reference loops, the packed kernels and
// the few-rows gemv path fail in different places.
import t from 'tap';
import {
  Calibrator,
  calibrate,
  dequantize,
  fakeQuant,
  fakeQuantLearnable,
  int8Gemm,
  int8GemmAsync,
  linearDynamic,
  linearDynamicAsync,
  packB,
  quantize,
  sgemm,
  sgemmAsync,
  withIsa,
} from '../lib/index';
import { native } from '../lib/native';
import { TIERS, randomInt8, randomUint8, rng, sameBits, scalar } from './_harness';

const LIMIT = 64; // bytes: below every allocation the shapes here need
const SHAPES = [
  { m: 33, n: 65, k: 300 }, // packed into tasks on the threads
  { m: 2, n: 200, k: 64 }, // unpacked: the gemv path
] as const;

/** Small integers: every float32 sum is exact, so every tier gives the same result. */
function smallInts(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => Math.floor(r() * 17) - 8);
}

function refSgemm(a: Float32Array, b: Float32Array, m: number, n: number, k: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
      c[i * n + j] = s;
    }
  return c;
}

function oom(op: string): { constructor: typeof RangeError; message: RegExp } {
  return { constructor: RangeError, message: new RegExp(`^qkernels: out of memory in ${op}$`) };
}

/** Runs fn with the allocation limit set, lifting it however fn ends. */
function limited<T>(fn: () => T): T {
  native._setAllocLimit(LIMIT);
  try {
    return fn();
  } finally {
    native._setAllocLimit(0);
  }
}

/** The same for async work: the limit stays set until the Promise settles (the work runs on another thread). */
async function limitedAsync<T>(fn: () => Promise<T>): Promise<T> {
  native._setAllocLimit(LIMIT);
  try {
    return await fn();
  } finally {
    native._setAllocLimit(0);
  }
}

t.teardown(() => native._setAllocLimit(0));

t.test('_setAllocLimit checks its argument', async (t) => {
  t.throws(() => native._setAllocLimit(-1), { constructor: RangeError, message: /bytes must be an integer/ });
  t.throws(() => native._setAllocLimit('64' as never), { constructor: TypeError, message: /bytes must be a number/ });
});

for (const isa of TIERS)
  t.test(isa, async (t) => {
    let seed = 1;
    for (const { m, n, k } of SHAPES) {
      const at = `${m}x${n}x${k}`;
      const a = randomUint8(m * k, seed++), b = randomInt8(k * n, seed++);
      const opts = { m, n, k, aZeroPoint: 3 };
      const want = scalar(() => int8Gemm(a, b, opts));

      // int8Gemm with B unpacked: packed per call (or the gemv's arrays, or the reference's row).
      t.throws(() => limited(() => withIsa(isa, () => int8Gemm(a, b, opts))), oom('int8Gemm'), `int8Gemm ${at}`);
      sameBits(t, withIsa(isa, () => int8Gemm(a, b, opts)), want, `int8Gemm ${at} after the limit`);

      // packB packs for the active tier at once; the values alone are copied with the scalar tier active.
      t.throws(() => limited(() => withIsa(isa, () => packB(b, { k, n }))), oom('packB'), `packB ${at}`);
      const pw = scalar(() => packB(b, { k, n }));
      t.throws(() => limited(() => withIsa(isa, () => int8Gemm(a, pw, opts))), oom('int8Gemm'), `int8Gemm ${at} packing on first use`);
      sameBits(t, withIsa(isa, () => int8Gemm(a, pw, opts)), want, `int8Gemm ${at} packed, after the limit`);
      sameBits(t, withIsa(isa, () => int8Gemm(a, pw, opts)), want, `int8Gemm ${at} packed, with the packing kept`);

      // Async: the Promise rejects with the same RangeError; the process goes on.
      await t.rejects(limitedAsync(() => withIsa(isa, () => int8GemmAsync(a, b, opts))), oom('int8GemmAsync'), `int8GemmAsync ${at}`);
      const pw2 = scalar(() => packB(b, { k, n }));
      await t.rejects(limitedAsync(() => withIsa(isa, () => int8GemmAsync(a, pw2, opts))), oom('int8GemmAsync'), `int8GemmAsync ${at} packed`);
      sameBits(t, await withIsa(isa, () => int8GemmAsync(a, b, opts)), want, `int8GemmAsync ${at} after the limit`);
      sameBits(t, await withIsa(isa, () => int8GemmAsync(a, pw2, opts)), want, `int8GemmAsync ${at} packed, after the limit`);

      // linearDynamic: the quantized activations' buffer, then the GEMM.
      const x = smallInts(m * k, seed++).map((v) => v / 8);
      const w = withIsa(isa, () => packB(b, { k, n }));
      const lopts = { m, bScale: 0.01 };
      const y = withIsa(isa, () => linearDynamic(x, w, lopts));
      t.throws(() => limited(() => withIsa(isa, () => linearDynamic(x, w, lopts))), oom('linearDynamic'), `linearDynamic ${at}`);
      await t.rejects(limitedAsync(() => withIsa(isa, () => linearDynamicAsync(x, w, lopts))), oom('linearDynamicAsync'), `linearDynamicAsync ${at}`);
      sameBits(t, withIsa(isa, () => linearDynamic(x, w, lopts)), y, `linearDynamic ${at} after the limit`);
      sameBits(t, await withIsa(isa, () => linearDynamicAsync(x, w, lopts)), y, `linearDynamicAsync ${at} after the limit`);

      // sgemm: packing buffers (the scalar tier's loops allocate nothing), and C on top of A (k == n): a temporary.
      const fa = smallInts(m * k, seed++), fb = smallInts(k * n, seed++);
      const fwant = refSgemm(fa, fb, m, n, k);
      if (isa !== 'scalar') {
        t.throws(() => limited(() => withIsa(isa, () => sgemm(fa, fb, { m, n, k }))), oom('sgemm'), `sgemm ${at}`);
        await t.rejects(limitedAsync(() => withIsa(isa, () => sgemmAsync(fa, fb, { m, n, k }))), oom('sgemmAsync'), `sgemmAsync ${at}`);
      }
      sameBits(t, withIsa(isa, () => sgemm(fa, fb, { m, n, k })), fwant, `sgemm ${at} after the limit`);
      sameBits(t, await withIsa(isa, () => sgemmAsync(fa, fb, { m, n, k })), fwant, `sgemmAsync ${at} after the limit`);
      const sq = smallInts(n * n, seed++), c = smallInts(m * n, seed++);
      const sqwant = refSgemm(c, sq, m, n, n);
      const inPlace = c.slice();
      t.throws(() => limited(() => withIsa(isa, () => sgemm(inPlace, sq, { m, n, k: n }, inPlace))), oom('sgemm'), `sgemm ${at} in place`);
      sameBits(t, inPlace, c, `sgemm ${at} in place: A untouched by the failed call`);
      await t.rejects(limitedAsync(() => withIsa(isa, () => sgemmAsync(inPlace, sq, { m, n, k: n }, inPlace))), oom('sgemmAsync'), `sgemmAsync ${at} in place`);
      sameBits(t, withIsa(isa, () => sgemm(inPlace, sq, { m, n, k: n }, inPlace)), sqwant, `sgemm ${at} in place, after the limit`);
    }
  });

// The element-wise and calibration bindings: their per-channel parameter expansions, the histogram's scratch
// counts and the threshold searches' per-bin arrays are taken without throwing too (a failed std::vector in the
// addon, built without exceptions, would abort the process). Each call throws a RangeError naming the native
// operation, leaves the process running, and gives the unlimited result once the limit is lifted.
t.test('element-wise and calibration ops', async (t) => {
  const shape = [3, 20, 2]; // axis 1: 20 channels of 2 values (80-byte parameter arrays, expanded per element)
  const x = Float32Array.from(smallInts(120, 901), (v, i) => v / 4 + (i % 7) / 16);
  const scale = Float32Array.from({ length: 20 }, (_, c) => 0.05 + c / 200);
  const zeroPoint = Int32Array.from({ length: 20 }, (_, c) => (c % 5) - 2);
  const qp = { scale, zeroPoint, axis: 1, shape };
  const q = quantize(x, qp);
  t.throws(() => limited(() => quantize(x, qp)), oom('quantizePerChannel'), 'quantize per channel');
  sameBits(t, quantize(x, qp), q, 'quantize per channel, after the limit');
  const y = dequantize(q, qp);
  t.throws(() => limited(() => dequantize(q, qp)), oom('dequantizePerChannel'), 'dequantize per channel');
  sameBits(t, dequantize(q, qp), y, 'dequantize per channel, after the limit');

  const fp = { scale, zeroPoint, axis: 1, shape, quantMin: -128, quantMax: 127 };
  const fq = fakeQuant(x, fp);
  t.throws(() => limited(() => fakeQuant(x, fp)), oom('fakeQuantPerChannel'), 'fakeQuant per channel');
  sameBits(t, fakeQuant(x, fp).output, fq.output, 'fakeQuant per channel, after the limit');
  const lsq = fakeQuantLearnable(x, { ...fp, zeroPoint: Float32Array.from(zeroPoint) }); // learnable: float zero points
  const g = smallInts(120, 902);
  const grads = lsq.backward(g);
  t.throws(() => limited(() => lsq.backward(g)), oom('lsqBackwardPerChannel'), 'the learnable backward per channel');
  sameBits(t, lsq.backward(g).gradScale, grads.gradScale, 'the learnable backward per channel, after the limit');

  // Histograms: the per-tensor histogram's scratch counts (2048 bins), then each search over observed histograms.
  const data = Float32Array.from(smallInts(4096, 903), (v, i) => v + Math.sin(i));
  t.throws(() => limited(() => calibrate(data, { method: 'percentile' })), oom('histogram'), 'a histogram calibration');
  for (const method of ['entropy', 'mse'] as const) {
    const want = calibrate(data, { method });
    const cal = new Calibrator({ method });
    cal.observe(data);
    t.throws(() => limited(() => cal.compute()), oom(`${method}Search`), `the ${method} search`);
    t.same(cal.compute().scale, want.scale, `the ${method} search, after the limit`);
  }
});
