// Post-training quantization of one linear layer, end to end:
//   1. calibrate the activation range on a few batches (entropy method),
//   2. quantize the weights per output channel (symmetric int8),
//   3. run the layer as an INT8 GEMM with a fused float32 output (scales, zero point and bias folded in),
//   4. compare with the float32 layer (sgemm) and with linearDynamic (per-row dynamic quantization).
// Run: node examples/ptq-linear.mjs
import { calibrate, quantize, packB, int8Gemm, linearDynamic, sgemm, cpuInfo } from 'qkernels';

const IN = 512, OUT = 256, ROWS = 64;

// A deterministic PRNG and a normal sampler.
let seed = 42;
const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());

// A float layer y = x W^T + b with PyTorch's weight layout (OUT x IN), and ReLU-like activations with a long tail.
const W = Float32Array.from({ length: OUT * IN }, () => normal() * 0.05);
const bias = Float32Array.from({ length: OUT }, () => normal() * 0.1);
const activations = () => Float32Array.from({ length: ROWS * IN }, () => Math.max(0, normal()) ** 1.5);

// 1. Activation range from calibration batches.
const batches = Array.from({ length: 8 }, activations);
const act = calibrate(batches, { method: 'entropy', dtype: 'uint8' });
console.log(`activations: range [${act.min.toFixed(3)}, ${act.max.toFixed(3)}], scale ${act.scale.toExponential(3)}, zero point ${act.zeroPoint}`);

// 2. Weights: per output channel (axis 0 of OUT x IN), symmetric int8.
const wq = calibrate(W, { axis: 0, shape: [OUT, IN], symmetric: true });
const Wq = quantize(W, wq);
const packed = packB(Wq, { k: IN, n: OUT, transB: true });

// 3. One new batch through the quantized layer: quantize x, INT8 GEMM, float32 out.
const x = activations();
const xq = quantize(x, act);
const yq = int8Gemm(xq, packed, {
  m: ROWS, n: OUT, k: IN,
  aZeroPoint: act.zeroPoint, output: 'float32', aScale: act.scale, bScale: wq.scale, bias,
});

// 4. The float32 reference and the dynamic-quantization layer.
const yf = sgemm(x, W, { m: ROWS, n: OUT, k: IN, transB: true });
for (let i = 0; i < ROWS; i++) for (let j = 0; j < OUT; j++) yf[i * OUT + j] += bias[j];
const yd = linearDynamic(x, packed, { m: ROWS, bScale: wq.scale, bias });

const relErr = (y) => {
  let num = 0, den = 0;
  for (let i = 0; i < y.length; i++) (num += (y[i] - yf[i]) ** 2), (den += yf[i] ** 2);
  return Math.sqrt(num / den);
};
console.log(`tier ${cpuInfo().isa}: relative error vs float32, static int8 ${(100 * relErr(yq)).toFixed(2)}%, dynamic int8 ${(100 * relErr(yd)).toFixed(2)}%`);
