// Packaging invariants: one source list for both native builds, the addon's exports match their TypeScript
// description, and the ESM and CommonJS entry points expose the same API.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { native, NATIVE_EXPORTS } from '../lib/native';

const root = path.join(__dirname, '..');

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

t.test('native/sources.json lists every .cc file exactly once, in its tier list', async (t) => {
  const lists = JSON.parse(fs.readFileSync(path.join(root, 'native', 'sources.json'), 'utf8')) as Record<string, string[] | string>;
  const listed = new Map<string, string>();
  for (const [key, files] of Object.entries(lists)) {
    if (!Array.isArray(files)) continue;
    for (const f of files) {
      t.notOk(listed.has(f), `${f} listed once`);
      listed.set(f, key);
      t.ok(fs.existsSync(path.join(root, f)), `${f} exists`);
    }
  }
  const tierDirs: Record<string, string> = { scalar: 'scalar', avx2: 'avx2', avx512: 'avx512', amx: 'amx', neon: 'neon', neondot: 'neondot' };
  for (const file of walk(path.join(root, 'native')).filter((f) => f.endsWith('.cc'))) {
    const rel = path.relative(root, file).split(path.sep).join('/');
    t.ok(listed.has(rel), `${rel} is in native/sources.json`);
    const m = /^native\/kernels\/([^/]+)\//.exec(rel);
    if (m) t.equal(listed.get(rel), tierDirs[m[1]!], `${rel} is compiled with the ${m[1]} flags`);
  }
  // Comments may mention flags; only the build instructions count.
  const code = (f: string) => fs.readFileSync(path.join(root, f), 'utf8').replace(/#.*$/gm, '');
  const gyp = code('binding.gyp');
  const cmake = code('CMakeLists.txt');
  t.match(gyp, /sources\.json/, 'binding.gyp reads sources.json');
  t.match(cmake, /sources\.json/, 'CMakeLists.txt reads sources.json');
  t.notMatch(gyp + cmake, /\.cc['"\s]/, 'neither build file names a source file itself');
  t.notMatch(gyp + cmake, /-march=native/, 'no -march=native');
});

t.test('the addon exports exactly what lib/native.ts describes', async (t) => {
  t.same(Object.keys(native).sort(), [...NATIVE_EXPORTS].sort());
  for (const k of NATIVE_EXPORTS) t.type(native[k], 'function', k);
});

t.test('ESM and CommonJS entry points expose the same API', async (t) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  t.ok(pkg.exports['.'].import && pkg.exports['.'].require, 'exports map has import and require');
  for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/index.mjs', 'dist/index.d.mts'])
    t.ok(fs.existsSync(path.join(root, f)), `${f} is built`);
  const script = `
    const cjs = require('qkernels');
    import('qkernels').then((esm) => {
      const a = Object.keys(cjs).sort(), b = Object.keys(esm).filter((k) => k !== 'default').sort();
      const x = new Float32Array([0.5, -1]);
      const same = esm.quantize === cjs.quantize && esm.default.quantize === cjs.quantize;
      process.stdout.write(JSON.stringify({ a, b, same, q: [...esm.quantize(x, { scale: 0.5 })] }));
    });`;
  // Resolve 'qkernels' the way a user does: through package.json's exports map (self-reference by name).
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  t.same(got.b, got.a, 'same names');
  t.ok(got.a.includes('quantize') && got.a.includes('cpuInfo'), 'names include the API');
  t.ok(got.same, 'ESM re-exports the same functions (one addon instance)');
  t.same(got.q, [1, -2]);
});
