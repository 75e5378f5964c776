// A whole MLP in int8, end to end (static post-training quantization, as ONNX's QLinearMatMul chains or PyTorch's
// static quantization run it):
//   1. calibrate every layer's input activations on a few float32 batches (a Calibrator per layer, minmax, uint8);
//   2. quantize each weight matrix per output channel (symmetric int8) and pack it once;
//   3. run a new batch with the activations in uint8 from the input to the last layer: each hidden layer is one
//      int8Gemm whose output is requantized straight to the next layer's uint8 scale and zero point (bias and
//      ReLU fused), and the last one dequantizes to float32 logits;
//   4. compare with the float32 network (sgemm): logits' relative error, and how often the top class agrees.
// Run: node examples/int8-mlp.mjs
import { Calibrator, calibrate, quantize, packB, int8Gemm, sgemm, cpuInfo } from 'qkernels';

const SIZES = [256, 512, 512, 256, 10], BATCH = 256;

let seed = 1234;
const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());

// The float network: He-initialized weights in PyTorch's layout (out x in), small biases.
const layers = SIZES.slice(1).map((out, l) => ({
  inp: SIZES[l], out,
  W: Float32Array.from({ length: out * SIZES[l] }, () => normal() * Math.sqrt(2 / SIZES[l])),
  b: Float32Array.from({ length: out }, () => normal() * 0.05),
}));
const inputs = () => Float32Array.from({ length: BATCH * SIZES[0] }, () => normal());

// Float32 forward; onInput(l, x) sees each layer's input (for calibration).
function forwardFloat(x, onInput = () => {}) {
  layers.forEach((L, l) => {
    onInput(l, x);
    const y = sgemm(x, L.W, { m: BATCH, n: L.out, k: L.inp, transB: true });
    for (let i = 0; i < BATCH; i++)
      for (let j = 0; j < L.out; j++) {
        const v = y[i * L.out + j] + L.b[j];
        y[i * L.out + j] = l < layers.length - 1 ? Math.max(v, 0) : v;
      }
    x = y;
  });
  return x;
}

// 1. Activation ranges: the network's input and every hidden layer's ReLU output, over 8 calibration batches
// (minmax, PyTorch's default observer; 'entropy' or 'mse' clip outliers and do slightly better here).
const observers = layers.map(() => new Calibrator({ method: 'minmax', dtype: 'uint8' }));
for (let c = 0; c < 8; c++) forwardFloat(inputs(), (l, x) => observers[l].observe(x));
const act = observers.map((o) => o.compute());

// 2. Weights: symmetric int8 per output channel, packed once for every call.
const qlayers = layers.map((L, l) => {
  const wp = calibrate(L.W, { axis: 0, shape: [L.out, L.inp], symmetric: true });
  return { ...L, wScale: wp.scale, packed: packB(quantize(L.W, wp), { k: L.inp, n: L.out, transB: true }), act: act[l] };
});

// 3. The int8 network: uint8 activations from the first layer's input to the last layer's output.
function forwardInt8(x) {
  let q = quantize(x, qlayers[0].act);
  for (let l = 0; l < qlayers.length; l++) {
    const L = qlayers[l];
    const common = { m: BATCH, n: L.out, k: L.inp, aZeroPoint: L.act.zeroPoint, aScale: L.act.scale, bScale: L.wScale, bias: L.b };
    if (l + 1 < qlayers.length) {
      const next = qlayers[l + 1].act; // requantize straight into the next layer's input scale
      q = int8Gemm(q, L.packed, { ...common, output: 'uint8', outScale: next.scale, outZeroPoint: next.zeroPoint, relu: true });
    } else {
      return int8Gemm(q, L.packed, { ...common, output: 'float32' });
    }
  }
}

// 4. A new batch through both.
const x = inputs();
const yf = forwardFloat(x), yq = forwardInt8(x);
let num = 0, den = 0, agree = 0;
for (let i = 0; i < yf.length; i++) (num += (yq[i] - yf[i]) ** 2), (den += yf[i] ** 2);
const classes = SIZES.at(-1);
const argmax = (y, i) => {
  let best = 0;
  for (let j = 1; j < classes; j++) if (y[i * classes + j] > y[i * classes + best]) best = j;
  return best;
};
for (let i = 0; i < BATCH; i++) agree += argmax(yf, i) === argmax(yq, i) ? 1 : 0;

// Time per batch: the int8 network (with the input's quantization) against the float32 network's matrix products
// alone (its bias and ReLU, a JS loop here, left out).
const time = (fn) => {
  for (let i = 0; i < 5; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 50; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 50 / 1e3;
};
const hidden = layers.map((L) => new Float32Array(BATCH * L.inp).fill(0.5)); // any layer-sized inputs
const sgemmOnly = () => layers.forEach((L, l) => sgemm(hidden[l], L.W, { m: BATCH, n: L.out, k: L.inp, transB: true }));
const ts = time(sgemmOnly), tq = time(() => forwardInt8(x));

console.log(`MLP ${SIZES.join('-')}, batch ${BATCH}, tier ${cpuInfo().isa}`);
console.log(`int8 vs float32: logits relative error ${(100 * Math.sqrt(num / den)).toFixed(2)}%, top-1 agreement ${(100 * agree / BATCH).toFixed(1)}%`);
console.log(`time per batch: int8 ${tq.toFixed(0)} us (bias, ReLU and requantization fused), float32 ${ts.toFixed(0)} us in its sgemm calls alone`);
