// qkernels on JavaScript runtimes other than Node (run by scripts/runtime-smoke.sh under Node, Bun and Deno, from
// a project that has the built package in node_modules/qkernels). Bun and Deno load Node-API addons but do not
// export V8's C++ API, which the async calls' buffer keepalive uses (native/binding/keepalive.h): this checks that
// every op, sync and async, works there and agrees with the sync results, that bad input is an exception and not
// a crash, that arrays whose only reference is the pending call survive garbage collection, and that worker threads
// load and run the addon (and can be terminated with calls in flight). Prints one line per check and exits non-zero
// if any failed.
import {
  calibrate,
  cpuInfo,
  dequantize,
  fakeQuant,
  fromFloat16,
  int8Gemm,
  int8GemmAsync,
  linearDynamic,
  linearDynamicAsync,
  packB,
  quantize,
  sgemm,
  sgemmAsync,
  setIsa,
  toFloat16,
} from 'qkernels';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

// In a worker thread (spawned below). 'exact': a sync and a few async GEMMs, the verdict posted to the main thread;
// 'busy': async GEMMs back to back until the thread is terminated (it posts once the first ones are in flight).
async function workerMain(mode) {
  const a = new Uint8Array(64 * 64).fill(3);
  const b = new Int8Array(64 * 64).fill(-2);
  const opts = { m: 64, n: 64, k: 64 };
  if (mode === 'busy') {
    const big = { m: 256, n: 256, k: 256 };
    const [ab, bb] = [new Uint8Array(256 * 256), new Int8Array(256 * 256)];
    let posted = false;
    for (;;) {
      const batch = Array.from({ length: 4 }, () => int8GemmAsync(ab, bb, big));
      if (!posted) {
        parentPort.postMessage('busy');
        posted = true;
      }
      await Promise.all(batch);
    }
  }
  const sync = int8Gemm(a, b, opts);
  const all = await Promise.all(Array.from({ length: 8 }, () => int8GemmAsync(a, b, opts)));
  parentPort.postMessage(sync.every((v) => v === -384) && all.every((c) => c.every((v) => v === -384)));
}
if (!isMainThread) await workerMain(workerData);
else await main();

async function main() {
  const runtime = globalThis.Bun ? `Bun ${globalThis.Bun.version}` : globalThis.Deno ? `Deno ${globalThis.Deno.version.deno}` : `Node ${process.version}`;
  let failures = 0;
  let checks = 0;
  function check(name, ok, detail = '') {
    checks++;
    if (!ok) failures++;
    console.log(`${ok ? 'ok' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  }
  function same(x, y) {
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  // A small deterministic generator (the same inputs on every runtime).
  let seed = 12345;
  function rand() {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  }
  const int8s = (n) => Int8Array.from({ length: n }, () => Math.floor(rand() * 256) - 128);
  const uint8s = (n) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
  const floats = (n) => Float32Array.from({ length: n }, () => rand() * 4 - 2);
  const collect = () => {
    if (globalThis.Bun) globalThis.Bun.gc(true);
    else if (typeof globalThis.gc === 'function') globalThis.gc();
  };

  console.log(`${runtime}, tiers ${cpuInfo().isas.join(' ')}`);
  for (const isa of cpuInfo().isas) {
    setIsa(isa);
    const [m, n, k] = [37, 29, 45];
    const a = uint8s(m * k);
    const b = int8s(k * n);
    const opts = { m, n, k, aZeroPoint: 3, bZeroPoint: -2 };
    const c = int8Gemm(a, b, opts);
    // The exact int32 reference, in JavaScript.
    const ref = new Int32Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += (a[i * k + p] - 3) * (b[p * n + j] + 2);
        ref[i * n + j] = s;
      }
    check(`${isa} int8Gemm exact`, same(c, ref));
    check(`${isa} int8GemmAsync = int8Gemm`, same(await int8GemmAsync(a, b, opts), c));

    const w = int8s(n * k);
    const pw = packB(w, { k, n, transB: true, dtype: 'int8' });
    const fopts = { m, n, k, output: 'float32', aScale: 0.02, bScale: 0.01, bias: floats(n) };
    check(`${isa} packed float32 async = sync`, same(await int8GemmAsync(a, pw, fopts), int8Gemm(a, pw, fopts)));
    const qopts = { m, n, k, output: 'uint8', aScale: 0.02, bScale: 0.01, outScale: 0.05, outZeroPoint: 128, relu: true };
    check(`${isa} packed uint8 async = sync`, same(await int8GemmAsync(a, pw, qopts), int8Gemm(a, pw, qopts)));

    const x = floats(m * k);
    const lopts = { m, bScale: 0.01, bias: floats(n) };
    check(`${isa} linearDynamicAsync = linearDynamic`, same(await linearDynamicAsync(x, pw, lopts), linearDynamic(x, pw, lopts)));

    const fa = floats(m * k);
    const fb = floats(k * n);
    check(`${isa} sgemmAsync = sgemm`, same(await sgemmAsync(fa, fb, { m, n, k }), sgemm(fa, fb, { m, n, k })));

    // Many calls in flight whose arrays only the calls reference, with collections while they run.
    const pending = [];
    const expect = [];
    for (let r = 0; r < 16; r++) {
      const ar = uint8s(64 * 96);
      const br = int8s(96 * 80);
      expect.push(int8Gemm(ar, br, { m: 64, n: 80, k: 96 }));
      pending.push(int8GemmAsync(Uint8Array.from(ar), Int8Array.from(br), { m: 64, n: 80, k: 96 }));
    }
    collect();
    const got = await Promise.all(pending);
    collect();
    check(`${isa} 16 concurrent async calls on unreferenced arrays`, got.every((g, r) => same(g, expect[r])));

    const q = quantize(x, { scale: 0.01, zeroPoint: 0, dtype: 'int8' });
    const back = dequantize(q, { scale: 0.01, zeroPoint: 0 });
    check(`${isa} quantize/dequantize round trip`, back.every((v, i) => Math.abs(v - Math.max(-1.28, Math.min(1.27, x[i]))) <= 0.005 + 1e-6));
    const h = toFloat16(x);
    check(`${isa} float16 round trip`, fromFloat16(h).every((v, i) => Math.abs(v - x[i]) <= Math.abs(x[i]) * 2 ** -11 + 2 ** -24));
    const fq = fakeQuant(x, { scale: 0.01, zeroPoint: 0, quantMin: -128, quantMax: 127 }).output;
    check(`${isa} fakeQuant = dequantize(quantize)`, same(fq, back));
  }

  const cal = calibrate([floats(1000), floats(1000)], { method: 'minmax' });
  check('calibrate minmax', cal.scale > 0 && Number.isFinite(cal.scale), `scale ${cal.scale}`);
  try {
    int8Gemm(new Uint8Array(4), new Int8Array(4), { m: 3, n: 2, k: 2 });
    check('bad input throws', false, 'no exception');
  } catch (e) {
    check('bad input throws a RangeError', e instanceof RangeError, String(e && e.message));
  }
  try {
    await int8GemmAsync(new Uint8Array(4), new Int8Array(4), { m: 2, n: 2, k: -1 });
    check('bad async input rejects', false, 'resolved');
  } catch (e) {
    check('bad async input rejects with a RangeError', e instanceof RangeError, String(e && e.message));
  }

  // Worker threads: each loads its own instance of the addon; one more is terminated with its calls in flight.
  const spawn = (mode) =>
    new Promise((resolve, reject) => {
      const w = new Worker(new URL(import.meta.url), { workerData: mode });
      w.once('message', (msg) => resolve({ w, msg }));
      w.once('error', reject);
    });
  const fromWorkers = await Promise.all([spawn('exact'), spawn('exact')]);
  check('two worker threads: sync and async GEMMs exact', fromWorkers.every(({ msg }) => msg === true));
  const { w: busy } = await spawn('busy');
  await busy.terminate();
  const after = await int8GemmAsync(new Uint8Array(16).fill(2), new Int8Array(16).fill(5), { m: 4, n: 4, k: 4 });
  check('calls still work after terminating a worker with calls in flight', after.every((v) => v === 40));

  console.log(`${runtime}: ${checks - failures} passed, ${failures} failed`);
  if (failures) process.exitCode = 1;
}
