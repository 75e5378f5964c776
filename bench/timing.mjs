// Timing with benchmark.js: it picks how many calls make one sample (each at least minTime long), collects
// samples until maxTime, and reports the mean with its relative margin of error. We keep all of that and add the
// median of the samples (robust to the odd slow sample on a shared machine).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** @type {typeof import('benchmark')} */
const Benchmark = require('benchmark');

export const BENCHMARK_VERSION = Benchmark.version;

/**
 * @typedef {object} TimingOptions
 * @property {number} maxTime     seconds of sampling per case (benchmark.js maxTime)
 * @property {number} minSamples
 * @property {number} minTime     seconds per sample at least (benchmark.js minTime)
 */

/** Full runs: about 2-3 s per case. */
export const FULL = Object.freeze({ maxTime: 2, minSamples: 10, minTime: 0.05 });
/** --quick: a few short samples per case. */
export const QUICK = Object.freeze({ maxTime: 0.05, minSamples: 2, minTime: 0.02 });

/** GEMM rows (calls of up to a few hundred ms): at least 5 samples, about 1 s per case. */
export const HEAVY = Object.freeze({ maxTime: 1, minSamples: 5, minTime: 0.05 });
/** --quick GEMM rows. */
export const HEAVY_QUICK = Object.freeze({ maxTime: 0.05, minSamples: 2, minTime: 0.01 });

/**
 * Seconds per call, summarized.
 * @typedef {object} Stats
 * @property {number} median   median of the samples (each sample is the mean of `count` calls)
 * @property {number} mean
 * @property {number} rme      relative margin of error of the mean, in percent (95% confidence)
 * @property {number} deviation
 * @property {number} min
 * @property {number} max
 * @property {number} samples
 * @property {number} count    calls per sample (benchmark.js's final count)
 * @property {number} wall     seconds benchmark.js spent on the case
 * @property {number[]} sample the samples, seconds per call
 */

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Stats for per-call seconds timed elsewhere (a peer in a child process): the same fields `measure` returns, each
 * sample counting as one call.
 * @param {number[]} sample
 * @returns {Stats}
 */
export function statsFromSamples(sample) {
  const mean = sample.reduce((a, b) => a + b, 0) / sample.length;
  const sd = Math.sqrt(sample.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, sample.length - 1));
  return {
    median: median(sample),
    mean,
    rme: (100 * 1.96 * sd) / Math.sqrt(sample.length) / mean,
    deviation: sd,
    min: Math.min(...sample),
    max: Math.max(...sample),
    samples: sample.length,
    count: 1,
    wall: sample.reduce((a, b) => a + b, 0),
    sample,
  };
}

/**
 * Times `runner.fn` with benchmark.js.
 * @param {string} name
 * @param {import('./contenders/index.mjs').Runner} runner
 * @param {TimingOptions} options
 * @returns {Promise<Stats>}
 */
export function measure(name, runner, options) {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let failure;
    const fn = runner.async
      ? (deferred) => {
          /** @type {Promise<unknown>} */ (runner.fn()).then(
            () => deferred.resolve(),
            (err) => {
              failure = err;
              deferred.benchmark.abort();
            },
          );
        }
      : runner.fn;
    const bench = new Benchmark(name, {
      fn,
      defer: Boolean(runner.async),
      async: false,
      initCount: 1,
      maxTime: options.maxTime,
      minSamples: options.minSamples,
      minTime: options.minTime,
    });
    bench.on('error', (event) => {
      failure = failure ?? event.target.error;
    });
    bench.on('complete', () => {
      if (failure || bench.error || bench.aborted) {
        reject(failure ?? bench.error ?? new Error('aborted'));
        return;
      }
      const st = bench.stats;
      const sample = st.sample.slice();
      resolve({
        median: median(sample),
        mean: st.mean,
        rme: st.rme,
        deviation: st.deviation,
        min: Math.min(...sample),
        max: Math.max(...sample),
        samples: sample.length,
        count: bench.count,
        wall: (performance.now() - t0) / 1000,
        sample,
      });
    });
    bench.run();
  });
}
