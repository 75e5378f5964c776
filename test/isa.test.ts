// Runtime dispatch: cpuInfo, setIsa/withIsa, and QKERNELS_ISA forcing a tier at load (in child processes, so
// every op also runs once per tier with the tier chosen the way a user would choose it).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { cpuInfo, getIsa, setIsa, withIsa, ISAS, quantize, dequantize, toFloat16, fromFloat16, toBFloat16, fromBFloat16 } from '../lib/index';
import { AVAILABLE, randomFloats } from './_harness';

const root = path.join(__dirname, '..');

t.test('cpuInfo', async (t) => {
  const info = cpuInfo();
  t.match(info, { arch: String, model: String, features: Array, isas: Array, isa: String });
  t.equal(info.isas[info.isas.length - 1], 'scalar', 'scalar is always available, last');
  t.equal(info.isa, info.isas[0], 'the best tier is active at load');
  t.ok(info.isas.every((i) => (ISAS as readonly string[]).includes(i)), 'tier names are known');
  if (info.arch === 'x64') {
    t.ok(info.features.includes('sse2'), 'x64 reports sse2');
    t.equal(info.isas.includes('avx2'), ['avx2', 'fma', 'f16c'].every((f) => info.features.includes(f)), 'avx2 tier iff AVX2+FMA+F16C');
    t.equal(
      info.isas.includes('avx512'),
      ['avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512vnni'].every((f) => info.features.includes(f)),
      'avx512 tier iff F/BW/VL/DQ/VNNI',
    );
    // amx also needs the kernel's permission to use the tile state (arch_prctl on Linux), so only one direction.
    if (info.isas.includes('amx')) t.ok(info.isas.includes('avx512') && info.features.includes('amx-int8'), 'amx tier only with avx512 and AMX-INT8');
  }
  if (info.arch === 'arm64') t.ok(info.isas.includes('neon'), 'arm64 always has neon');
});

t.test('setIsa and withIsa', async (t) => {
  const best = getIsa();
  for (const isa of AVAILABLE) {
    t.equal(withIsa(isa, () => getIsa()), isa, `withIsa(${isa})`);
    t.equal(getIsa(), best, 'restored');
  }
  t.throws(() => withIsa('scalar', () => { throw new Error('boom'); }), /boom/);
  t.equal(getIsa(), best, 'restored after a throw');
  t.equal(setIsa('scalar'), best, 'setIsa returns the previous tier');
  t.equal(getIsa(), 'scalar');
  setIsa(best);
  t.throws(() => setIsa('sse9' as never), { constructor: RangeError, message: /one of 'scalar', 'avx2', 'avx512', 'amx', 'neon', 'neon-dotprod' for isa, received string "sse9"/ });
  t.throws(() => setIsa(3 as never), { constructor: TypeError, message: /for isa, received number 3/ });
  for (const isa of ISAS)
    if (!AVAILABLE.includes(isa))
      t.throws(() => setIsa(isa), { constructor: RangeError, message: new RegExp(`'${isa}' is not available on this CPU; available: ${AVAILABLE.join(', ')}`) }, `${isa} unavailable`);
  t.equal(getIsa(), best);
});

const CHILD = `
const q = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});
const x = new Float32Array(JSON.parse(process.argv[1]));
const h = q.toFloat16(x);
const out = {
  isa: q.cpuInfo().isa,
  quantize: [...q.quantize(x, { scale: 0.03, zeroPoint: 5 })],
  quantizeU8: [...q.quantize(x, { scale: 0.05, zeroPoint: 128, dtype: 'uint8' })],
  perChannel: [...q.quantize(x, { scale: [0.01, 0.02, 0.03], axis: 1, shape: [x.length / 3, 3] })],
  dequantize: [...q.dequantize(new Int8Array(x.length).map((_, i) => i - 60), { scale: 0.1, zeroPoint: 2 })],
  f16: [...h], f16back: [...q.fromFloat16(h)].map(String),
  bf16: [...q.toBFloat16(x)], bf16back: [...q.fromBFloat16(q.toBFloat16(x))].map(String),
};
process.stdout.write(JSON.stringify(out));
`;

function runChild(isa: string, x: number[]) {
  return spawnSync(process.execPath, ['-e', CHILD, JSON.stringify(x)], {
    cwd: root,
    env: { ...process.env, QKERNELS_ISA: isa },
    encoding: 'utf8',
  });
}

t.test('QKERNELS_ISA forces a tier at load, and every op agrees with scalar under it', async (t) => {
  const x = [...randomFloats(99, 3, false)];
  const xs = new Float32Array(x);
  const want = withIsa('scalar', () => {
    const h = toFloat16(xs);
    return {
      quantize: [...quantize(xs, { scale: 0.03, zeroPoint: 5 })],
      quantizeU8: [...quantize(xs, { scale: 0.05, zeroPoint: 128, dtype: 'uint8' })],
      perChannel: [...quantize(xs, { scale: [0.01, 0.02, 0.03], axis: 1, shape: [33, 3] })],
      dequantize: [...dequantize(new Int8Array(99).map((_, i) => i - 60), { scale: 0.1, zeroPoint: 2 })],
      f16: [...h], f16back: [...fromFloat16(h)].map(String),
      bf16: [...toBFloat16(xs)], bf16back: [...fromBFloat16(toBFloat16(xs))].map(String),
    };
  });
  for (const isa of AVAILABLE) {
    const r = runChild(isa, x);
    t.equal(r.status, 0, `child with QKERNELS_ISA=${isa} exits 0` + (r.status ? `: ${r.stderr}` : ''));
    if (r.status !== 0) continue;
    const got = JSON.parse(r.stdout);
    t.equal(got.isa, isa, `QKERNELS_ISA=${isa} is active`);
    delete got.isa;
    t.same(got, want, `every op under QKERNELS_ISA=${isa} equals scalar`);
  }
});

t.test('QKERNELS_ISA with an unknown or unavailable tier fails the load with the list', async (t) => {
  const bad = ISAS.find((i) => !AVAILABLE.includes(i));
  for (const isa of ['sse9', ...(bad ? [bad] : [])]) {
    const r = runChild(isa, [1, 2, 3]);
    t.not(r.status, 0, `QKERNELS_ISA=${isa} fails`);
    t.match(r.stderr, new RegExp(`QKERNELS_ISA=${isa} cannot be used: .*available(: | here: )${AVAILABLE.join(', ')}`), 'message lists the available tiers');
  }
});
