// Every op x every available tier against the scalar kernel, bit-exact: odd lengths around every vector width,
// misaligned views, rounding ties, extremes, NaN and infinities, and guard bytes around the output.
import t from 'tap';
import {
  dequantize,
  fromBFloat16,
  fromFloat16,
  quantize,
  toBFloat16,
  toFloat16,
  type QuantDtype,
  type QuantParams,
} from '../lib/index';
import { ODD_SIZES, forEachIsa, misaligned, randomBits32, randomFloats, randomU16, rng, sameBits, scalar } from './_harness';

// Inputs that land exactly on k + 0.5 after x * (1/scale) for scale 1 and 0.5, and values at the clamp edges.
function ties(n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = ((i % 600) - 300) + 0.5;
  return x;
}

const TENSOR_CASES: { name: string; dtype: QuantDtype; scale: number; zeroPoint: number; quantMin?: number; quantMax?: number }[] = [
  { name: 'int8 s=0.02 z=0', dtype: 'int8', scale: 0.02, zeroPoint: 0 },
  { name: 'int8 s=1 z=-128', dtype: 'int8', scale: 1, zeroPoint: -128 },
  { name: 'int8 s=0.5 z=127', dtype: 'int8', scale: 0.5, zeroPoint: 127 },
  { name: 'int8 s=1/3 z=3', dtype: 'int8', scale: 1 / 3, zeroPoint: 3 },
  { name: 'int8 4-bit [-8,7]', dtype: 'int8', scale: 0.1, zeroPoint: 0, quantMin: -8, quantMax: 7 },
  { name: 'uint8 s=0.02 z=128', dtype: 'uint8', scale: 0.02, zeroPoint: 128 },
  { name: 'uint8 s=1 z=0', dtype: 'uint8', scale: 1, zeroPoint: 0 },
  { name: 'uint8 s=7.5 z=255', dtype: 'uint8', scale: 7.5, zeroPoint: 255 },
  { name: 'uint8 reduce-range [0,127]', dtype: 'uint8', scale: 0.05, zeroPoint: 64, quantMin: 0, quantMax: 127 },
];

t.test('quantize per tensor matches scalar', async (t) => {
  const big = randomFloats(5000, 1);
  const tie = ties(5000);
  forEachIsa(t, (t) => {
    for (const c of TENSOR_CASES) {
      for (const n of ODD_SIZES) {
        for (const [label, src] of [['random', big], ['ties', tie]] as const) {
          const x = src.subarray(0, n);
          const want = scalar(() => quantize(x, c));
          sameBits(t, quantize(x, c), want, `${c.name} ${label} n=${n}`, x);
        }
      }
      // Misaligned input and output views.
      const x = misaligned(big.subarray(0, 1023), Float32Array, 1);
      const want = scalar(() => quantize(x, c));
      const out = misaligned(c.dtype === 'int8' ? new Int8Array(1023) : new Uint8Array(1023), (c.dtype === 'int8' ? Int8Array : Uint8Array) as never, 3);
      sameBits(t, quantize(x, c, out as never), want, `${c.name} misaligned`);
    }
  });
});

t.test('quantize writes exactly its output range', async (t) => {
  forEachIsa(t, (t) => {
    for (const n of [1, 15, 17, 33, 63, 65, 129]) {
      const buf = new Int8Array(n + 64).fill(0x5a);
      const out = buf.subarray(32, 32 + n);
      quantize(randomFloats(n, n), { scale: 0.01 }, out);
      const outside = [...buf.subarray(0, 32), ...buf.subarray(32 + n)];
      t.ok(outside.every((v) => v === 0x5a), `guard bytes intact n=${n}`);
      const fbuf = new Float32Array(n + 64).fill(7);
      dequantize(new Int8Array(n).fill(3), { scale: 2 }, fbuf.subarray(32, 32 + n));
      t.ok([...fbuf.subarray(0, 32), ...fbuf.subarray(32 + n)].every((v) => v === 7), `dequantize guard n=${n}`);
      const hbuf = new Uint16Array(n + 64).fill(0xabcd);
      toFloat16(randomFloats(n, 2), hbuf.subarray(32, 32 + n));
      t.ok([...hbuf.subarray(0, 32), ...hbuf.subarray(32 + n)].every((v) => v === 0xabcd), `toFloat16 guard n=${n}`);
      toBFloat16(randomFloats(n, 2), hbuf.subarray(32, 32 + n));
      t.ok([...hbuf.subarray(0, 32), ...hbuf.subarray(32 + n)].every((v) => v === 0xabcd), `toBFloat16 guard n=${n}`);
    }
  });
});

function perChannelCases(): { name: string; x: Float32Array; p: QuantParams }[] {
  const r = rng(7);
  const cases: { name: string; x: Float32Array; p: QuantParams }[] = [];
  const shapes: [number[], number][] = [
    [[4, 33], 0], [[4, 33], 1], [[4, 33], -1], [[3, 5, 7], 1], [[2, 3, 40], 2], [[2, 3, 40], 1], [[16, 1], 0],
    [[1, 64, 3, 3], 1], [[7, 2, 2, 9], 0], [[3, 17, 2], 2], [[5, 100], 1],
  ];
  let seed = 100;
  for (const [shape, axis] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const c = shape[axis < 0 ? axis + shape.length : axis]!;
    const scale = new Float32Array(c).map(() => 0.001 + r() * 0.1);
    for (const dtype of ['int8', 'uint8'] as const) {
      const zeroPoint = new Int32Array(c).map(() => (dtype === 'int8' ? Math.floor(r() * 256) - 128 : Math.floor(r() * 256)));
      cases.push({ name: `${dtype} [${shape}] axis ${axis}`, x: randomFloats(n, seed++), p: { scale, zeroPoint, axis, shape, dtype } });
    }
  }
  return cases;
}

t.test('quantize / dequantize per channel match scalar', async (t) => {
  const cases = perChannelCases();
  forEachIsa(t, (t) => {
    for (const c of cases) {
      const want = scalar(() => quantize(c.x, c.p));
      const got = quantize(c.x, c.p);
      sameBits(t, got, want, `quantize ${c.name}`, c.x);
      const dwant = scalar(() => dequantize(want, c.p));
      sameBits(t, dequantize(got, c.p), dwant, `dequantize ${c.name}`);
    }
  });
});

t.test('per channel equals per tensor applied channel by channel (scalar)', async (t) => {
  for (const c of perChannelCases()) {
    const p = c.p as { scale: Float32Array; zeroPoint: Int32Array; axis: number; shape: number[]; dtype: QuantDtype };
    const axis = p.axis < 0 ? p.axis + p.shape.length : p.axis;
    const outer = p.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const channels = p.shape[axis]!;
    const inner = p.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const got = scalar(() => quantize(c.x, p));
    const want = p.dtype === 'int8' ? new Int8Array(c.x.length) : new Uint8Array(c.x.length);
    for (let o = 0; o < outer; o++)
      for (let ch = 0; ch < channels; ch++) {
        const off = (o * channels + ch) * inner;
        scalar(() => quantize(c.x.subarray(off, off + inner), { scale: p.scale[ch]!, zeroPoint: p.zeroPoint[ch]!, dtype: p.dtype }, want.subarray(off, off + inner) as never));
      }
    sameBits(t, got, want, c.name);
  }
});

t.test('dequantize per tensor matches scalar (every byte value)', async (t) => {
  const all8 = new Int8Array(256 * 9).map((_, i) => (i % 256) - 128);
  const allU8 = new Uint8Array(all8.buffer);
  forEachIsa(t, (t) => {
    for (const [scale, zp] of [[0.02, 0], [1 / 3, -128], [7.5, 127], [1e-30, 5], [3e38, 1]] as const) {
      for (const n of ODD_SIZES) {
        const q = all8.subarray(0, Math.min(n, all8.length));
        sameBits(t, dequantize(q, { scale, zeroPoint: zp }), scalar(() => dequantize(q, { scale, zeroPoint: zp })), `int8 s=${scale} z=${zp} n=${q.length}`);
        const u = allU8.subarray(0, q.length);
        const uz = zp + 128;
        sameBits(t, dequantize(u, { scale, zeroPoint: uz }), scalar(() => dequantize(u, { scale, zeroPoint: uz })), `uint8 s=${scale} z=${uz} n=${u.length}`);
      }
      const mis = misaligned(all8.subarray(0, 999), Int8Array, 3);
      sameBits(t, dequantize(mis, { scale, zeroPoint: zp }), scalar(() => dequantize(mis, { scale, zeroPoint: zp })), `misaligned s=${scale}`);
    }
  });
});

t.test('FP16 and BF16 match scalar', async (t) => {
  const bits = randomBits32(70000, 11);
  const floats = randomFloats(5000, 12);
  const allHalves = new Uint16Array(65536).map((_, i) => i);
  const halves = randomU16(5000, 13);
  forEachIsa(t, (t) => {
    sameBits(t, fromFloat16(allHalves), scalar(() => fromFloat16(allHalves)), 'fromFloat16: all 65,536 halves');
    sameBits(t, fromBFloat16(allHalves), scalar(() => fromBFloat16(allHalves)), 'fromBFloat16: all 65,536 patterns');
    sameBits(t, toFloat16(bits), scalar(() => toFloat16(bits)), 'toFloat16: random bit patterns', bits);
    sameBits(t, toBFloat16(bits), scalar(() => toBFloat16(bits)), 'toBFloat16: random bit patterns', bits);
    for (const n of ODD_SIZES) {
      const x = floats.subarray(0, n);
      const h = halves.subarray(0, n);
      sameBits(t, toFloat16(x), scalar(() => toFloat16(x)), `toFloat16 n=${n}`, x);
      sameBits(t, toBFloat16(x), scalar(() => toBFloat16(x)), `toBFloat16 n=${n}`, x);
      sameBits(t, fromFloat16(h), scalar(() => fromFloat16(h)), `fromFloat16 n=${n}`, h);
      sameBits(t, fromBFloat16(h), scalar(() => fromBFloat16(h)), `fromBFloat16 n=${n}`, h);
    }
    const mx = misaligned(floats.subarray(0, 777), Float32Array, 1);
    const mh = misaligned(halves.subarray(0, 777), Uint16Array, 1);
    sameBits(t, toFloat16(mx), scalar(() => toFloat16(mx)), 'toFloat16 misaligned');
    sameBits(t, fromFloat16(mh), scalar(() => fromFloat16(mh)), 'fromFloat16 misaligned');
    sameBits(t, toBFloat16(mx), scalar(() => toBFloat16(mx)), 'toBFloat16 misaligned');
    sameBits(t, fromBFloat16(mh), scalar(() => fromBFloat16(mh)), 'fromBFloat16 misaligned');
  });
});
