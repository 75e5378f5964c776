// Peer: oneDNN's int8 matmul (Debian's libdnnl, the library under PyTorch's and TensorFlow's x86 int8 paths), u8 x
// s8 -> s32 with both zero points and prepacked weights, the same data as qkernels' gemm-s32 rows. It is C++, so
// bench/onednn.cc is compiled on first use (g++ -ldnnl, needs libdnnl-dev) into build-bench/ and runs each case in
// a child process: the bench writes A and B to files, the child times the primitive like benchmark.js (samples of
// at least minTime until maxTime) and writes C back, which the bench checks bit for bit against qkernels.
//
// One row per ISA cap (ONEDNN_MAX_CPU_ISA), named after the qkernels tier it runs against: 'amx'
// (avx512_core_amx) and 'avx512' (avx512_core_vnni) where the CPU has AMX, else the best of avx512 / avx2. The
// threads are OMP_NUM_THREADS (libdnnl uses OpenMP).
//
// `onednnF32` (contender 'onednn-f32'), a baseline: oneDNN's float32 matmul on the same operands as the sgemm
// rows (the integers minus their zero points, as float32), weights prepacked, at oneDNN's best ISA: the float
// reference for qkernels' sgemm, checked within 1e-4 of the exact int32 product.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { HEAVY, HEAVY_QUICK, statsFromSamples } from '../timing.mjs';
import { qkernels } from './qkernels.mjs';
import { floatOperands } from './sgemm.mjs';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE = path.join(ROOT, 'bench', 'onednn.cc');
const BINARY = path.join(ROOT, 'build-bench', 'bench-onednn');
const HEADERS = ['/usr/include/dnnl.hpp', '/usr/include/oneapi/dnnl/dnnl.hpp'];

/** oneDNN's ISA cap per qkernels tier name. */
const ISA_CAP = { amx: 'AVX512_CORE_AMX', avx512: 'AVX512_CORE_VNNI', avx2: 'AVX2' };
/** The peak sequence qkernels' tier of the same name runs (for the % of peak column). */
const PEAK = { amx: 'tdpbusd', avx512: 'vpdpbusd', avx2: 'vpmaddwd' };

let version;
let dir;
const written = new Map();

/** The bench-onednn binary built, its version read and a scratch folder made (once for both contenders). */
function setup() {
  if (version) return;
  build();
  const r = spawnSync(BINARY, ['--version'], { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`bench-onednn --version failed: ${(r.stderr || r.error?.message || '').trim()}`);
  version = r.stdout.trim();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkernels-onednn-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
}

/** Times one case in the child (args after the binary name) and reads C back (`cfile`, Int32Array or Float32Array). */
function runChild(args, env, cfile, Out) {
  const r = spawnSync(BINARY, args, { encoding: 'utf8', env: { ...process.env, OMP_PROC_BIND: 'false', ...env }, timeout: 600000 });
  if (r.status !== 0) throw new Error(`bench-onednn failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`);
  const res = JSON.parse(r.stdout);
  const bytes = fs.readFileSync(cfile);
  const c = new Out(bytes.length / 4);
  new Uint8Array(c.buffer).set(bytes);
  fs.rmSync(cfile, { force: true });
  return { stats: statsFromSamples(res.seconds), c, impl: res.impl };
}

/** Compiles bench/onednn.cc when the binary is missing or older than the source. */
function build() {
  if (!HEADERS.some((h) => fs.existsSync(h))) throw new Error('oneDNN headers not found (apt install libdnnl-dev)');
  const fresh = fs.existsSync(BINARY) && fs.statSync(BINARY).mtimeMs >= fs.statSync(SOURCE).mtimeMs;
  if (fresh) return;
  fs.mkdirSync(path.dirname(BINARY), { recursive: true });
  const r = spawnSync('g++', ['-O2', '-std=c++17', SOURCE, '-o', BINARY, '-ldnnl'], { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) throw new Error(`g++ bench/onednn.cc -ldnnl failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`);
}

/** A and B of a shape in files (written once per shape; the gemm ops share their data). */
function inputs(d, s) {
  const key = `${s.label}`;
  if (!written.has(key)) {
    const a = path.join(dir, `${key}.a`);
    const b = path.join(dir, `${key}.b`);
    fs.writeFileSync(a, d.a);
    fs.writeFileSync(b, d.b);
    written.set(key, { a, b });
  }
  return written.get(key);
}

/** @type {import('./index.mjs').Contender} */
export default {
  id: 'onednn',
  kind: 'peer',
  label: (variant) => ({ amx: 'oneDNN AMX', avx512: 'oneDNN VNNI', avx2: 'oneDNN AVX2' })[variant] ?? 'oneDNN',
  description:
    "oneDNN's matmul (libdnnl, bench/onednn.cc in a child process), u8 x s8 -> s32 with zero points, weights reordered once to the primitive's layout; ONEDNN_MAX_CPU_ISA per row, OMP_NUM_THREADS threads",
  async load() {
    setup();
    const tiers = qkernels().cpuInfo().isas;
    const variants = tiers.includes('amx') ? ['amx', 'avx512'] : tiers.includes('avx512') ? ['avx512'] : tiers.includes('avx2') ? ['avx2'] : [];
    if (!variants.length) throw new Error('no x86 int8 ISA for oneDNN on this CPU');
    return { version, variants };
  },
  ops: {
    'gemm-s32': (d, _out, variant, s, ctx) => {
      const files = inputs(d, s);
      const cfile = path.join(dir, `${s.label}.${variant}.t${ctx.threads}.c`);
      const t = ctx.quick ? HEAVY_QUICK : HEAVY;
      const args = [s.m, s.n, s.k, files.a, files.b, d.aZeroPoint, d.bZeroPoint, t.minSamples, t.minTime, t.maxTime, cfile].map(String);
      const env = { ONEDNN_MAX_CPU_ISA: ISA_CAP[variant], OMP_NUM_THREADS: String(ctx.threads) };
      const { stats, c, impl } = runChild(args, env, cfile, Int32Array);
      return { fn: () => {}, output: () => c, stats, peak: PEAK[variant], note: `oneDNN ${version} ${impl}` };
    },
  },
};

/** The float32 operands of a shape in files: A - aZeroPoint and B - bZeroPoint, as the sgemm rows get them. */
function inputsF32(d, s) {
  const key = `${s.label}.f32`;
  if (!written.has(key)) {
    const a = path.join(dir, `${key}.a`);
    const b = path.join(dir, `${key}.b`);
    const f = floatOperands(d);
    fs.writeFileSync(a, f.a);
    fs.writeFileSync(b, f.b);
    written.set(key, { a, b });
  }
  return written.get(key);
}

/** @type {import('./index.mjs').Contender} */
export const onednnF32 = {
  id: 'onednn-f32',
  kind: 'baseline',
  label: () => 'oneDNN float32',
  description:
    "oneDNN's float32 matmul (bench/onednn.cc --f32 in a child process) on the sgemm rows' operands, weights prepacked, oneDNN's best ISA, OMP_NUM_THREADS threads: the float reference for qkernels' sgemm",
  async load() {
    setup();
    return { version: `${version} f32` };
  },
  ops: {
    'gemm-s32': (d, _out, _v, s, ctx) => {
      const files = inputsF32(d, s);
      const cfile = path.join(dir, `${s.label}.f32.t${ctx.threads}.c`);
      const t = ctx.quick ? HEAVY_QUICK : HEAVY;
      const args = ['--f32', s.m, s.n, s.k, files.a, files.b, t.minSamples, t.minTime, t.maxTime, cfile].map(String);
      const { stats, c, impl } = runChild(args, { OMP_NUM_THREADS: String(ctx.threads) }, cfile, Float32Array);
      return {
        fn: () => {},
        output: () => c,
        compare: 1e-4,
        stats,
        peak: 'vfmadd231ps',
        unit: 'GFLOPS',
        note: `oneDNN ${version} ${impl}`,
      };
    },
  },
};
