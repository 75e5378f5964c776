// Deterministic bench inputs: the same values on every run and machine, so results and the cross-checks between
// contenders are reproducible.

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` float32 values from a standard normal distribution (Box-Muller), like activations or weights. */
export function normalFloats(n, seed = 0x9e3779b9) {
  const rand = prng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rand(); // (0, 1]
    const r = Math.sqrt(-2 * Math.log(u));
    const t = 2 * Math.PI * rand();
    x[i] = r * Math.cos(t);
    if (i + 1 < n) x[i + 1] = r * Math.sin(t);
  }
  return x;
}

const baseCache = new Map();

/** The shared, read-only float32 input of `n` elements (cached: every op at one size reads the same values). */
export function baseInput(n) {
  let x = baseCache.get(n);
  if (!x) {
    x = normalFloats(n);
    baseCache.set(n, x);
  }
  return x;
}

/** Drops cached inputs (between sizes, so a 16M run does not keep every size alive). */
export function clearInputs() {
  baseCache.clear();
}

/**
 * Writes values at `positions` of a copy of `x` whose float32 product with `inv(position)` is exactly k + 0.5,
 * so the bench input exercises round-half-to-even (random floats almost never land on a tie).
 * @param {Float32Array} x
 * @param {number[]} positions
 * @param {(i: number) => number} inv the reciprocal scale (float32) that applies at index i
 * @returns {Float32Array}
 */
export function withTies(x, positions, inv) {
  const y = new Float32Array(x);
  let k = -Math.floor(positions.length / 2);
  for (const i of positions) {
    if (i >= y.length) break;
    const s = inv(i);
    for (let tries = 0; tries < 8; tries++, k++) {
      const v = Math.fround((k + 0.5) / s);
      if (Math.fround(v * s) === k + 0.5) {
        y[i] = v;
        k++;
        break;
      }
    }
  }
  return y;
}

/** `n` consecutive indices from `start`. */
export function range(start, n) {
  return Array.from({ length: n }, (_, i) => start + i);
}

/** A divisor of n close to sqrt(n): the channel count of the [channels, n / channels] per-channel layout. */
export function channelsFor(n) {
  let best = 1;
  for (let c = 1; c * c <= n; c++) if (n % c === 0) best = c;
  return best;
}
