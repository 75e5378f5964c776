// Replays the committed PyTorch / numpy fixtures (test/fixtures/*.json, written by scripts/gen-fixtures.py) on
// every ISA tier this machine offers and compares bit for bit: quantize / dequantize per tensor and per channel
// (int8 and uint8), and FP16 / BF16 conversion in both directions. One assertion per case and tier; a mismatch
// names the tier, the case, the first differing index, its input bits, the expected and the actual value.
import t, { type Test } from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import {
  cpuInfo,
  dequantize,
  fromBFloat16,
  fromFloat16,
  getIsa,
  quantize,
  toBFloat16,
  toFloat16,
  withIsa,
} from '../lib/index';
import type { Isa, QuantParams } from '../lib/index';

const ROOT = join(__dirname, '..');
const GENERATOR = 'scripts/gen-fixtures.py';

// ------------------------------------------------------------------------------------------- fixture decoding

interface Arr {
  dtype: 'float32' | 'int8' | 'uint8' | 'uint16' | 'int32';
  shape: number[];
  b64?: string;
  arange?: [number, number];
}
type Typed = Float32Array | Int8Array | Uint8Array | Uint16Array | Int32Array;

const CTORS = { float32: Float32Array, int8: Int8Array, uint8: Uint8Array, uint16: Uint16Array, int32: Int32Array };

function decode(a: Arr): Typed {
  const n = a.shape.reduce((p, d) => p * d, 1);
  const Ctor = CTORS[a.dtype];
  if (Ctor === undefined) throw new Error(`fixture array of unknown dtype ${String(a.dtype)}`);
  let out: Typed;
  if (a.arange !== undefined) {
    const [start, stop] = a.arange;
    out = new Ctor(stop - start);
    for (let i = 0; i < out.length; i++) out[i] = start + i;
  } else {
    const buf = Buffer.from(a.b64 ?? '', 'base64');
    if (endianness() === 'BE') {
      if (Ctor.BYTES_PER_ELEMENT === 2) buf.swap16();
      else if (Ctor.BYTES_PER_ELEMENT === 4) buf.swap32();
    }
    const ab = new ArrayBuffer(buf.length); // a fresh, aligned copy (Buffer.from may sit in a shared pool)
    new Uint8Array(ab).set(buf);
    out = new Ctor(ab);
  }
  if (out.length !== n) throw new Error(`fixture array of shape [${a.shape.join(', ')}] has ${out.length} elements`);
  return out;
}

const f32 = (a: Arr) => decode(a) as Float32Array;
const u16 = (a: Arr) => decode(a) as Uint16Array;

interface Header {
  generator: string;
  versions: { torch: string; numpy: string; python: string };
  description: string;
}
interface QuantCase {
  name: string;
  dtype: 'int8' | 'uint8';
  scale: number | Arr;
  zeroPoint: number | Arr;
  axis?: number;
  shape?: number[];
}
interface QuantizeFixture extends Header {
  inputs: Record<string, Arr>;
  quantize: (QuantCase & { x: string; expected: Arr })[];
  dequantize: (QuantCase & { q: Arr; expected: Arr; torch: Arr; torchDiffers: number; torchUlp: number })[];
  special: (QuantCase & { x: Arr; expected: Arr })[];
}
interface ConvCase {
  name: string;
  x?: Arr;
  h?: Arr;
  expected: Arr;
}
interface NanCase {
  name: string;
  x: Arr;
  expected: string;
}
interface Float16Fixture extends Header {
  toFloat16: ConvCase[];
  fromFloat16: ConvCase[];
  special: NanCase[];
}
interface BFloat16Fixture extends Header {
  toBFloat16: ConvCase[];
  fromBFloat16: ConvCase[];
  special: NanCase[];
}

function load<T>(name: string): T {
  return JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', name), 'utf8')) as T;
}

const QF = load<QuantizeFixture>('quantize.json');
const HF = load<Float16Fixture>('float16.json');
const BF = load<BFloat16Fixture>('bfloat16.json');

function params(c: QuantCase): QuantParams {
  if (typeof c.scale === 'number') return { dtype: c.dtype, scale: c.scale, zeroPoint: c.zeroPoint as number };
  return {
    dtype: c.dtype,
    scale: f32(c.scale),
    zeroPoint: decode(c.zeroPoint as Arr) as Int32Array,
    axis: c.axis!,
    shape: c.shape!,
  };
}

// ------------------------------------------------------------------------------------------- comparison

const hex = (v: number, digits: number) => '0x' + (v >>> 0).toString(16).padStart(digits, '0');
const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const f32Str = (u: number) => `${hex(u, 8)} (${new Float32Array(new Uint32Array([u]).buffer)[0]})`;

function isNanHalf(h: number) {
  return (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
}
function isNanBf16(h: number) {
  return (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
}
function isNanF32(u: number) {
  return (u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0;
}

/**
 * One assertion over a result of `got` elements against `n` expected: `same(i)` decides element i, `describe(i)`
 * renders its input, expected and got value. The message is the label when everything matches, else the mismatch
 * count and the first mismatch.
 */
function check(
  tt: Test,
  label: string,
  n: number,
  got: number,
  same: (i: number) => boolean,
  describe: (i: number) => string,
): void {
  if (got !== n) {
    tt.fail(`${label}: got ${got} elements, expected ${n}`);
    return;
  }
  let bad = 0;
  let first = -1;
  for (let i = 0; i < n; i++) {
    if (!same(i)) {
      if (first < 0) first = i;
      bad++;
    }
  }
  const detail = bad === 0 ? '' : `: ${bad} of ${n} differ; first at [${first}]: ${describe(first)}`;
  tt.ok(bad === 0, bad === 0 ? `${label} (${n} elements)` : label + detail);
}

/** Integer results (quantized values, half bit patterns) compared exactly. */
function checkExact(
  tt: Test,
  label: string,
  input: (i: number) => string,
  expected: Typed,
  got: Typed,
  show: (v: number) => string = String,
) {
  check(
    tt,
    label,
    expected.length,
    got.length,
    (i) => got[i] === expected[i],
    (i) => `input ${input(i)}, expected ${show(expected[i]!)}, got ${show(got[i]!)}`,
  );
}

/** Float32 results by bit pattern; with `nanSignOnly`, any NaN with the expected NaN's sign passes. */
function checkFloats(
  tt: Test,
  label: string,
  input: (i: number) => string,
  expected: Float32Array,
  got: Float32Array,
  nanSignOnly: boolean,
) {
  const e = bitsOf(expected);
  const g = bitsOf(got);
  check(
    tt,
    label,
    e.length,
    g.length,
    (i) => e[i] === g[i] || (nanSignOnly && isNanF32(e[i]!) && isNanF32(g[i]!) && e[i]! >>> 31 === g[i]! >>> 31),
    (i) => `input ${input(i)}, expected ${f32Str(e[i]!)}, got ${f32Str(g[i]!)}`,
  );
}

/** Renders element i of a float32 input as its bits and value. */
const f32Input = (x: Float32Array) => {
  const b = bitsOf(x);
  return (i: number) => f32Str(b[i]!);
};
const half = (v: number) => hex(v, 4);

/** Distance in float32 ulps between two finite float32 bit patterns. */
function ulps(a: number, b: number): number {
  const key = (u: number) => (u >>> 31 ? 0x80000000 - (u >>> 0) : u >>> 0);
  return Math.abs(key(a) - key(b));
}

// ------------------------------------------------------------------------------------------- the tests

t.test('fixtures come from scripts/gen-fixtures.py', async (tt) => {
  tt.ok(existsSync(join(ROOT, GENERATOR)), `${GENERATOR} exists`);
  for (const [name, doc] of [
    ['quantize.json', QF],
    ['float16.json', HF],
    ['bfloat16.json', BF],
  ] as const) {
    tt.equal(doc.generator, GENERATOR, `${name}: generator`);
    tt.match(doc.versions?.torch, /^\d+\.\d+/, `${name}: torch version ${doc.versions?.torch}`);
    tt.match(doc.versions?.numpy, /^\d+\.\d+/, `${name}: numpy version ${doc.versions?.numpy}`);
  }
  tt.ok(QF.quantize.length >= 40 && QF.dequantize.length >= 40 && QF.special.length > 0, 'quantize.json has its cases');
  tt.ok(HF.toFloat16.length > 0 && HF.fromFloat16.length > 0 && HF.special.length > 0, 'float16.json has its cases');
  tt.ok(BF.toBFloat16.length > 0 && BF.fromBFloat16.length > 0 && BF.special.length > 0, 'bfloat16.json has its cases');
});

t.test('torch.dequantize agrees with the exact (q - zp) * scale within 1 ulp', async (tt) => {
  let total = 0;
  let differ = 0;
  for (const c of QF.dequantize) {
    const e = bitsOf(f32(c.expected));
    const g = bitsOf(f32(c.torch));
    let worst = 0;
    let count = 0;
    for (let i = 0; i < e.length; i++) {
      const d = ulps(e[i]!, g[i]!);
      if (d) count++;
      if (d > worst) worst = d;
    }
    total += e.length;
    differ += count;
    tt.ok(worst <= 1 && count === c.torchDiffers, `${c.name}: ${count} of ${e.length} differ by at most ${worst} ulp`);
  }
  tt.comment(`torch.dequantize differs from the exact formula on ${differ} of ${total} elements`);
});

const tiers = cpuInfo().isas;
t.ok(tiers.includes('scalar'), `tiers on this machine: ${tiers.join(', ')}`);

for (const isa of tiers) {
  t.test(`tier ${isa}`, async (tt) => {
    withIsa(isa as Isa, () => {
      tt.equal(getIsa(), isa, `${isa} is active`);
      const tag = (name: string) => `${isa} ${name}`;

      for (const c of QF.quantize) {
        const x = f32(QF.inputs[c.x]!);
        checkExact(tt, tag(`quantize ${c.name}`), f32Input(x), decode(c.expected), quantize(x, params(c)));
      }
      for (const c of QF.special) {
        const x = f32(c.x);
        checkExact(tt, tag(`quantize ${c.name}`), f32Input(x), decode(c.expected), quantize(x, params(c)));
      }
      for (const c of QF.dequantize) {
        const q = decode(c.q) as Int8Array | Uint8Array;
        const got = dequantize(q, params(c));
        checkFloats(tt, tag(`dequantize ${c.name}`), (i) => String(q[i]), f32(c.expected), got, false);
      }

      for (const c of HF.toFloat16) {
        const x = f32(c.x!);
        checkExact(tt, tag(c.name), f32Input(x), u16(c.expected), toFloat16(x), half);
      }
      for (const c of HF.fromFloat16) {
        const h = u16(c.h!);
        // NaN halves: numpy keeps a signalling NaN signalling, F16C quiets it; only NaN-ness and sign are checked.
        checkFloats(tt, tag(c.name), (i) => half(h[i]!), f32(c.expected), fromFloat16(h), true);
      }
      for (const c of BF.toBFloat16) {
        const x = f32(c.x!);
        checkExact(tt, tag(c.name), f32Input(x), u16(c.expected), toBFloat16(x), half);
      }
      for (const c of BF.fromBFloat16) {
        const h = u16(c.h!);
        checkFloats(tt, tag(c.name), (i) => half(h[i]!), f32(c.expected), fromBFloat16(h), false);
      }

      for (const [c, conv, isNan] of [
        ...HF.special.map((c) => [c, toFloat16, isNanHalf] as const),
        ...BF.special.map((c) => [c, toBFloat16, isNanBf16] as const),
      ]) {
        const x = f32(c.x);
        const xb = bitsOf(x);
        const got = conv(x);
        check(
          tt,
          tag(c.name),
          x.length,
          got.length,
          (i) => isNan(got[i]!) && got[i]! >>> 15 === xb[i]! >>> 31,
          (i) => `input ${f32Str(xb[i]!)}, expected ${c.expected}, got ${half(got[i]!)}`,
        );
      }
    });
  });
}
