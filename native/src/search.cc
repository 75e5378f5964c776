// qkernels: the entropy and mse threshold searches (qk/search.h), the arithmetic of lib/calibrate/search.ts.
//
// Entropy. D(i) for candidate i sums, over the L levels, qs * log(qs / qc) of the level's bins [j0, j1) (qs their
// count, qc how many are non-empty). That term depends only on the span (j0, j1 - j0), and the spans of all
// candidates are few (j0 < n, j1 - j0 <= ceil(n / L): about 12k distinct ones for 2048 bins and 128 levels,
// against 246k level terms in all), so each term is computed once and looked up afterwards; an empty level's
// term is 0 (adding +0 to the sum, which is never -0, changes nothing, as skipping it does). The sums are formed
// as search.ts forms them (same terms, same order): the same bits, in about 0.35 ms for 2048 bins (3.3-4.6 ms in
// TypeScript).
//
// MSE. The exact cost of a candidate is a sum over the m non-empty bins (O(m) with a division each, for each of
// ~1900 candidates). The same sum grouped by quantization level, sum over levels of
// Q^2 * sum(w) - 2 Q * sum(w v) + sum(w v^2) from prefix sums of w, w v, w v^2, costs O(levels) per candidate, but
// it cancels (the terms are about (Q / s)^2 ~ 2^14 times the result), so it is only an estimate A. Its rounding
// error has a bound E (lower_bound() derives it), and the exact float sum C differs from the real-number cost R
// by at most (m + 5) u R (m non-negative terms), so LB = (A - E) (1 - 2 (m + 8) u) <= C. The search takes U, the
// exact cost of the candidate with the least A (among every 16th candidate and the 32 around the best of them),
// then computes LB for every candidate and the exact cost of each one with LB <= U, in order, keeping the first
// least one. Every other candidate costs more than U, so the winner is the one the
// exhaustive search finds (native/tests/test_kernels.cc checks that, and every bound against its exact cost, on
// random histograms). A candidate's levels are summed the clipped top level first and then upward, and its bound
// stops as soon as the partial sum proves it above U. Typically 1-3 exact costs are computed: about 0.25 ms for
// 2048 bins (13-19 ms in TypeScript). The last candidate (max |x|, the minmax range) is compared by its exact cost
// times kMseKeep (search.ts MSE_MARGIN: a clipped range must be at least 3.5% cheaper to win) and pruned with its
// bound times kMseKeep, which stays below that (rounding is monotone), so all of the above holds for it as well.
#include "qk/search.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "qk/scratch.h"

namespace qk {

// fdlibm 5.3 e_log.c (Sun Microsystems, 1993: "Permission to use, copy, modify, and distribute this software is
// freely granted, provided that this notice is preserved."), as V8 ships it for Math.log (src/base/ieee754.cc).
// log(x) = k ln2 + log(1 + f) with x = 2^k (1 + f), sqrt(2)/2 < 1 + f < sqrt(2), log(1 + f) from s = f / (2 + f)
// and a degree-14 polynomial in s (Remez error < 2^-58.45).
double fdlibm_log(double x) {
  static const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10,
                      two54 = 1.80143985094819840000e+16, Lg1 = 6.666666666666735130e-01,
                      Lg2 = 3.999999999940941908e-01, Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
                      Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01, Lg7 = 1.479819860511658591e-01;
  static const double zero = 0.0;
  uint64_t bits;
  std::memcpy(&bits, &x, 8);
  int32_t hx = static_cast<int32_t>(bits >> 32);
  const uint32_t lx = static_cast<uint32_t>(bits);
  int32_t k = 0;
  if (hx < 0x00100000) {  // x < 2^-1022
    if (((hx & 0x7fffffff) | static_cast<int32_t>(lx)) == 0) return -two54 / zero;  // log(+-0) = -inf
    if (hx < 0) return (x - x) / zero;                                             // log(-#) = NaN
    k -= 54;
    x *= two54;  // subnormal: scale up
    std::memcpy(&bits, &x, 8);
    hx = static_cast<int32_t>(bits >> 32);
  }
  if (hx >= 0x7ff00000) return x + x;
  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  int32_t i = (hx + 0x95f64) & 0x100000;
  const uint64_t nb = (static_cast<uint64_t>(static_cast<uint32_t>(hx | (i ^ 0x3ff00000))) << 32) | (bits & 0xffffffffu);
  std::memcpy(&x, &nb, 8);  // normalize x or x / 2
  k += (i >> 20);
  const double f = x - 1.0;
  double dk, R;
  if ((0x000fffff & (2 + hx)) < 3) {  // -2^-20 <= f < 2^-20
    if (f == zero) {
      if (k == 0) return zero;
      dk = static_cast<double>(k);
      return dk * ln2_hi + dk * ln2_lo;
    }
    R = f * f * (0.5 - 0.33333333333333333 * f);
    if (k == 0) return f - R;
    dk = static_cast<double>(k);
    return dk * ln2_hi - ((R - dk * ln2_lo) - f);
  }
  const double s = f / (2.0 + f);
  dk = static_cast<double>(k);
  const double z = s * s;
  i = hx - 0x6147a;
  const double w = z * z;
  const int32_t j = 0x6b851 - hx;
  const double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
  const double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
  i |= j;
  R = t2 + t1;
  if (i > 0) {
    const double hfsq = 0.5 * f * f;
    if (k == 0) return f - (hfsq - s * (hfsq + R));
    return dk * ln2_hi - ((hfsq - (s * (hfsq + R) + dk * ln2_lo)) - f);
  }
  if (k == 0) return f - s * (f - R);
  return dk * ln2_hi - ((s * (f - R) - dk * ln2_lo) - f);
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kU = 0x1p-53;  // float64 unit roundoff
constexpr size_t kMaxMemo = static_cast<size_t>(1) << 21;  // entropy term table entries (16 MiB) at most

// Round half to even (nearbyint in the default rounding mode, which Math.round plus search.ts's tie fix
// computes) without a libm call: adding and subtracting 2^52 rounds away the fraction. (The sign of a zero result
// may differ from nearbyint's; no result below depends on it.)
inline double round_even(double u) {
  const double big = 0x1p52;
  if (!(std::fabs(u) < big)) return u;
  return u >= 0 ? (u + big) - big : (u - big) + big;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Entropy (search.ts entropyThreshold, step for step)

int64_t entropy_search(const double* counts, size_t n, uint32_t levels, double* divergences, bool memoize) {
  if (n < kSearchStartBin || levels == 0) return -1;
  // Arrays that scale with the histogram, taken without throwing (the addon is built without exceptions, where a
  // failed std::vector allocation aborts the process): out of memory is reported.
  const std::unique_ptr<double[]> b = make_array<double>(n), cum = make_array<double>(n + 1),
                                  nz = make_array<double>(n + 1), plogp = make_array<double>(n + 1);
  if (!b || !cum || !nz || !plogp) return kSearchOutOfMemory;
  std::copy(counts, counts + n, b.get());
  if (n > 1) b[0] = b[1];
  cum[0] = nz[0] = plogp[0] = 0.0;
  for (size_t k = 0; k < n; ++k) {
    const double v = b[k];
    cum[k + 1] = cum[k] + v;
    nz[k + 1] = nz[k] + (v > 0 ? 1.0 : 0.0);
    plogp[k + 1] = plogp[k] + (v > 0 ? v * fdlibm_log(v) : 0.0);
  }
  const double total = cum[n];
  const double logT = fdlibm_log(total);
  const size_t L = levels;
  const bool pow2 = (L & (L - 1)) == 0 && n < (static_cast<size_t>(1) << 40) / L;
  size_t shift = 0;
  while ((static_cast<size_t>(1) << shift) < L) ++shift;
  // memo[j0 * span + len]: the term of the level [j0, j0 + len), NaN until computed. A level spans at most
  // ceil(n / L) bins (one more should the float64 ceiling round up).
  const size_t span = (n + L - 1) / L + 2;
  // Without memory for the table, every term is computed directly (the same bits, only slower).
  std::unique_ptr<double[]> memo;
  if (memoize && n + 1 <= kMaxMemo / span && (memo = make_array<double>((n + 1) * span)))
    std::fill(memo.get(), memo.get() + (n + 1) * span, std::numeric_limits<double>::quiet_NaN());
  // The term of the level [j0, j0 + len): qs log(qs / qc) over its qc non-empty bins holding qs, 0 when it has
  // none (search.ts skips it then; adding +0 to the non-negative sum changes nothing).
  auto term = [&](size_t j0, size_t len) {
    const double qc = nz[j0 + len] - nz[j0];
    const double qs = cum[j0 + len] - cum[j0];
    return qc > 0 ? qs * fdlibm_log(qs / qc) : 0.0;
  };
  // (j0 + len <= n, so j0 * span + len < (n + 1) * span for any len: always inside the table.)
  auto table = [&](size_t j0, size_t len) -> double {
    double& slot = memo[j0 * span + len];
    if (slot != slot) slot = term(j0, len);
    return slot;
  };
  double best = kInf;
  int64_t best_index = -1;
  for (size_t i = kSearchStartBin; i <= n; ++i) {
    const double outliers = total - cum[i];
    const double last = b[i - 1];
    double d;
    if (cum[i] == 0 || (last == 0 && outliers > 0)) {
      d = kInf;
    } else {
      const double pl = last + outliers;
      const double sum_plogp = plogp[i - 1] + (pl > 0 ? pl * fdlibm_log(pl) : 0.0);
      double sum_plogq = 0.0, last_q = 0.0;
      const double step = static_cast<double>(i) / static_cast<double>(L);
      size_t j0 = 0;
      // Level l ends at bin ceil((l + 1) * step) (search.ts computes it in float64; with L a power of two the
      // product is exact, so the integer ceiling of (l + 1) i / L is the same number); the last ends at i.
      auto end = [&](size_t l) -> size_t {
        if (l + 1 >= L) return i;
        if (pow2) return ((l + 1) * i + L - 1) >> shift;
        return static_cast<size_t>(static_cast<int64_t>(std::ceil(static_cast<double>(l + 1) * step)));
      };
      if (memo) {
        // Every level's term from the table, in order (an empty level's term is 0: adding it changes nothing,
        // as skipping it does).
        for (size_t l = 0; l + 1 < L; ++l) {
          const size_t j1 = end(l);
          sum_plogq += table(j0, j1 - j0);
          j0 = j1;
        }
        sum_plogq += table(j0, i - j0);
        // last_q: qs / qc of the first level that ends at i (that may be before the last one when i < L).
        size_t start = j0;
        if (start == i) {
          size_t l = L - 2;
          while (l > 0 && end(l - 1) == i) --l;
          start = l > 0 ? end(l - 1) : 0;
        }
        const double qc = nz[i] - nz[start];
        if (qc > 0) last_q = (cum[i] - cum[start]) / qc;
      } else {
        for (size_t l = 0; l < L; ++l) {
          const size_t j1 = end(l);
          if (j1 <= j0) continue;
          const double qc = nz[j1] - nz[j0];
          if (qc > 0) {
            const double qs = cum[j1] - cum[j0];
            const double q = qs / qc;
            sum_plogq += qs * fdlibm_log(q);
            if (j1 == i) last_q = q;
          }
          j0 = j1;
        }
      }
      if (outliers > 0) sum_plogq += outliers * fdlibm_log(last_q);
      d = (sum_plogp - sum_plogq) / total + fdlibm_log(cum[i]) - logT;
      if (d != d) d = kInf;
    }
    if (divergences) divergences[i - kSearchStartBin] = d;
    if (d <= best) {
      best = d;
      best_index = static_cast<int64_t>(i);
    }
  }
  if (best_index < 0) best_index = static_cast<int64_t>(n);
  return best_index;
}

// ---------------------------------------------------------------------------------------------------------------
// MSE (search.ts mseThreshold)

namespace {

// Math.fround: round to the nearest float32 (overflow to +-Infinity without an out-of-range conversion).
inline double fround(double x) {
  if (std::fabs(x) >= 0x1.ffffffp+127) return std::copysign(kInf, x);
  return static_cast<double>(static_cast<float>(x));
}
// Math.min / Math.max of non-NaN numbers (-0 < +0).
inline double js_min(double a, double b) {
  if (a < b) return a;
  if (b < a) return b;
  return std::signbit(a) ? a : b;
}
inline double js_max(double a, double b) {
  if (a > b) return a;
  if (b > a) return b;
  return std::signbit(a) ? b : a;
}

struct QParams {
  double scale, zero_point;
};

// qparams.ts qparamsOf: PyTorch's observer rule in float32 (each Math.fround is a float32 rounding).
QParams qparams_of(double lo, double hi, const MseQuantizer& q) {
  const double min_neg = js_min(fround(lo), 0.0), max_pos = js_max(fround(hi), 0.0);
  const double qmin = q.qmin, qmax = q.qmax;
  double scale, zp;
  if (q.symmetric) {
    scale = fround(js_max(-min_neg, max_pos) / fround((qmax - qmin) / 2));
    scale = js_max(scale, 0x1p-23);
    zp = q.sym_zero_point;
  } else {
    scale = fround(fround(max_pos - min_neg) / (qmax - qmin));
    scale = js_max(scale, 0x1p-23);
    zp = qmin - std::nearbyint(fround(min_neg / scale));
    zp = std::min(std::max(zp, qmin), qmax);
  }
  return {scale, zp + 0.0};
}

// What every candidate of one histogram shares.
struct MseSetup {
  const MseHistogram& h;
  const MseQuantizer& q;
  size_t candidates = 0;
  std::unique_ptr<double[]> centers, weights;  // the m non-empty bins, in order
  size_t nonempty = 0;                         // m
  // The estimate: every bin's center v[j] (empty ones too), prefix sums p0 (exact), p1 = sum w v, p2 =
  // sum w v^2, and the quantities of the error bound.
  std::unique_ptr<double[]> v, p0, p1, p2;
  double m1 = 0, v0 = 0, vmax = 0, delta = 0, inv_w = 0;
  bool ok = false;  // false: out of memory (nothing else is set up)

  MseSetup(const MseHistogram& hist, const MseQuantizer& quant) : h(hist), q(quant) {
    for (size_t i = kSearchStartBin;; ++i) {
      const double t = (static_cast<double>(i) + 0.5) * h.width;
      if (!(t < h.max_abs)) break;
      ++candidates;
    }
    ++candidates;  // max |x|
    const size_t n = h.n;
    for (size_t j = 0; j < n; ++j) nonempty += h.counts[j] > 0;
    // Zeroed, without throwing (see entropy_search).
    v = make_array<double>(n);
    p0 = make_array<double>(n + 1);
    p1 = make_array<double>(n + 1);
    p2 = make_array<double>(n + 1);
    centers = make_array<double>(nonempty);
    weights = make_array<double>(nonempty);
    if (!v || !p0 || !p1 || !p2 || !centers || !weights) return;
    ok = true;
    size_t m = 0;
    auto edge = [&](size_t k) { return h.anchor + (h.first + static_cast<double>(k)) * h.width; };
    for (size_t j = 0; j < n; ++j) {
      v[j] = (edge(j) + edge(j + 1)) / 2;
      const double w = h.counts[j];
      if (w > 0) {
        centers[m] = v[j];
        weights[m++] = w;
      }
      p0[j + 1] = p0[j] + w;
      p1[j + 1] = p1[j] + w * v[j];
      p2[j + 1] = p2[j] + w * (v[j] * v[j]);
      m1 += w * std::fabs(v[j]);
    }
    if (n > 0) {
      v0 = v[0];
      inv_w = 1.0 / h.width;
      double dev = 0, mag = 0;
      for (size_t j = 0; j < n; ++j) {
        dev = std::max(dev, std::fabs(v[j] - (v0 + static_cast<double>(j) * h.width)));
        mag = std::max(mag, std::fabs(v[j]));
      }
      vmax = mag;
      // |v[j] - (v0 + j w)| <= delta, the rounding of the check itself included.
      delta = dev + 4 * kU * (std::fabs(v0) + static_cast<double>(n) * h.width + mag);
    }
  }

  double candidate(size_t k) const {
    return k + 1 < candidates ? fround((static_cast<double>(kSearchStartBin + k) + 0.5) * h.width) : fround(h.max_abs);
  }
  QParams params(double t) const {
    if (q.symmetric) return qparams_of(-t, t, q);
    return qparams_of(js_max(h.min, -t), js_min(h.max, t), q);
  }

  // The cost candidate k is compared by: its exact cost, the last one's (max |x|, the minmax range) times
  // kMseKeep (+Inf when the scale is not finite).
  double cost(size_t k, const QParams& p) const {
    if (!std::isfinite(p.scale)) return kInf;
    const double c = exact(p);
    return k + 1 < candidates ? c : kMseKeep * c;
  }
  // A lower bound of cost(k, p) (lower_bound() below; the last candidate's times kMseKeep, which keeps it below:
  // rounding is monotone). The last candidate's bound is computed in full (no early stop).
  double bound(size_t k, const QParams& p, double limit, double* estimate) const {
    if (k + 1 < candidates) return lower_bound(p, limit, estimate);
    const double b = kMseKeep * lower_bound(p, kInf, estimate);
    *estimate *= kMseKeep;
    return b;
  }

  // The candidate's exact cost: mseThreshold's loops.
  double exact(const QParams& p) const {
    const double s = p.scale, z = p.zero_point, qmin = q.qmin, qmax = q.qmax, top = (qmax - z) * s;
    const size_t m = nonempty;
    double cost = 0;
    size_t j = 0;
    for (; j < m; ++j) {
      const double c = centers[j];
      double lv = round_even(c / s) + z;
      if (lv >= qmax) break;
      if (lv < qmin) lv = qmin;
      const double e = (lv - z) * s - c;
      cost += weights[j] * (e * e);
    }
    for (; j < m; ++j) {
      const double e = top - centers[j];
      cost += weights[j] * (e * e);
    }
    return cost;
  }

  // Bin j's quantization level, exactly as exact() assigns it.
  double level(size_t j, const QParams& p) const {
    const double lv = round_even(v[j] / p.scale) + p.zero_point;
    return std::min(std::max(lv, static_cast<double>(q.qmin)), static_cast<double>(q.qmax));
  }

  // A lower bound of the candidate's exact cost: the estimate A minus its error bound E, shrunk by the exact sum's
  // own relative error (0 when there is no useful bound). A sums the levels' costs, the clipped top level first,
  // then from the lowest level up; once the partial sum proves the bound above `limit`, it stops and returns
  // +Inf (estimate: the partial sum). estimate receives A.
  double lower_bound(const QParams& p, double limit, double* estimate) const {
    *estimate = kInf;
    const size_t n = h.n;
    const double s = p.scale, z = p.zero_point;
    if (n == 0 || !std::isfinite(s)) return 0;
    const double la = level(0, p), lb = level(n - 1, p);
    // Boundaries are found from the index estimate x = ((lv - z - 1/2) s - v0) / w; a bin lies on the side of x
    // it appears to unless x is within eta of its index, where the exact level decides. eta is 8 times the
    // error bound of x (4u |(lv - z - 1/2) s| + 3u |v0| from computing it, u |v| from the division in level(),
    // delta from the bin centers' distance to v0 + j w), in bins.
    const double qext = (std::max(std::fabs(la - z), std::fabs(lb - z)) + 1) * s;
    const double eta = 8 * (4 * kU * qext + 3 * kU * std::fabs(v0) + kU * vmax + delta) * inv_w * (1 + 8 * kU);
    if (!(eta < 0.25)) return 0;
    // E (see the top of the file): the prefix sums' rounding (n u sum(w |v|) for p1, times 8 max |Q| after
    // summation by parts over each of the two runs of levels summed; n u sum(w v^2) for p2), the products' and
    // the sum's over the levels, with a factor 2 to spare; plus an absolute term for underflow.
    const double Qa = (la - z) * s, Qb = (lb - z) * s;
    const double qbig = std::max(std::fabs(Qa), std::fabs(Qb)) * (1 + 4 * kU);
    const double N = p0[n], m = static_cast<double>(nonempty);
    const double e = 8 * kU * (static_cast<double>(n) + (lb - la + 1) + 16) * (qbig * qbig * N + 8 * qbig * m1 + p2[n]) +
                     1e-300 * (N + 1);
    const double shrink = 1 - 2 * (m + 8) * kU;
    const double stop = limit / shrink + e;  // a partial sum above this proves LB > limit
    const double dn = static_cast<double>(n);
    auto boundary = [&](double lv) -> size_t {  // the first bin whose level is lv or more
      double x = ((lv - z - 0.5) * s - v0) * inv_w;
      x = x < -2 ? -2 : x > dn + 2 ? dn + 2 : x;
      // fl = floor(x) by truncation (x + 4 > 0); should the sum round up to an integer, frac is about 0 or 1
      // and the exact level decides.
      const int64_t fl = static_cast<int64_t>(x + 4.0) - 4;
      const double frac = x - static_cast<double>(fl);
      if (frac > eta && frac < 1 - eta) {
        const int64_t c = fl + 1;
        return c <= 0 ? 0 : c >= static_cast<int64_t>(n) ? n : static_cast<size_t>(c);
      }
      const int64_t r = frac < 0.5 ? fl : fl + 1;
      const size_t j = r <= 0 ? 0 : r >= static_cast<int64_t>(n - 1) ? n - 1 : static_cast<size_t>(r);
      return level(j, p) >= lv ? j : j + 1;
    };
    // The cost of level Q's bins [b, e): sum w (Q - v)^2 from the prefix sums.
    auto cell = [&](double Q, size_t b, size_t e2) {
      return Q * Q * (p0[e2] - p0[b]) - 2 * Q * (p1[e2] - p1[b]) + (p2[e2] - p2[b]);
    };
    const size_t top = lb > la ? boundary(lb) : 0;
    double a = cell(Qb, top, n);
    size_t b = 0;
    for (double lv = la + 1; lv <= lb; lv += 1) {  // level lv - 1 ends where level lv starts
      if (a > stop) {
        *estimate = a;
        return kInf;
      }
      size_t bq = lv < lb ? boundary(lv) : top;
      bq = bq < b ? b : bq > top ? top : bq;
      a += cell((lv - 1 - z) * s, b, bq);
      b = bq;
    }
    *estimate = a;
    if (a > stop) return kInf;
    const double bound = a - e;
    return bound > 0 ? bound * shrink : 0;
  }
};

}  // namespace

size_t mse_candidates(const MseHistogram& h) {
  size_t c = 0;
  for (size_t i = kSearchStartBin;; ++i) {
    const double t = (static_cast<double>(i) + 0.5) * h.width;
    if (!(t < h.max_abs)) break;
    ++c;
  }
  return c + 1;
}

MseResult mse_search_exhaustive(const MseHistogram& h, const MseQuantizer& q, double* costs) {
  const MseSetup st(h, q);
  MseResult res{fround(h.max_abs), -1, 0};
  if (!st.ok) return {0, -1, 0, false};
  double best = kInf;
  for (size_t k = 0; k < st.candidates; ++k) {
    const double t = st.candidate(k);
    const double cost = st.cost(k, st.params(t));
    ++res.exact;
    if (costs) costs[k] = cost;
    if (cost < best) {
      best = cost;
      res.threshold = t;
      res.candidate = static_cast<int64_t>(k);
    }
  }
  return res;
}

bool mse_lower_bounds(const MseHistogram& h, const MseQuantizer& q, double* lb) {
  const MseSetup st(h, q);
  if (!st.ok) return false;
  for (size_t k = 0; k < st.candidates; ++k) {
    double a;
    lb[k] = st.bound(k, st.params(st.candidate(k)), kInf, &a);
  }
  return true;
}

MseResult mse_search(const MseHistogram& h, const MseQuantizer& q) {
  const MseSetup st(h, q);
  if (!st.ok) return {0, -1, 0, false};
  MseResult res{fround(h.max_abs), -1, 0};
  const size_t nc = st.candidates;
  // A good first limit U: the exact cost of the candidate with the least estimate among every 16th one and the
  // 32 around the best of those.
  auto least_estimate = [&](size_t from, size_t to, size_t step, size_t best) {
    double best_a = kInf;
    for (size_t k = from; k < to; k += step) {
      double a;
      st.bound(k, st.params(st.candidate(k)), kInf, &a);
      if (a < best_a) {
        best_a = a;
        best = k;
      }
    }
    return best;
  };
  size_t kstar = least_estimate(0, nc, 16, nc - 1);
  kstar = least_estimate(kstar > 16 ? kstar - 16 : 0, std::min(nc, kstar + 17), 1, kstar);
  double best = st.cost(kstar, st.params(st.candidate(kstar)));
  const double limit = best;
  ++res.exact;
  res.threshold = st.candidate(kstar);
  res.candidate = static_cast<int64_t>(kstar);
  if (!(best < kInf)) {  // no finite cost to bound with: every candidate exactly
    best = kInf;
    res = MseResult{fround(h.max_abs), -1, 0};
  }
  // Every candidate whose lower bound does not exceed the limit, exactly, in order; the first least one wins
  // (a candidate before kstar with kstar's cost replaces it).
  for (size_t k = 0; k < nc; ++k) {
    if (k == kstar && best < kInf) continue;
    const double t = st.candidate(k);
    const QParams p = st.params(t);
    double a;
    if (best < kInf && st.bound(k, p, limit, &a) > limit) continue;
    const double cost = st.cost(k, p);
    ++res.exact;
    if (cost < best || (cost == best && static_cast<int64_t>(k) < res.candidate)) {
      best = cost;
      res.threshold = t;
      res.candidate = static_cast<int64_t>(k);
    }
  }
  return res;
}

}  // namespace qk
