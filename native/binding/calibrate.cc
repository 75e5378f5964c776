// qkernels binding: the reductions behind calibration (lib/calibrate/).
//
// minmax(x: Float32Array, out: Float64Array)                          out[0..2] = min, max, NaN count
// minmaxPerChannel(x, outer, channels, inner, min: Float32Array, max: Float32Array) -> NaN count
// histogram(x: Float32Array, lo, scale, abs: boolean, counts: Float64Array) -> NaN count
//   adds the histogram of x (|x| when abs) into counts (bins = counts.length), bin = qk::ref::hist_bin with lo and
//   scale rounded to float32.
// histogramPerChannel(x, outer, channels, inner, lo: Float32Array, scale: Float32Array, bins: Uint32Array, stride,
//                     abs, counts: Uint32Array) -> NaN count
//   adds channel c's histogram (grid lo[c], scale[c], bins[c] <= stride) into counts[c * stride ...]
//   (channels * stride entries); the caller keeps the uint32 counts from overflowing (lib/calibrate/histogram.ts
//   flushes them into float64 counts).
// entropySearch(counts: Float64Array, stride, bins: Int32Array, levels: Int32Array, index: Int32Array,
//               divergences: Float64Array | null)
// mseSearch(counts, stride, bins, grid: Float64Array, data: Float64Array, symmetric, quantMin, quantMax,
//           symmetricZeroPoint, threshold: Float64Array, candidate: Int32Array)
//   the threshold searches (qk/search.h) of every histogram c (bins[c] counts at counts[c * stride ...]; 0: none),
//   split over the thread pool by histogram.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <string>
#include <memory>

#include "binding/args.h"
#include "binding/bindings.h"
#include "binding/worker.h"
#include "qk/dispatch.h"
#include "qk/reduce.h"
#include "qk/scratch.h"
#include "qk/search.h"
#include "qk/threads.h"

namespace qkb {
namespace {

// Histogram chunks stay below 2^32 elements, so the kernel's uint32 counts cannot overflow.
constexpr size_t kHistChunk = static_cast<size_t>(1) << 30;

Napi::Value MinMax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View x, out;
  if (!typed(info, 0, "x", napi_float32_array, &x) || !typed(info, 1, "out", napi_float64_array, &out))
    return env.Undefined();
  if (out.length < 3) {
    throw_range(env, "out must have at least 3 elements");
    return env.Undefined();
  }
  float mn, mx;
  const size_t nans = qk::active().minmax(static_cast<const float*>(x.data), x.length, &mn, &mx);
  double* o = static_cast<double*>(out.data);
  o[0] = mn;
  o[1] = mx;
  o[2] = static_cast<double>(nans);
  return env.Undefined();
}

Napi::Value MinMaxPerChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View x, mn, mx;
  int64_t o, c, in;
  const int64_t max = static_cast<int64_t>(1) << 53;
  if (!typed(info, 0, "x", napi_float32_array, &x) || !integer(info, 1, "outer", 0, max, &o) ||
      !integer(info, 2, "channels", 1, max, &c) || !integer(info, 3, "inner", 0, max, &in) ||
      !typed(info, 4, "min", napi_float32_array, &mn) || !typed(info, 5, "max", napi_float32_array, &mx))
    return env.Undefined();
  const uint64_t uo = static_cast<uint64_t>(o), uc = static_cast<uint64_t>(c), ui = static_cast<uint64_t>(in);
  const size_t n = x.length;
  bool ok;
  if (uo == 0 || ui == 0) ok = n == 0;
  else ok = uc <= n / uo && ui <= n / (uo * uc) && uo * uc * ui == n;
  if (!ok) {
    throw_range(env, "outer * channels * inner must equal the input length " + std::to_string(n));
    return env.Undefined();
  }
  if (!same_length(info, "min", mn.length, uc) || !same_length(info, "max", mx.length, uc)) return env.Undefined();
  const size_t nans = qk::active().minmax_channels(static_cast<const float*>(x.data), uo, uc, ui,
                                                   static_cast<float*>(mn.data), static_cast<float*>(mx.data));
  return Napi::Number::New(env, static_cast<double>(nans));
}

Napi::Value Histogram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View x, counts;
  double lo_d, scale_d;
  if (!typed(info, 0, "x", napi_float32_array, &x) || !number(info, 1, "lo", &lo_d) ||
      !number(info, 2, "scale", &scale_d) || !typed(info, 4, "counts", napi_float64_array, &counts))
    return env.Undefined();
  if (!info[3].IsBoolean()) {
    throw_type(env, "abs must be a boolean");
    return env.Undefined();
  }
  const bool abs = info[3].As<Napi::Boolean>().Value();
  const float lo = static_cast<float>(lo_d), scale = static_cast<float>(scale_d);
  if (!std::isfinite(lo)) {
    throw_range(env, "lo must be finite in float32");
    return env.Undefined();
  }
  if (!(scale > 0.0f) || !std::isfinite(scale)) {
    throw_range(env, "scale must be positive and finite in float32");
    return env.Undefined();
  }
  if (counts.length < 1 || counts.length > qk::kMaxHistogramBins) {
    throw_range(env, "counts must have between 1 and " + std::to_string(qk::kMaxHistogramBins) + " elements");
    return env.Undefined();
  }
  const uint32_t bins = static_cast<uint32_t>(counts.length);
  const float* xp = static_cast<const float*>(x.data);
  double* cp = static_cast<double*>(counts.data);
  const qk::Kernels& k = qk::active();
  const std::unique_ptr<uint32_t[]> scratch = qk::make_array<uint32_t>(bins);
  if (!scratch) {
    throw_out_of_memory(env, "histogram");
    return env.Undefined();
  }
  size_t nans = 0;
  for (size_t i = 0; i < x.length; i += kHistChunk) {
    const size_t m = x.length - i < kHistChunk ? x.length - i : kHistChunk;
    std::fill(scratch.get(), scratch.get() + bins, 0u);
    nans += k.histogram(xp + i, m, lo, scale, bins, abs, scratch.get());
    for (uint32_t b = 0; b < bins; ++b) cp[b] += scratch[b];
  }
  return Napi::Number::New(env, static_cast<double>(nans));
}

Napi::Value HistogramPerChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View x, lo, scale, bins, counts;
  size_t outer = 0, channels = 0, inner = 0;  // set by layout() (zeroed: GCC cannot see that it returned true)
  int64_t stride;
  if (!typed(info, 0, "x", napi_float32_array, &x) || !layout(info, 1, x.length, &outer, &channels, &inner) ||
      !typed(info, 4, "lo", napi_float32_array, &lo) || !typed(info, 5, "scale", napi_float32_array, &scale) ||
      !typed(info, 6, "bins", napi_uint32_array, &bins) ||
      !integer(info, 7, "stride", 1, qk::kMaxHistogramBins, &stride) ||
      !typed(info, 9, "counts", napi_uint32_array, &counts))
    return env.Undefined();
  if (!info[8].IsBoolean()) {
    throw_type(env, "abs must be a boolean");
    return env.Undefined();
  }
  const bool abs = info[8].As<Napi::Boolean>().Value();
  if (!same_length(info, "lo", lo.length, channels) || !same_length(info, "scale", scale.length, channels) ||
      !same_length(info, "bins", bins.length, channels))
    return env.Undefined();
  const size_t st = static_cast<size_t>(stride);
  // One call adds at most outer * inner to any count: below 2^32 (the caller flushes between calls).
  if (outer > 0 && inner > (static_cast<size_t>(0xffffffffu) - 1) / outer) {
    throw_range(env, "a channel of one batch must hold fewer than 2^32 - 1 values (uint32 counts)");
    return env.Undefined();
  }
  // channels * stride < 2^32 (the kernels index counts with uint32), checked without overflow.
  if (channels > (static_cast<size_t>(0xffffffffu) - 1) / st || counts.length != channels * st) {
    throw_range(env, "counts must have channels * stride (" + std::to_string(channels) + " * " + std::to_string(st) +
                         ") elements, fewer than 2^32, got " + std::to_string(counts.length));
    return env.Undefined();
  }
  const std::unique_ptr<float[]> lo_c = copy_of<float>(lo, channels), scale_c = copy_of<float>(scale, channels);
  const std::unique_ptr<uint32_t[]> bins_c = copy_of<uint32_t>(bins, channels);
  if (!lo_c || !scale_c || !bins_c) {
    throw_out_of_memory(env, "histogramPerChannel");
    return env.Undefined();
  }
  const float* lp = lo_c.get();
  const float* sp = scale_c.get();
  const uint32_t* bp = bins_c.get();
  for (size_t c = 0; c < channels; ++c) {
    if (!std::isfinite(lp[c])) {
      throw_range(env, "lo[" + std::to_string(c) + "] must be finite");
      return env.Undefined();
    }
    if (!(sp[c] > 0.0f) || !std::isfinite(sp[c])) {
      throw_range(env, "scale[" + std::to_string(c) + "] must be positive and finite");
      return env.Undefined();
    }
    if (bp[c] < 1 || bp[c] > st) {
      throw_range(env, "bins[" + std::to_string(c) + "] must be in [1, stride = " + std::to_string(st) + "], got " +
                           std::to_string(bp[c]));
      return env.Undefined();
    }
  }
  const size_t nans = qk::active().histogram_channels(static_cast<const float*>(x.data), outer, channels, inner, lp,
                                                      sp, bp, st, abs, static_cast<uint32_t*>(counts.data));
  return Napi::Number::New(env, static_cast<double>(nans));
}

// Histogram c of a search: bins[c] counts at counts[c * stride ...] (bins[c] = 0: skipped). bp: a native copy of
// bins (copy_of, binding/args.h).
bool search_histograms(const Napi::CallbackInfo& info, const View& counts, int64_t stride, const int32_t* bp,
                       size_t channels) {
  const size_t st = static_cast<size_t>(stride);
  if (channels > 0 && (channels - 1 > counts.length / (st ? st : 1) || (channels - 1) * st > counts.length))
    return throw_range(info.Env(), "counts must hold bins.length * stride elements");
  for (size_t c = 0; c < channels; ++c)
    if (bp[c] < 0 || static_cast<size_t>(bp[c]) > st || c * st + static_cast<size_t>(bp[c]) > counts.length)
      return throw_range(info.Env(), "bins[" + std::to_string(c) + "] must be in [0, stride] and fit in counts");
  return true;
}

Napi::Value EntropySearch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View counts, bins, levels, index, div;
  int64_t stride;
  if (!typed(info, 0, "counts", napi_float64_array, &counts) ||
      !integer(info, 1, "stride", 0, static_cast<int64_t>(1) << 40, &stride) ||
      !typed(info, 2, "bins", napi_int32_array, &bins) || !typed(info, 3, "levels", napi_int32_array, &levels) ||
      !typed(info, 4, "index", napi_int32_array, &index) ||
      !same_length(info, "levels", levels.length, bins.length) || !same_length(info, "index", index.length, bins.length))
    return env.Undefined();
  const size_t channels = bins.length, st = static_cast<size_t>(stride);
  const std::unique_ptr<int32_t[]> bins_c = copy_of<int32_t>(bins, channels), levels_c = copy_of<int32_t>(levels, channels);
  if (!bins_c || !levels_c) {
    throw_out_of_memory(env, "entropySearch");
    return env.Undefined();
  }
  if (!search_histograms(info, counts, stride, bins_c.get(), channels)) return env.Undefined();
  const size_t per = st > qk::kSearchStartBin ? st - qk::kSearchStartBin + 1 : 1;
  double* dp = nullptr;
  if (!info[5].IsNull()) {
    if (!typed(info, 5, "divergences", napi_float64_array, &div) ||
        !same_count(info, "divergences", div.length, channels, per))
      return env.Undefined();
    dp = static_cast<double*>(div.data);
  }
  const int32_t* lp = levels_c.get();
  // Quantization levels: 256 at most in the API's use; the search's work grows with them, so a bound keeps a
  // crafted call from running for hours.
  constexpr int32_t kMaxLevels = 1 << 16;
  for (size_t c = 0; c < channels; ++c)
    if (lp[c] < 1 || lp[c] > kMaxLevels) {
      throw_range(env, "levels[" + std::to_string(c) + "] must be in [1, " + std::to_string(kMaxLevels) + "]");
      return env.Undefined();
    }
  const double* cp = static_cast<const double*>(counts.data);
  const int32_t* bp = bins_c.get();
  int32_t* ip = static_cast<int32_t*>(index.data);
  std::atomic<bool> oom{false};
  qk::parallel_for(channels, qk::num_threads(), [&](size_t c) {
    const int64_t r = bp[c] == 0 ? -1
                                 : qk::entropy_search(cp + c * st, static_cast<size_t>(bp[c]),
                                                      static_cast<uint32_t>(lp[c]), dp ? dp + c * per : nullptr);
    if (r == qk::kSearchOutOfMemory) oom.store(true, std::memory_order_relaxed);
    ip[c] = static_cast<int32_t>(r);
  });
  if (oom.load()) throw_out_of_memory(env, "entropySearch");
  return env.Undefined();
}

Napi::Value MseSearch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View counts, bins, grid, data, threshold, candidate;
  int64_t stride, qmin, qmax, szp;
  if (!typed(info, 0, "counts", napi_float64_array, &counts) ||
      !integer(info, 1, "stride", 0, static_cast<int64_t>(1) << 40, &stride) ||
      !typed(info, 2, "bins", napi_int32_array, &bins) || !typed(info, 3, "grid", napi_float64_array, &grid) ||
      !typed(info, 4, "data", napi_float64_array, &data) || !integer(info, 6, "quantMin", -128, 255, &qmin) ||
      !integer(info, 7, "quantMax", -128, 255, &qmax) || !integer(info, 8, "symmetricZeroPoint", -128, 255, &szp) ||
      !typed(info, 9, "threshold", napi_float64_array, &threshold) ||
      !typed(info, 10, "candidate", napi_int32_array, &candidate))
    return env.Undefined();
  if (!info[5].IsBoolean()) {
    throw_type(env, "symmetric must be a boolean");
    return env.Undefined();
  }
  const size_t channels = bins.length, st = static_cast<size_t>(stride);
  if (!same_length(info, "grid", grid.length, 3 * channels) || !same_length(info, "data", data.length, 3 * channels) ||
      !same_length(info, "threshold", threshold.length, channels) ||
      !same_length(info, "candidate", candidate.length, channels))
    return env.Undefined();
  if (qmin >= qmax) {
    throw_range(env, "quantMin must be below quantMax");
    return env.Undefined();
  }
  const std::unique_ptr<int32_t[]> bins_c = copy_of<int32_t>(bins, channels);
  const std::unique_ptr<double[]> grid_c = copy_of<double>(grid, 3 * channels), data_c = copy_of<double>(data, 3 * channels);
  if (!bins_c || !grid_c || !data_c) {
    throw_out_of_memory(env, "mseSearch");
    return env.Undefined();
  }
  if (!search_histograms(info, counts, stride, bins_c.get(), channels)) return env.Undefined();
  const double* gp = grid_c.get();
  const double* dp = data_c.get();
  const int32_t* bp = bins_c.get();
  for (size_t c = 0; c < channels; ++c) {
    if (bp[c] == 0) continue;
    const double w = gp[3 * c + 2];
    if (!(w > 0) || !std::isfinite(w) || !std::isfinite(gp[3 * c]) || !std::isfinite(gp[3 * c + 1]) ||
        !std::isfinite(dp[3 * c]) || !std::isfinite(dp[3 * c + 1]) || !std::isfinite(dp[3 * c + 2])) {
      throw_range(env, "the grid and data range of histogram " + std::to_string(c) + " must be finite");
      return env.Undefined();
    }
    // The candidates are the bin edges below max|x| (about max|x| / width of them); their index is an int32.
    if (!(dp[3 * c] / w < 2147483647.0)) {
      throw_range(env, "histogram " + std::to_string(c) + " has too many mse candidates (max|x| / bin width must be "
                       "below 2^31)");
      return env.Undefined();
    }
  }
  const qk::MseQuantizer q{info[5].As<Napi::Boolean>().Value(), static_cast<int32_t>(qmin), static_cast<int32_t>(qmax),
                           static_cast<int32_t>(szp)};
  const double* cp = static_cast<const double*>(counts.data);
  double* tp = static_cast<double*>(threshold.data);
  int32_t* kp = static_cast<int32_t*>(candidate.data);
  std::atomic<bool> oom{false};
  qk::parallel_for(channels, qk::num_threads(), [&](size_t c) {
    if (bp[c] == 0) {
      tp[c] = 0;
      kp[c] = -1;
      return;
    }
    const qk::MseHistogram h{cp + c * st, static_cast<size_t>(bp[c]), gp[3 * c], gp[3 * c + 1], gp[3 * c + 2],
                             dp[3 * c], dp[3 * c + 1], dp[3 * c + 2]};
    const qk::MseResult r = qk::mse_search(h, q);
    if (!r.ok) oom.store(true, std::memory_order_relaxed);
    tp[c] = r.threshold;
    kp[c] = static_cast<int32_t>(r.candidate);
  });
  if (oom.load()) throw_out_of_memory(env, "mseSearch");
  return env.Undefined();
}

}  // namespace

void init_calibrate(Napi::Env env, Napi::Object exports) {
  exports.Set("minmax", Napi::Function::New(env, MinMax, "minmax"));
  exports.Set("minmaxPerChannel", Napi::Function::New(env, MinMaxPerChannel, "minmaxPerChannel"));
  exports.Set("histogram", Napi::Function::New(env, Histogram, "histogram"));
  exports.Set("histogramPerChannel", Napi::Function::New(env, HistogramPerChannel, "histogramPerChannel"));
  exports.Set("entropySearch", Napi::Function::New(env, EntropySearch, "entropySearch"));
  exports.Set("mseSearch", Napi::Function::New(env, MseSearch, "mseSearch"));
}

}  // namespace qkb
