// The environment a run describes: CPU, tiers, runtime and package versions, machine load.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);

/**
 * The version of an installed package, found by walking up from its entry point (works for packages whose
 * `exports` hide package.json), or undefined.
 */
export function packageVersion(name) {
  try {
    let dir = path.dirname(require.resolve(name));
    for (;;) {
      const file = path.join(dir, 'package.json');
      if (fs.existsSync(file)) {
        const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
        if (pkg.name === name) return pkg.version;
      }
      const up = path.dirname(dir);
      if (up === dir) return undefined;
      dir = up;
    }
  } catch {
    return undefined;
  }
}

/** 'AMD EPYC 7B13' -> 'amd-epyc-7b13'. */
export function slug(s) {
  return (
    s
      .toLowerCase()
      .replace(/\((r|tm)\)|cpu @.*$|processor/g, ' ')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'unknown-cpu'
  );
}

/** Local date as YYYY-MM-DD. */
export function isoDate(d = new Date()) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/**
 * @param {ReturnType<typeof import('../dist/index.js').cpuInfo>} cpu
 */
export function environment(cpu) {
  const cpus = os.cpus();
  const model = cpu.model || cpus[0]?.model?.trim() || `${os.arch()} CPU`;
  return {
    cpu: {
      model,
      slug: slug(model),
      arch: cpu.arch,
      features: cpu.features,
      tiers: cpu.isas,
      defaultTier: cpu.isa,
      logicalCores: cpus.length,
      mhz: cpus[0]?.speed || undefined,
    },
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    packages: {
      qkernels: require('../package.json').version,
      benchmark: packageVersion('benchmark'),
      'onnxruntime-node': packageVersion('onnxruntime-node'),
      '@petamoriken/float16': packageVersion('@petamoriken/float16'),
    },
    loadAverage: { start: os.loadavg().map((v) => Math.round(v * 100) / 100) },
  };
}
