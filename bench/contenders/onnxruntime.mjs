// Peer: onnxruntime-node's CPU execution provider running a one-node ONNX model (opset 13) built in code by
// onnx-model.mjs: QuantizeLinear, DequantizeLinear (per tensor and per axis) and Cast. Timed through the public
// async API, as a JavaScript user calls it: session.run(feeds) resolves after a setImmediate hop, and the output
// comes back as a new typed array.
import { createRequire } from 'node:module';

import { packageVersion } from '../env.mjs';
import { DataType, singleOpModel } from '../onnx-model.mjs';

const require = createRequire(import.meta.url);

/** @type {any} */
let ort;

const scalarF32 = (name, v) => ({ name, dataType: DataType.FLOAT, dims: [], data: new Float32Array([v]) });
const scalarI8 = (name, v) => ({ name, dataType: DataType.INT8, dims: [], data: new Int8Array([v]) });

/**
 * A runner over a session for `model`, fed `input` (an ort.Tensor) and returning output 'y'.
 * @param {Uint8Array} model
 */
async function sessionRunner(model, input, ctx) {
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
  };
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
