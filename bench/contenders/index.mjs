// The contenders, in table order. Each one is a factory per op id (like better-sqlite3's benchmark/trials.js):
// `ops[opId](data, out, variant, shape, ctx)` returns a Runner for one case. A contender without a factory for an
// op has no row for it (or, if it lists a reason in `unsupported`, a row that says why).
import float16 from './float16.mjs';
import int8Gemm from './int8gemm.mjs';
import js from './js.mjs';
import onednn, { onednnF32 } from './onednn.mjs';
import onnxruntime from './onnxruntime.mjs';
import pytorch from './pytorch.mjs';
import qkernels from './qkernels.mjs';
import sgemm from './sgemm.mjs';

/**
 * One prepared case, ready to time.
 * @typedef {object} Runner
 * @property {() => unknown} fn        one call; returns a Promise when `async`
 * @property {boolean} [async]         fn returns a Promise (timed with benchmark.js's deferred mode)
 * @property {() => ArrayBufferView | ArrayBufferView[]} output  the last call's result (or results, e.g. an
 *                                     output and its mask), checked against qkernels' output
 * @property {() => void} [enter]      before the check and the timing (e.g. select an ISA tier)
 * @property {() => void} [exit]       after them, also on failure (restore what enter changed)
 * @property {() => unknown} [dispose] release resources (sessions)
 * @property {false | number} [compare] false: the output is not compared (a float baseline, another process);
 *                                     a number: compared within that relative tolerance (max |diff| / max |ref|)
 * @property {import('../timing.mjs').Stats} [stats]  precomputed timings (a peer timed in another process)
 * @property {string} [note]           what the row runs, when the label does not say
 * @property {string} [peak]           compute ops: the peak sequence (a substring of the tier's names) to compare with
 * @property {string} [unit]           compute ops: 'GOPS' (default) or 'GFLOPS'
 */

/**
 * Options every factory sees.
 * @typedef {object} Context
 * @property {number} threads  the case's thread count (qkernels' GEMM threads via setNumThreads, peers' intra-op threads)
 * @property {boolean} quick   --quick
 */

/**
 * @typedef {object} Contender
 * @property {string} id                  `--contender` filter name
 * @property {'qkernels'|'baseline'|'peer'} kind  peers set the "vs best peer" ratio
 * @property {(variant?: string) => string} label
 * @property {string} description
 * @property {() => Promise<{ version?: string, variants?: string[] }>} load  throws when unavailable
 * @property {Record<string, (data: any, out: any, variant: string | undefined, shape: import('../ops.mjs').Shape, ctx: Context) => Runner | Promise<Runner>>} ops
 * @property {Record<string, string>} [unsupported]  op id -> why there is no factory (shown as a row)
 * @property {(op: import('../ops.mjs').OpSpec, shape: import('../ops.mjs').Shape, threads: number) => string | undefined} [skip]
 *                                     why a case it has a factory for is not run (a 'skipped' row), e.g. a shape too
 *                                     large for a JS loop
 */

/** @type {Contender[]} */
export const CONTENDERS = [qkernels, int8Gemm, sgemm, onednnF32, js, onnxruntime, onednn, pytorch, float16];

/**
 * The memory-bandwidth baseline: Float32Array.prototype.set copying `elements` float32 values (reads 4 B and
 * writes 4 B per element), measured next to every op's rows at each size.
 */
export const COPY = {
  id: 'copy',
  label: 'Float32Array#set (copy)',
  bytes: (elements) => elements * 8,
  /** @param {number} elements @returns {Runner} */
  create(elements) {
    // Both arrays live in one buffer, the destination 2 KiB past a page multiple after the source. With separate
    // allocations, (dst - src) mod 4096 is left to malloc, and when it is a few bytes, memmove's `rep movsb` runs
    // about 20x slower on some x86 CPUs (measured on this bench's AMD EPYC: 1.5 us instead of 75 ns at 1K).
    const bytes = elements * 4;
    const gap = Math.ceil(bytes / 4096) * 4096 + 2048;
    const buffer = new ArrayBuffer(gap + bytes);
    const src = new Float32Array(buffer, 0, elements).fill(1.5);
    const dst = new Float32Array(buffer, gap, elements);
    return { fn: () => dst.set(src), output: () => dst };
  },
};
