// The declarative list of benchmarked ops. Each op says what one call reads and writes (for GB/s), how to build
// its input at a given shape, and what its output array is; each contender (bench/contenders/*.mjs) has one
// factory per op id it supports. Adding an op (INT8 GEMM, a calibrator, fake-quant) means one entry here and one
// factory in each contender that can run it; run.mjs, the tables, the JSON and the charts need no change.
import { quantizeDivJs } from './contenders/js.mjs';
import { qkernels } from './contenders/qkernels.mjs';
import { baseInput, channelsFor, normalFloats, prng, range, withTies } from './data.mjs';

const f32 = Math.fround;

/**
 * One benchmarked shape. Element-wise ops use a length; a GEMM would parse 'MxNxK' into dims and count
 * `elements` as its output elements (and set `ops` for GOP/s).
 * @typedef {object} Shape
 * @property {string} label   how tables and filters name it ('16M', '1K', or e.g. '512x512x512')
 * @property {number} elements
 * @property {number[]} dims
 */

/**
 * @typedef {object} OpSpec
 * @property {string} id                  filter name (`--op`) and file suffix
 * @property {string} title
 * @property {string} [family]            `--op` also matches this (e.g. 'quantize' selects both quantize ops)
 * @property {(s: Shape) => number} bytes  bytes one call reads plus writes
 * @property {(s: Shape) => Record<string, any>} makeData  inputs and parameters shared by every contender
 * @property {(s: Shape) => ArrayBufferView} newOutput    a fresh output array for one contender
 * @property {string} [semantics]         the exact computation, for the report
 * @property {Alternative[]} [alternatives] other accepted definitions, to explain a peer whose output differs
 */

/**
 * A known, legitimate difference in definition (e.g. ONNX rounds x / scale where PyTorch rounds x * (1 / scale)).
 * @typedef {object} Alternative
 * @property {string} name
 * @property {string} short   a few words for the chart
 * @property {(data: Record<string, any>, s: Shape) => ArrayBufferView} compute
 */

/** ONNX QuantizeLinear divides by the scale; qkernels (like PyTorch) multiplies by its float32 reciprocal. */
const ONNX_DIVIDES = {
  name: "ONNX's definition, round(x / scale), where qkernels follows PyTorch's round(x * (1 / scale))",
  short: 'ONNX x / scale rounding',
  compute(d, s) {
    const q = new Int8Array(s.elements);
    if (d.scales === undefined) quantizeDivJs(d.x, q, d.scale, d.zeroPoint, d.qmin, d.qmax);
    else
      for (let c = 0; c < d.channels; c++)
        quantizeDivJs(d.x, q, d.scales[c], d.zeroPoints[c], d.qmin, d.qmax, c * d.inner, (c + 1) * d.inner);
    return q;
  },
};

/** Per-tensor parameters of the quantize/dequantize rows (int8, a realistic calibrated scale, nonzero zp). */
export const PER_TENSOR = Object.freeze({ scale: f32(0.025), zeroPoint: 3, dtype: 'int8', qmin: -128, qmax: 127 });

/** Per-channel parameters for `channels` channels along axis 0 of [channels, n / channels] (PyTorch's weight layout). */
export function perChannelParams(channels) {
  const scales = new Float32Array(channels);
  const zeroPoints = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    scales[c] = f32(0.02 + 0.005 * (c % 4));
    zeroPoints[c] = (c % 5) - 2;
  }
  return { scales, zeroPoints, axis: 0, dtype: 'int8', qmin: -128, qmax: 127 };
}

/** Element-wise shapes: `n` elements, one dimension. */
export function elementShape(n) {
  return { label: sizeLabel(n), elements: n, dims: [n] };
}

/** '1K', '256K', '16M' for powers of two, else the number. */
export function sizeLabel(n) {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)}M`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)}K`;
  return String(n);
}

/** Parses '1048576', '1M', '256K' (binary multiples) into an element count, or NaN. */
export function parseSize(s) {
  const m = /^(\d+)([kKmM]?)$/.exec(String(s).trim());
  if (!m) return NaN;
  const mul = { '': 1, k: 1 << 10, m: 1 << 20 }[m[2].toLowerCase()];
  return Number(m[1]) * mul;
}

/** The default sizes: per-call overhead (1K), an in-cache mid size (256K) and the memory-bound target (16M). */
export const SIZES = [1 << 10, 1 << 18, 1 << 24];

const ties = (n) => range(0, Math.min(24, n));

function perChannelData(n) {
  const channels = channelsFor(n);
  const inner = n / channels;
  const p = perChannelParams(channels);
  const invAt = (i) => f32(1 / p.scales[Math.floor(i / inner) % channels]);
  return { ...p, channels, inner, dims: [channels, inner], x: withTies(baseInput(n), ties(n), invAt) };
}

/** @type {OpSpec[]} */
export const OPS = [
  {
    id: 'quantize',
    family: 'quantize',
    title: 'quantize per tensor, float32 -> int8',
    semantics: 'q = clamp(roundTiesToEven(f32(x * f32(1/scale))) + zp, -128, 127)',
    bytes: (s) => s.elements * (4 + 1),
    makeData: (s) => {
      const inv = f32(1 / PER_TENSOR.scale);
      return { ...PER_TENSOR, x: withTies(baseInput(s.elements), ties(s.elements), () => inv) };
    },
    newOutput: (s) => new Int8Array(s.elements),
    alternatives: [ONNX_DIVIDES],
  },
  {
    id: 'quantize-per-channel',
    family: 'quantize',
    title: 'quantize per channel (axis 0 of [C, N/C]), float32 -> int8',
    semantics: 'as quantize, with scale[c] and zp[c] for channel c',
    bytes: (s) => s.elements * (4 + 1),
    makeData: (s) => perChannelData(s.elements),
    newOutput: (s) => new Int8Array(s.elements),
    alternatives: [ONNX_DIVIDES],
  },
  {
    id: 'dequantize',
    family: 'dequantize',
    title: 'dequantize per tensor, int8 -> float32',
    semantics: 'x = f32((q - zp) * scale)',
    bytes: (s) => s.elements * (1 + 4),
    makeData: (s) => ({ ...PER_TENSOR, q: quantizedInput(s.elements) }),
    newOutput: (s) => new Float32Array(s.elements),
  },
  {
    id: 'dequantize-per-channel',
    family: 'dequantize',
    title: 'dequantize per channel (axis 0 of [C, N/C]), int8 -> float32',
    semantics: 'as dequantize, with scale[c] and zp[c] for channel c',
    bytes: (s) => s.elements * (1 + 4),
    makeData: (s) => {
      const { x, ...p } = perChannelData(s.elements);
      void x;
      return { ...p, q: quantizedInput(s.elements) };
    },
    newOutput: (s) => new Float32Array(s.elements),
  },
  {
    id: 'toFloat16',
    family: 'float16',
    title: 'toFloat16, float32 -> IEEE binary16 bits',
    semantics: 'round to nearest even; overflow to Inf; subnormals exact',
    bytes: (s) => s.elements * (4 + 2),
    makeData: (s) => ({ x: halfRangeInput(s.elements) }),
    newOutput: (s) => new Uint16Array(s.elements),
  },
  {
    id: 'fromFloat16',
    family: 'float16',
    title: 'fromFloat16, binary16 bits -> float32',
    semantics: 'exact',
    bytes: (s) => s.elements * (2 + 4),
    makeData: (s) => ({ h: halfBitsInput(s.elements, false) }),
    newOutput: (s) => new Float32Array(s.elements),
  },
  {
    id: 'toBFloat16',
    family: 'bfloat16',
    title: 'toBFloat16, float32 -> bfloat16 bits',
    semantics: 'round to nearest even (top 16 bits)',
    bytes: (s) => s.elements * (4 + 2),
    makeData: (s) => ({ x: halfRangeInput(s.elements) }),
    newOutput: (s) => new Uint16Array(s.elements),
  },
  {
    id: 'fromBFloat16',
    family: 'bfloat16',
    title: 'fromBFloat16, bfloat16 bits -> float32',
    semantics: 'exact (bits << 16)',
    bytes: (s) => s.elements * (2 + 4),
    makeData: (s) => ({ h: halfBitsInput(s.elements, true) }),
    newOutput: (s) => new Float32Array(s.elements),
  },
];

/**
 * int8 values spread like quantized activations: the per-tensor quantization of the float input (computed in
 * plain JS here so the bench input does not depend on the code under test).
 */
function quantizedInput(n) {
  const x = baseInput(n);
  const inv = f32(1 / PER_TENSOR.scale);
  const q = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const v = Math.round(f32(x[i] * inv)) + PER_TENSOR.zeroPoint; // ties are irrelevant for an input
    q[i] = v < -128 ? -128 : v > 127 ? 127 : v;
  }
  return q;
}

/** The float input scaled into a wider range, with a few binary16 edge values (subnormal, overflow, ties). */
function halfRangeInput(n) {
  const x = new Float32Array(baseInput(n));
  for (let i = 0; i < n; i++) x[i] *= 8;
  const edges = [
    1e-6,
    -3e-7,
    6.1e-5,
    65504,
    65519,
    65520,
    -70000,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    -0,
    1 + 2 ** -8,
    1 + 3 * 2 ** -8,
  ];
  for (let i = 0; i < edges.length && i < n; i++) x[i] = edges[i];
  return x;
}

/** binary16 (or bfloat16) bit patterns of the same values (built with plain JS bit operations). */
function halfBitsInput(n, bf16) {
  const x = halfRangeInput(n);
  const u = new Uint32Array(x.buffer, x.byteOffset, n);
  const h = new Uint16Array(n);
  // Truncation is fine for an input: any bit pattern is a valid binary16/bfloat16 value.
  if (bf16) for (let i = 0; i < n; i++) h[i] = u[i] >>> 16;
  else
    for (let i = 0; i < n; i++) {
      const a = u[i] & 0x7fffffff;
      const e = (a >>> 23) - 112;
      h[i] = ((u[i] >>> 16) & 0x8000) | (e <= 0 ? 0 : e >= 31 ? 0x7c00 : (e << 10) | ((a >>> 13) & 0x3ff));
    }
  // A few patterns the truncation above never makes: subnormals, infinities and the largest finite values.
  const edges = bf16 ? [0x0001, 0x807f, 0x7f80, 0xff80, 0x7f7f] : [0x0001, 0x83ff, 0x03ff, 0x7c00, 0xfc00, 0x7bff];
  for (let i = 0; i < edges.length && 16 + i < n; i++) h[16 + i] = edges[i];
  return h;
}

// ------------------------------------------------------------------------------------------------ INT8 GEMM
//
// GEMM ops count work, not bytes: `metric: 'compute'`, `ops(shape)` = 2 m n k integer ops (multiply + add), and
// the tables show GOPS and the % of the measured per-core peak of the instruction sequence the active tier's
// kernel uses (`peakFor`), times the thread count. Shapes are 'MxNxK' (the --shape syntax); `threads` lists the
// default thread counts (--threads overrides them).

const CORES = (await import('node:os')).availableParallelism();

/** 'MxNxK' -> a GEMM shape, or null. */
export function gemmShape(s) {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(String(s).trim());
  if (!m) return null;
  const [M, N, K] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!(M > 0 && N > 0 && K > 0)) return null;
  return { label: `${M}x${N}x${K}`, elements: M * N, dims: [M, N, K], m: M, n: N, k: K };
}

const g = (m, n, k) => gemmShape(`${m}x${n}x${k}`);
/** Square 256..2048, the LLM shapes (M = 1, 16, 128 tokens, K = N = 4096) and a conv-like im2col shape. */
export const GEMM_SHAPES = [g(256, 256, 256), g(512, 512, 512), g(1024, 1024, 1024), g(2048, 2048, 2048), g(1, 4096, 4096), g(16, 4096, 4096), g(128, 4096, 4096), g(3136, 64, 576)];
export const GEMM_QUICK_SHAPES = [g(256, 256, 256), g(1, 4096, 4096)];

/** The peak sequence each tier's int8 GEMM micro-kernel runs (a name from native.peakBenchmarks()). */
export const GEMM_PEAK = {
  avx2: 'avx2:vpmaddwd+vpaddd',
  avx512: 'avx512:vpdpbusd',
  amx: 'amx:tdpbusd',
  neon: 'neon:smlal',
  'neon-dotprod': 'neon:sdot',
};

/** GEMM inputs: u8 activations (zero point 128 - 5), s8 weights (zero point 2), per-column scales and bias. */
let lastGemm = null;
export function gemmData(s) {
  // The four int8Gemm ops run one after another on the same shapes: keep the last shape's inputs.
  if (lastGemm?.label === s.label) return lastGemm.data;
  lastGemm = { label: s.label, data: makeGemmData(s) };
  return lastGemm.data;
}

function makeGemmData(s) {
  const { m, n, k } = s;
  const rand = prng(0x51ed + m * 7 + n * 13 + k);
  const a = new Uint8Array(m * k);
  for (let i = 0; i < a.length; i++) a[i] = (rand() * 256) | 0;
  const b = new Int8Array(k * n);
  for (let i = 0; i < b.length; i++) b[i] = ((rand() * 256) | 0) - 128;
  const bScale = new Float32Array(n);
  const bias = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    bScale[j] = f32(0.002 + 0.001 * rand());
    bias[j] = f32(rand() - 0.5);
  }
  return {
    a,
    b,
    aZeroPoint: 123,
    bZeroPoint: 2,
    aScale: f32(0.02),
    bScale,
    bias,
    // Requantized output: a scale that keeps most outputs inside int8 (|C| is about 73 * sqrt(k) * 60 here).
    outScale: f32((0.02 * 0.0025 * 4 * 74 * 74 * Math.sqrt(k)) / 127),
    outZeroPoint: -3,
  };
}

/** linearDynamic inputs: float activations (m x k) and the int8 weight (k x n) with per-column scales. */
export function linearData(s) {
  const { m, n, k } = s;
  const d = gemmData(s);
  return { x: normalFloats(m * k, 0x1234 + m), w: d.b, bScale: d.bScale, bias: d.bias };
}

const gemmOp = (id, title, semantics, extra = {}) => ({
  id,
  family: 'gemm',
  title,
  semantics,
  metric: 'compute',
  shapes: GEMM_SHAPES,
  quickShapes: GEMM_QUICK_SHAPES,
  parseShape: gemmShape,
  threads: () => [...new Set([1, CORES])],
  ops: (s) => 2 * s.m * s.n * s.k,
  peakFor: (tier) => GEMM_PEAK[tier],
  // m = 1 streams the weights once per call: report weight GB/s next to a copy of k * n bytes.
  weightBytes: (s) => (s.m === 1 ? s.k * s.n : 0),
  copyElements: (s) => (s.m === 1 ? (s.k * s.n) / 4 : 0),
  // The non-default tiers (scalar) only on the smaller shapes, 1 thread, full runs: a 2048^3 scalar GEMM takes
  // seconds.
  // The other tiers only at small shapes on one thread (they would double a full run), unless --isa named them.
  runVariant: (tier, s, defaultTier, threads, quick, chosen) =>
    tier === defaultTier || chosen || (!quick && threads === 1 && 2 * s.m * s.n * s.k <= 3e8),
  bytes: () => 0,
  makeData: gemmData,
  ...extra,
});

const SEM = 'C = sum_p (a[i][p] - 123) * (b[p][j] - 2), a u8, b s8';
// GEMM outputs start on a 64-byte boundary (qkernels' alignedArray, what int8Gemm allocates itself without `out`),
// like the C that oneDNN and ONNX Runtime allocate for themselves; a plain JavaScript array is 16-byte aligned.
const gemmOut = (Ctor, s) => qkernels().alignedArray(Ctor, s.m * s.n);
OPS.push(
  gemmOp('gemm-s32', 'int8Gemm, u8 x s8 -> int32, packed B (packB)', `${SEM}; exact int32`, {
    newOutput: (s) => gemmOut(Int32Array, s),
  }),
  gemmOp('gemm-s32-unpacked', 'int8Gemm, u8 x s8 -> int32, unpacked B (k x n)', `${SEM}; exact int32`, {
    newOutput: (s) => gemmOut(Int32Array, s),
  }),
  gemmOp('gemm-f32', 'int8Gemm, u8 x s8 -> float32 (aScale, per-column bScale, bias), packed B', `y = f32(C) * (aScale * bScale[j]) + bias[j]`, {
    newOutput: (s) => gemmOut(Float32Array, s),
  }),
  gemmOp('gemm-s8', 'int8Gemm, u8 x s8 -> requantized int8, packed B', 'q = clamp(rint(y / outScale) + outZp, -128, 127), y as for float32', {
    newOutput: (s) => gemmOut(Int8Array, s),
  }),
  gemmOp('linearDynamic', 'linearDynamic, float32 x packed s8 weights -> float32 (per-row dynamic u8 quantization)', 'y = dequant(quant_u8_per_row(x) x W) * bScale[j] + bias[j]', {
    family: 'gemm',
    shapes: [g(128, 4096, 4096), g(1, 4096, 4096)],
    quickShapes: [g(128, 1024, 1024), g(1, 4096, 4096)],
    makeData: linearData,
    newOutput: (s) => gemmOut(Float32Array, s),
  }),
);

// ------------------------------------------------------------------------------------ calibration, fake quant
//
// Memory-bound passes over 16M floats (1M with --quick): GB/s and % of copy as for the element-wise ops; the
// threshold searches (compute()) only have a time.

export const CALIB_CHANNELS = 1024;
/** The non-default tiers (scalar) only in full runs. */
const fullRunsOnly = (tier, _s, defaultTier, _threads, quick, chosen) => tier === defaultTier || chosen || !quick;
const calibOp = (id, title, extra = {}) => ({
  id,
  family: 'calibrate',
  title,
  shapes: [elementShape(1 << 24)],
  quickShapes: [elementShape(1 << 20)],
  bytes: (s) => s.elements * 4,
  makeData: (s) => ({ x: baseInput(s.elements), channels: CALIB_CHANNELS }),
  newOutput: () => null,
  runVariant: fullRunsOnly,
  ...extra,
});
for (const method of ['minmax', 'movingAverage', 'percentile', 'entropy', 'mse'])
  OPS.push(calibOp(`observe-${method}`, `Calibrator({ method: '${method}' }).observe(x), a new calibrator per call`));
OPS.push(
  calibOp('observe-per-channel', `Calibrator({ axis: 0, shape: [${CALIB_CHANNELS}, n / ${CALIB_CHANNELS}] }).observe(x) (per-channel minmax)`),
  calibOp('histogram', 'one 2048-bin histogram pass over |x| (the histogram methods\' kernel)'),
  ...['entropy', 'mse', 'percentile'].map((method) =>
    calibOp(`compute-${method}`, `threshold search: Calibrator({ method: '${method}', symmetric: ${method !== 'percentile'} }).compute() after one observe`, {
      bytes: () => 0,
      copyElements: () => 0,
    }),
  ),
);

const fqOp = (id, title, bytesPer, extra = {}) => ({
  id,
  family: 'fakequant',
  title,
  shapes: [elementShape(1 << 24)],
  quickShapes: [elementShape(1 << 20)],
  bytes: (s) => s.elements * bytesPer,
  makeData: (s) => ({
    x: baseInput(s.elements),
    g: normalFloats(s.elements, 77),
    params: { scale: f32(6 / 255), zeroPoint: 0, quantMin: -128, quantMax: 127 },
    gradFactor: 1 / Math.sqrt(s.elements * 127), // LSQ's 1 / sqrt(numel * quantMax), for fakeQuantLearnable
  }),
  newOutput: (s) => new Float32Array(s.elements),
  runVariant: fullRunsOnly,
  ...extra,
});
OPS.push(
  fqOp('fakeQuant', 'fakeQuant forward + mask (per tensor), preallocated output and mask', 9),
  fqOp('fakeQuantBackward', 'fakeQuantBackward(g, mask): the straight-through gradient', 9),
  fqOp('fakeQuant-fwd-bwd', 'fakeQuant forward + mask, then fakeQuantBackward', 18),
  fqOp('fakeQuantLearnable', 'fakeQuantLearnable forward + backward (LSQ: gradX, gradScale, gradZeroPoint)', 21),
);
