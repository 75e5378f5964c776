// Fake quantization (lib/fakequant.ts): every tier against scalar bit for bit (random data, odd lengths,
// misaligned views, ties, extremes, NaN), the documented formulas against a plain TypeScript reference, the
// PyTorch fixtures (test/fixtures/fakequant.json, scripts/gen-fakequant-fixtures.py) on every tier, the FakeQuantize
// module (observer / fake-quant flags, per channel, against torch.ao.quantization.FakeQuantize), and bad input.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import {
  FakeQuantize,
  calibrate,
  fakeQuant,
  fakeQuantBackward,
  fakeQuantLearnable,
  quantize,
  type FakeQuantParams,
  type LearnableParams,
} from '../lib/index';
import { ODD_SIZES, forEachIsa, misaligned, randomBits32, randomFloats, rng, sameBits, scalar } from './_harness';

const f = Math.fround;

// ------------------------------------------------------------------------------------------------ helpers

/** Float32 values x with x * (1 / scale) landing exactly on k + 0.5, and their float32 neighbours. */
function ties(n: number, scale: number, kmin: number, kmax: number): Float32Array {
  const inv = f(1 / f(scale));
  const x = new Float32Array(n);
  const u = new Uint32Array(x.buffer);
  const r = rng(n + 17);
  for (let i = 0; i < n; i++) {
    const k = kmin + Math.floor(r() * (kmax - kmin + 1));
    x[i] = f((k + 0.5) * f(scale));
    for (let step = 0; step < 8 && f(x[i]! * inv) !== k + 0.5; step++) u[i] = u[i]! + (step % 2 ? step : -step);
    const w = Math.floor(r() * 3);
    if (w === 1) u[i] = u[i]! + 1;
    if (w === 2) u[i] = u[i]! - 1;
  }
  return x;
}

/** Tier inputs: random (with NaN, infinities, huge values), exact ties around the range, random bit patterns. */
function inputsFor(n: number, scale: number, qmin: number, qmax: number, zp: number, seed: number): [string, Float32Array][] {
  const rnd = randomFloats(n, seed);
  const wide = new Float32Array(n);
  const r = rng(seed + 1);
  for (let i = 0; i < n; i++) wide[i] = f((qmin - zp - 4 + r() * (qmax - qmin + 8)) * scale);
  return [
    ['random', rnd],
    ['range', wide],
    ['ties', ties(n, scale, qmin - zp - 3, qmax - zp + 3)],
    ['bits', randomBits32(n, seed + 2)],
  ];
}

function sameNum(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

interface TensorCase {
  name: string;
  scale: number;
  zeroPoint: number;
  quantMin: number;
  quantMax: number;
}
const TENSOR_CASES: TensorCase[] = [
  { name: 'int8', scale: 0.02, zeroPoint: 0, quantMin: -128, quantMax: 127 },
  { name: 'int8 zp=-128', scale: 1, zeroPoint: -128, quantMin: -128, quantMax: 127 },
  { name: 'uint8 zp=128', scale: 1 / 3, zeroPoint: 128, quantMin: 0, quantMax: 255 },
  { name: '4-bit', scale: 0.1, zeroPoint: 3, quantMin: -8, quantMax: 7 },
  { name: '2-bit', scale: 0.5, zeroPoint: 0, quantMin: -2, quantMax: 1 },
  { name: '16-bit', scale: 1e-4, zeroPoint: -7, quantMin: -32768, quantMax: 32767 },
  { name: '24-bit', scale: 2 ** -20, zeroPoint: 5, quantMin: -(2 ** 23), quantMax: 2 ** 23 },
  { name: 'tiny scale', scale: 1e-30, zeroPoint: 0, quantMin: -128, quantMax: 127 },
];

const CHANNEL_LAYOUTS: [number[], number][] = [
  [[4, 33], 0], // inner 33: the per-run kernels
  [[4, 33], 1], // inner 1: per-element parameters
  [[3, 5, 7], 1],
  [[2, 3, 40], 2],
  [[2, 3, 40], 1],
  [[2, 16, 5, 5], 1],
  [[5, 2, 64], 1],
  [[77], 0],
];

function channelParams(ch: number, qmin: number, qmax: number, seed: number): [Float32Array, Int32Array] {
  const r = rng(seed);
  const s = new Float32Array(ch);
  const z = new Int32Array(ch);
  for (let c = 0; c < ch; c++) {
    s[c] = Math.exp(Math.log(1e-3) + r() * Math.log(1e3));
    z[c] = c === 0 ? qmin : c === ch - 1 ? qmax : qmin + Math.floor(r() * (qmax - qmin + 1));
  }
  return [s, z];
}

// ------------------------------------------------------------------------------------------------ tiers vs scalar

t.test('fakeQuant per tensor: every tier matches scalar bit for bit', async (t) => {
  const cases = TENSOR_CASES.map((c, k) => ({ c, inputs: inputsFor(4099, c.scale, c.quantMin, c.quantMax, c.zeroPoint, 100 + k) }));
  forEachIsa(t, (t) => {
    for (const { c, inputs } of cases) {
      for (const [label, src] of inputs) {
        for (const n of ODD_SIZES) {
          const x = src.subarray(0, n);
          const want = scalar(() => fakeQuant(x, c));
          const got = fakeQuant(x, c);
          const i1 = sameBitsQuiet(got.output, want.output);
          const i2 = sameBitsQuiet(got.mask, want.mask);
          if (i1 >= 0 || i2 >= 0) {
            sameBits(t, got.output, want.output, `${c.name} ${label} n=${n} output`, x);
            sameBits(t, got.mask, want.mask, `${c.name} ${label} n=${n} mask`, x);
            return;
          }
        }
        t.pass(`${c.name} ${label}: output and mask, ${ODD_SIZES.length} lengths`);
      }
      // Misaligned input and outputs, and in place (output === x).
      const x = misaligned(cases[0]!.inputs[0]![1].subarray(0, 1023), Float32Array, 1);
      const want = scalar(() => fakeQuant(x, c));
      const output = misaligned(new Float32Array(1023), Float32Array, 3);
      const mask = misaligned(new Uint8Array(1023), Uint8Array, 5);
      const got = fakeQuant(x, c, { output, mask });
      t.equal(got.output, output, 'writes out.output');
      t.equal(got.mask, mask, 'writes out.mask');
      sameBits(t, output, want.output, `${c.name} misaligned output`);
      sameBits(t, mask, want.mask, `${c.name} misaligned mask`);
      const inPlace = Float32Array.from(x);
      fakeQuant(inPlace, c, { output: inPlace });
      sameBits(t, inPlace, want.output, `${c.name} in place`);
    }
  });
});

/** Index of the first differing element (bit patterns), or -1, without an assertion. */
function sameBitsQuiet(a: Float32Array | Uint8Array, b: Float32Array | Uint8Array): number {
  const ua = a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a;
  const ub = b instanceof Float32Array ? new Uint32Array(b.buffer, b.byteOffset, b.length) : b;
  if (ua.length !== ub.length) return 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

t.test('fakeQuant per channel: every tier matches scalar bit for bit', async (t) => {
  forEachIsa(t, (t) => {
    let k = 0;
    for (const [shape, axis] of CHANNEL_LAYOUTS) {
      for (const [qmin, qmax] of [[-128, 127], [0, 255], [-8, 7]] as const) {
        const n = shape.reduce((a, d) => a * d, 1);
        const [scale, zeroPoint] = channelParams(shape[axis]!, qmin, qmax, ++k);
        const p: FakeQuantParams = { scale, zeroPoint, axis, shape, quantMin: qmin, quantMax: qmax };
        for (const [label, x] of inputsFor(n, 0.05, qmin, qmax, 0, k)) {
          const want = scalar(() => fakeQuant(x, p));
          const got = fakeQuant(misaligned(x, Float32Array, 1), p);
          const bad = sameBitsQuiet(got.output, want.output) >= 0 || sameBitsQuiet(got.mask, want.mask) >= 0;
          if (bad) {
            sameBits(t, got.output, want.output, `[${shape}] axis=${axis} q=[${qmin},${qmax}] ${label} output`, x);
            sameBits(t, got.mask, want.mask, `[${shape}] axis=${axis} q=[${qmin},${qmax}] ${label} mask`, x);
          } else t.pass(`[${shape}] axis=${axis} q=[${qmin},${qmax}] ${label}`);
        }
      }
    }
  });
});

t.test('fakeQuantBackward: every tier matches scalar bit for bit', async (t) => {
  const g = randomBits32(4099, 9);
  const gr = randomFloats(4099, 10);
  const r = rng(11);
  const m = new Uint8Array(4099).map(() => (r() < 0.4 ? 0 : r() < 0.9 ? 1 : Math.floor(r() * 256)));
  forEachIsa(t, (t) => {
    for (const [label, src] of [['bits', g], ['random', gr]] as const) {
      let bad = -1;
      for (const n of ODD_SIZES) {
        const want = scalar(() => fakeQuantBackward(src.subarray(0, n), m.subarray(0, n)));
        const got = fakeQuantBackward(src.subarray(0, n), m.subarray(0, n));
        if (sameBitsQuiet(got, want) >= 0) {
          sameBits(t, got, want, `${label} n=${n}`, src.subarray(0, n));
          bad = n;
          break;
        }
      }
      if (bad < 0) t.pass(`${label}: ${ODD_SIZES.length} lengths`);
    }
    const gm = misaligned(g.subarray(0, 1023), Float32Array, 1);
    const mm = misaligned(m.subarray(0, 1023), Uint8Array, 3);
    const want = scalar(() => fakeQuantBackward(gm, mm));
    const out = misaligned(new Float32Array(1023), Float32Array, 2);
    sameBits(t, fakeQuantBackward(gm, mm, out), want, 'misaligned');
    const inPlace = Float32Array.from(gm);
    fakeQuantBackward(inPlace, mm, inPlace);
    sameBits(t, inPlace, want, 'in place (out === gradOut)');
  });
});

t.test('fakeQuantLearnable: every tier matches scalar (gradX bit for bit, the sums too)', async (t) => {
  const cases: (LearnableParams & { name: string })[] = [
    { name: 'int8 gf=1', scale: 0.02, zeroPoint: 0.3, quantMin: -128, quantMax: 127 },
    { name: 'int8 zp=-1.3', scale: 1 / 3, zeroPoint: -1.3, quantMin: -128, quantMax: 127, gradFactor: 0.37 },
    { name: 'uint8 zp=127.5', scale: 0.0173, zeroPoint: 127.5, quantMin: 0, quantMax: 255, gradFactor: 1 / Math.sqrt(4099 * 255) },
    { name: '4-bit', scale: 0.1, zeroPoint: 2, quantMin: -8, quantMax: 7, gradFactor: -2 },
    { name: '16-bit', scale: 1e-4, zeroPoint: 0, quantMin: -32768, quantMax: 32767 },
  ];
  const dyR = randomFloats(4099, 21, false);
  const dyB = randomBits32(4099, 22);
  forEachIsa(t, (t) => {
    for (const c of cases) {
      const s = c.scale as number;
      for (const [label, x] of inputsFor(4099, s, c.quantMin, c.quantMax, Math.round(c.zeroPoint as number), 23)) {
        let bad = false;
        for (const dy of [dyR, dyB]) {
          for (const n of ODD_SIZES) {
            const xs = x.subarray(0, n);
            const gs = dy.subarray(0, n);
            const want = scalar(() => {
              const r = fakeQuantLearnable(xs, c);
              return { out: r.output, ...r.backward(gs) };
            });
            const r = fakeQuantLearnable(xs, c);
            const got = r.backward(gs);
            if (
              sameBitsQuiet(r.output, want.out) >= 0 ||
              sameBitsQuiet(got.gradX, want.gradX) >= 0 ||
              !sameNum(got.gradScale as number, want.gradScale as number) ||
              !sameNum(got.gradZeroPoint as number, want.gradZeroPoint as number)
            ) {
              sameBits(t, r.output, want.out, `${c.name} ${label} n=${n} output`, xs);
              sameBits(t, got.gradX, want.gradX, `${c.name} ${label} n=${n} gradX`, xs);
              t.ok(sameNum(got.gradScale as number, want.gradScale as number), `gradScale ${got.gradScale} vs ${want.gradScale}`);
              t.ok(sameNum(got.gradZeroPoint as number, want.gradZeroPoint as number), `gradZeroPoint ${got.gradZeroPoint} vs ${want.gradZeroPoint}`);
              bad = true;
              break;
            }
          }
          if (bad) break;
        }
        if (!bad) t.pass(`${c.name} ${label}: output, gradX, gradScale, gradZeroPoint, ${ODD_SIZES.length} lengths x 2`);
      }
    }
    // Misaligned views and gradX written into gradOut.
    const c = cases[1]!;
    const x = misaligned(randomFloats(1023, 30), Float32Array, 1);
    const dy = misaligned(dyR.subarray(0, 1023), Float32Array, 3);
    const want = scalar(() => fakeQuantLearnable(x, c).backward(dy));
    const io = Float32Array.from(dy);
    const got = fakeQuantLearnable(x, c).backward(io, io);
    t.equal(got.gradX, io, 'gradX written into out');
    sameBits(t, io, want.gradX, 'misaligned, in place (out === gradOut)');
    t.ok(Object.is(got.gradScale, want.gradScale) && Object.is(got.gradZeroPoint, want.gradZeroPoint), 'sums');
  });
});

t.test('fakeQuantLearnable per channel: every tier matches scalar', async (t) => {
  forEachIsa(t, (t) => {
    let k = 40;
    for (const [shape, axis] of CHANNEL_LAYOUTS) {
      const n = shape.reduce((a, d) => a * d, 1);
      const ch = shape[axis]!;
      const [scale, zi] = channelParams(ch, -128, 127, ++k);
      const zeroPoint = Float32Array.from(zi, (z, c) => z + [0, 0.3, -0.4, 0.5, -0.5][c % 5]!);
      const p: LearnableParams = { scale, zeroPoint, axis, shape, quantMin: -128, quantMax: 127, gradFactor: 0.5 };
      for (const [label, x] of inputsFor(n, 0.05, -128, 127, 0, k)) {
        const dy = randomFloats(n, k + 1000, label === 'bits');
        const want = scalar(() => fakeQuantLearnable(x, p).backward(dy));
        const got = fakeQuantLearnable(x, p).backward(dy);
        const sums = (a: Float32Array, b: Float32Array) => a.every((v, i) => sameNum(v, b[i]!));
        if (sameBitsQuiet(got.gradX, want.gradX) >= 0 || !sums(got.gradScale, want.gradScale) || !sums(got.gradZeroPoint, want.gradZeroPoint)) {
          sameBits(t, got.gradX, want.gradX, `[${shape}] axis=${axis} ${label} gradX`, x);
          t.same([...got.gradScale], [...want.gradScale], 'gradScale');
          t.same([...got.gradZeroPoint], [...want.gradZeroPoint], 'gradZeroPoint');
        } else t.pass(`[${shape}] axis=${axis} ${label}: gradX, gradScale(${ch}), gradZeroPoint(${ch})`);
      }
    }
  });
});

// ------------------------------------------------------------------------------------------------ documented formulas

function roundEven(v: number): number {
  const fl = Math.floor(v);
  const d = v - fl;
  if (d > 0.5) return fl + 1;
  if (d < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
function nextUp32(v: number): number {
  F32[0] = v;
  if (v >= 0) U32[0] = U32[0]! + 1;
  else U32[0] = U32[0]! - 1;
  return F32[0]!;
}
/** fma(a, b, c) rounded once to float32 (a, b, c float32): exact product, TwoSum, and the tie fix-up. */
function fma32(a: number, b: number, c: number): number {
  const p = a * b; // exact: 24 + 24 bits
  const s = p + c;
  const bv = s - p;
  const err = p - (s - bv) + (c - bv);
  const r = f(s);
  if (err === 0 || r === s || !Number.isFinite(s)) return r;
  const lo = r < s ? r : -nextUp32(-r);
  const hi = r < s ? nextUp32(r) : r;
  if (s - lo !== hi - s) return r; // not a float32 tie: the double rounding cannot change the result
  return err > 0 ? hi : lo;
}

/** The documented forward (lib/fakequant.ts header), in float32 through Math.fround. */
function refForward(x: number, scale: number, zp: number, qmin: number, qmax: number): [number, number] {
  const inv = f(1 / f(scale));
  const v = f(x * inv);
  if (Number.isNaN(v)) return [NaN, 0];
  const q = f(roundEven(v) + zp);
  const inside = q >= qmin && q <= qmax;
  const c = inside ? q : q < qmin ? qmin : qmax;
  return [f((c - zp) * f(scale)), inside ? 1 : 0];
}

/** The documented per-element learnable gradients. */
function refLsq(x: number, dy: number, scale: number, zp: number, qmin: number, qmax: number, gf: number): [number, number, number] {
  const s = f(scale);
  const inv = f(1 / s);
  const q = roundEven(fma32(x, inv, zp));
  const below = q < qmin;
  const above = q > qmax;
  const inside = q >= qmin && q <= qmax;
  const dx = inside ? dy : f(dy * 0);
  if (below || above) return [dx, f(f(dy * (below ? qmin - zp : qmax - zp)) * gf), f(f(f(-dy) * s) * gf)];
  const c = inside ? q : qmax;
  return [dx, f(f(f(dy * fma32(c - zp, s, -x)) * inv) * gf), 0];
}

t.test('fakeQuant / backward / learnable follow the documented formulas on every tier', async (t) => {
  forEachIsa(t, (t) => {
    for (const c of TENSOR_CASES) {
      for (const [label, x] of inputsFor(2049, c.scale, c.quantMin, c.quantMax, c.zeroPoint, 50)) {
        const { output, mask } = fakeQuant(x, c);
        let bad = -1;
        for (let i = 0; i < x.length && bad < 0; i++) {
          const [y, m] = refForward(x[i]!, c.scale, c.zeroPoint, c.quantMin, c.quantMax);
          if (!sameNum(output[i]!, y) || mask[i] !== m) bad = i;
        }
        t.equal(bad, -1, `forward ${c.name} ${label}` + (bad >= 0 ? `: x=${x[bad]} got ${output[bad]}/${mask[bad]} want ${refForward(x[bad]!, c.scale, c.zeroPoint, c.quantMin, c.quantMax)}` : ''));
        if (label === 'bits') continue;
        const dy = randomFloats(x.length, 51, false);
        const gx = fakeQuantBackward(dy, mask);
        t.ok(gx.every((v, i) => Object.is(v, mask[i] ? dy[i] : f(dy[i]! * 0))), `backward ${c.name} ${label}`);
        if (c.quantMin > 0 || c.quantMax < 0) continue;
        const gf = 0.37;
        const r = fakeQuantLearnable(x, { ...c, gradFactor: gf }).backward(dy);
        // PyTorch's per-tensor backward zero point: trunc(clamp(z + 0.5)) (-127 for z = -128)
        const zpB = Math.trunc(Math.min(Math.max(f(c.zeroPoint + 0.5), c.quantMin), c.quantMax));
        let ss = 0;
        let sz = 0;
        let abs = 0;
        bad = -1;
        for (let i = 0; i < x.length; i++) {
          const [dx, ds, dz] = refLsq(x[i]!, dy[i]!, c.scale, zpB, c.quantMin, c.quantMax, f(gf));
          if (!Object.is(r.gradX[i], dx) && bad < 0) bad = i;
          ss += ds;
          sz += dz;
          if (Number.isFinite(ds)) abs += Math.abs(ds);
          if (Number.isFinite(dz)) abs += Math.abs(dz);
        }
        t.equal(bad, -1, `learnable gradX ${c.name} ${label}` + (bad >= 0 ? `: x=${x[bad]} got ${r.gradX[bad]}` : ''));
        // Summed in another order: within one float32 rounding of the reference's double sum (or both NaN).
        const near = (got: number, want: number) =>
          Number.isNaN(want) ? Number.isNaN(got) : Math.abs(got - want) <= Math.max(abs * 1e-12, Math.abs(want) * 2 ** -23);
        t.ok(near(r.gradScale, ss), `learnable gradScale ${c.name} ${label}: ${r.gradScale} vs ${ss}`);
        t.ok(near(r.gradZeroPoint, sz), `learnable gradZeroPoint ${c.name} ${label}: ${r.gradZeroPoint} vs ${sz}`);
      }
    }
  });
});

t.test('edge values', async (t) => {
  forEachIsa(t, (t) => {
    const x = new Float32Array([0.5, 1.5, 2.5, -0.5, -2.5, NaN, Infinity, -Infinity, -0, 1e30, -1e30, 127.5, -128.5]);
    const { output, mask } = fakeQuant(x, { scale: 1, quantMin: -128, quantMax: 127 });
    t.same([...output], [0, 2, 2, 0, -2, NaN, 127, -128, 0, 127, -128, 127, -128], 'ties to even, NaN, infinities, clamps');
    t.same([...mask], [1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1], 'mask (NaN and clamped values 0; 127.5 -> 128 is outside, -128.5 -> -128 inside)');
    t.ok(Object.is(output[8], 0) && Object.is(output[3], 0), '+0 results (no -0)');
    const g = fakeQuantBackward(new Float32Array([-1, 2, NaN, Infinity, -3, 5, NaN, Infinity, 8, 9, -10, 11, 12]), mask);
    const want = [-1, 2, NaN, Infinity, -3, 0, NaN, NaN, 8, 0, -0, 0, 12];
    t.ok(want.every((w, i) => Object.is(g[i], w)), `gradOut * mask: ${[...g]}`);
    const neg = fakeQuantBackward(new Float32Array([-1]), new Uint8Array([0]));
    t.ok(Object.is(neg[0], -0), '-1 * 0 = -0, as PyTorch');
  });
});

// ------------------------------------------------------------------------------------------------ PyTorch fixtures

interface Arr {
  dtype: 'float32' | 'uint8' | 'int32';
  shape: number[];
  b64: string;
}
const CTORS = { float32: Float32Array, uint8: Uint8Array, int32: Int32Array };
function decode<T extends Float32Array | Uint8Array | Int32Array>(a: Arr): T {
  const buf = Buffer.from(a.b64, 'base64');
  if (endianness() === 'BE' && a.dtype !== 'uint8') buf.swap32();
  const ab = new ArrayBuffer(buf.length);
  new Uint8Array(ab).set(buf);
  return new CTORS[a.dtype](ab) as T;
}
const F = (a: Arr) => decode<Float32Array>(a);

interface ForwardCase {
  name: string;
  scale: number | Arr;
  zeroPoint: number | Arr;
  quantMin: number;
  quantMax: number;
  axis?: number;
  shape?: number[];
  x: Arr;
  output: Arr;
  mask: Arr;
  gradOut: Arr;
  gradX: Arr;
}
interface LearnableCase {
  name: string;
  scale: number | Arr;
  zeroPoint: number | Arr;
  quantMin: number;
  quantMax: number;
  gradFactor: number;
  axis?: number;
  shape?: number[];
  x: Arr;
  gradOut: Arr;
  output: Arr;
  gradX: Arr;
  gradScale: number | Arr;
  gradZeroPoint: number | Arr;
  exactScale?: number | number[] | null;
  exactZeroPoint?: number | number[] | null;
}
interface ModuleCase {
  name: string;
  options: Record<string, unknown>;
  shape: number[] | null;
  steps: {
    observerEnabled: boolean;
    fakeQuantEnabled: boolean;
    x: Arr;
    gradOut: Arr;
    scale: Arr;
    zeroPoint: Arr;
    output: Arr;
    gradX: Arr;
  }[];
}
const FX = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'fakequant.json'), 'utf8')) as {
  versions: Record<string, string>;
  forward: ForwardCase[];
  forwardChannel: ForwardCase[];
  learnable: LearnableCase[];
  learnableChannel: LearnableCase[];
  module: ModuleCase[];
};

/** Float results by bit pattern; NaN matches any NaN when `nanAny` (gradients: the default NaN is per CPU). */
function floatsMatch(t: Test, label: string, got: Float32Array, want: Float32Array, nanAny = false, input?: Float32Array): boolean {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < w.length; i++)
    if (g[i] !== w[i] && !(nanAny && Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      if (first < 0) first = i;
      bad++;
    }
  const ok = got.length === want.length && bad === 0;
  t.ok(ok, ok ? `${label} (${want.length})` : `${label}: ${bad} of ${want.length} differ, first [${first}]: got ${got[first]} want ${want[first]}` + (input ? ` x=${input[first]}` : ''));
  return ok;
}

function relClose(a: number, b: number, rel: number): boolean {
  return a === b || Math.abs(a - b) <= rel * Math.abs(b);
}

t.test('PyTorch fixtures', async (t) => {
  t.comment(`fixtures from torch ${FX.versions.torch} (CPU capability ${FX.versions.capability})`);
  forEachIsa(t, (t) => {
    for (const c of [...FX.forward, ...FX.forwardChannel]) {
      const x = F(c.x);
      const p = (typeof c.scale === 'number'
        ? { scale: c.scale, zeroPoint: c.zeroPoint as number, quantMin: c.quantMin, quantMax: c.quantMax }
        : { scale: F(c.scale), zeroPoint: decode<Int32Array>(c.zeroPoint as Arr), axis: c.axis!, shape: c.shape!, quantMin: c.quantMin, quantMax: c.quantMax }) as FakeQuantParams;
      const { output, mask } = fakeQuant(x, p);
      floatsMatch(t, `${c.name} output`, output, F(c.output), false, x);
      sameBits(t, mask, decode<Uint8Array>(c.mask), `${c.name} mask`);
      floatsMatch(t, `${c.name} autograd gradX`, fakeQuantBackward(F(c.gradOut), mask), F(c.gradX), true);
    }
    for (const c of [...FX.learnable, ...FX.learnableChannel]) {
      const x = F(c.x);
      const perChannel = typeof c.scale !== 'number';
      const p = (perChannel
        ? { scale: F(c.scale as Arr), zeroPoint: F(c.zeroPoint as Arr), axis: c.axis!, shape: c.shape!, quantMin: c.quantMin, quantMax: c.quantMax, gradFactor: c.gradFactor }
        : { scale: c.scale, zeroPoint: c.zeroPoint, quantMin: c.quantMin, quantMax: c.quantMax, gradFactor: c.gradFactor }) as LearnableParams;
      const r = fakeQuantLearnable(x, p);
      floatsMatch(t, `learnable ${c.name} output`, r.output, F(c.output), false, x);
      const g = r.backward(F(c.gradOut));
      floatsMatch(t, `learnable ${c.name} gradX`, g.gradX, F(c.gradX), false, x);
      const ws = perChannel ? F(c.gradScale as Arr) : new Float32Array([c.gradScale as number]);
      const wz = perChannel ? F(c.gradZeroPoint as Arr) : new Float32Array([c.gradZeroPoint as number]);
      const gs = perChannel ? (g.gradScale as Float32Array) : new Float32Array([g.gradScale as number]);
      const gz = perChannel ? (g.gradZeroPoint as Float32Array) : new Float32Array([g.gradZeroPoint as number]);
      // Within 1e-5 relative of torch's float32 sums; where torch's own sum is further than that from the exact
      // sum of its per-element terms (cancellation), within one float32 rounding of that exact sum instead.
      const es = c.exactScale === undefined || c.exactScale === null ? null : typeof c.exactScale === 'number' ? [c.exactScale] : c.exactScale;
      const ez = c.exactZeroPoint === undefined || c.exactZeroPoint === null ? null : typeof c.exactZeroPoint === 'number' ? [c.exactZeroPoint] : c.exactZeroPoint;
      let worst = 0;
      let viaExact = 0;
      let bad = '';
      for (const [what, a, b, e] of [['gradScale', gs, ws, es], ['gradZeroPoint', gz, wz, ez]] as const)
        for (let i = 0; i < b.length; i++) {
          const rel = a[i] === b[i] ? 0 : Math.abs(a[i]! - b[i]!) / Math.abs(b[i]!);
          worst = Math.max(worst, rel);
          if (rel <= 1e-5) continue;
          const ex = e === null ? undefined : e[i];
          if (ex !== undefined && relClose(a[i]!, ex, 2 ** -23) && Math.abs(b[i]! - ex) > 1e-5 * Math.abs(b[i]!)) viaExact++;
          else if (!bad) bad = `${what}[${i}]: got ${a[i]}, torch ${b[i]}, exact ${ex}`;
        }
      t.ok(!bad, `learnable ${c.name} gradScale / gradZeroPoint within 1e-5 relative of torch (worst ${worst.toExponential(2)}` +
        (viaExact ? `; ${viaExact} where torch's own float32 sum is off by more: within a float32 rounding of the exact sum` : '') + ')' + (bad ? ` ${bad}` : ''));
      if (es !== null && ez !== null) {
        const all = [...gs].every((v, i) => relClose(v, es[i]!, 2 ** -23) || Math.abs(v - es[i]!) < 1e-30) &&
          [...gz].every((v, i) => relClose(v, ez[i]!, 2 ** -23) || Math.abs(v - ez[i]!) < 1e-30);
        t.ok(all, `learnable ${c.name}: sums within one float32 rounding of the exact sum of torch's terms`);
      }
    }
    for (const m of FX.module) {
      const fq = new FakeQuantize(m.options);
      let ok = true;
      m.steps.forEach((s, i) => {
        fq.observerEnabled = s.observerEnabled;
        fq.fakeQuantEnabled = s.fakeQuantEnabled;
        const x = F(s.x);
        const y = fq.forward(x);
        const scale = fq.scale;
        const zp = fq.zeroPoint;
        const gotS = typeof scale === 'number' ? new Float32Array([scale]) : scale;
        const gotZ = typeof zp === 'number' ? new Int32Array([zp]) : zp;
        ok = floatsMatch(t, `${m.name} step ${i} scale`, gotS, F(s.scale)) && ok;
        ok = sameBitsQuiet(new Float32Array(gotZ.buffer), new Float32Array(decode<Int32Array>(s.zeroPoint).buffer)) < 0 && ok;
        ok = floatsMatch(t, `${m.name} step ${i} output`, y, F(s.output), false, x) && ok;
        ok = floatsMatch(t, `${m.name} step ${i} gradX`, fq.backward(F(s.gradOut)), F(s.gradX), true) && ok;
      });
      t.ok(ok, `${m.name}: ${m.steps.length} steps (scale, zeroPoint, output, gradient) as torch's FakeQuantize`);
    }
  });
});

// ------------------------------------------------------------------------------------------------ FakeQuantize

t.test('FakeQuantize: observer and fake-quant flags', async (t) => {
  const fq = new FakeQuantize({ dtype: 'int8', symmetric: true });
  t.equal(fq.calibrator.options.method, 'movingAverage', "default method 'movingAverage' (PyTorch's)");
  t.equal(fq.scale, 1, 'initial scale 1');
  t.equal(fq.zeroPoint, 0, 'initial zero point 0');
  t.equal(fq.observerEnabled, true);
  t.equal(fq.fakeQuantEnabled, true);
  t.throws(() => fq.backward(new Float32Array(3)), /forward\(\) first/, 'backward needs a forward');
  const x = new Float32Array([0.1, -0.5, 1.2, 0.7, NaN]);
  const y = fq.forward(x);
  const s1 = fq.scale;
  t.equal(s1, f(f(1.2) / 127.5), 'scale from the first batch (symmetric int8: max|x| / 127.5)');
  const want = fakeQuant(x, { scale: s1, zeroPoint: 0, quantMin: -128, quantMax: 127 });
  sameBits(t, y, want.output, 'forward = fakeQuant with the observed parameters');
  sameBits(t, fq.backward(new Float32Array([1, 2, 3, 4, 5])), fakeQuantBackward(new Float32Array([1, 2, 3, 4, 5]), want.mask), 'backward = gradOut * mask');
  t.throws(() => fq.backward(new Float32Array(4)), RangeError, 'gradOut length checked');

  fq.observerEnabled = false;
  fq.forward(new Float32Array([100, -100]));
  t.equal(fq.scale, s1, 'observer off: parameters frozen');
  t.equal(fq.calibrator.batches, 1, 'observer off: nothing observed');
  fq.observerEnabled = true;
  fq.forward(new Float32Array([2, -2]));
  t.not(fq.scale, s1, 'observer on again: parameters move (moving average)');
  t.equal(fq.calibrator.batches, 2);

  const into = new Float32Array(2);
  const x3 = new Float32Array([0.5, -0.25]);
  t.equal(fq.forward(x3, undefined, into), into, 'forward writes out');
  sameBits(t, into, fakeQuant(x3, fq.qparams).output, 'forward into out');
  t.throws(() => fq.forward(x3, undefined, new Float32Array(3)), RangeError, 'out length checked');
  fq.enableFakeQuant(false);
  const x2 = new Float32Array([0.123, 4.56]);
  t.equal(fq.forward(x2), x2, 'fake quant off: forward returns x itself');
  t.same([...fq.forward(x2, undefined, into)], [...x2], 'fake quant off: forward copies x into out');
  const g = new Float32Array([1, 2]);
  t.equal(fq.backward(g), g, 'fake quant off: backward returns gradOut');
  const out = new Float32Array(2);
  t.equal(fq.backward(g, out), out, 'fake quant off: backward copies into out');
  t.same([...out], [1, 2]);
  fq.enableFakeQuant().enableObserver(false);
  t.equal(fq.fakeQuantEnabled, true);
  t.equal(fq.observerEnabled, false);
  t.throws(() => {
    (fq as unknown as { observerEnabled: unknown }).observerEnabled = 1;
  }, TypeError, 'flags are booleans');

  const qp = fq.qparams;
  t.same(qp, { scale: fq.scale, zeroPoint: 0, quantMin: -128, quantMax: 127, dtype: 'int8' }, 'qparams');
  t.same([...quantize(new Float32Array([1, -1]), qp)], [...quantize(new Float32Array([1, -1]), { scale: fq.scale as number })], 'qparams work with quantize()');
  fq.reset();
  t.equal(fq.scale, 1, 'reset');
  t.equal(fq.calibrator.batches, 0, 'reset clears the observer');
});

t.test('FakeQuantize per channel, any bit width, every method', async (t) => {
  const fq = new FakeQuantize({ axis: 0, shape: [4, 3, 2], symmetric: true, method: 'minmax' });
  t.same([...fq.scale], [1, 1, 1, 1], 'initial per-channel scales 1');
  const x = Float32Array.from({ length: 24 }, (_, i) => (i - 11) * 0.1 * ((i % 4) + 1));
  const y = fq.forward(x);
  const scale = fq.scale;
  t.type(scale, Float32Array);
  t.equal(scale.length, 4);
  sameBits(t, y, fakeQuant(x, { scale, zeroPoint: fq.zeroPoint, axis: 0, shape: [4, 3, 2], quantMin: -128, quantMax: 127 }).output, 'per-channel forward');
  t.throws(() => fq.forward(new Float32Array(12)), RangeError, 'axis 0: the shape is fixed');
  const acts = new FakeQuantize({ axis: 1, shape: [2, 3], dtype: 'uint8' });
  acts.forward(new Float32Array(12).map((_, i) => i - 3)); // leading dimension inferred: [4, 3]
  t.equal(acts.scale.length, 3, 'activations per channel, leading dimension inferred');
  acts.forward(new Float32Array(6).map((_, i) => i), [2, 3]);
  t.equal(acts.calibrator.batches, 2, 'explicit shape');
  t.throws(() => acts.forward(new Float32Array(6), [2, 4]), RangeError, 'shape must keep the channel count');

  const w = randomFloats(24, 77, false);
  const cal = calibrate(w, { axis: 0, shape: [4, 6], symmetric: true });
  sameBits(t, fakeQuant(w, cal).output, fakeQuant(w, { scale: cal.scale, zeroPoint: cal.zeroPoint, axis: 0, shape: [4, 6], quantMin: -128, quantMax: 127 }).output, 'a Calibration result works as fakeQuant params');
  const four = new FakeQuantize({ quantMin: -8, quantMax: 7, method: 'minmax' });
  const o4 = four.forward(new Float32Array([-1, -0.3, 0.2, 0.9]));
  t.equal(four.quantMin, -8);
  t.equal(four.quantMax, 7);
  const q = fakeQuant(new Float32Array([-1, -0.3, 0.2, 0.9]), four.qparams);
  sameBits(t, o4, q.output, '4-bit');
  for (const method of ['percentile', 'entropy', 'mse'] as const) {
    const h = new FakeQuantize({ method, symmetric: true });
    const out = h.forward(randomFloats(4000, 3, false));
    t.ok(out.length === 4000 && typeof h.scale === 'number' && h.scale > 0, `method ${method}`);
  }
});

// ------------------------------------------------------------------------------------------------ bad input

t.test('bad input: TypeError / RangeError naming the parameter', async (t) => {
  const x = new Float32Array(6);
  const base = { scale: 0.1, zeroPoint: 0, quantMin: -128, quantMax: 127 };
  const bad = (name: string, fn: () => unknown, type: typeof TypeError | typeof RangeError, re: RegExp) =>
    t.throws(fn, { name: type.name, message: re }, name);
  bad('x type', () => fakeQuant([1, 2] as unknown as Float32Array, base), TypeError, /for x/);
  bad('params', () => fakeQuant(x, null as unknown as FakeQuantParams), TypeError, /for params/);
  bad('quantMin missing', () => fakeQuant(x, { scale: 1, quantMax: 3 } as FakeQuantParams), TypeError, /for quantMin/);
  bad('quantMax missing', () => fakeQuant(x, { scale: 1, quantMin: 3 } as FakeQuantParams), TypeError, /for quantMax/);
  bad('qmin >= qmax', () => fakeQuant(x, { ...base, quantMin: 5, quantMax: 5, zeroPoint: 5 }), RangeError, /for quantMax/);
  bad('qmin not integer', () => fakeQuant(x, { ...base, quantMin: -1.5 }), RangeError, /for quantMin/);
  bad('range too wide', () => fakeQuant(x, { ...base, quantMin: -(2 ** 24), quantMax: 2 ** 24 }), RangeError, /for quantMax/);
  bad('range beyond 2^24', () => fakeQuant(x, { ...base, quantMax: 2 ** 24 + 1 }), RangeError, /for quantMax/);
  bad('zp outside', () => fakeQuant(x, { ...base, zeroPoint: 128 }), RangeError, /for zeroPoint/);
  bad('zp not integer', () => fakeQuant(x, { ...base, zeroPoint: 0.5 }), RangeError, /for zeroPoint/);
  bad('default zp outside', () => fakeQuant(x, { scale: 1, quantMin: 1, quantMax: 9 }), RangeError, /for zeroPoint/);
  for (const s of [0, -1, NaN, Infinity, 1e-46, 1e39])
    bad(`scale ${s}`, () => fakeQuant(x, { ...base, scale: s }), RangeError, /for scale/);
  bad('scale type', () => fakeQuant(x, { ...base, scale: '1' as unknown as number }), TypeError, /for scale/);
  bad('out.output length', () => fakeQuant(x, base, { output: new Float32Array(5) }), RangeError, /for out\.output/);
  bad('out.output type', () => fakeQuant(x, base, { output: new Float64Array(6) as unknown as Float32Array }), TypeError, /for out\.output/);
  bad('out.mask type', () => fakeQuant(x, base, { mask: new Int8Array(6) as unknown as Uint8Array }), TypeError, /for out\.mask/);
  bad('out.mask length', () => fakeQuant(x, base, { mask: new Uint8Array(7) }), RangeError, /for out\.mask/);
  bad('out.mask overlaps x', () => fakeQuant(x, base, { mask: new Uint8Array(x.buffer, 0, 6) }), RangeError, /for out\.mask/);
  const big = new Float32Array(8);
  bad('output partly overlaps x', () => fakeQuant(big.subarray(0, 6), base, { output: big.subarray(1, 7) }), RangeError, /for out\.output/);
  // per channel
  const pc = { scale: new Float32Array([1, 2]), zeroPoint: new Int32Array([0, 0]), axis: 0, shape: [2, 3], quantMin: -8, quantMax: 7 };
  bad('scale length', () => fakeQuant(x, { ...pc, scale: new Float32Array([1, 2, 3]) }), RangeError, /for scale/);
  bad('zeroPoint length', () => fakeQuant(x, { ...pc, zeroPoint: new Int32Array(3) }), RangeError, /for zeroPoint/);
  bad('zeroPoint[1] outside', () => fakeQuant(x, { ...pc, zeroPoint: new Int32Array([0, 9]) }), RangeError, /for zeroPoint\[1\]/);
  bad('scale[1] bad', () => fakeQuant(x, { ...pc, scale: new Float32Array([1, 0]) }), RangeError, /for scale\[1\]/);
  bad('shape product', () => fakeQuant(x, { ...pc, shape: [2, 4] }), RangeError, /for shape/);
  bad('axis', () => fakeQuant(x, { ...pc, axis: 2 }), RangeError, /for axis/);
  bad('axis missing', () => fakeQuant(x, { ...pc, axis: undefined as unknown as number }), TypeError, /for axis/);
  bad('zeroPoint type', () => fakeQuant(x, { ...pc, zeroPoint: new Float32Array(2) as unknown as Int32Array }), TypeError, /for zeroPoint/);
  // backward
  bad('mask type', () => fakeQuantBackward(x, new Int8Array(6) as unknown as Uint8Array), TypeError, /for mask/);
  bad('mask length', () => fakeQuantBackward(x, new Uint8Array(5)), RangeError, /for mask/);
  bad('gradOut type', () => fakeQuantBackward([] as unknown as Float32Array, new Uint8Array(0)), TypeError, /for gradOut/);
  bad('backward out length', () => fakeQuantBackward(x, new Uint8Array(6), new Float32Array(2)), RangeError, /for out/);
  // learnable
  const lp = { scale: 0.1, zeroPoint: 0.5, quantMin: -8, quantMax: 7 };
  bad('learnable qmin > 0', () => fakeQuantLearnable(x, { ...lp, quantMin: 1, quantMax: 9 }), RangeError, /for quantMin/);
  bad('learnable qmax < 0', () => fakeQuantLearnable(x, { ...lp, quantMin: -9, quantMax: -1 }), RangeError, /for quantMax/);
  bad('learnable zp NaN', () => fakeQuantLearnable(x, { ...lp, zeroPoint: NaN }), RangeError, /for zeroPoint/);
  bad('learnable gradFactor', () => fakeQuantLearnable(x, { ...lp, gradFactor: Infinity }), RangeError, /for gradFactor/);
  bad('learnable gradFactor type', () => fakeQuantLearnable(x, { ...lp, gradFactor: '1' as unknown as number }), TypeError, /for gradFactor/);
  bad('learnable scale', () => fakeQuantLearnable(x, { ...lp, scale: -0.1 }), RangeError, /for scale/);
  bad('learnable out overlaps x', () => fakeQuantLearnable(x, lp, x), RangeError, /for out/);
  const r = fakeQuantLearnable(x, lp);
  bad('learnable gradOut length', () => r.backward(new Float32Array(5)), RangeError, /for gradOut/);
  bad('learnable gradX out = x', () => r.backward(new Float32Array(6), x), RangeError, /for out/);
  bad('learnable zeroPoint[] length', () => fakeQuantLearnable(x, { ...lp, scale: [1, 1], zeroPoint: [0], axis: 0, shape: [2, 3] }), RangeError, /for zeroPoint/);
  // FakeQuantize
  bad('FakeQuantize options', () => new FakeQuantize({ bogus: 1 } as never), RangeError, /for options/);
  bad('FakeQuantize x', () => new FakeQuantize().forward([1] as unknown as Float32Array), TypeError, /for x/);
  bad('FakeQuantize shape per tensor', () => new FakeQuantize().forward(x, [6]), TypeError, /for shape/);
  bad('FakeQuantize Infinity', () => new FakeQuantize().forward(new Float32Array([Infinity])), RangeError, /infinity/);
});
