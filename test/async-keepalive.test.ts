// Async calls whose arrays are detached while they run. A transfer (structuredClone or postMessage with a
// transfer list) detaches a buffer and hands its memory to the new owner; once that owner is collected the memory
// is freed. The addon holds each argument's backing store until the call settles, so a worker never reads or
// writes freed memory: inputs transferred away still give the exact results, and an `out` transferred away
// rejects with a TypeError instead of the results landing in freed memory.
//
// The order is made deterministic: every libuv worker is first given a slow call (blockPool), so the call under
// test is queued behind them and starts only after its arrays were transferred, collected and their memory handed
// to new arrays filled with junk. Without the keepalive it then reads freed memory (the allocator's free-list
// pointers, or the junk: wrong results), writes into the junk (checked after every test), or, for the 40 MB
// input the allocator unmaps when it is freed, faults.
// Resizable ArrayBuffers, which could shrink under a worker, are refused by every async entry point.
import t, { type Test } from 'tap';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { MessageChannel } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { int8Gemm, int8GemmAsync, linearDynamic, linearDynamicAsync, packB, sgemm, sgemmAsync, withIsa, getIsa, type Isa } from '../lib/index';
import { native } from '../lib/native';
import { randomInt8, randomUint8, rng, sameBits } from './_harness';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TIERS_HERE = [...new Set(['scalar', getIsa()] as const)];

function floats(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

// One slow call per libuv worker (scalar sgemm, tens of milliseconds each): whatever is queued next waits for them.
const POOL = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const SLOW_K = 32768;
const slowA = new Float32Array(64 * SLOW_K).fill(0.5);
const slowB = new Float32Array(SLOW_K * 64).fill(0.25);
function blockPool(): Promise<unknown> {
  return withIsa('scalar', () => Promise.all(Array.from({ length: POOL }, () => sgemmAsync(slowA, slowB, { m: 64, n: 64, k: SLOW_K }))));
}

/** Detaches each array's buffer by transferring it to a clone that is dropped at once, collects it, and then
 * allocates `copies` buffers of each size filled with junk, which the allocator will often place in the freed
 * memory. */
let junk: Uint8Array[] = [];
async function transferAway(arrays: ArrayBufferView[], copies = 2): Promise<void> {
  const sizes = arrays.map((v) => v.byteLength);
  for (const v of arrays) structuredClone(v.buffer, { transfer: [v.buffer as ArrayBuffer] });
  gc();
  gc();
  await sleep(5); // the array-buffer sweeper may free on a background thread
  junk = [];
  for (let i = 0; i < copies; i++) for (const size of sizes) junk.push(new Uint8Array(size).fill(0xa5));
}

/** Starts `call` (on `isa`) queued behind blockPool, transfers `arrays` away, and returns the call's result
 * (or rejection) once it and the blockers are done; then checks that no write landed in the junk. */
async function duringTransfer<T>(tt: Test, isa: Isa, call: () => Promise<T>, arrays: ArrayBufferView[]): Promise<PromiseSettledResult<T>> {
  const blockers = blockPool();
  // Settled handlers go on at once: the call may settle while transferAway still collects (a slow gc).
  const settled = Promise.allSettled([withIsa(isa, call), blockers]);
  await transferAway(arrays);
  for (const v of arrays) tt.equal(v.byteLength, 0, 'detached before the call started');
  const [r] = await settled;
  tt.ok(junk.every((j) => j.every((v) => v === 0xa5)), 'no write into memory reused after the transfer');
  return r as PromiseSettledResult<T>;
}

function value<T>(r: PromiseSettledResult<T>): T {
  if (r.status === 'rejected') throw r.reason;
  return r.value;
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
  await transferAway([a], 1);
  tt.equal(a.length, 0, 'a is detached');
  const c = await p;
  // Every element is sum over k of (201 - 1) * -77, modulo 2^32.
  tt.ok(c.every((v) => v === ((200 * -77 * k) | 0)), 'exact');
  junk = [];
});

for (const isa of TIERS_HERE) {
  t.test(`${isa}: int8GemmAsync with a and b transferred before it starts`, async (tt) => {
    const a = randomUint8(m * k, 1);
    const b = randomInt8(k * n, 2);
    const want = withIsa(isa, () => int8Gemm(a, b, { m, n, k, aZeroPoint: 7 }));
    const r = await duringTransfer(tt, isa, () => int8GemmAsync(a, b, { m, n, k, aZeroPoint: 7 }), [a, b]);
    sameBits(tt, value(r), want, 'exact result from the memory the call kept');
  });

  t.test(`${isa}: int8GemmAsync float32 output with its per-column arrays transferred`, async (tt) => {
    const a = randomInt8(m * k, 3);
    const w = packB(randomInt8(n * k, 4), { k, n, transB: true });
    const bScale = floats(n, 5).map((v) => 0.01 + Math.abs(v) * 0.01);
    const bias = floats(n, 6);
    const bZeroPoint = Int32Array.from({ length: n }, (_, j) => (j % 5) - 2);
    const o = { m, n, k, output: 'float32' as const, aScale: 0.02, bScale, bias, bZeroPoint };
    const want = withIsa(isa, () => int8Gemm(a, w, o));
    const r = await duringTransfer(tt, isa, () => int8GemmAsync(a, w, o), [a, bScale, bias, bZeroPoint]);
    sameBits(tt, value(r), want, 'exact');
  });

  t.test(`${isa}: int8GemmAsync whose out is transferred (postMessage) rejects`, async (tt) => {
    const a = randomUint8(m * k, 7);
    const w = packB(randomInt8(k * n, 8), { k, n });
    const out = new Int32Array(m * n);
    const blockers = blockPool();
    const p = withIsa(isa, () => int8GemmAsync(a, w, { m, n, k }, out));
    const rejected = tt.rejects(p, { name: 'TypeError', message: /out was detached while int8GemmAsync ran/ });
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(out, [out.buffer]);
    port1.close();
    port2.close();
    tt.equal(out.length, 0, 'out is detached');
    await transferAway([]);
    await rejected;
    await blockers;
  });

  t.test(`${isa}: linearDynamicAsync with x transferred, and with out transferred`, async (tt) => {
    const x = floats(m * k, 9);
    const w = packB(randomInt8(n * k, 10), { k, n, transB: true });
    const o = { m, bScale: 0.003 };
    const want = withIsa(isa, () => linearDynamic(x, w, o));
    sameBits(tt, value(await duringTransfer(tt, isa, () => linearDynamicAsync(x, w, o), [x])), want, 'x transferred: exact');
    const out = new Float32Array(m * n);
    const r = await duringTransfer(tt, isa, () => linearDynamicAsync(floats(m * k, 9), w, o, out), [out]);
    tt.match(r, { status: 'rejected', reason: { name: 'TypeError', message: /out was detached while linearDynamicAsync ran/ } });
  });

  t.test(`${isa}: sgemmAsync with a, b and out transferred`, async (tt) => {
    const a = floats(m * 512, 11);
    const b = floats(512 * n, 12);
    const want = withIsa(isa, () => sgemm(a, b, { m, n, k: 512 }));
    sameBits(tt, value(await duringTransfer(tt, isa, () => sgemmAsync(a, b, { m, n, k: 512 }), [a, b])), want, 'inputs transferred: exact');
    const out = new Float32Array(m * n);
    const r = await duringTransfer(tt, isa, () => sgemmAsync(floats(m * 512, 11), floats(512 * n, 12), { m, n, k: 512 }, out), [out]);
    tt.match(r, { status: 'rejected', reason: { name: 'TypeError', message: /out was detached while sgemmAsync ran/ } });
  });
}

// A growable SharedArrayBuffer only grows, so an async call may write into one: a length-tracking out that grows
// while the call runs is not "detached" (only a view that went to byteLength 0 is).
const HAS_GROWABLE = 'growable' in SharedArrayBuffer.prototype;
t.test('an out over a growable SharedArrayBuffer that grows mid-call resolves with the results', { skip: !HAS_GROWABLE && 'no growable SharedArrayBuffers in this Node' }, async (tt) => {
  const a = randomUint8(m * k, 21);
  const w = packB(randomInt8(k * n, 22), { k, n });
  const want = int8Gemm(a, w, { m, n, k });
  const Growable = SharedArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => SharedArrayBuffer & { grow(n: number): void };
  const sab = new Growable(m * n * 4, { maxByteLength: m * n * 8 });
  const out = new Int32Array(sab);
  const blockers = blockPool();
  const p = withIsa('scalar', () => int8GemmAsync(a, w, { m, n, k }, out));
  sab.grow(m * n * 8);
  tt.equal(out.length, 2 * m * n, 'the view tracks the growth');
  const c = await p;
  await blockers;
  tt.equal(c, out, 'resolves with out');
  sameBits(tt, c.subarray(0, m * n), want, 'exact');
});

// Node 18's V8 has no resizable ArrayBuffers (the options argument is ignored there).
const HAS_RESIZABLE = 'resizable' in ArrayBuffer.prototype;
t.test('resizable ArrayBuffers: refused by async calls (naming the array), fine in sync ones', { skip: !HAS_RESIZABLE && 'no resizable ArrayBuffers in this Node' }, async (tt) => {
  const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;
  const a = new Uint8Array(new Resizable(4 * 8, { maxByteLength: 64 }));
  a.set(randomUint8(32, 13));
  const b = randomInt8(8 * 2, 14);
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
  const w = packB(randomInt8(8 * 2, 15), { k: 8, n: 2 });
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
