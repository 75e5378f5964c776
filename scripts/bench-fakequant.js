#!/usr/bin/env node
// Fake-quant throughput against the memory bandwidth of a plain copy, in one process:
//
//   node scripts/bench-fakequant.js [n=16777216] [reps=15]     (needs the addon and dist/: npm run build)
//
// copy       dst.set(src) on Float32Arrays of n floats: reads 4 and writes 4 bytes per element
// forward    fakeQuant(x, params, { output, mask }) into preallocated arrays: reads 4, writes 4 + 1 bytes
// backward   fakeQuantBackward(g, mask, out): reads 4 + 1, writes 4 bytes
// The forward's bandwidth is its bytes per second over the copy's (the issue asks for >= 70%); each figure is the
// best of `reps` runs after a warm-up. Also: the forward with freshly allocated outputs, forward + backward in
// elements per second, and a plain JS loop of the same formula for scale.
'use strict';
const { fakeQuant, fakeQuantBackward, cpuInfo, getIsa } = require('../dist/index.js');

const n = Number(process.argv[2] ?? 16 * 1024 * 1024);
const reps = Number(process.argv[3] ?? 15);

function best(fn) {
  fn();
  let t = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    t = Math.min(t, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return t;
}

const x = new Float32Array(n);
for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.001) * 3 + ((i * 2654435761) % 1000) / 1000 - 0.5;
const g = new Float32Array(n).fill(0.5);
const dst = new Float32Array(n);
const output = new Float32Array(n);
const mask = new Uint8Array(n);
const gx = new Float32Array(n);
const params = { scale: 6 / 255, zeroPoint: 0, quantMin: -128, quantMax: 127 };

const tCopy = best(() => dst.set(x));
const tFwd = best(() => fakeQuant(x, params, { output, mask }));
const tFwdAlloc = best(() => fakeQuant(x, params));
const tBwd = best(() => fakeQuantBackward(g, mask, gx));
const tBoth = best(() => {
  fakeQuant(x, params, { output, mask });
  fakeQuantBackward(g, mask, gx);
});
const inv = Math.fround(1 / Math.fround(params.scale));
const tJs = best(() => {
  for (let i = 0; i < n; i++) {
    const v = Math.fround(x[i] * inv);
    let q = Math.round(v); // (not ties-to-even: a speed reference only)
    const m = q >= -128 && q <= 127;
    mask[i] = m ? 1 : 0;
    q = q < -128 ? -128 : q > 127 ? 127 : q;
    output[i] = q * params.scale;
  }
});

const gbs = (bytes, t) => (bytes * n) / t / 1e9;
const ges = (t) => n / t / 1e9;
const copyBw = gbs(8, tCopy);
const fwdBw = gbs(9, tFwd);
console.log(`fake-quant throughput, n = ${n} floats (${(n * 4) / 2 ** 20} MiB), best of ${reps}; tier ${getIsa()} (${cpuInfo().model})`);
console.log(`  copy (Float32Array.prototype.set)   ${copyBw.toFixed(2)} GB/s   ${ges(tCopy).toFixed(3)} G elements/s`);
console.log(`  forward + mask (preallocated)       ${fwdBw.toFixed(2)} GB/s   ${ges(tFwd).toFixed(3)} G elements/s   ${((100 * fwdBw) / copyBw).toFixed(0)}% of the copy bandwidth`);
console.log(`  forward + mask (new arrays)         ${gbs(9, tFwdAlloc).toFixed(2)} GB/s   ${ges(tFwdAlloc).toFixed(3)} G elements/s`);
console.log(`  backward (preallocated)             ${gbs(9, tBwd).toFixed(2)} GB/s   ${ges(tBwd).toFixed(3)} G elements/s`);
console.log(`  forward + backward                  ${ges(tBoth).toFixed(3)} G elements/s`);
console.log(`  plain JS loop (forward + mask)      ${ges(tJs).toFixed(3)} G elements/s`);
