// qkernels in worker threads. Each worker loads its own instance of the addon, and they share the process's GEMM
// thread pool and tier. Two things must hold:
// - sync GEMMs running at the same time in several workers (and on the main thread) give the exact results;
// - terminating a worker while its async calls run must not take the process down. The calls finish during the
//   worker's teardown, when no JavaScript can run, and settling their Promises then must not abort (node-addon-api
//   aborts there unless built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS). terminate() waits for them.
// The workers load the compiled package (dist/, which `npm test`'s pretest builds: run alone, build:ts first), as
// a user's worker would.
import t from 'tap';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { int8Gemm, packB } from '../lib/index';
import { sameBits } from './_harness';

const DIST = JSON.stringify(resolve(__dirname, '..', 'dist'));

function start(src: string, workerData?: unknown): Worker {
  return new Worker(src, { eval: true, workerData });
}

// The worker's first message; a worker that errors or exits first rejects (instead of leaving the test to time out).
function once<T = unknown>(w: Worker): Promise<T> {
  return new Promise((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
    w.once('exit', (code) => rej(new Error(`worker exited with code ${code} before its message`)));
  });
}

t.test('sync int8Gemm in two workers and the main thread at once: exact', async (tt) => {
  const m = 67, n = 300, k = 1031;
  const src = `
    const q = require(${DIST});
    const { parentPort, workerData } = require('node:worker_threads');
    const { m, n, k, seed } = workerData;
    let s = seed;
    const next = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 255;
    const a = Uint8Array.from({ length: m * k }, next);
    const b = Int8Array.from({ length: k * n }, () => next() - 128);
    const pw = q.packB(b, { k, n });
    const out = [];
    for (let i = 0; i < 8; i++) out.push(q.int8Gemm(a, pw, { m, n, k, aZeroPoint: 5, bZeroPoint: -3 }));
    parentPort.postMessage({ a, b, out });
  `;
  const workers = [start(src, { m, n, k, seed: 1 }), start(src, { m, n, k, seed: 2 })];
  const results = workers.map((w) => once<{ a: Uint8Array; b: Int8Array; out: Int32Array[] }>(w));
  // The main thread computes meanwhile too.
  const a0 = new Uint8Array(m * k).fill(9);
  const main = int8Gemm(a0, packB(new Int8Array(k * n).fill(-4), { k, n }), { m, n, k });
  tt.ok(main.every((v) => v === 9 * -4 * k), 'main thread exact');
  for (const r of await Promise.all(results)) {
    const want = int8Gemm(r.a, r.b, { m, n, k, aZeroPoint: 5, bZeroPoint: -3 });
    r.out.forEach((c, i) => sameBits(tt, c, want, `worker call ${i}`));
  }
  await Promise.all(workers.map((w) => w.terminate()));
});

t.test('terminating a worker while its async calls run leaves the process working', async (tt) => {
  const src = `
    const q = require(${DIST});
    const { parentPort } = require('node:worker_threads');
    q.setIsa('scalar'); // slow enough that the calls are still running at terminate()
    const m = 32, n = 128, k = 1 << 15;
    const a = new Uint8Array(m * k).fill(3), w = q.packB(new Int8Array(k * n).fill(-2), { k, n });
    const x = new Float32Array(m * k).fill(0.5);
    for (let i = 0; i < 2; i++) q.int8GemmAsync(a, w, { m, n, k });
    q.linearDynamicAsync(x, w, { m, bScale: 0.01 });
    q.sgemmAsync(new Float32Array(64 * 4096).fill(1), new Float32Array(4096 * 64).fill(1), { m: 64, n: 64, k: 4096 });
    // A call that fails (a non-finite row) rejects during the teardown.
    const bad = x.slice();
    bad[5] = NaN;
    q.linearDynamicAsync(bad, w, { m, bScale: 0.01 }).catch(() => {});
    parentPort.postMessage('started');
  `;
  for (let round = 0; round < 3; round++) {
    const w = start(src);
    tt.equal(await once(w), 'started', `round ${round}: calls in flight`);
    await w.terminate();
  }
  const c = int8Gemm(new Int8Array([1, 2, 3, 4]), new Int8Array([5, 6, 7, 8]), { m: 2, n: 2, k: 2 });
  tt.same(Array.from(c), [19, 22, 43, 50], 'the main thread still computes');
});
