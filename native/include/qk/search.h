// qkernels: the threshold searches of the histogram calibration methods, entropy (KL divergence) and mse, over
// one histogram (lib/calibrate/search.ts defines them: entropyThreshold and mseThreshold). These do the same
// float64 arithmetic in the same order, with qk::fdlibm_log (the logarithm V8's Math.log computes), so they give
// the TypeScript reference's bits; they are only faster: the entropy search computes each level's term once per
// distinct level span instead of once per candidate, and the mse search evaluates its exact cost only for the
// candidates a cheap bound cannot rule out (native/src/search.cc explains both). Portable C++, no ISA tier: the
// searches read a few thousand counts, not the data.
#pragma once
#include <cstddef>
#include <cstdint>

namespace qk {

// fdlibm's __ieee754_log (e_log.c), the natural logarithm V8 uses for Math.log: the same bits for every input
// (NaN, zero, negative, subnormal, infinite included).
double fdlibm_log(double x);

constexpr size_t kSearchStartBin = 128;  // both searches start at bin 128 (NVIDIA's start_bin)
// The mse search scores its last candidate (max |x|, the minmax range) kMseKeep times its cost, so a clipped range
// wins only when its cost is at most 96.5% of the minmax range's (search.ts MSE_MARGIN).
constexpr double kMseMargin = 0.035;
constexpr double kMseKeep = 1 - kMseMargin;

// entropy_search's result when the memory its prefix sums need (4 float64 arrays of n) cannot be had.
constexpr int64_t kSearchOutOfMemory = -2;

// Entropy threshold of the histogram counts[0 .. n) (integer-valued float64 counts) with `levels` quantized levels
// (entropyThreshold): returns the chosen bin edge index i* in [128, n], -1 when n < 128, or kSearchOutOfMemory. When divergences is
// not null it receives D(i) at divergences[i - 128] (n - 127 entries). memoize = false evaluates every level
// term directly (the reference the memoized search is tested against; same bits).
int64_t entropy_search(const double* counts, size_t n, uint32_t levels, double* divergences, bool memoize = true);

// The quantizer the mse candidates are scored with: a candidate's range [lo, hi] gives scale and zero point by
// PyTorch's observer rule (lib/calibrate/qparams.ts qparamsOf) for quantMin / quantMax, symmetric or affine
// (symmetric zero point sym_zero_point).
struct MseQuantizer {
  bool symmetric;
  int32_t qmin, qmax, sym_zero_point;
};

// One histogram for the mse search: bin k covers [anchor + (first + k) * width, ...); max_abs, min, max are the
// observed data's max |x|, min and max (float32 values).
struct MseHistogram {
  const double* counts;
  size_t n;
  double anchor, first, width;
  double max_abs, min, max;
};

struct MseResult {
  double threshold;  // the winning candidate (a float32 value)
  int64_t candidate;  // its index among the candidates
  size_t exact;       // candidates whose exact cost was computed
  bool ok = true;     // false: out of memory (the search's per-bin arrays); nothing else is set
};

// mseThreshold: the first candidate with the least cost (the last candidate's cost times kMseKeep). The fast
// search computes a lower bound of every candidate's cost and the exact cost only where the bound is at most the
// best exact cost found.
MseResult mse_search(const MseHistogram& h, const MseQuantizer& q);
// The same result by computing every candidate's exact cost (costs, when not null, receives them, the last one
// times kMseKeep as the search compares them; there are mse_candidates(h) of them).
MseResult mse_search_exhaustive(const MseHistogram& h, const MseQuantizer& q, double* costs);
size_t mse_candidates(const MseHistogram& h);
// The lower bound mse_search prunes with, for every candidate (for the tests: lb[k] <= the cost costs[k] of
// mse_search_exhaustive).
bool mse_lower_bounds(const MseHistogram& h, const MseQuantizer& q, double* lb);  // false: out of memory

}  // namespace qk
