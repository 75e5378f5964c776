// Peer: onnxruntime-node's CPU execution provider running a one-node ONNX model (opset 13) built in code by
// onnx-model.mjs: QuantizeLinear, DequantizeLinear (per tensor and per axis) and Cast. Timed through the public
// async API, as a JavaScript user calls it: session.run(feeds) resolves after a setImmediate hop, and the output
// comes back as a new typed array.
import { createRequire } from 'node:module';

import { packageVersion } from '../env.mjs';
import { DataType, encodeModel, singleOpModel } from '../onnx-model.mjs';

const require = createRequire(import.meta.url);

/** @type {any} */
let ort;

const scalarF32 = (name, v) => ({ name, dataType: DataType.FLOAT, dims: [], data: new Float32Array([v]) });
const scalarI8 = (name, v) => ({ name, dataType: DataType.INT8, dims: [], data: new Int8Array([v]) });

/**
 * A runner over a session for `model`, fed `input` (an ort.Tensor) and returning output 'y'.
 * @param {Uint8Array} model
 */
async function sessionRunner(model, input, ctx, extra = {}) {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: ctx.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = { x: input };
  let last;
  return {
    async: true,
    fn: () =>
      session.run(feeds).then((r) => {
        last = r.y;
      }),
    output: () => last.data,
    dispose: () => session.release(),
    ...extra,
  };
}

/**
 * MatMulInteger(x: u8 [m, k], W: s8 [k, n], aZeroPoint, bZeroPoint) -> int32 [m, n], W and the zero points as
 * initializers (constant, so ORT prepacks W at session creation).
 */
function matMulIntegerModel(d, s) {
  return encodeModel({
    nodes: [{ opType: 'MatMulInteger', inputs: ['x', 'W', 'xzp', 'wzp'], outputs: ['y'] }],
    inputs: [{ name: 'x', dataType: DataType.UINT8, shape: [s.m, s.k] }],
    outputs: [{ name: 'y', dataType: DataType.INT32, shape: [s.m, s.n] }],
    initializers: [
      { name: 'W', dataType: DataType.INT8, dims: [s.k, s.n], data: d.b },
      { name: 'xzp', dataType: DataType.UINT8, dims: [], data: Uint8Array.of(d.aZeroPoint) },
      { name: 'wzp', dataType: DataType.INT8, dims: [], data: Int8Array.of(d.bZeroPoint) },
    ],
  });
}

/**
 * The dynamic-quantization linear layer as ONNX builds it (what ORT's quantize_dynamic emits and its optimizer
 * fuses into DynamicQuantizeMatMul): DynamicQuantizeLinear(x) -> MatMulInteger(xq, W, xzp) -> Cast -> * (xs *
 * wScale) -> + bias. DynamicQuantizeLinear uses one scale for the whole x; linearDynamic one per row, so the
 * outputs agree to quantization error only (exactly the same definition at m = 1).
 */
function dynamicLinearModel(d, s) {
  return encodeModel({
    nodes: [
      { opType: 'DynamicQuantizeLinear', inputs: ['x'], outputs: ['xq', 'xs', 'xzp'] },
      { opType: 'MatMulInteger', inputs: ['xq', 'W', 'xzp'], outputs: ['yi'] },
      { opType: 'Cast', inputs: ['yi'], outputs: ['yf'], attributes: { to: DataType.FLOAT } },
      { opType: 'Mul', inputs: ['xs', 'ws'], outputs: ['sc'] },
      { opType: 'Mul', inputs: ['yf', 'sc'], outputs: ['y0'] },
      { opType: 'Add', inputs: ['y0', 'bias'], outputs: ['y'] },
    ],
    inputs: [{ name: 'x', dataType: DataType.FLOAT, shape: [s.m, s.k] }],
    outputs: [{ name: 'y', dataType: DataType.FLOAT, shape: [s.m, s.n] }],
    initializers: [
      { name: 'W', dataType: DataType.INT8, dims: [s.k, s.n], data: d.w },
      { name: 'ws', dataType: DataType.FLOAT, dims: [s.n], data: d.bScale },
      { name: 'bias', dataType: DataType.FLOAT, dims: [s.n], data: d.bias },
    ],
  });
}

function quantizeModel(dims, scale, zp, axis) {
  const perAxis = typeof scale !== 'number';
  return singleOpModel({
    opType: 'QuantizeLinear',
    inType: DataType.FLOAT,
    outType: DataType.INT8,
    shape: dims,
    attributes: perAxis ? { axis } : undefined,
    initializers: perAxis
      ? [
          { name: 'scale', dataType: DataType.FLOAT, dims: [scale.length], data: scale },
          { name: 'zero_point', dataType: DataType.INT8, dims: [zp.length], data: Int8Array.from(zp) },
        ]
      : [scalarF32('scale', scale), scalarI8('zero_point', zp)],
  });
}

function dequantizeModel(dims, scale, zp, axis) {
  const perAxis = typeof scale !== 'number';
  return singleOpModel({
    opType: 'DequantizeLinear',
    inType: DataType.INT8,
    outType: DataType.FLOAT,
    shape: dims,
    attributes: perAxis ? { axis } : undefined,
    initializers: perAxis
      ? [
          { name: 'scale', dataType: DataType.FLOAT, dims: [scale.length], data: scale },
          { name: 'zero_point', dataType: DataType.INT8, dims: [zp.length], data: Int8Array.from(zp) },
        ]
      : [scalarF32('scale', scale), scalarI8('zero_point', zp)],
  });
}

const SATURATION =
  "onnxruntime's u8 x s8 kernels on AVX2 without VNNI (vpmaddubsw) saturate the int16 sum of each pair of products, " +
  'so full-range int8 weights give inexact sums (ORT documents reduce_range / 7-bit weights for this)';

/**
 * Whether ORT's MatMulInteger is exact on the same shape (up to 64 rows) with the weights clamped to 7 bits
 * ([-64, 63]), where no pair of u8 x s8 products can saturate int16: tells a saturation difference from a bug.
 */
async function sevenBitCheck(d, s, ctx) {
  const q = require('../../dist/index.js');
  const m = Math.min(s.m, 64);
  const b = d.b.map((v) => Math.max(-64, Math.min(63, v)));
  const a = d.a.subarray(0, m * s.k);
  const sub = { ...s, m };
  const session = await ort.InferenceSession.create(matMulIntegerModel({ ...d, b }, sub), { intraOpNumThreads: ctx.threads });
  try {
    const y = (await session.run({ x: new ort.Tensor('uint8', a, [m, s.k]) })).y.data;
    const ref = q.int8Gemm(a, b, { m, n: s.n, k: s.k, aZeroPoint: d.aZeroPoint, bZeroPoint: d.bZeroPoint });
    const exact = ref.every((v, i) => v === y[i]);
    return exact
      ? { short: 'ORT u8 x s8 int16 saturation', note: `${SATURATION}; with 7-bit weights ORT's output is identical (checked on ${m} rows)` }
      : { short: 'differs even with 7-bit weights', note: `ORT's output differs even with 7-bit weights (checked on ${m} rows)` };
  } finally {
    await session.release();
  }
}

const castModel = (dims, from, to) =>
  singleOpModel({ opType: 'Cast', inType: from, outType: to, shape: dims, attributes: { to } });

/** @type {import('./index.mjs').Contender} */
export default {
  id: 'onnxruntime',
  kind: 'peer',
  label: () => 'onnxruntime-node',
  description: 'onnxruntime-node (CPU EP), one-node opset-13 models built in code; async session.run()',
  async load() {
    ort = require('onnxruntime-node');
    return { version: packageVersion('onnxruntime-node') };
  },
  unsupported: {
    toBFloat16: 'onnxruntime-node has no bfloat16 tensor type in JavaScript',
    fromBFloat16: 'onnxruntime-node has no bfloat16 tensor type in JavaScript',
  },
  ops: {
    'gemm-s32': async (d, _out, _v, s, ctx) =>
      sessionRunner(matMulIntegerModel(d, s), new ort.Tensor('uint8', d.a, [s.m, s.k]), ctx, {
        explain: await sevenBitCheck(d, s, ctx),
      }),
    linearDynamic: (d, _out, _v, s, ctx) =>
      sessionRunner(dynamicLinearModel(d, s), new ort.Tensor('float32', d.x, [s.m, s.k]), ctx, {
        compare: 0.02,
        explain: { short: 'ORT u8 x s8 int16 saturation', note: SATURATION },
      }),
    quantize: (d, _out, _v, s, ctx) =>
      sessionRunner(quantizeModel(s.dims, d.scale, d.zeroPoint), new ort.Tensor('float32', d.x, s.dims), ctx),
    'quantize-per-channel': (d, _out, _v, _s, ctx) =>
      sessionRunner(quantizeModel(d.dims, d.scales, d.zeroPoints, d.axis), new ort.Tensor('float32', d.x, d.dims), ctx),
    dequantize: (d, _out, _v, s, ctx) =>
      sessionRunner(dequantizeModel(s.dims, d.scale, d.zeroPoint), new ort.Tensor('int8', d.q, s.dims), ctx),
    'dequantize-per-channel': (d, _out, _v, _s, ctx) =>
      sessionRunner(dequantizeModel(d.dims, d.scales, d.zeroPoints, d.axis), new ort.Tensor('int8', d.q, d.dims), ctx),
    toFloat16: (d, _out, _v, s, ctx) =>
      sessionRunner(castModel(s.dims, DataType.FLOAT, DataType.FLOAT16), new ort.Tensor('float32', d.x, s.dims), ctx),
    fromFloat16: (d, _out, _v, s, ctx) =>
      sessionRunner(castModel(s.dims, DataType.FLOAT16, DataType.FLOAT), new ort.Tensor('float16', d.h, s.dims), ctx),
  },
};
