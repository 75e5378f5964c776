// Shared helpers for the tap tests: the tier loop, deterministic random data, bit-level comparison.
import type { Test } from 'tap';
import { cpuInfo, withIsa, ISAS, type Isa } from '../lib/index';

export const AVAILABLE: Isa[] = cpuInfo().isas;
/** The tiers compared with scalar: all available ones (QKERNELS_TEST_ISAS=a,b narrows the list). */
export const TIERS: Isa[] = (() => {
  const only = process.env.QKERNELS_TEST_ISAS;
  return only ? AVAILABLE.filter((i) => only.split(',').includes(i)) : AVAILABLE;
})();

export const ODD_SIZES = [0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 255, 1023, 1025, 4099];

/** Runs `fn` once per available tier as a subtest; unavailable tiers show up as visible skips. */
export function forEachIsa(t: Test, fn: (t: Test, isa: Isa) => void): void {
  for (const isa of TIERS)
    t.test(isa, async (tt) => {
      withIsa(isa, () => fn(tt, isa));
    });
  for (const isa of ISAS)
    if (!AVAILABLE.includes(isa)) t.test(isa, { skip: `${isa} is not available on this CPU/build` }, () => {});
}

/** Runs `fn` with the scalar tier (the reference). */
export function scalar<T>(fn: () => T): T {
  return withIsa('scalar', fn);
}

/** Mulberry32: a small deterministic PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniformly random int8 values. */
export function randomInt8(n: number, seed: number): Int8Array {
  const r = rng(seed);
  return Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
}

/** n uniformly random uint8 values. */
export function randomUint8(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

/** Normal-ish floats with a spread of magnitudes plus special values sprinkled in. */
export function randomFloats(n: number, seed: number, special = true): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  const specials = [0, -0, NaN, -NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-40, -1e-45, 65504, 65520, 1e-7];
  for (let i = 0; i < n; i++) {
    const u = r();
    if (special && u < 0.05) out[i] = specials[Math.floor(r() * specials.length)]!;
    else {
      const mag = Math.pow(10, r() * 8 - 5);
      out[i] = (r() - 0.5) * 2 * mag;
    }
  }
  return out;
}

/** Random bit patterns: every float32 class (NaNs with payloads, subnormals, ...) appears. */
export function randomBits32(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const u = new Uint32Array(n);
  for (let i = 0; i < n; i++) u[i] = Math.floor(r() * 4294967296) >>> 0;
  return new Float32Array(u.buffer);
}

export function randomU16(n: number, seed: number): Uint16Array {
  const r = rng(seed);
  const u = new Uint16Array(n);
  for (let i = 0; i < n; i++) u[i] = Math.floor(r() * 65536);
  return u;
}

type Numeric = Int8Array | Uint8Array | Uint16Array | Int32Array | Float32Array;

/** Index of the first element whose bits differ, or -1. Float32 compared as bit patterns. */
export function firstBitDiff(a: Numeric, b: Numeric): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const ua = a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a;
  const ub = b instanceof Float32Array ? new Uint32Array(b.buffer, b.byteOffset, b.length) : b;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

/** One assertion for a whole array: bit-identical, with the first difference in the message. */
export function sameBits(t: Test, got: Numeric, want: Numeric, what: string, input?: Numeric): void {
  const i = firstBitDiff(got, want);
  if (i < 0) {
    t.pass(what);
    return;
  }
  const bits = (v: Numeric, k: number) => {
    if (k >= v.length) return 'missing';
    if (v instanceof Float32Array) return `${v[k]} (0x${new Uint32Array(v.buffer, v.byteOffset, v.length)[k]!.toString(16)})`;
    return String(v[k]);
  };
  t.fail(`${what}: first difference at ${i} of ${want.length}: got ${bits(got, i)}, want ${bits(want, i)}` +
    (input ? `, input ${bits(input, i)}` : ''));
}

/** A view of `n` elements at an odd byte offset inside a larger buffer (misaligned for every SIMD width). */
export function misaligned<T extends Float32Array | Int8Array | Uint8Array | Uint16Array>(
  src: T,
  ctor: { new (b: ArrayBuffer, off: number, len: number): T; BYTES_PER_ELEMENT: number },
  elemOffset = 1,
): T {
  const buf = new ArrayBuffer((src.length + elemOffset + 16) * ctor.BYTES_PER_ELEMENT);
  const v = new ctor(buf, elemOffset * ctor.BYTES_PER_ELEMENT, src.length);
  v.set(src as never);
  return v;
}
