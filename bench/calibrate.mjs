#!/usr/bin/env node
// Calibration timings, by hand (not part of `npm run bench`): observe on 16M floats per method, per-channel
// min/max with 1024 channels, one 2048-bin histogram pass, and the threshold searches, per ISA tier, against the
// issue's targets and, where Debian's python3-torch is installed, PyTorch's observers on the same machine.
//
//   npm run build && node bench/calibrate.mjs [--isa avx2,scalar] [--reps 7] [--n 16777216] [--no-torch]
//
// Targets (issue #5): minmax observe >= 80% of the read bandwidth (Buffer#indexOf of a byte that is not there
// over 64 MiB of real pages: glibc's memchr, a pure read stream) and faster than PyTorch's MinMaxObserver; per-channel (1024 channels) within 2x of per-tensor; a 2048-bin
// histogram pass >= 5x faster than PyTorch's HistogramObserver; the entropy / mse threshold search under 50 ms.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';

import q from '../dist/index.js';
import nat from '../dist/native.js';

const { values } = parseArgs({
  options: {
    isa: { type: 'string' },
    reps: { type: 'string', default: '7' },
    n: { type: 'string', default: String(1 << 24) },
    'no-torch': { type: 'boolean', default: false },
  },
});
const N = Number(values.n);
const REPS = Number(values.reps);
const CHANNELS = 1024;
const native = nat.native;
const isas = values.isa ? values.isa.split(',') : q.cpuInfo().isas;

function best(fn, reps = REPS) {
  fn(); // warm up
  let b = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    b = Math.min(b, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return b; // ms
}

// Normal data (Box-Muller over a xorshift), generated once.
function normal(n, seed) {
  const x = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const a = 2 * Math.PI * u();
    x[i] = r * Math.cos(a);
    if (i + 1 < n) x[i + 1] = r * Math.sin(a);
  }
  return x;
}

console.log(`${q.cpuInfo().model} (${os.availableParallelism()} CPUs), node ${process.version}, N = ${N} floats (${(N * 4) / 2 ** 20} MiB)`);
const x = normal(N, 12345);
// Filled with a non-zero byte so every page is real memory (a zeroed allocation maps one shared zero page).
const scan = Buffer.alloc(N * 4, 2);
const readScan = () => best(() => scan.indexOf(1));
let readMs = readScan();
console.log(`read bandwidth reference (Buffer#indexOf over ${(N * 4) / 2 ** 20} MiB): ${readMs.toFixed(2)} ms, ${((N * 4) / readMs / 1e6).toFixed(1)} GB/s\n`);

// PyTorch, single-threaded, same sizes (its own normal data).
let torch = null;
const PY = '/usr/bin/python3';
if (!values['no-torch'] && fs.existsSync(PY)) {
  const script = `
import time, torch, warnings
warnings.filterwarnings('ignore')
torch.set_num_threads(1)
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver, HistogramObserver
N, C = ${N}, ${CHANNELS}
x = torch.randn(N)
def best(f, reps=${Math.min(REPS, 5)}):
    f(); b = 1e9
    for _ in range(reps):
        t = time.perf_counter(); f(); b = min(b, time.perf_counter() - t)
    return b * 1e3
o = MinMaxObserver(); print('minmax', best(lambda: o(x)))
a0 = x.view(C, N // C); o = PerChannelMinMaxObserver(ch_axis=0); print('perchannel-axis0', best(lambda: o(a0)))
a1 = x.view(N // C, C); o = PerChannelMinMaxObserver(ch_axis=1); print('perchannel-axis1', best(lambda: o(a1)))
def hist():
    h = HistogramObserver(); h(x)
print('histogram', best(hist, 3))
`;
  const r = spawnSync(PY, ['-c', script], { encoding: 'utf8', timeout: 300000 });
  if (r.status === 0) {
    torch = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]));
    const v = spawnSync(PY, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim();
    console.log(`PyTorch ${v} (1 thread): MinMaxObserver ${torch.minmax.toFixed(1)} ms, PerChannelMinMaxObserver ${CHANNELS} channels ` +
      `${torch['perchannel-axis0'].toFixed(1)} ms (axis 0, [${CHANNELS}, ${N / CHANNELS}]) / ${torch['perchannel-axis1'].toFixed(1)} ms ` +
      `(axis 1, [${N / CHANNELS}, ${CHANNELS}]), HistogramObserver ${torch.histogram.toFixed(1)} ms\n`);
  } else console.log(`PyTorch timings unavailable: ${(r.stderr || r.error?.message || '').split('\n').filter(Boolean).pop()}\n`);
} else console.log('PyTorch timings skipped\n');

const rows = [];
const fmt = (ms) => `${ms.toFixed(2)} ms`;
for (const isa of isas) {
  q.setIsa(isa);
  const out = new Float64Array(3);
  const read = readScan(); // again, next to the minmax rows (the machine may be busy)
  const perTensor = best(() => native.minmax(x, out));
  const observe = {};
  for (const method of q.CALIBRATION_METHODS) {
    observe[method] = best(() => new q.Calibrator({ method }).observe(x), method === 'minmax' || method === 'movingAverage' ? 2 * REPS : REPS);
  }
  const mn = new Float32Array(CHANNELS);
  const mx = new Float32Array(CHANNELS);
  const pcInner1 = best(() => native.minmaxPerChannel(x, N / CHANNELS, CHANNELS, 1, mn, mx));
  const pcAxis0 = best(() => native.minmaxPerChannel(x, 1, CHANNELS, N / CHANNELS, mn, mx));
  const pcObserve1 = best(() => new q.Calibrator({ axis: 1, shape: [N / CHANNELS, CHANNELS] }).observe(x));
  const pcObserve0 = best(() => new q.Calibrator({ axis: 0, shape: [CHANNELS, N / CHANNELS] }).observe(x));
  const counts = new Float64Array(2048);
  const maxAbs = Math.max(-out[0], out[1]);
  const histAbs = best(() => native.histogram(x, 0, Math.fround(2048 / maxAbs), true, counts.fill(0)));
  const histX = best(() => native.histogram(x, out[0], Math.fround(2048 / (out[1] - out[0])), false, counts.fill(0)));
  const search = {};
  for (const [method, o] of [['entropy', { symmetric: true }], ['mse', { symmetric: true }], ['mse', { symmetric: false }], ['percentile', {}]]) {
    const cal = new q.Calibrator({ method, ...o });
    cal.observe(x);
    search[`${method}${o.symmetric === false ? ' affine' : o.symmetric ? ' symmetric' : ''}`] = best(() => cal.compute(), 5);
  }
  rows.push({ isa, read, perTensor, observe, pcInner1, pcAxis0, pcObserve1, pcObserve0, histAbs, histX, search });
}

for (const r of rows) {
  const gbs = (ms) => ((N * 4) / ms / 1e6).toFixed(1);
  console.log(`== ${r.isa}`);
  console.log(`  read reference (memchr)       ${fmt(r.read).padStart(10)}  ${gbs(r.read)} GB/s`);
  console.log(`  minmax kernel                 ${fmt(r.perTensor).padStart(10)}  ${gbs(r.perTensor)} GB/s = ${((100 * r.read) / r.perTensor).toFixed(0)}% of read bandwidth`);
  for (const [m, ms] of Object.entries(r.observe))
    console.log(`  observe ${m.padEnd(22)}${fmt(ms).padStart(10)}  ${gbs(ms)} GB/s` + (torch && m === 'minmax' ? `  (PyTorch MinMaxObserver ${fmt(torch.minmax)}: ${(torch.minmax / ms).toFixed(1)}x)` : '') +
      (torch && ['percentile', 'entropy', 'mse'].includes(m) ? `  (PyTorch HistogramObserver ${fmt(torch.histogram)}: ${(torch.histogram / ms).toFixed(1)}x)` : ''));
  console.log(`  per-channel ${CHANNELS} ch, inner 1   ${fmt(r.pcInner1).padStart(10)}  ${(r.pcInner1 / r.perTensor).toFixed(2)}x per-tensor; observe ${fmt(r.pcObserve1)}` +
    (torch ? `  (PyTorch axis 1 ${fmt(torch['perchannel-axis1'])})` : ''));
  console.log(`  per-channel ${CHANNELS} ch, axis 0    ${fmt(r.pcAxis0).padStart(10)}  ${(r.pcAxis0 / r.perTensor).toFixed(2)}x per-tensor; observe ${fmt(r.pcObserve0)}` +
    (torch ? `  (PyTorch axis 0 ${fmt(torch['perchannel-axis0'])})` : ''));
  console.log(`  histogram pass |x|, 2048 bins ${fmt(r.histAbs).padStart(10)}` + (torch ? `  (PyTorch HistogramObserver ${fmt(torch.histogram)}: ${(torch.histogram / r.histAbs).toFixed(1)}x)` : ''));
  console.log(`  histogram pass x, 2048 bins   ${fmt(r.histX).padStart(10)}`);
  for (const [m, ms] of Object.entries(r.search)) console.log(`  threshold search ${m.padEnd(13)}${fmt(ms).padStart(10)}`);
}

// Targets, for the default (best) tier.
const r = rows.find((x) => x.isa === q.cpuInfo().isas[0]) ?? rows[0];
const torchHist = torch ? torch.histogram : 101;
const torchMinmax = torch ? torch.minmax : 2.9;
console.log(`\ntargets (${r.isa}; PyTorch figures ${torch ? 'measured here' : "from the issue"}):`);
const check = (ok, what) => console.log(`  ${ok ? 'met ' : 'MISS'}  ${what}`);
readMs = r.read;
check(readMs / r.observe.minmax >= 0.8 && r.observe.minmax < torchMinmax, `minmax observe ${fmt(r.observe.minmax)}: ${((100 * readMs) / r.observe.minmax).toFixed(0)}% of read bandwidth ${fmt(readMs)} (>= 80%), PyTorch ${fmt(torchMinmax)}`);
check(Math.max(r.pcInner1, r.pcAxis0) <= 2 * r.perTensor, `per-channel ${CHANNELS} channels ${fmt(r.pcInner1)} / ${fmt(r.pcAxis0)} within 2x of per-tensor ${fmt(r.perTensor)}`);
check(torchHist / r.histAbs >= 5, `2048-bin histogram pass ${fmt(r.histAbs)}: ${(torchHist / r.histAbs).toFixed(1)}x faster than HistogramObserver ${fmt(torchHist)} (>= 5x)`);
const worstSearch = Math.max(r.search['entropy symmetric'], r.search['mse symmetric'], r.search['mse affine']);
check(worstSearch < 50, `entropy / mse threshold search ${fmt(r.search['entropy symmetric'])} / ${fmt(r.search['mse symmetric'])} / ${fmt(r.search['mse affine'])} (< 50 ms)`);
