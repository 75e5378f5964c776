// The examples run as a user would run them (importing 'qkernels' through the package's exports map) and
// reach the results their comments describe.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.join(__dirname, '..');
const run = (file: string) => spawnSync(process.execPath, [path.join('examples', file)], { cwd: root, encoding: 'utf8' });

t.test('examples/ptq-linear.mjs: static and dynamic int8 stay within 3% of float32', async (t) => {
  const r = run('ptq-linear.mjs');
  t.equal(r.status, 0, r.stderr);
  const m = /static int8 ([\d.]+)%, dynamic int8 ([\d.]+)%/.exec(r.stdout);
  t.ok(m, r.stdout);
  if (m) {
    t.ok(Number(m[1]) < 3, `static int8 error ${m[1]}%`);
    t.ok(Number(m[2]) < 3, `dynamic int8 error ${m[2]}%`);
  }
});

t.test('examples/qat-mlp.mjs: QAT recovers what 4-bit PTQ loses', async (t) => {
  const r = run('qat-mlp.mjs');
  t.equal(r.status, 0, r.stderr);
  const m = /float32 ([\d.]+)%, PTQ 4-bit ([\d.]+)%, QAT 4-bit ([\d.]+)%/.exec(r.stdout);
  t.ok(m, r.stdout);
  if (m) {
    const [f, ptq, qat] = [Number(m[1]), Number(m[2]), Number(m[3])];
    t.ok(f >= 95, `float32 accuracy ${f}%`);
    t.ok(qat >= ptq, `QAT ${qat}% >= PTQ ${ptq}%`);
    t.ok(qat >= f - 1, `QAT within 1 point of float32 (${qat}% vs ${f}%)`);
  }
});

t.test('examples/int8-mlp.mjs: a static int8 MLP stays close to float32', async (t) => {
  const r = run('int8-mlp.mjs');
  t.equal(r.status, 0, r.stderr);
  const m = /logits relative error ([\d.]+)%, top-1 agreement ([\d.]+)%/.exec(r.stdout);
  t.ok(m, r.stdout);
  if (m) {
    t.ok(Number(m[1]) < 5, `logits relative error ${m[1]}%`);
    t.ok(Number(m[2]) >= 95, `top-1 agreement ${m[2]}%`);
  }
});
