// Peer: PyTorch (Debian's python3-torch, CPU, one thread) for the calibration and fake-quant rows. It cannot run
// in this process, so bench/pytorch.py times every case once per input size in one child process (same sizes,
// its own standard-normal data) and the rows carry those per-call times (`stats`) instead of being timed here.
// Without /usr/bin/python3 or torch the rows say so.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { statsFromSamples } from '../timing.mjs';

const PY = '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'pytorch.py');
const CASES = ['minmax', 'movingaverage', 'perchannel', 'histogram', 'calculate_qparams', 'fq-forward', 'fq-fwd-bwd', 'learnable-fwd-bwd'];

let version;
const cache = new Map();

/** Per-call seconds of every case at `n` elements (one python run per n). */
function timings(n, quick) {
  if (!cache.has(n)) {
    const args = JSON.stringify({ n, reps: quick ? 3 : 7, channels: 1024, cases: CASES });
    const r = spawnSync(PY, [SCRIPT, args], { encoding: 'utf8', timeout: 600000 });
    if (r.status !== 0)
      throw new Error(`pytorch.py failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
    cache.set(n, JSON.parse(r.stdout).seconds);
  }
  return cache.get(n);
}

/** A runner whose numbers come from PyTorch: `stats` replaces the in-process timing; nothing to compare. */
function external(name, label) {
  return (d, _out, _v, s, ctx) => {
    const sample = timings(s.elements, ctx.quick)[name];
    return { fn: () => {}, output: () => null, compare: false, stats: statsFromSamples(sample), note: label };
  };
}

/** @type {import('./index.mjs').Contender} */
export default {
  id: 'pytorch',
  kind: 'peer',
  label: () => 'PyTorch (1 thread)',
  description: 'PyTorch observers and fake-quant ops via /usr/bin/python3 (bench/pytorch.py), torch.set_num_threads(1)',
  async load() {
    const r = spawnSync(PY, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120000 });
    if (r.status !== 0)
      throw new Error(`${PY} -c 'import torch' failed: ${(r.stderr || r.error?.message || 'no python3').trim().split('\n').pop()}`);
    version = r.stdout.trim();
    return { version };
  },
  ops: {
    'observe-minmax': external('minmax', 'MinMaxObserver'),
    'observe-movingAverage': external('movingaverage', 'MovingAverageMinMaxObserver'),
    'observe-per-channel': external('perchannel', 'PerChannelMinMaxObserver(ch_axis=0)'),
    'observe-percentile': external('histogram', 'HistogramObserver (a new one per call)'),
    'observe-entropy': external('histogram', 'HistogramObserver (a new one per call)'),
    'observe-mse': external('histogram', 'HistogramObserver (a new one per call)'),
    histogram: external('histogram', 'HistogramObserver (a new one per call)'),
    'compute-mse': external('calculate_qparams', 'HistogramObserver.calculate_qparams (L2 search)'),
    fakeQuant: external('fq-forward', 'fake_quantize_per_tensor_affine forward'),
    'fakeQuant-fwd-bwd': external('fq-fwd-bwd', 'fake_quantize_per_tensor_affine forward + backward'),
    fakeQuantLearnable: external('learnable-fwd-bwd', '_fake_quantize_learnable_per_tensor_affine forward + backward'),
  },
};
