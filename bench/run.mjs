#!/usr/bin/env node
// qkernels benchmark: every op x every ISA tier this CPU has, against plain-JS baselines, peer libraries and the
// Float32Array#set copy bandwidth, all in one process. See bench/README.md.
//
//   npm run bench                      full run (several minutes)
//   npm run bench -- --quick           short samples (under a minute)
//   npm run bench -- --op quantize --isa avx2 --shape 16M --threads 1
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { COPY, CONTENDERS } from './contenders/index.mjs';
import { qkernels } from './contenders/qkernels.mjs';
import { environment, isoDate } from './env.mjs';
import { OPS, SIZES, elementShape, parseSize } from './ops.mjs';
import { derive, formatTime, markdownTable, opChart,
  gemmChart, opTable, summaries, warnings } from './report.mjs';
import { BENCHMARK_VERSION, FULL, HEAVY, HEAVY_QUICK, QUICK, measure } from './timing.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The op families the element-wise targets (#4) apply to. */
const ELEMENTWISE_FAMILIES = new Set(['quantize', 'dequantize', 'float16', 'bfloat16']);

const USAGE = `usage: node bench/run.mjs [options]      (npm run bench -- [options])

  --quick              short samples, fewer and smaller GEMM shapes, 1M-element calibration and fake-quant
                       inputs; the whole run takes about a minute
  --op NAME            only these ops (id or family; repeat or comma-separate):
                       ${OPS.map((o) => o.id).join(', ')}
                       families: ${[...new Set(OPS.map((o) => o.family).filter(Boolean))].join(', ')}
  --isa TIER           only these qkernels tiers, at every shape and thread count (baselines and peers still run);
                       without it the tiers other than the default run at the small GEMM shapes on 1 thread only
  --shape SIZE         only these sizes, e.g. 1048576, 1K, 256K, 16M (default ${SIZES.join(', ')}), or GEMM
                       shapes MxNxK, e.g. 1x4096x4096; a size not in the default list is benchmarked too
  --threads N          only these thread counts (qkernels' GEMM threads via setNumThreads, peers' intra-op
                       threads); default 1 and all cores for the GEMM ops, 1 for the others
  --contender NAME     only these contenders: ${CONTENDERS.map((c) => c.id).join(', ')}
  --out DIR            where results go (default bench/results)
  --no-save            print the tables only
  -h, --help`;

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

/** Splits repeated and comma-separated values. */
const list = (v) =>
  (v ?? [])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);

function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        op: { type: 'string', multiple: true },
        isa: { type: 'string', multiple: true },
        shape: { type: 'string', multiple: true },
        threads: { type: 'string', multiple: true },
        contender: { type: 'string', multiple: true },
        out: { type: 'string', default: path.join(HERE, 'results') },
        'no-save': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    fail(`${err.message}\n\n${USAGE}`);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const threadList = list(v.threads).map(Number);
  for (const t of threadList) if (!Number.isInteger(t) || t < 1) fail(`--threads takes positive integers, got '${v.threads}'`);
  const threads = threadList.length ? [...new Set(threadList)].sort((a, b) => a - b) : null;

  const opNames = list(v.op).map((s) => s.toLowerCase());
  for (const n of opNames)
    if (!OPS.some((o) => o.id.toLowerCase() === n || o.family === n))
      fail(`unknown op '${n}'; ops: ${OPS.map((o) => o.id).join(', ')}`);
  const ops = opNames.length
    ? OPS.filter((o) => opNames.includes(o.id.toLowerCase()) || opNames.includes(o.family))
    : OPS;

  const contenderNames = list(v.contender);
  for (const n of contenderNames)
    if (!CONTENDERS.some((c) => c.id === n))
      fail(`unknown contender '${n}'; contenders: ${CONTENDERS.map((c) => c.id).join(', ')}`);

  const shapes = list(v.shape);
  for (const s of shapes)
    if (!(parseSize(s) > 0) && !OPS.some((o) => o.parseShape?.(s)))
      fail(`--shape '${s}' is not a size (e.g. 1048576, 256K, 16M) or a GEMM shape MxNxK (e.g. 1x4096x4096)`);

  return {
    quick: v.quick,
    ops,
    isas: list(v.isa),
    shapes,
    threads,
    contenders: contenderNames.length ? CONTENDERS.filter((c) => contenderNames.includes(c.id)) : CONTENDERS,
    out: v.out,
    save: !v['no-save'],
    filtered: Boolean(opNames.length || list(v.isa).length || shapes.length || contenderNames.length || threads),
  };
}

/** The shapes to run for `op`: the defaults, or the --shape values this op can parse. */
function shapesFor(op, filter, quick) {
  const parse = op.parseShape ?? ((s) => (parseSize(s) > 0 ? elementShape(parseSize(s)) : null));
  if (!filter.length) return ((quick && op.quickShapes) || op.shapes || SIZES.map(elementShape)).slice();
  const seen = new Set();
  return filter
    .map(parse)
    .filter((s) => s && !seen.has(s.label) && seen.add(s.label))
    .sort((a, b) => a.elements - b.elements);
}

/** One line on stderr showing the running case (rewritten in place on a terminal). */
class Progress {
  constructor(total) {
    this.total = total;
    this.done = 0;
    this.tty = process.stderr.isTTY;
    this.shown = false;
  }
  start(text) {
    this.done++;
    const line = `[${String(this.done).padStart(String(this.total).length)}/${this.total}] ${text}`;
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
      this.shown = true;
    } else process.stderr.write(`${line}\n`);
  }
  clear() {
    if (this.tty && this.shown) process.stderr.write('\r\x1b[2K');
    this.shown = false;
  }
}

/** A copy of an output (an array, or a list of arrays), or undefined when there is nothing to compare. */
function snapshot(o) {
  if (ArrayBuffer.isView(o)) return o.slice();
  if (Array.isArray(o) && o.every((v) => ArrayBuffer.isView(v))) return o.map((v) => v.slice());
  return undefined;
}

/** 1 when `op` gets a copy row at `shape`. */
const op0CopyRows = (op, shape) => (op.copyElements && !op.copyElements(shape) ? 0 : 1);

/** The thread counts `op` runs at: --threads, or the op's defaults (1). */
const threadsFor = (op, opts) => opts.threads ?? op.threads?.() ?? [1];

/** Compares an output with qkernels' within a relative tolerance (max |diff| / max |ref|). */
function approx(out, ref, tolerance) {
  let maxRef = 0;
  let maxAbsDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
    const d = Math.abs(out[i] - ref[i]);
    if (!(d <= maxAbsDiff)) maxAbsDiff = d;
  }
  const rel = maxAbsDiff / maxRef;
  return { identical: false, approx: true, relDiff: rel, within: rel <= tolerance, tolerance, mismatches: 0, total: ref.length, maxAbsDiff };
}

/** Compares an output with qkernels' (bit patterns for floats); a list of arrays part by part, as one. */
function compare(out, ref) {
  if (Array.isArray(ref)) {
    if (!Array.isArray(out) || out.length !== ref.length) {
      const total = ref.reduce((n, r) => n + r.length, 0);
      return { identical: false, mismatches: total, total, maxAbsDiff: NaN, firstIndex: 0, note: `${Array.isArray(out) ? out.length : 'not a list of'} parts` };
    }
    const sum = { identical: true, mismatches: 0, total: 0, maxAbsDiff: 0, firstIndex: -1 };
    for (let p = 0; p < ref.length; p++) {
      const c = compare(out[p], ref[p]);
      if (!c.identical) {
        if (sum.identical) sum.firstIndex = sum.total + c.firstIndex;
        sum.identical = false;
        sum.mismatches += c.mismatches;
        if (!(c.maxAbsDiff <= sum.maxAbsDiff)) sum.maxAbsDiff = c.maxAbsDiff;
        if (c.note) sum.note = `part ${p}: ${c.note}`;
      }
      sum.total += c.total;
    }
    return sum;
  }
  const total = ref.length;
  if (!out || out.length !== total)
    return {
      identical: false,
      mismatches: total,
      total,
      maxAbsDiff: NaN,
      firstIndex: 0,
      note: `length ${out?.length}`,
    };
  const float = ref instanceof Float32Array;
  const a = float ? new Uint32Array(out.buffer, out.byteOffset, total) : out;
  const b = float ? new Uint32Array(ref.buffer, ref.byteOffset, total) : ref;
  let mismatches = 0;
  let firstIndex = -1;
  let maxAbsDiff = 0;
  for (let i = 0; i < total; i++) {
    if (a[i] !== b[i]) {
      if (mismatches++ === 0) firstIndex = i;
      const d = Math.abs(out[i] - ref[i]);
      if (d > maxAbsDiff || d !== d) maxAbsDiff = d;
    }
  }
  return { identical: mismatches === 0, mismatches, total, maxAbsDiff, firstIndex };
}

const sameValues = (a, b) => a.length === b.length && compare(a, b).identical;

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const timing = opts.quick ? QUICK : FULL;
  const started = new Date();
  const t0 = performance.now();

  let qk;
  try {
    qk = qkernels();
  } catch (err) {
    fail(err.message);
  }
  const cpu = qk.cpuInfo();
  const defaultTier = cpu.isa;
  for (const t of opts.isas) {
    if (!qk.ISAS.includes(t)) fail(`unknown tier '${t}'; tiers: ${qk.ISAS.join(', ')}`);
    if (!cpu.isas.includes(t)) fail(`tier '${t}' is not available on this CPU; available: ${cpu.isas.join(', ')}`);
  }
  const env = environment(cpu);
  /** @type {import('./contenders/index.mjs').Context} */
  const ctx = { threads: 1, quick: opts.quick };

  // Load every contender; one that fails keeps its rows, which say why.
  const loaded = new Map();
  for (const c of opts.contenders) {
    try {
      const info = await c.load();
      let variants = info.variants ?? [undefined];
      if (c.id === 'qkernels' && opts.isas.length) variants = variants.filter((t) => opts.isas.includes(t));
      loaded.set(c.id, { ok: true, version: info.version, variants });
    } catch (err) {
      loaded.set(c.id, { ok: false, reason: `failed to load: ${String(err.message).split('\n')[0]}` });
    }
  }

  // The plan: which rows each (op, shape) gets.
  const plan = opts.ops
    .map((op) => ({ op, shapes: shapesFor(op, opts.shapes, opts.quick) }))
    .filter((p) => p.shapes.length);
  if (!plan.length) fail('nothing to run: no op accepts those shapes');
  const entriesFor = (op) => {
    /** @type {{ c: import('./contenders/index.mjs').Contender, variant?: string, status?: 'unavailable' | 'unsupported', reason?: string }[]} */
    const entries = [];
    for (const c of opts.contenders) {
      const l = loaded.get(c.id);
      if (!l.ok) entries.push({ c, status: 'unavailable', reason: l.reason });
      else if (c.ops[op.id]) for (const v of l.variants) entries.push({ c, variant: v });
      else if (c.unsupported?.[op.id]) entries.push({ c, status: 'unsupported', reason: c.unsupported[op.id] });
    }
    return entries;
  };
  const total = plan.reduce(
    (n, p) =>
      n +
      p.shapes.reduce(
        (m, shape) =>
          m +
          (op0CopyRows(p.op, shape)) +
          threadsFor(p.op, opts).reduce(
            (t, threads) =>
              t +
              entriesFor(p.op).filter(
                (e) =>
                  !e.status &&
                  !e.c.skip?.(p.op, shape, threads) &&
                  !(e.c.id === 'qkernels' && p.op.runVariant && !p.op.runVariant(e.variant, shape, defaultTier, threads, opts.quick, opts.isas.length > 0)),
              ).length,
            0,
          ),
        0,
      ),
    0,
  );

  // Per-core peaks of every instruction sequence the addon knows (register-only loops, one thread, run here).
  const native = require('../dist/native.js').native;
  const peaks = {};
  for (const p of native.peakBenchmarks()) {
    native.runPeak(p.name, 1e5); // warm up, and a first estimate for the iteration count
    let iters = 1e6;
    let sec = native.runPeak(p.name, iters);
    iters = Math.max(1e6, Math.round((iters * (opts.quick ? 0.05 : 0.25)) / sec));
    let best = 0;
    for (let r = 0; r < 3; r++) best = Math.max(best, (p.opsPerIter * iters) / native.runPeak(p.name, iters));
    peaks[p.name] = { what: p.what, opsPerSec: best };
  }
  const peakLine = Object.entries(peaks)
    .map(([n, p]) => `${n} ${(p.opsPerSec / 1e9).toFixed(1)} G ${p.what}/s`)
    .join(', ');

  const header = [
    `qkernels ${env.packages.qkernels} benchmark, ${isoDate(started)} (${opts.quick ? 'quick' : 'full'}${opts.filtered ? ', filtered' : ''})`,
    `CPU: ${env.cpu.model} (${env.cpu.arch}, ${env.cpu.logicalCores} logical cores${env.cpu.mhz ? `, ${env.cpu.mhz} MHz` : ''}), ${env.memoryGiB} GiB, ${env.os}`,
    `features: ${cpu.features.join(' ')}`,
    `tiers: ${cpu.isas.join(', ')} (default ${defaultTier})`,
    `Node ${env.node} (V8 ${env.v8})`,
    `threads: ${opts.threads ? opts.threads.join(', ') : `GEMM ops 1 and ${os.availableParallelism()}, others 1`} (qkernels' GEMM via setNumThreads, onnxruntime-node's intraOpNumThreads; the other qkernels ops are single-threaded; PyTorch runs with 1 thread)`,
    `peaks per core (register-only loops of each instruction sequence, best of 3): ${peakLine}. % of peak uses the sequence the tier's int8 GEMM kernel runs (avx2: vpmaddwd+vpaddd, avx512: vpdpbusd, amx: tdpbusd, neon: smlal, neon-dotprod: sdot) times the thread count, and for the sgemm rows the tier's vfmadd231ps (amx: avx512's); vpmaddubsw+vpmaddwd+vpaddd is what a non-exact AVX2 path (u8 x s8 pairs saturating in int16) could reach`,
    `peers: ${CONTENDERS.filter((c) => c.kind === 'peer')
      .map((c) => {
        const l = loaded.get(c.id);
        return l ? `${c.label()} ${l.ok ? l.version : `(${l.reason})`}` : `${c.label()} (not selected)`;
      })
      .join(', ')}; baselines: JS loop, ${COPY.label}`,
    `timing: benchmark.js ${BENCHMARK_VERSION}, maxTime ${timing.maxTime} s, >= ${timing.minSamples} samples of >= ${timing.minTime} s; ` +
      'time/call is the median sample, ± is the rme of the mean (95%)',
    'GB/s counts the bytes an op reads plus the bytes it writes (the copy moves 8 B per element); cache write-allocate ' +
      'traffic is not counted, so an op that writes less than it reads can pass 100% of copy',
    `load average at start: ${env.loadAverage.start.join(' ')} (the machine is not guaranteed to be idle)`,
  ];
  /** Everything printed to stdout, also saved as <stem>.md. */
  const printed = [];
  const print = (text) => {
    printed.push(text);
    process.stdout.write(text);
  };
  print(
    `### ${header[0]}\n\n${header
      .slice(1)
      .map((l) => `- ${l}`)
      .join('\n')}\n\n`,
  );

  const progress = new Progress(total);
  /** @type {import('./report.mjs').Row[]} */
  const allRows = [];

  /**
   * The copy baseline at `shape`, measured next to each op's rows.
   * @returns {Promise<import('./report.mjs').Row>}
   */
  const copyRow = async (op, shape, elements) => {
    const row = {
      op: op.id,
      shape: shape.label,
      elements,
      bytes: COPY.bytes(elements),
      contender: COPY.id,
      kind: 'copy',
      label: COPY.label,
    };
    progress.start(`${op.id} ${shape.label}: ${COPY.label}`);
    try {
      const runner = COPY.create(elements);
      runner.fn();
      return { ...row, status: 'ok', stats: await measure(`copy ${shape.label}`, runner, timing) };
    } catch (err) {
      return { ...row, status: 'error', reason: String(err?.message ?? err) };
    }
  };

  const warned = [];
  for (const { op, shapes } of plan) {
    /** @type {import('./report.mjs').Row[]} */
    const opRows = [];
    const opTiming = op.metric === 'compute' ? (opts.quick ? HEAVY_QUICK : HEAVY) : timing;
    for (const shape of shapes) {
      const data = op.makeData(shape);
      // The copy runs first, right before qkernels' rows, so the two numbers behind "% of copy" are measured
      // seconds apart (memory bandwidth on a shared machine drifts); it is listed last. Ops that move no
      // comparable bytes (most GEMM shapes, the threshold searches) have no copy row.
      const copyElements = op.copyElements ? op.copyElements(shape) : shape.elements;
      const copy = copyElements ? await copyRow(op, shape, copyElements) : null;
      for (const threads of threadsFor(op, opts)) {
        ctx.threads = threads;
        // qkernels at the default tier is the reference every other row's output is checked against.
        let reference;
        const qkFactory = CONTENDERS.find((c) => c.id === 'qkernels').ops[op.id];
        if (qkFactory) {
          const r = await qkFactory(data, op.newOutput(shape), defaultTier, shape, ctx);
          r.enter?.();
          try {
            await r.fn();
            reference = snapshot(r.output());
          } finally {
            r.exit?.();
          }
        }
        const alternatives = new Map();
        for (const e of entriesFor(op)) {
          if (e.c.id === 'qkernels' && op.runVariant && !op.runVariant(e.variant, shape, defaultTier, threads, opts.quick, opts.isas.length > 0))
            continue;
          const base = {
            op: op.id,
            shape: shape.label,
            elements: shape.elements,
            bytes: op.bytes(shape),
            threads,
            contender: e.c.id,
            kind: e.c.kind,
            variant: e.variant,
            label: e.c.label(e.variant),
            version: loaded.get(e.c.id).version,
          };
          if (op.metric === 'compute') {
            base.ops = op.ops(shape);
            base.weightBytes = op.weightBytes?.(shape) || 0;
          }
          if (e.status) {
            opRows.push({ ...base, status: e.status, reason: e.reason });
            continue;
          }
          const skipped = e.c.skip?.(op, shape, threads);
          if (skipped) {
            opRows.push({ ...base, status: 'skipped', reason: skipped });
            continue;
          }
          progress.start(`${op.id} ${shape.label}${op.metric === 'compute' ? ` t${threads}` : ''}: ${base.label}`);
          let runner;
          try {
            runner = await e.c.ops[op.id](data, op.newOutput(shape), e.variant, shape, ctx);
            if (runner.note) base.note = runner.note;
            if (op.metric === 'compute') {
              base.unit = runner.unit ?? 'GOPS';
              if (base.unit === 'GFLOPS') base.weightBytes *= 4; // float32 weights
              // A tier without its own sequence of that name runs the one below it (amx's sgemm is avx512's).
              const tier = (e.variant ?? defaultTier).replace('-dotprod', '');
              const seq = runner.peak
                ? [tier, ...(tier === 'amx' ? ['avx512'] : [])]
                    .map((t) => Object.keys(peaks).find((n) => n.startsWith(`${t}:`) && n.includes(runner.peak)))
                    .find(Boolean)
                : e.c.kind === 'qkernels'
                  ? op.peakFor?.(e.variant)
                  : undefined;
              if (seq && peaks[seq]) {
                base.peakSequence = seq;
                base.peakOpsPerSec = peaks[seq].opsPerSec * threads;
              }
            }
            runner.enter?.();
            try {
              await runner.fn();
              let check;
              if (reference && runner.compare !== false) {
                const out = runner.output();
                if (typeof runner.compare === 'number') {
                  check = approx(out, reference, runner.compare);
                  if (!check.within && runner.explain) {
                    check.note = runner.explain.note;
                    check.explainedBy = runner.explain.short;
                  }
                }
                else check = compare(out, reference);
                if (!check.identical && !check.approx) {
                  for (const alt of op.alternatives ?? []) {
                    if (!alternatives.has(alt)) alternatives.set(alt, alt.compute(data, shape));
                    if (sameValues(out, alternatives.get(alt))) {
                      check.note = `its output is exactly ${alt.name}`;
                      check.explainedBy = alt.short;
                      break;
                    }
                  }
                  if (!check.note && runner.explain) {
                    check.note = runner.explain.note;
                    check.explainedBy = runner.explain.short;
                  }
                  check.note ??= 'not explained by a known difference in definition';
                }
              }
              const stats = runner.stats ?? (await measure(`${op.id} ${shape.label} ${base.label}`, runner, opTiming));
              opRows.push({ ...base, status: 'ok', stats, check, compared: runner.compare !== false });
            } finally {
              runner.exit?.();
            }
          } catch (err) {
            opRows.push({ ...base, status: 'error', reason: String(err?.message ?? err).split('\n')[0] });
          } finally {
            await runner?.dispose?.();
          }
        }
      }
      if (copy) opRows.push(copy);
    }
    derive(opRows);
    progress.clear();
    const table = opTable(op, opRows);
    const w = warnings(opRows);
    warned.push(...w);
    print(`${table}\n${w.length ? `\n${w.join('\n')}\n` : ''}\n`);
    // Free this op's inputs before the next op builds its own (16M-element and 4096x4096 inputs add up).
    if (global.gc) global.gc();
    allRows.push(...opRows);
  }
  progress.clear();

  // The element-wise ops' targets (#4), for the default tier: >= 80% of copy bandwidth at 16M, < 1 µs per
  // 1024-element call. The calibration and fake-quant passes have no such target (a histogram pass scatters
  // increments, a threshold search moves no bytes): their tables show % of copy for information only.
  const targetRows = [];
  for (const { op } of plan) {
    if (!ELEMENTWISE_FAMILIES.has(op.family)) continue;
    const mine = allRows.filter(
      (r) => r.op === op.id && r.contender === 'qkernels' && r.variant === defaultTier && r.status === 'ok',
    );
    const big = mine.find((r) => r.elements === 1 << 24);
    const small = mine.find((r) => r.elements === 1 << 10);
    if (!big && !small) continue;
    targetRows.push([
      op.id,
      big ? `${big.pctOfCopy.toFixed(0)}%` : '—',
      big ? (big.pctOfCopy >= 80 ? 'yes' : 'NO') : '—',
      small ? formatTime(small.stats.median) : '—',
      small ? (small.stats.median < 1e-6 ? 'yes' : 'NO') : '—',
    ]);
  }
  let targets = '';
  if (targetRows.length) {
    targets = `#### element-wise targets (qkernels ${defaultTier})\n\n${markdownTable(
      ['op', '16M: % of copy', '>= 80%', '1K: time/call', '< 1 µs'],
      targetRows,
      [false, true, false, true, false],
    )}\n`;
    print(`${targets}\n`);
  }
  const summary = summaries(allRows, defaultTier);
  if (summary) print(summary);

  env.loadAverage.end = os.loadavg().map((v) => Math.round(v * 100) / 100);
  const seconds = (performance.now() - t0) / 1000;
  print(`load average at end: ${env.loadAverage.end.join(' ')}; ran ${seconds.toFixed(0)} s\n`);

  if (opts.save) {
    fs.mkdirSync(opts.out, { recursive: true });
    // Only a full, unfiltered, single-thread run gets the plain name; other runs never overwrite it.
    const suffix = `${opts.threads && opts.threads.join() !== '1' ? `-t${opts.threads.join('-')}` : ''}${opts.quick ? '-quick' : ''}${opts.filtered ? '-filtered' : ''}`;
    const stem = `${env.cpu.slug}-${isoDate(started)}${suffix}`;
    const result = {
      schema: 1,
      date: started.toISOString(),
      mode: opts.quick ? 'quick' : 'full',
      seconds: Math.round(seconds),
      options: {
        threads: opts.threads ?? 'default',
        filters: {
          op: opts.ops.map((o) => o.id),
          isa: opts.isas,
          shape: opts.shapes,
          contender: opts.contenders.map((c) => c.id),
        },
        timing,
      },
      environment: { ...env, benchmarkJs: BENCHMARK_VERSION, peaksPerCore: peaks },
      contenders: opts.contenders.map((c) => ({
        id: c.id,
        kind: c.kind,
        description: c.description,
        ...loaded.get(c.id),
      })),
      ops: plan.map(({ op, shapes }) => ({ id: op.id, title: op.title, semantics: op.semantics, shapes })),
      rows: allRows,
      warnings: warned,
    };
    const files = [path.join(opts.out, `${stem}.json`)];
    fs.writeFileSync(files[0], `${JSON.stringify(result, null, 1)}\n`);
    files.push(path.join(opts.out, `${stem}.md`));
    fs.writeFileSync(files[1], printed.join(''));
    const subtitle = `qkernels ${env.packages.qkernels} · ${env.cpu.model} · Node ${env.node} · ${isoDate(started)}${opts.quick ? ' · quick' : ''}`;
    for (const { op, shapes } of plan) {
      const rows = allRows.filter((r) => r.op === op.id);
      let svg;
      if (op.metric === 'compute') svg = gemmChart(op, rows, subtitle); // GEMM ops: GOPS vs the peak
      else if (op.bytes(shapes[0])) svg = opChart(op, rows, subtitle);
      else continue; // threshold searches move no bytes: tables only
      const file = path.join(opts.out, `${stem}-${op.id}.svg`);
      fs.writeFileSync(file, svg);
      files.push(file);
    }
    process.stdout.write(`wrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}\n`);
  }
  // Tiers are restored case by case; make sure the process ends where it began.
  if (qk.getIsa() !== defaultTier) qk.setIsa(defaultTier);
}

main().catch((err) => {
  process.stderr.write(`\nbench: ${err?.stack ?? err}\n`);
  process.exit(1);
});
