// Threshold searches over a histogram: percentile, entropy (KL divergence) and mse. All in float64; the numpy
// reference implementations in scripts/gen-calibrate-fixtures.py follow these definitions step by step. The
// calibrators run entropyThreshold and mseThreshold natively (native/src/search.cc: the same operations in the same
// order with V8's log, so the same bits, 10x and 50x faster); these are the readable definitions and the tests'
// reference.
//
// The histogram has n bins; bin k covers [edge(k), edge(k + 1)), edge(k) = anchor + (first + k) * width.
import { qparamsOf } from './qparams';
import type { ResolvedOptions } from './options';

export interface HistView {
  counts: Float64Array;
  edge(k: number): number;
  width: number;
}

/**
 * The value below which a fraction of the histogram's mass lies, with counts spread uniformly within each bin.
 * upper: target = p / 100 * total, the first bin k with cum[k] >= target (cum[k] = counts[0] + ... + counts[k]);
 * lower: target = (1 - p / 100) * total, the first bin k with cum[k] > target. The result is
 * edge(k) + width * ((target - cum[k - 1]) / counts[k]). (For p = 100 these are the outer edges of the first and
 * last non-empty bins.)
 */
export function histQuantile(h: HistView, p: number, upper: boolean): number {
  const c = h.counts;
  let total = 0;
  for (let k = 0; k < c.length; k++) total += c[k]!;
  const target = upper ? (p / 100) * total : (1 - p / 100) * total;
  let cum = 0;
  for (let k = 0; k < c.length; k++) {
    const prev = cum;
    cum += c[k]!;
    if (upper ? cum >= target : cum > target) {
      if (c[k] === 0) continue; // only when target <= prev, which minimality rules out; kept for safety
      return h.edge(k) + h.width * ((target - prev) / c[k]!);
    }
  }
  return h.edge(c.length);
}

/**
 * Quantized levels the entropy search maps the positive range onto: half the range ((quantMax - quantMin + 1) / 2,
 * 128 for 8 bits) when the data is signed or the scheme symmetric, the whole range (256) for non-negative data
 * with an affine scheme (NVIDIA's `1 << (num_bits - 1 + int(unsigned))`).
 */
export function entropyLevels(r: Pick<ResolvedOptions, 'symmetric' | 'quantMin' | 'quantMax'>, dataMin: number): number {
  const levels = r.quantMax - r.quantMin + 1;
  return r.symmetric || dataMin < 0 ? Math.floor(levels / 2) : levels;
}

export const START_BIN = 128;

/**
 * TensorRT's entropy calibration as NVIDIA's pytorch-quantization implements it (`_compute_amax_entropy`, stride 1,
 * start_bin 128), over a histogram of |x| with bins b[0..n):
 *
 *   b[0] = b[1] (the zero bin is replaced by its neighbour), T = sum(b)
 *   for i = 128 .. n (inclusive):
 *     P = b[0..i), plus the outliers sum(b[i..n)) added to P[i - 1]
 *     Q: bin j < i belongs to level np.digitize(j, np.linspace(0, i, L + 1)) - 1 (floor(j * L / i) when L is a
 *        power of two); Q[j] = 0 where
 *        b[j] = 0, else the mean of the non-zero b's of its level (without the outliers)
 *     D(i) = KL(P || Q) = sum p log(p / q) over the normalized P, Q (scipy.stats.entropy: 0 where p = 0, +Inf
 *        where p > 0 = q; a NaN (Q all zero) counts as +Inf)
 *   the threshold is edge(i*) for the LAST i* with the smallest D (NVIDIA's `last_argmin`).
 *
 * D(i) is evaluated in O(L) per candidate from prefix sums (cum, non-zero counts and b log b), which is the
 * same sum regrouped by level: D = (sum P log P - sum P log Q) / T + log(sum Q) - log T.
 * Returns the chosen bin index i* and the divergences (index i - 128), or null when n < 128.
 */
export function entropyThreshold(counts: Float64Array, levels: number): { index: number; divergences: Float64Array } | null {
  const n = counts.length;
  if (n < START_BIN) return null;
  const b = Float64Array.from(counts);
  if (n > 1) b[0] = b[1]!;
  const cum = new Float64Array(n + 1); // cum[k] = b[0] + ... + b[k - 1]
  const nz = new Float64Array(n + 1); // non-zero bins among the first k
  const plogp = new Float64Array(n + 1); // sum of b log b over the first k
  for (let k = 0; k < n; k++) {
    const v = b[k]!;
    cum[k + 1] = cum[k]! + v;
    nz[k + 1] = nz[k]! + (v > 0 ? 1 : 0);
    plogp[k + 1] = plogp[k]! + (v > 0 ? v * Math.log(v) : 0);
  }
  const total = cum[n]!;
  const logT = Math.log(total);
  const L = levels;
  const divergences = new Float64Array(n - START_BIN + 1);
  let best = Infinity;
  let bestIndex = -1;
  for (let i = START_BIN; i <= n; i++) {
    const outliers = total - cum[i]!;
    const last = b[i - 1]!;
    let d: number;
    if (cum[i] === 0 || (last === 0 && outliers > 0)) d = Infinity;
    else {
      // sum P log P: the first i - 1 bins as they are, the last one with the outliers.
      const pl = last + outliers;
      const sumPlogP = plogp[i - 1]! + (pl > 0 ? pl * Math.log(pl) : 0);
      // sum P log Q over levels; Q is constant (qs / qc) on the non-zero bins of a level.
      // Level l holds the bins j with space[l] <= j < space[l + 1], space = np.linspace(0, i, L + 1) computed as
      // numpy does (l * (i / L), the last edge exactly i).
      let sumPlogQ = 0;
      let lastQ = 0;
      const step = i / L;
      let j0 = 0;
      for (let l = 0; l < L; l++) {
        const j1 = l + 1 === L ? i : Math.ceil((l + 1) * step);
        if (j1 <= j0) continue;
        const qc = nz[j1]! - nz[j0]!;
        if (qc > 0) {
          const qs = cum[j1]! - cum[j0]!;
          const q = qs / qc;
          sumPlogQ += qs * Math.log(q);
          if (j1 === i) lastQ = q;
        }
        j0 = j1;
      }
      if (outliers > 0) sumPlogQ += outliers * Math.log(lastQ);
      d = (sumPlogP - sumPlogQ) / total + Math.log(cum[i]!) - logT;
      if (Number.isNaN(d)) d = Infinity;
    }
    divergences[i - START_BIN] = d;
    if (d <= best) {
      best = d;
      bestIndex = i;
    }
  }
  if (bestIndex < 0) bestIndex = n; // every divergence infinite: no clipping
  return { index: bestIndex, divergences };
}

/**
 * How much cheaper a clipped range must be for mse to clip: the minmax candidate's cost is scored
 * (1 - MSE_MARGIN) times, so a clipped candidate wins only when its expected error is at most 96.5% of the
 * minmax range's. The cost values the data at its bin centers; with 4-8 bins per quantization step (8-bit affine
 * schemes on 1024-2048 bins) that estimate of one range against another is off by up to a few percent (for a
 * candidate whose step is a whole number k of bins, up to 1/k^2 too low: 4% at 5 bins), and the search picks
 * the candidate whose error happens to favour it. On the tests' data, the histogram rated some clips up to
 * 3.49% cheaper than minmax while the data rated them worse (docs/calibration.md).
 */
export const MSE_MARGIN = 0.035;

/**
 * NVIDIA's `mse` (`_compute_amax_mse`, start_bin 128), generalized to the quantizer qkernels applies. Candidate
 * thresholds: t = (i + 1/2) * width for i = 128, 129, ... while t < max |x| (on a one-shot |x| histogram these are
 * NVIDIA's bin centers from bin 128), then max |x| itself (not in NVIDIA's list), so the minmax range is always a
 * candidate. For a candidate t the quantizer is the one quantize() will apply: scale s and zero point z from the
 * range `rangeOf(float32(t))` by the observer rule, fq(v) = (clamp(rint(v / s) + z, quantMin, quantMax) - z) * s.
 * Its cost is sum over non-empty bins of counts[j] * (fq(c[j]) - c[j])^2 with c[j] = (edge(j) + edge(j + 1)) / 2,
 * summed in bin order (NVIDIA takes the mean over bins: the same minimum); the last candidate's (max |x|, the
 * minmax range) is then multiplied by 1 - MSE_MARGIN. On an |x| histogram (symmetric schemes) the centers are
 * >= 0 and the positive side of the quantizer is scored; on an x histogram (affine schemes) both sides are. The
 * first candidate with the smallest cost wins: a clipped range only when its cost is at most (1 - MSE_MARGIN)
 * times the minmax range's. costs holds the compared values (the last one scaled), minmaxCost the minmax range's
 * cost itself.
 */
export function mseThreshold(
  h: HistView,
  maxAbs: number,
  rangeOf: (t: number) => [number, number],
  r: Pick<ResolvedOptions, 'dtype' | 'symmetric' | 'quantMin' | 'quantMax' | 'customRange'>,
): { threshold: number; costs: Float64Array; minmaxCost: number } {
  const c = h.counts;
  const n = c.length;
  const candidates: number[] = [];
  for (let i = START_BIN; ; i++) {
    const t = (i + 0.5) * h.width;
    if (!(t < maxAbs)) break;
    candidates.push(t);
  }
  candidates.push(maxAbs);
  // Only the non-empty bins contribute.
  let m = 0;
  for (let j = 0; j < n; j++) if (c[j]! > 0) m++;
  const centers = new Float64Array(m);
  const weights = new Float64Array(m);
  for (let j = 0, k = 0; j < n; j++)
    if (c[j]! > 0) {
      centers[k] = (h.edge(j) + h.edge(j + 1)) / 2;
      weights[k++] = c[j]!;
    }
  const costs = new Float64Array(candidates.length);
  const last = candidates.length - 1;
  let minmaxCost = 0;
  let best = Infinity;
  let threshold = Math.fround(maxAbs);
  const qmin = r.quantMin;
  const qmax = r.quantMax;
  for (let k = 0; k < candidates.length; k++) {
    const t = Math.fround(candidates[k]!);
    const [lo, hi] = rangeOf(t);
    const [s, z] = qparamsOf(lo, hi, r);
    const top = (qmax - z) * s;
    let cost = 0;
    let j = 0;
    // Centers increase and rint(v / s) is monotone in v, so once a bin clamps at quantMax every later bin does:
    // from there the error is top - v, the same value the general expression gives for q = quantMax.
    for (; j < m; j++) {
      const v = centers[j]!;
      const u = v / s;
      let q = Math.round(u);
      if (q - u === 0.5 && q % 2 !== 0) q -= 1; // round half to even
      q += z;
      if (q >= qmax) break;
      if (q < qmin) q = qmin;
      const e = (q - z) * s - v;
      cost += weights[j]! * (e * e);
    }
    for (; j < m; j++) {
      const e = top - centers[j]!;
      cost += weights[j]! * (e * e);
    }
    if (k === last) {
      minmaxCost = cost;
      cost *= 1 - MSE_MARGIN;
    }
    costs[k] = cost;
    if (cost < best) {
      best = cost;
      threshold = t;
    }
  }
  return { threshold, costs, minmaxCost };
}
