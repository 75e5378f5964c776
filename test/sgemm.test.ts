// sgemm (float32 GEMM): every tier against a float64 product within the float32 error bound, the scalar tier
// against a bit-exact TypeScript model of its loops, and per tier: transB, misaligned views, thread counts and
// async all bit-identical to the plain call; NaN / Inf propagation; argument errors.
//
// The bound (Higham, Accuracy and Stability of Numerical Algorithms, 3.1): a float32 dot product of length k,
// summed in any order, with or without FMA, satisfies
//   |c - sum_p a[p] b[p]| <= gamma_k * sum_p |a[p] b[p]|,   gamma_k = k u / (1 - k u),   u = 2^-24,
// so the check cannot fail by bad luck; it only fails for a wrong term, a lost term or a wrong rounding mode.
import t, { type Test } from 'tap';
import { setIsa, setNumThreads, sgemm, sgemmAsync } from '../lib/index';
import { TIERS, forEachIsa, misaligned, randomFloats, rng, sameBits, scalar } from './_harness';

const DIMS = [1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 64, 65, 127, 129];
const U = 2 ** -24;

function uniform(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = r() * 2 - 1;
  return x;
}

function transpose(b: Float32Array, k: number, n: number): Float32Array {
  const bt = new Float32Array(k * n);
  for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) bt[j * k + p] = b[p * n + j]!;
  return bt;
}

interface Case {
  m: number;
  n: number;
  k: number;
  a: Float32Array;
  b: Float32Array; // k x n
  ref: Float64Array; // float64 product
  mag: Float64Array; // sum_p |a b|
}

function makeCase(m: number, n: number, k: number, seed: number, wide = false): Case {
  const a = wide ? randomFloats(m * k, seed, false) : uniform(m * k, seed);
  const b = wide ? randomFloats(k * n, seed + 1, false) : uniform(k * n, seed + 1);
  const ref = new Float64Array(m * n), mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p]!;
      for (let j = 0; j < n; j++) {
        const x = av * b[p * n + j]!;
        ref[i * n + j] += x;
        mag[i * n + j] += Math.abs(x);
      }
    }
  return { m, n, k, a, b, ref, mag };
}

/** One assertion per case: the worst element against gamma_k * sum |a b|. */
function withinBound(t: Test, got: Float32Array, c: Case, what: string): void {
  const gamma = (c.k * U) / (1 - c.k * U);
  let worst = -1, ratio = 0;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i]! - c.ref[i]!), bound = gamma * c.mag[i]!;
    if (!(err <= bound)) {
      worst = i;
      break;
    }
    if (bound > 0) ratio = Math.max(ratio, err / bound);
  }
  if (worst < 0) t.pass(`${what} (worst error ${(ratio * 100).toFixed(1)}% of the bound)`);
  else
    t.fail(`${what}: element ${worst} (row ${Math.floor(worst / c.n)}, col ${worst % c.n}) is ${got[worst]}, ` +
      `float64 ${c.ref[worst]}, error ${Math.abs(got[worst]! - c.ref[worst]!)} > bound ${gamma * c.mag[worst]!}`);
}

// Every (m, n) pair from DIMS, with k cycling through DIMS (so every k meets many m, n), plus k past the k block
// (256 on the SIMD tiers) and a wide-magnitude case.
const CASES: Case[] = (() => {
  const cases: Case[] = [];
  let s = 1;
  for (let x = 0; x < DIMS.length; x++)
    for (let y = 0; y < DIMS.length; y++) {
      const k = DIMS[(x * 5 + y * 3) % DIMS.length]!;
      cases.push(makeCase(DIMS[x]!, DIMS[y]!, k, (s += 2)));
    }
  for (const [m, n, k] of [[1, 1, 1000], [7, 33, 257], [17, 65, 513], [65, 31, 300], [129, 129, 129]] as const)
    cases.push(makeCase(m, n, k, (s += 2)));
  cases.push(makeCase(33, 47, 700, (s += 2), true));
  return cases;
})();

t.test('scalar tier equals a float32 model of its loops, bit for bit', async (t) => {
  // acc = fround(acc + fround(a * b)) over p in order from +0: float64 holds a float32 product exactly and
  // rounding a float64 sum of two float32 values to float32 is the float32 sum (53 >= 2 * 24 + 2).
  for (const c of CASES.filter((c) => c.m * c.n * c.k < 300000)) {
    const model = new Float32Array(c.m * c.n);
    for (let i = 0; i < c.m; i++)
      for (let j = 0; j < c.n; j++) {
        let acc = 0;
        for (let p = 0; p < c.k; p++) acc = Math.fround(acc + Math.fround(c.a[i * c.k + p]! * c.b[p * c.n + j]!));
        model[i * c.n + j] = acc;
      }
    sameBits(t, scalar(() => sgemm(c.a, c.b, c)), model, `${c.m}x${c.n}x${c.k}`);
  }
});

t.test('every tier is within the float32 bound of the float64 product', async (t) => {
  forEachIsa(t, (t) => {
    for (const c of CASES) withinBound(t, sgemm(c.a, c.b, c), c, `${c.m}x${c.n}x${c.k}`);
  });
});

t.test('transB, misaligned views and a reused out give identical bits', async (t) => {
  const picked = CASES.filter((_, i) => i % 7 === 0);
  forEachIsa(t, (t) => {
    for (const c of picked) {
      const want = sgemm(c.a, c.b, c);
      const bt = transpose(c.b, c.k, c.n);
      sameBits(t, sgemm(c.a, bt, { m: c.m, n: c.n, k: c.k, transB: true }), want, `transB ${c.m}x${c.n}x${c.k}`);
      const a1 = misaligned(c.a, Float32Array, 1), b3 = misaligned(c.b, Float32Array, 3);
      const out = misaligned(new Float32Array(c.m * c.n).fill(NaN), Float32Array, 5);
      const got = sgemm(a1, b3, c, out);
      t.equal(got, out, 'returns out');
      sameBits(t, got, want, `misaligned ${c.m}x${c.n}x${c.k}`);
      sameBits(t, sgemm(a1, misaligned(bt, Float32Array, 2), { ...c, transB: true }, out), want, `misaligned transB ${c.m}x${c.n}x${c.k}`);
    }
  });
});

t.test('the thread count never changes a result', async (t) => {
  const shapes = [[129, 129, 129], [257, 190, 300], [33, 700, 260], [700, 20, 513], [6, 1024, 400], [5, 2100, 90]] as const;
  const cases = shapes.map(([m, n, k], i) => ({ m, n, k, a: uniform(m * k, 100 + i), b: uniform(k * n, 200 + i) }));
  try {
    forEachIsa(t, (t) => {
      for (const c of cases) {
        setNumThreads(1);
        const one = sgemm(c.a, c.b, c);
        for (const threads of [2, 3, 8]) {
          setNumThreads(threads);
          sameBits(t, sgemm(c.a, c.b, c), one, `${c.m}x${c.n}x${c.k} threads=${threads} vs 1`);
        }
        setNumThreads(4);
        sameBits(t, sgemm(c.a, transpose(c.b, c.k, c.n), { ...c, transB: true }), one, `${c.m}x${c.n}x${c.k} transB threads=4 vs 1`);
      }
    });
  } finally {
    setNumThreads(0);
  }
});

t.test('sgemmAsync equals sgemm', async (t) => {
  const before = setIsa(TIERS[0]!);
  try {
    for (const isa of TIERS) {
      setIsa(isa);
      for (const c of CASES.filter((_, i) => i % 11 === 0)) {
        const want = sgemm(c.a, c.b, c);
        const out = new Float32Array(c.m * c.n).fill(NaN);
        const p = sgemmAsync(c.a, c.b, c, out);
        t.ok(p instanceof Promise, 'returns a promise');
        const got = await p;
        t.equal(got, out, 'resolves to out');
        sameBits(t, got, want, `${isa} async ${c.m}x${c.n}x${c.k}`);
      }
      // Several at once (the pool may be busy: a call then runs on its own worker thread, same results).
      const big = CASES.filter((c) => c.m * c.n * c.k > 100000);
      const results = await Promise.all(big.map((c) => sgemmAsync(c.a, c.b, c)));
      big.forEach((c, i) => sameBits(t, results[i]!, sgemm(c.a, c.b, c), `${isa} concurrent ${c.m}x${c.n}x${c.k}`));
      // The tier is captured at the call: switching right after does not change the queued work.
      const c = CASES[CASES.length - 2]!;
      const want = sgemm(c.a, c.b, c);
      const p = sgemmAsync(c.a, c.b, c);
      setIsa('scalar');
      sameBits(t, await p, want, `${isa} captured at call time`);
    }
  } finally {
    setIsa(before);
  }
});

t.test('NaN and infinities propagate; padding lanes never leak', async (t) => {
  const m = 9, n = 19, k = 21;
  const a = uniform(m * k, 5).map((v) => Math.abs(v) + 0.5); // positive, nonzero
  const b = uniform(k * n, 6);
  a[2 * k + 4] = NaN; // row 2 -> all NaN
  b[3 * n + 5] = Infinity; // column 5 -> +Inf (a > 0, the other terms finite)
  b[7 * n + 11] = -Infinity; // column 11 -> -Inf
  const aZero = a.slice();
  aZero[6 * k + 7] = 0; // row 6: 0 * -Inf at column 11 -> NaN
  forEachIsa(t, (t, isa) => {
    for (const [label, A] of [['nan', a], ['zero', aZero]] as const) {
      const c = sgemm(A, b, { m, n, k });
      const ct = sgemm(A, transpose(b, k, n), { m, n, k, transB: true });
      sameBits(t, ct, c, `${isa} ${label} transB identical`);
      const bad: string[] = [];
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          const v = c[i * n + j]!;
          let want: string;
          if (i === 2 || (label === 'zero' && i === 6 && j === 11)) want = 'NaN';
          else if (j === 5) want = 'Infinity';
          else if (j === 11) want = '-Infinity';
          else want = 'finite';
          const is = Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : 'finite';
          if (is !== want) bad.push(`(${i},${j}) ${v} want ${want}`);
        }
      t.same(bad, [], `${label}: every element has the expected class`);
    }
  });
});

t.test('degenerate shapes', async (t) => {
  forEachIsa(t, (t) => {
    t.same(sgemm(new Float32Array(0), new Float32Array(0), { m: 0, n: 0, k: 0 }), new Float32Array(0), '0x0x0');
    t.same(sgemm(new Float32Array(0), new Float32Array(5), { m: 0, n: 5, k: 1 }), new Float32Array(0), 'm = 0');
    t.same(sgemm(new Float32Array(3), new Float32Array(0), { m: 3, n: 0, k: 1 }), new Float32Array(0), 'n = 0');
    const out = new Float32Array(6).fill(NaN);
    t.same(sgemm(new Float32Array(0), new Float32Array(0), { m: 2, n: 3, k: 0 }, out), new Float32Array(6), 'k = 0 writes zeros');
    t.same(sgemm(Float32Array.of(3), Float32Array.of(-2), { m: 1, n: 1, k: 1 }), Float32Array.of(-6), '1x1x1');
  });
});

t.test('out may alias a or b', async (t) => {
  const m = 37;
  const a = uniform(m * m, 11), b = uniform(m * m, 12);
  forEachIsa(t, (t) => {
    const want = sgemm(a, b, { m, n: m, k: m });
    const a2 = a.slice();
    sameBits(t, sgemm(a2, b, { m, n: m, k: m }, a2), want, 'out === a');
    const b2 = b.slice();
    sameBits(t, sgemm(a, b2, { m, n: m, k: m }, b2), want, 'out === b');
    const buf = new Float32Array(m * m + 10);
    buf.set(a, 3);
    const view = buf.subarray(3, 3 + m * m);
    sameBits(t, sgemm(view, b, { m, n: m, k: m }, buf.subarray(0, m * m)), want, 'out overlaps a, shifted');
  });
});

t.test('argument errors', async (t) => {
  const a = new Float32Array(6), b = new Float32Array(12);
  const o = { m: 2, n: 4, k: 3 };
  const type = (name: string) => ({ constructor: TypeError, message: new RegExp(`for ${name}, received`) });
  const range = (name: string) => ({ constructor: RangeError, message: new RegExp(`for ${name}, received`) });
  t.throws(() => sgemm(new Float64Array(6) as never, b, o), type('a'));
  t.throws(() => sgemm([0, 0, 0, 0, 0, 0] as never, b, o), type('a'));
  t.throws(() => sgemm(a, new Int8Array(12) as never, o), type('b'));
  t.throws(() => sgemm(a, b, null as never), type('options'));
  t.throws(() => sgemm(a, b, { ...o, m: '2' } as never), type('m'));
  t.throws(() => sgemm(a, b, { ...o, n: undefined } as never), type('n'));
  t.throws(() => sgemm(a, b, { ...o, transB: 1 } as never), type('transB'));
  t.throws(() => sgemm(a, b, o, new Float64Array(8) as never), type('out'));
  t.throws(() => sgemm(a, b, { ...o, m: -1 }), range('m'));
  t.throws(() => sgemm(a, b, { ...o, k: 1.5 }), range('k'));
  t.throws(() => sgemm(a, b, { ...o, n: NaN }), range('n'));
  t.throws(() => sgemm(new Float32Array(5), b, o), { constructor: RangeError, message: /expected length 6 \(m \* k = 2 \* 3\) for a, received Float32Array\(5\)/ });
  t.throws(() => sgemm(a, new Float32Array(11), o), range('b'));
  t.throws(() => sgemm(a, new Float32Array(11), { ...o, transB: true }), range('b'));
  t.throws(() => sgemm(a, b, o, new Float32Array(9)), range('out'));
  await t.rejects(sgemmAsync(a, b, { ...o, k: 2 }), range('a'));
  await t.rejects(sgemmAsync(a, b, o, new Uint8Array(8) as never), type('out'));
});

t.test('the native layer re-checks lengths', async (t) => {
  const { native } = await import('../lib/native');
  const a = new Float32Array(6), b = new Float32Array(12), out = new Float32Array(8);
  t.throws(() => native.sgemm(a, b, 2, 4, 4, false, out), { constructor: RangeError, message: /a must have length 8/ });
  t.throws(() => native.sgemm(a, b, 2, 5, 3, false, out), { constructor: RangeError, message: /b must have length 15/ });
  t.throws(() => native.sgemm(a, b, 2, 4, 3, false, new Float32Array(7)), { constructor: RangeError, message: /out must have length 8/ });
  t.throws(() => native.sgemm(a, new Int32Array(12) as never, 2, 4, 3, false, out), { constructor: TypeError, message: /b must be a Float32Array/ });
  t.throws(() => native.sgemm(a, b, -2, 4, 3, false, out), { constructor: RangeError, message: /m must be an integer/ });
  t.throws(() => native.sgemmAsync(a, b, 2, 4, 3, false, new Float32Array(9)), { constructor: RangeError, message: /out must have length 8/ });
});

