// Typed arrays whose data starts on a 64-byte (cache-line) boundary. A JavaScript ArrayBuffer's memory is only
// 16-byte aligned, and the GEMM kernels then write every row of C across a cache line that the neighbouring tile
// writes too: measured on an AVX-512/AMX Xeon, int8Gemm 256^3-512^3 runs about 20% faster into an aligned output
// (the peers it is compared with, oneDNN and ONNX Runtime, allocate their own aligned outputs), and 5-10% faster
// from an aligned A (tiles and vector loads that straddle two cache lines cost both).
import { native } from './native';
import { requireDim, typeError } from './validate';

/** The typed arrays qkernels reads and writes. */
export type AlignableArray = Int8Array | Uint8Array | Uint16Array | Int32Array | Float32Array;

type Ctor<T extends AlignableArray> = { new (buffer: ArrayBuffer, byteOffset: number, length: number): T; readonly BYTES_PER_ELEMENT: number; readonly name: string };

const CTORS: readonly Ctor<AlignableArray>[] = [Int8Array, Uint8Array, Uint16Array, Int32Array, Float32Array];

/**
 * A zeroed typed array of `length` elements whose data starts on a 64-byte boundary: a view into an ArrayBuffer up
 * to 64 bytes longer (so its `byteOffset` may be non-zero). Pass it as the `out` argument of `int8Gemm`,
 * `linearDynamic`, `sgemm` (or `quantize`, whose output becomes a GEMM's A) when you reuse output arrays; every op
 * does this itself for outputs of 4 KiB and more when no `out` is given.
 * @example
 * const c = alignedArray(Int32Array, m * n)
 * int8Gemm(a, packedW, { m, n, k }, c)
 */
export function alignedArray(ctor: Int8ArrayConstructor, length: number): Int8Array;
export function alignedArray(ctor: Uint8ArrayConstructor, length: number): Uint8Array;
export function alignedArray(ctor: Uint16ArrayConstructor, length: number): Uint16Array;
export function alignedArray(ctor: Int32ArrayConstructor, length: number): Int32Array;
export function alignedArray(ctor: Float32ArrayConstructor, length: number): Float32Array;
export function alignedArray(ctor: unknown, length: unknown): AlignableArray {
  if (!CTORS.includes(ctor as Ctor<AlignableArray>))
    throw typeError('ctor', 'one of Int8Array, Uint8Array, Uint16Array, Int32Array, Float32Array', ctor);
  return aligned(ctor as Ctor<AlignableArray>, requireDim('length', length));
}

function aligned<T extends AlignableArray>(ctor: Ctor<T>, length: number): T {
  const buffer = new ArrayBuffer(length * ctor.BYTES_PER_ELEMENT + 64);
  const offset = native.alignOffset(buffer);
  // The memory of an ArrayBuffer created this way never moves; a (theoretical) offset that is not a multiple of the
  // element size leaves the array unaligned rather than misplaced.
  return new ctor(buffer, offset % ctor.BYTES_PER_ELEMENT === 0 ? offset : 0, length);
}

/** An output array for a call without `out`: 64-byte aligned from 4 KiB (below, alignment gains nothing). */
export function newOutput<T extends AlignableArray>(ctor: Ctor<T>, length: number): T {
  if (length * ctor.BYTES_PER_ELEMENT < 4096) return new ctor(new ArrayBuffer(length * ctor.BYTES_PER_ELEMENT), 0, length);
  return aligned(ctor, length);
}
