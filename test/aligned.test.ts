// alignedArray and the GEMM calls' own output arrays: data on a 64-byte boundary (checked through the addon's view
// of the buffer's address), zeroed, the right type and length; results identical to an unaligned `out`.
import t from 'tap';
import { alignedArray, dequantize, fakeQuant, fromBFloat16, fromFloat16, int8Gemm, linearDynamic, packB, quantize, sgemm, toBFloat16, toFloat16 } from '../lib/index';
import { native } from '../lib/native';
import { rng } from './_harness';

/** Whether the array's data starts on a 64-byte boundary. */
function isAligned(v: ArrayBufferView): boolean {
  return (native.alignOffset(v.buffer as ArrayBuffer) - v.byteOffset) % 64 === 0;
}

t.test('alignedArray: type, length, zeroed, 64-byte aligned', async (t) => {
  for (const Ctor of [Int8Array, Uint8Array, Uint16Array, Int32Array, Float32Array] as const) {
    for (const length of [0, 1, 7, 64, 1000, 65537]) {
      const v = alignedArray(Ctor as Int32ArrayConstructor, length);
      t.ok(v instanceof Ctor, `${Ctor.name} ${length}: type`);
      t.equal(v.length, length, `${Ctor.name} ${length}: length`);
      t.ok(isAligned(v), `${Ctor.name} ${length}: aligned`);
      t.ok(v.every((x) => x === 0), `${Ctor.name} ${length}: zeroed`);
      t.ok(v.byteOffset + v.byteLength <= v.buffer.byteLength, `${Ctor.name} ${length}: inside its buffer`);
    }
  }
});

t.test('alignedArray: bad input', async (t) => {
  t.throws(() => alignedArray(Float64Array as unknown as Float32ArrayConstructor, 4), { constructor: TypeError, message: /ctor/ });
  t.throws(() => alignedArray(Int32Array, -1), { constructor: RangeError, message: /length/ });
  t.throws(() => alignedArray(Int32Array, 1.5), { constructor: RangeError, message: /length/ });
  t.throws(() => alignedArray(Int32Array, '4' as unknown as number), { constructor: TypeError, message: /length/ });
  t.throws(() => native.alignOffset(new Uint8Array(4) as unknown as ArrayBuffer), { constructor: TypeError, message: /ArrayBuffer/ });
});

t.test('GEMM outputs of 4 KiB and more are allocated aligned; results equal an unaligned out', async (t) => {
  const r = rng(7);
  const m = 40, n = 70, k = 33;
  const a = Uint8Array.from({ length: m * k }, () => Math.floor(r() * 256));
  const b = Int8Array.from({ length: k * n }, () => Math.floor(r() * 256) - 128);
  const w = packB(b, { k, n });
  // An unaligned out: a view 4 bytes past an aligned one.
  const base = alignedArray(Int32Array, m * n + 1);
  const unaligned = base.subarray(1);
  t.notOk(isAligned(unaligned), 'the reference out is unaligned');
  for (const bb of [b, w]) {
    const c = int8Gemm(a, bb, { m, n, k, aZeroPoint: 5, bZeroPoint: 3 });
    t.ok(isAligned(c), 'int8Gemm output aligned');
    t.equal(c.length, m * n);
    int8Gemm(a, bb, { m, n, k, aZeroPoint: 5, bZeroPoint: 3 }, unaligned);
    t.same([...c], [...unaligned], 'same values as into an unaligned out');
  }
  const f = int8Gemm(a, w, { m, n, k, output: 'float32', aScale: 0.5, bScale: 0.25 });
  t.ok(f instanceof Float32Array && isAligned(f), 'float32 output aligned');
  const x = Float32Array.from({ length: m * k }, () => r() * 2 - 1);
  const y = linearDynamic(x, w, { m, bScale: 0.01 });
  t.ok(isAligned(y), 'linearDynamic output aligned');
  const fa = Float32Array.from({ length: m * k }, () => r());
  const fb = Float32Array.from({ length: k * n }, () => r());
  const s = sgemm(fa, fb, { m, n, k });
  t.ok(isAligned(s), 'sgemm output aligned');
  // Below 4 KiB: a plain array of its own buffer.
  const small = int8Gemm(a.subarray(0, 2 * k), b, { m: 2, n, k });
  t.equal(small.byteOffset, 0);
  t.equal(small.buffer.byteLength, small.byteLength);
});

t.test('the element-wise ops return aligned arrays from 4 KiB (so quantize feeds int8Gemm an aligned A)', async (t) => {
  const x = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i));
  const q8 = quantize(x, { scale: 0.01, zeroPoint: 3, dtype: 'uint8' });
  t.ok(isAligned(q8), 'quantize');
  t.ok(isAligned(dequantize(q8, { scale: 0.01, zeroPoint: 3, dtype: 'uint8' })), 'dequantize');
  t.ok(isAligned(toFloat16(x)) && isAligned(fromFloat16(toFloat16(x))), 'float16');
  t.ok(isAligned(toBFloat16(x)) && isAligned(fromBFloat16(toBFloat16(x))), 'bfloat16');
  const fq = fakeQuant(x, { scale: 0.01, zeroPoint: 0, quantMin: -128, quantMax: 127 });
  t.ok(isAligned(fq.output) && isAligned(fq.mask), 'fakeQuant output and mask');
  // The same values as into a plain array.
  const plain = new Uint8Array(x.length);
  quantize(x, { scale: 0.01, zeroPoint: 3, dtype: 'uint8' }, plain);
  t.same([...q8], [...plain]);
});
