// Async calls whose arrays are detached while they run. A transfer (structuredClone or postMessage with a
// transfer list) detaches a buffer and hands its memory to the new owner; once that owner is collected the memory
// is freed. The addon holds each argument's backing store until the call settles, so a worker never reads or
// writes freed memory: inputs transferred away still give the exact results, and an `out` transferred away
// rejects with a TypeError instead of the results landing in freed memory. Without the keepalive these tests
// crash the process (the inputs are large enough that the allocator returns them to the OS when freed).
// Resizable ArrayBuffers, which could shrink under a worker, are refused by every async entry point.
import t from 'tap';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { MessageChannel } from 'node:worker_threads';
import { int8Gemm, int8GemmAsync, linearDynamic, linearDynamicAsync, packB, sgemm, sgemmAsync, withIsa, getIsa } from '../lib/index';
import { native } from '../lib/native';
import { rng, sameBits } from './_harness';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// The scalar tier keeps each call running for tens of milliseconds, so the transfer happens mid-call; the best
// tier runs the same checks with its own timing.
const TIERS_HERE = [...new Set(['scalar', getIsa()] as const)];

function uint8s(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}
function int8s(n: number, seed: number): Int8Array {
  const r = rng(seed);
  return Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
}
function floats(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

/** Detaches each array's buffer by transferring it to a clone that is dropped at once, collects it, and
 * allocates buffers of the same sizes filled with junk: a worker still using the memory without a keepalive reads
 * the junk, or writes into other arrays, or (for a buffer the allocator unmapped) faults. */
const junk: Uint8Array[] = [];
function transferAway(...arrays: ArrayBufferView[]): void {
  const sizes = arrays.map((v) => v.byteLength);
  for (const v of arrays) structuredClone(v.buffer, { transfer: [v.buffer as ArrayBuffer] });
  gc();
  gc();
  junk.length = 0;
  for (let i = 0; i < 4; i++) for (const size of sizes) junk.push(new Uint8Array(size).fill(0xa5));
}

const m = 96;
const n = 128;
const k = 4096; // a: 384 KiB, b: 512 KiB

t.test('scalar: int8GemmAsync with a 40 MB input transferred mid-call (freeing it unmaps it)', async (tt) => {
  // Above glibc's largest mmap threshold (32 MiB), so the allocator returns a freed buffer to the OS at once.
  const m = 5, n = 8, k = 8 << 20;
  const a = new Uint8Array(m * k).fill(201);
  const w = packB(new Int8Array(k * n).fill(-77), { k, n });
  const p = withIsa('scalar', () => int8GemmAsync(a, w, { m, n, k, aZeroPoint: 1 }));
  transferAway(a);
  tt.equal(a.length, 0, 'a is detached');
  const c = await p;
  // Every element is sum over k of (201 - 1) * -77, modulo 2^32.
  tt.ok(c.every((v) => v === ((200 * -77 * k) | 0)), 'exact');
});

for (const isa of TIERS_HERE) {
  t.test(`${isa}: int8GemmAsync with a and b transferred mid-call`, async (tt) => {
    const a = uint8s(m * k, 1);
    const b = int8s(k * n, 2);
    const want = withIsa(isa, () => int8Gemm(a, b, { m, n, k, aZeroPoint: 7 }));
    const p = withIsa(isa, () => int8GemmAsync(a, b, { m, n, k, aZeroPoint: 7 }));
    transferAway(a, b);
    tt.equal(a.length, 0, 'a is detached');
    sameBits(tt, await p, want, 'exact result from the memory the call kept');
  });

  t.test(`${isa}: int8GemmAsync float32 output with its per-column arrays transferred`, async (tt) => {
    const a = int8s(m * k, 3);
    const w = packB(int8s(n * k, 4), { k, n, transB: true });
    const bScale = floats(n, 5).map((v) => 0.01 + Math.abs(v) * 0.01);
    const bias = floats(n, 6);
    const bZeroPoint = Int32Array.from({ length: n }, (_, j) => (j % 5) - 2);
    const o = { m, n, k, output: 'float32' as const, aScale: 0.02, bScale, bias, bZeroPoint };
    const want = withIsa(isa, () => int8Gemm(a, w, o));
    const p = withIsa(isa, () => int8GemmAsync(a, w, o));
    transferAway(a, bScale, bias, bZeroPoint);
    sameBits(tt, await p, want, 'exact');
  });

  t.test(`${isa}: int8GemmAsync whose out is transferred rejects`, async (tt) => {
    const a = uint8s(m * k, 7);
    const w = packB(int8s(k * n, 8), { k, n });
    const out = new Int32Array(m * n);
    const p = withIsa(isa, () => int8GemmAsync(a, w, { m, n, k }, out));
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(out, [out.buffer]);
    port1.close();
    port2.close();
    transferAway();
    tt.equal(out.length, 0, 'out is detached');
    await tt.rejects(p, { name: 'TypeError', message: /out was detached while int8GemmAsync ran/ });
  });

  t.test(`${isa}: linearDynamicAsync with x transferred, and with out transferred`, async (tt) => {
    const x = floats(m * k, 9);
    const w = packB(int8s(n * k, 10), { k, n, transB: true });
    const o = { m, bScale: 0.003 };
    const want = withIsa(isa, () => linearDynamic(x, w, o));
    const p = withIsa(isa, () => linearDynamicAsync(x, w, o));
    transferAway(x);
    sameBits(tt, await p, want, 'x transferred: exact');
    const out = new Float32Array(m * n);
    const q = withIsa(isa, () => linearDynamicAsync(floats(m * k, 9), w, o, out));
    transferAway(out);
    await tt.rejects(q, { name: 'TypeError', message: /out was detached while linearDynamicAsync ran/ });
  });

  t.test(`${isa}: sgemmAsync with a, b and out transferred`, async (tt) => {
    const a = floats(m * 512, 11);
    const b = floats(512 * n, 12);
    const want = withIsa(isa, () => sgemm(a, b, { m, n, k: 512 }));
    const p = withIsa(isa, () => sgemmAsync(a, b, { m, n, k: 512 }));
    transferAway(a, b);
    sameBits(tt, await p, want, 'inputs transferred: exact');
    const out = new Float32Array(m * n);
    const q = withIsa(isa, () => sgemmAsync(floats(m * 512, 11), floats(512 * n, 12), { m, n, k: 512 }, out));
    transferAway(out);
    await tt.rejects(q, { name: 'TypeError', message: /out was detached while sgemmAsync ran/ });
  });
}

t.test('resizable ArrayBuffers: refused by async calls (naming the array), fine in sync ones', async (tt) => {
  const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;
  const a = new Uint8Array(new Resizable(4 * 8, { maxByteLength: 64 }));
  a.set(uint8s(32, 13));
  const b = int8s(8 * 2, 14);
  const want = int8Gemm(a.slice(), b, { m: 4, n: 2, k: 8 });
  sameBits(tt, int8Gemm(a, b, { m: 4, n: 2, k: 8 }), want, 'sync: same result');
  await tt.rejects(int8GemmAsync(a, b, { m: 4, n: 2, k: 8 }), { name: 'TypeError', message: /resizable.*for a, / });
  const out = new Int32Array(new Resizable(4 * 2 * 4, { maxByteLength: 64 }));
  await tt.rejects(int8GemmAsync(a.slice(), b, { m: 4, n: 2, k: 8 }, out), { name: 'TypeError', message: /resizable.*for out, / });
  const bias = new Float32Array(new Resizable(8, { maxByteLength: 64 }));
  await tt.rejects(int8GemmAsync(a.slice(), b, { m: 4, n: 2, k: 8, output: 'float32', aScale: 1, bScale: 1, bias }), {
    name: 'TypeError',
    message: /resizable.*for bias, /,
  });
  const w = packB(int8s(8 * 2, 15), { k: 8, n: 2 });
  const x = new Float32Array(new Resizable(4 * 8 * 4, { maxByteLength: 256 }));
  await tt.rejects(linearDynamicAsync(x, w, { m: 4, bScale: 1 }), { name: 'TypeError', message: /resizable.*for x, / });
  const f = new Float32Array(new Resizable(16, { maxByteLength: 64 }));
  await tt.rejects(sgemmAsync(f, new Float32Array(2), { m: 2, n: 1, k: 2 }), { name: 'TypeError', message: /resizable.*for a, / });
  // The addon checks on its own (the private binding, called directly).
  tt.throws(() => native.sgemmAsync(f, new Float32Array(2), 2, 1, 2, false, new Float32Array(2)), {
    name: 'TypeError',
    message: /resizable ArrayBuffer/,
  });
});
