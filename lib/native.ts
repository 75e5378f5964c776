// Loads the compiled addon and describes its private, positional exports. The public API validates every
// argument before calling these; the C++ side re-checks types and lengths so a bad call cannot touch memory
// out of bounds.
import * as path from 'node:path';

export interface NativeCpuInfo {
  arch: string;
  model: string;
  features: string[];
  isas: string[];
  isa: string;
}

export type QuantArray = Int8Array | Uint8Array;

export interface NativeBinding {
  cpuInfo(): NativeCpuInfo;
  setIsa(isa: string): string;
  peakBenchmarks(): { name: string; what: string; opsPerIter: number }[];
  runPeak(name: string, iters: number): number;
  quantize(x: Float32Array, out: QuantArray, scale: number, zeroPoint: number, qmin: number, qmax: number): void;
  quantizePerChannel(
    x: Float32Array,
    out: QuantArray,
    scale: Float32Array,
    zeroPoint: Int32Array,
    outer: number,
    channels: number,
    inner: number,
    qmin: number,
    qmax: number,
  ): void;
  dequantize(q: QuantArray, out: Float32Array, scale: number, zeroPoint: number): void;
  dequantizePerChannel(
    q: QuantArray,
    out: Float32Array,
    scale: Float32Array,
    zeroPoint: Int32Array,
    outer: number,
    channels: number,
    inner: number,
  ): void;
  f32ToF16(x: Float32Array, out: Uint16Array): void;
  f16ToF32(h: Uint16Array, out: Float32Array): void;
  f32ToBf16(x: Float32Array, out: Uint16Array): void;
  bf16ToF32(h: Uint16Array, out: Float32Array): void;
  packB(b: QuantArray, k: number, n: number, transB: boolean): unknown;
  gemm(
    a: QuantArray,
    b: QuantArray | null,
    packed: unknown,
    m: number,
    n: number,
    k: number,
    transB: boolean,
    aZeroPoint: number | Int32Array,
    bZeroPoint: number | Int32Array,
    mode: number,
    aScale: number | Float32Array | null,
    bScale: number | Float32Array | null,
    bias: Float32Array | null,
    relu: boolean,
    outScale: number,
    outZeroPoint: number,
    out: Int32Array | Float32Array | Int8Array | Uint8Array,
  ): void;
  gemmAsync(...args: Parameters<NativeBinding['gemm']>): Promise<void>;
  linearDynamic(
    x: Float32Array,
    packed: unknown,
    m: number,
    n: number,
    k: number,
    bScale: number | Float32Array,
    bias: Float32Array | null,
    relu: boolean,
    out: Float32Array,
    int8: boolean,
    bZeroPoint?: number | Int32Array,
  ): void;
  linearDynamicAsync(...args: Parameters<NativeBinding['linearDynamic']>): Promise<void>;
  setNumThreads(threads: number): void;
  getNumThreads(): number;
  /** Internal (tests): microseconds of work per extra GEMM thread before a call splits (default 20; 0 always splits). */
  setMinMicrosPerThread(us: number): void;
  /**
   * Internal (tests): native allocations of more than `bytes` fail as if out of memory, so the GEMM calls throw
   * (or reject with) their `qkernels: out of memory in <op>` RangeError; 0 turns it off.
   */
  _setAllocLimit(bytes: number): void;
  /** Bytes from the start of the buffer's memory to the next 64-byte boundary (0-63). */
  alignOffset(buffer: ArrayBuffer): number;
  sgemm(a: Float32Array, b: Float32Array, m: number, n: number, k: number, transB: boolean, out: Float32Array): void;
  sgemmAsync(...args: Parameters<NativeBinding['sgemm']>): Promise<void>;
  /** out[0] = min, out[1] = max (NaN ignored; +Inf / -Inf when there is no value), out[2] = NaN count. */
  minmax(x: Float32Array, out: Float64Array): void;
  /** Per-channel min / max of a contiguous [outer, channels, inner] tensor; returns the NaN count. */
  minmaxPerChannel(x: Float32Array, outer: number, channels: number, inner: number, min: Float32Array, max: Float32Array): number;
  /** Adds the histogram of x (|x| when abs) into counts (bins = counts.length); returns the NaN count. */
  histogram(x: Float32Array, lo: number, scale: number, abs: boolean, counts: Float64Array): number;
  /**
   * Adds channel c's histogram of a contiguous [outer, channels, inner] x (|x| when abs; grid lo[c], scale[c],
   * bins[c] <= stride) into counts[c * stride ...] (uint32, channels * stride entries); returns the NaN count.
   */
  histogramPerChannel(
    x: Float32Array,
    outer: number,
    channels: number,
    inner: number,
    lo: Float32Array,
    scale: Float32Array,
    bins: Uint32Array,
    stride: number,
    abs: boolean,
    counts: Uint32Array,
  ): number;
  /**
   * The entropy (KL) threshold search of each histogram: channel c's bins[c] counts at counts[c * stride ...],
   * levels[c] quantized levels; writes the chosen bin edge index (lib/calibrate/search.ts entropyThreshold) or -1
   * (fewer than 128 bins, or bins[c] = 0: skipped) into index[c], and, when given, D(i) into
   * divergences[c * (stride - 127) + i - 128].
   */
  entropySearch(counts: Float64Array, stride: number, bins: Int32Array, levels: Int32Array, index: Int32Array, divergences: Float64Array | null): void;
  /**
   * The mse threshold search of each histogram (lib/calibrate/search.ts mseThreshold): grid[3c ..] = anchor,
   * first, width; data[3c ..] = max |x|, min, max; writes the threshold (a float32 value) into threshold[c] and the
   * winning candidate's index into candidate[c] (-1 for bins[c] = 0: skipped).
   */
  mseSearch(
    counts: Float64Array,
    stride: number,
    bins: Int32Array,
    grid: Float64Array,
    data: Float64Array,
    symmetric: boolean,
    quantMin: number,
    quantMax: number,
    symmetricZeroPoint: number,
    threshold: Float64Array,
    candidate: Int32Array,
  ): void;
  /** Fake quantization: y and mask (1/0) from x (lib/fakequant.ts). */
  fakeQuant(x: Float32Array, y: Float32Array, mask: Uint8Array, scale: number, zeroPoint: number, qmin: number, qmax: number): void;
  fakeQuantPerChannel(x: Float32Array, y: Float32Array, mask: Uint8Array, scale: Float32Array, zeroPoint: Int32Array, outer: number, channels: number, inner: number, qmin: number, qmax: number): void;
  fakeQuantBackward(gradOut: Float32Array, mask: Uint8Array, out: Float32Array): void;
  /** Learnable (LSQ) backward: writes gradX; sums[0], sums[1] = the gradScale and gradZeroPoint sums (double). */
  lsqBackward(x: Float32Array, gradOut: Float32Array, gradX: Float32Array, scale: number, zeroPoint: number, qmin: number, qmax: number, gradFactor: number, sums: Float64Array): void;
  lsqBackwardPerChannel(x: Float32Array, gradOut: Float32Array, gradX: Float32Array, scale: Float32Array, zeroPoint: Int32Array, outer: number, channels: number, inner: number, qmin: number, qmax: number, gradFactor: number, gradScale: Float64Array, gradZeroPoint: Float64Array): void;
}

/** The names every build exports; test/binding-surface.test.ts checks the addon against this list. */
export const NATIVE_EXPORTS: readonly (keyof NativeBinding)[] = [
  'cpuInfo',
  'setIsa',
  'peakBenchmarks',
  'runPeak',
  'quantize',
  'quantizePerChannel',
  'dequantize',
  'dequantizePerChannel',
  'f32ToF16',
  'f16ToF32',
  'f32ToBf16',
  'bf16ToF32',
  'packB',
  'gemm',
  'gemmAsync',
  'linearDynamic',
  'linearDynamicAsync',
  'setNumThreads',
  'getNumThreads',
  'setMinMicrosPerThread',
  '_setAllocLimit',
  'alignOffset',
  'sgemm',
  'sgemmAsync',
  'minmax',
  'minmaxPerChannel',
  'histogram',
  'histogramPerChannel',
  'entropySearch',
  'mseSearch',
  'fakeQuant',
  'fakeQuantPerChannel',
  'fakeQuantBackward',
  'lsqBackward',
  'lsqBackwardPerChannel',
];

function load(): NativeBinding {
  const root = path.join(__dirname, '..');
  const candidates = [
    process.env.QKERNELS_BINDING,
    path.join(root, 'build', 'Release', 'qkernels.node'),
    path.join(root, 'build', 'Debug', 'qkernels.node'),
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  const failures: string[] = [];
  for (const file of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(file) as NativeBinding;
    } catch (err) {
      failures.push(`  ${file}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(
    'qkernels: could not load the native addon. Tried:\n' +
      failures.join('\n') +
      '\nPossible solutions:\n' +
      '  - build it: `npm install` (or `npx node-gyp rebuild`) in the package directory; this needs python3, make and a C++17 compiler\n' +
      '  - or with CMake: `npm run build:cmake`\n' +
      '  - set QKERNELS_BINDING to the path of a built qkernels.node',
  );
}

export const native: NativeBinding = load();

// QKERNELS_ISA forces a tier at load; an unknown or unavailable tier fails the load with the list of tiers.
const forced = process.env.QKERNELS_ISA;
if (forced !== undefined && forced !== '') {
  try {
    native.setIsa(forced);
  } catch (err) {
    throw new Error(`qkernels: QKERNELS_ISA=${forced} cannot be used: ${(err as Error).message.replace(/^qkernels: /, '')}`);
  }
}
