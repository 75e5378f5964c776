// Quantization-aware training of a small MLP with 4-bit weights, next to post-training quantization:
//   1. train a float32 MLP (2 -> 32 -> 32 -> 2, ReLU) on two interleaved spirals, with sgemm and hand-written backprop;
//   2. PTQ: quantize its weights to 4 bits (per-tensor symmetric, minmax calibration) and measure the accuracy drop;
//   3. QAT: fine-tune with FakeQuantize on every weight (straight-through estimator) and measure again.
// Run: node examples/qat-mlp.mjs
import { sgemm, calibrate, quantize, dequantize, FakeQuantize } from 'qkernels';

let seed = 7;
const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());

// Two interleaved spirals, 400 points each.
const N = 800;
const X = new Float32Array(N * 2), labels = new Uint8Array(N);
for (let i = 0; i < N; i++) {
  const c = i % 2, t = (i >> 1) / (N / 2) * 3 * Math.PI + 0.5;
  const r = t / (3 * Math.PI + 0.5);
  X[2 * i] = r * Math.cos(t + c * Math.PI) + normal() * 0.02;
  X[2 * i + 1] = r * Math.sin(t + c * Math.PI) + normal() * 0.02;
  labels[i] = c;
}

const sizes = [2, 32, 32, 2];
const layers = sizes.slice(1).map((out, l) => {
  const inp = sizes[l];
  return {
    inp, out,
    W: Float32Array.from({ length: out * inp }, () => normal() * Math.sqrt(2 / inp)), // out x inp (PyTorch layout)
    b: new Float32Array(out),
    vW: new Float32Array(out * inp), vb: new Float32Array(out),                       // momentum
  };
});

function transpose(a, rows, cols) {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

// Forward with the given weights; returns every layer's input and output for backprop.
function forward(weights) {
  const acts = [X];
  let h = X;
  layers.forEach((L, l) => {
    const z = sgemm(h, weights[l], { m: N, n: L.out, k: L.inp, transB: true });
    for (let i = 0; i < N; i++) for (let j = 0; j < L.out; j++) {
      const v = z[i * L.out + j] + L.b[j];
      z[i * L.out + j] = l < layers.length - 1 ? Math.max(v, 0) : v;
    }
    acts.push(z);
    h = z;
  });
  return acts;
}

function accuracy(weights) {
  const logits = forward(weights).at(-1);
  let ok = 0;
  for (let i = 0; i < N; i++) ok += (logits[2 * i + 1] > logits[2 * i] ? 1 : 0) === labels[i] ? 1 : 0;
  return ok / N;
}

// One full-batch SGD step (softmax cross-entropy). `fq` (optional) fake-quantizes the weights: the forward uses
// fq.forward(W), and the weight gradient goes back through fq.backward (the straight-through estimator).
function step(lr, fq) {
  const weights = layers.map((L, l) => (fq ? fq[l].forward(L.W) : L.W));
  const acts = forward(weights);
  let grad = new Float32Array(N * 2);
  const logits = acts.at(-1);
  for (let i = 0; i < N; i++) {
    const m = Math.max(logits[2 * i], logits[2 * i + 1]);
    const e0 = Math.exp(logits[2 * i] - m), e1 = Math.exp(logits[2 * i + 1] - m);
    grad[2 * i] = (e0 / (e0 + e1) - (labels[i] === 0 ? 1 : 0)) / N;
    grad[2 * i + 1] = (e1 / (e0 + e1) - (labels[i] === 1 ? 1 : 0)) / N;
  }
  for (let l = layers.length - 1; l >= 0; l--) {
    const L = layers[l];
    if (l < layers.length - 1) for (let i = 0; i < grad.length; i++) if (acts[l + 1][i] <= 0) grad[i] = 0; // ReLU
    // dW = grad^T x input (out x inp); db = column sums; dInput = grad x W (N x inp).
    let dW = sgemm(transpose(grad, N, L.out), acts[l], { m: L.out, n: L.inp, k: N });
    if (fq) dW = fq[l].backward(dW);
    const db = new Float32Array(L.out);
    for (let i = 0; i < N; i++) for (let j = 0; j < L.out; j++) db[j] += grad[i * L.out + j];
    const next = l > 0 ? sgemm(grad, weights[l], { m: N, n: L.inp, k: L.out }) : null;
    for (let i = 0; i < L.W.length; i++) (L.vW[i] = 0.9 * L.vW[i] + dW[i]), (L.W[i] -= lr * L.vW[i]);
    for (let j = 0; j < L.out; j++) (L.vb[j] = 0.9 * L.vb[j] + db[j]), (L.b[j] -= lr * L.vb[j]);
    grad = next;
  }
}

const BITS = { quantMin: -8, quantMax: 7 }; // 4-bit weights

for (let epoch = 0; epoch < 1500; epoch++) step(0.2);
const floatAcc = accuracy(layers.map((L) => L.W));

// PTQ: calibrate each weight tensor (minmax, symmetric), quantize to 4 bits and back.
const ptqWeights = layers.map((L) => {
  const qp = calibrate(L.W, { symmetric: true, ...BITS });
  return dequantize(quantize(L.W, qp), qp);
});
const ptqAcc = accuracy(ptqWeights);

// QAT: fine-tune through fake quantization (the observer tracks each weight's range as it moves).
const fq = layers.map(() => new FakeQuantize({ method: 'minmax', symmetric: true, ...BITS }));
for (let epoch = 0; epoch < 500; epoch++) step(0.05, fq);
fq.forEach((f) => (f.observerEnabled = false));
const qatAcc = accuracy(layers.map((L, l) => fq[l].forward(L.W)));

console.log(`accuracy: float32 ${(100 * floatAcc).toFixed(1)}%, PTQ 4-bit ${(100 * ptqAcc).toFixed(1)}%, QAT 4-bit ${(100 * qatAcc).toFixed(1)}%`);
