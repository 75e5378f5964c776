#!/usr/bin/env node
// sgemm throughput, by hand (not part of `npm run bench`): GFLOPS = 2 m n k / time, best of a few runs, for each
// tier and thread count.
//
//   node bench/sgemm-gflops.mjs [size ...] [--threads 1,2] [--isa avx2,scalar] [--transB]
//   node bench/sgemm-gflops.mjs 1024 2048 --threads 1,2
import os from 'node:os';
import { parseArgs } from 'node:util';

import q from '../dist/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    threads: { type: 'string', default: `1,${os.availableParallelism()}` },
    isa: { type: 'string' },
    transB: { type: 'boolean', default: false },
    reps: { type: 'string', default: '5' },
  },
});
const sizes = (positionals.length ? positionals : ['1024', '2048']).map(Number);
const threads = [...new Set(values.threads.split(',').map(Number))];
const isas = values.isa ? values.isa.split(',') : q.cpuInfo().isas.filter((i) => i !== 'scalar');
const reps = Number(values.reps);

console.log(`${q.cpuInfo().model} (${os.availableParallelism()} CPUs); transB=${values.transB}`);
for (const isa of isas) {
  q.setIsa(isa);
  for (const n of sizes) {
    const a = new Float32Array(n * n).map(() => Math.random() - 0.5);
    const b = new Float32Array(n * n).map(() => Math.random() - 0.5);
    const c = new Float32Array(n * n);
    for (const t of threads) {
      q.setNumThreads(t);
      q.sgemm(a, b, { m: n, n, k: n, transB: values.transB }, c); // warm up (page faults, pool start)
      let best = Infinity;
      for (let r = 0; r < reps; r++) {
        const t0 = process.hrtime.bigint();
        q.sgemm(a, b, { m: n, n, k: n, transB: values.transB }, c);
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
      }
      const gflops = (2 * n * n * n) / best / 1e9;
      console.log(`${isa.padEnd(7)} ${`${n}^3`.padEnd(7)} threads=${t}  ${(best * 1e3).toFixed(1).padStart(8)} ms  ` +
        `${gflops.toFixed(1).padStart(6)} GFLOPS  (${(gflops / t).toFixed(1)} per thread)`);
    }
  }
}
q.setNumThreads(0);
