#!/usr/bin/python3
"""Generates the calibration fixtures test/fixtures/calibrate-{torch,hist,hist-channel}.json.

How to run (from the repository root; Debian's interpreter, which has python3-torch and python3-numpy):

    /usr/bin/python3 scripts/gen-calibrate-fixtures.py            # writes the three files
    /usr/bin/python3 scripts/gen-calibrate-fixtures.py --check    # regenerates in memory, fails if they differ

Deterministic (fixed seeds, no threads in any value): rerunning with the same torch and numpy on the same kind of
CPU reproduces the files byte for byte (numpy's float64 log picks a SIMD implementation by CPU, so a recorded
divergence can differ in its last bit elsewhere; the tests compare divergences to 1e-12 and picks exactly).
test/calibrate.test.ts replays every case on every ISA tier the machine offers.

test/fixtures/calibrate-torch.json  (torch.ao.quantization observers, torch 1.13)
  Each case feeds the same float32 batches to a PyTorch observer and to qkernels' Calibrator and records PyTorch's
  min_val / max_val and calculate_qparams(): MinMaxObserver and MovingAverageMinMaxObserver (per tensor, method
  'minmax' / 'movingAverage'), PerChannelMinMaxObserver and MovingAveragePerChannelMinMaxObserver (per channel,
  ch_axis = the case's axis). Schemes: int8 / uint8 x affine / symmetric x reduce_range, custom 4-bit ranges
  (int8 [-8, 7], uint8 [0, 15], also halved by reduce_range), averaging constants 0.01 and 0.25. Data: normal at
  several scales, non-negative, non-positive, tiny (scale floored at eps), all zeros, wide magnitudes, one value.
  Left out: symmetric uint8 with reduce_range (PyTorch's zero point 128 lies outside [0, 127]; qkernels rejects it)
  and NaN / infinity (PyTorch propagates them; qkernels skips NaN and rejects infinities).

test/fixtures/calibrate-hist.json  (numpy reference implementations, below)
  Histogram methods on float32 data stored as float16 (exact in float32): distributions 'normal', 'laplace',
  'relu' (ReLU of a normal times a log-normal: half zeros, a long right tail), 'outliers' (normal with 0.05% of
  values replaced by +/-U(20, 50) and a few NaNs), 'growing' (normal batches scaled 1, 4, 16: the histogram
  doubles its bin width) and 'shifted' (normal batches centred at 0, 5 and -5: the signed histogram grows on both
  sides), 3 batches each; plus 'zeros-first' (an all-zero batch before normal data). Each scenario records the
  final histograms (|x| and x) and, per case (method x options), the expected clipping range, scale and zero
  point, and the near-optimal candidates of the entropy / mse searches (those within 1e-9 relative of the best),
  so a rounding-level tie can be told from a real disagreement.

test/fixtures/calibrate-hist-channel.json  (the same references, per channel)
  Per-channel calibration with the histogram methods: 7 channels, one per distribution ('normal', 'laplace',
  'relu', 'outliers' with 3 NaNs in the middle batch, 'growing', 'shifted', 'zeros-first': all zeros in the first
  batch), 1500 values per channel and batch, 3 batches, in three layouts: axis 0 ([7, 1500], weights), a middle
  axis ([30, 7, 50]) and the last axis ([1500, 7], inner 1); the middle batch has a different leading dimension
  when it is not the axis. Every channel is its own RefHistogram fed that channel's values of each batch, searched
  as a tensor would be; each case records per channel the clipping range, scale, zero point, data range and the
  near-optimal candidates of the entropy / mse searches, and each scenario the channels' 2048-bin histograms.

The reference implementations (ref_* below) follow the definitions documented in lib/calibrate/*.ts:
  histogram  StreamingHistogram: grid anchored at the first range, whole-bin extension, width doubling with
             exact pairwise merges; bin = clamp(floor(float32(float32(v - lo32) * scale32)), 0, n - 1).
  percentile histogram quantile with counts uniform within a bin (upper: first k with cum >= p/100 * T; lower:
             first k with cum > (1 - p/100) * T), capped at the observed range.
  entropy    NVIDIA pytorch-quantization's _compute_amax_entropy transcribed (np.digitize over np.linspace, the
             b[0] = b[1] step, outliers into the last reference bin, scipy.stats.entropy written out in numpy,
             last argmin); NaN divergences count as +Inf.
  mse        NVIDIA's _compute_amax_mse candidates ((i + 1/2) * width from bin 128, NVIDIA's bin centers on a
             one-shot |x| histogram) plus the observed max |x|, each scored with the quantizer qkernels applies
             (PyTorch's rule for the candidate range, round half even), on |x| (symmetric) or x (affine) bins;
             the max |x| candidate (the minmax range) scores 1 - MSE_MARGIN (0.965) times its cost, so a clipped
             range wins only when it is at least 3.5% cheaper.
  qparams    torch's own _calculate_qparams on the chosen range (checked against a float32 numpy transcription).

Array encoding: {"dtype", "shape", "b64"} little-endian raw bytes, as test/fixtures.test.ts decodes them.
"""

import argparse
import base64
import json
import os
import platform
import sys
import warnings

import numpy as np
import torch
from torch.ao.quantization.observer import (
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    PerChannelMinMaxObserver,
)

warnings.filterwarnings("ignore")
torch.set_num_threads(1)

GENERATOR = "scripts/gen-calibrate-fixtures.py"
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")
F32 = np.float32
EPS = float(np.finfo(np.float32).eps)
FLT_MAX = float(np.finfo(np.float32).max)


def enc(a):
    a = np.ascontiguousarray(a)
    dt = a.dtype.newbyteorder("<")
    return {"dtype": a.dtype.name, "shape": list(a.shape), "b64": base64.b64encode(a.astype(dt).tobytes()).decode()}


def header(what):
    return {
        "generator": GENERATOR,
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "description": what,
    }


def f32(v):
    return float(F32(v))


# ------------------------------------------------------------------------------------------------ options

DT = {"int8": torch.qint8, "uint8": torch.quint8}


def qrange(dtype, symmetric, reduce_range, quant_min, quant_max):
    """qkernels' resolved quantized range (PyTorch's calculate_qmin_qmax when both bounds are given)."""
    custom = quant_min is not None or quant_max is not None
    lo, hi = (-128, 127) if dtype == "int8" else (0, 255)
    qmin = lo if quant_min is None else quant_min
    qmax = hi if quant_max is None else quant_max
    if reduce_range:
        if custom:
            qmin, qmax = qmin // 2, qmax // 2
        elif dtype == "int8":
            qmin, qmax = -64, 63
        else:
            qmin, qmax = 0, 127
    return qmin, qmax, custom


def ref_qparams(lo, hi, dtype, symmetric, qmin, qmax, custom):
    """PyTorch's _calculate_qparams in float32 numpy (checked against torch below)."""
    lo, hi = F32(lo), F32(hi)
    min_neg = min(lo, F32(0))
    max_pos = max(hi, F32(0))
    if symmetric:
        s = F32(max(-min_neg, max_pos) / F32((qmax - qmin) / 2))
        s = max(s, F32(EPS))
        z = 0 if dtype == "int8" else ((qmin + qmax) // 2 if custom else 128)
    else:
        s = F32(F32(max_pos - min_neg) / F32(qmax - qmin))
        s = max(s, F32(EPS))
        z = qmin - int(np.rint(F32(min_neg / s)))
        z = min(max(z, qmin), qmax)
    return float(s), int(z)


def torch_qparams(lo, hi, dtype, symmetric, qmin, qmax, custom):
    kw = {"dtype": DT[dtype], "qscheme": torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine}
    if custom:
        kw["quant_min"], kw["quant_max"] = qmin, qmax  # already reduced
    obs = MinMaxObserver(**kw)
    s, z = obs._calculate_qparams(torch.tensor(F32(lo)), torch.tensor(F32(hi)))
    return float(s.item()), int(z.item())


# ------------------------------------------------------------------------------------------------ torch observers


def torch_cases(rng):
    cases = []
    data = {
        "normal": [rng.standard_normal(500) * 0.5, rng.standard_normal(300) * 2.0, rng.standard_normal(200) * 1.2],
        "positive": [np.abs(rng.standard_normal(400)) * 3, np.maximum(rng.standard_normal(400), 0) * 5],
        "negative": [-np.abs(rng.standard_normal(300)) * 0.1, -np.abs(rng.standard_normal(300)) * 0.3],
        "shifted": [rng.standard_normal(300) + 7, rng.standard_normal(300) + 9],
        "tiny": [rng.standard_normal(200) * 1e-9, rng.standard_normal(100) * 3e-9],
        "zeros": [np.zeros(64), np.zeros(32)],
        "wide": [rng.standard_normal(256) * 10.0 ** rng.uniform(-6, 6, 256), rng.uniform(-1e5, 3e4, 128)],
        "one-value": [np.array([0.3])],
        "lopsided": [rng.uniform(-0.01, 10, 400), rng.uniform(-3, 0.02, 100)],
    }
    data = {k: [np.asarray(b, dtype=np.float64).astype(np.float32) for b in v] for k, v in data.items()}
    schemes = []
    for dtype in ("int8", "uint8"):
        for symmetric in (False, True):
            for reduce_range in (False, True):
                if dtype == "uint8" and symmetric and reduce_range:
                    continue
                schemes.append((dtype, symmetric, reduce_range, None, None))
    schemes += [
        ("int8", False, False, -8, 7),
        ("int8", True, False, -8, 7),
        ("uint8", False, False, 0, 15),
        ("uint8", True, False, 0, 15),
        ("int8", False, True, -8, 7),
        ("uint8", False, True, 0, 15),
    ]
    # Per tensor.
    for name, batches in data.items():
        for dtype, symmetric, reduce_range, qmn, qmx in schemes:
            for method, c in (("minmax", None), ("movingAverage", 0.01), ("movingAverage", 0.25)):
                if method == "movingAverage" and name in ("one-value", "zeros") and c == 0.25:
                    continue
                kw = {
                    "dtype": DT[dtype],
                    "qscheme": torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine,
                    "reduce_range": reduce_range,
                }
                if qmn is not None:
                    kw["quant_min"], kw["quant_max"] = qmn, qmx
                obs = MinMaxObserver(**kw) if method == "minmax" else MovingAverageMinMaxObserver(averaging_constant=c, **kw)
                for b in batches:
                    obs(torch.from_numpy(b))
                s, z = obs.calculate_qparams()
                opts = {"method": method, "dtype": dtype, "symmetric": symmetric, "reduceRange": reduce_range}
                if qmn is not None:
                    opts["quantMin"], opts["quantMax"] = qmn, qmx
                if c is not None:
                    opts["averagingConstant"] = c
                qmin, qmax, _ = qrange(dtype, symmetric, reduce_range, qmn, qmx)
                assert (obs.quant_min, obs.quant_max) == (qmin, qmax), (obs.quant_min, obs.quant_max, qmin, qmax)
                cases.append(
                    {
                        "name": f"{method} {name} {dtype} {'sym' if symmetric else 'affine'}"
                        + (" reduce" if reduce_range else "")
                        + (f" [{qmn},{qmx}]" if qmn is not None else "")
                        + (f" c={c}" if c is not None else ""),
                        "data": name,
                        "options": opts,
                        "min": f32(obs.min_val.item()),
                        "max": f32(obs.max_val.item()),
                        "scale": f32(s.item()),
                        "zeroPoint": int(z.item()),
                        "quantMin": qmin,
                        "quantMax": qmax,
                    }
                )
    # Per channel: (shape, axis), three batches each (the middle one with a different leading dimension when the
    # axis is not 0).
    layouts = [((8, 16), 0), ((8, 16), 1), ((4, 6, 5), 1), ((3, 4, 5, 6), 2), ((2, 3, 70), 1), ((2, 100, 3), 1),
               ((5, 3), -1), ((6, 1), 0), ((3, 130), 0), ((40, 17), 1)]
    pc_data = {}
    pc_cases = []
    for li, (shape, axis) in enumerate(layouts):
        shapes = [shape, shape, shape]
        ax = axis % len(shape)
        if ax != 0:
            shapes[1] = (shape[0] + 2,) + shape[1:]
        scales = rng.uniform(0.01, 5, shape[ax])
        offsets = rng.uniform(-1, 1, shape[ax]) * scales
        bs = []
        for sh in shapes:
            x = rng.standard_normal(sh)
            bshape = [1] * len(sh)
            bshape[ax] = sh[ax]
            x = x * scales.reshape(bshape) + offsets.reshape(bshape)
            bs.append(x.astype(np.float32))
        bs[2][(slice(None),) * ax + (0,)] = 0.0  # channel 0 of the last batch all zeros
        key = f"pc{li}"
        pc_data[key] = {"batches": [enc(b.ravel()) for b in bs], "shapes": [list(s) for s in shapes]}
        for dtype, symmetric, reduce_range, qmn, qmx in schemes:
            if symmetric and reduce_range and dtype == "uint8":
                continue
            for method, c in (("minmax", None), ("movingAverage", 0.01), ("movingAverage", 0.25)):
                kw = {
                    "dtype": DT[dtype],
                    "qscheme": torch.per_channel_symmetric if symmetric else torch.per_channel_affine,
                    "reduce_range": reduce_range,
                    "ch_axis": axis,
                }
                if qmn is not None:
                    kw["quant_min"], kw["quant_max"] = qmn, qmx
                obs = (
                    PerChannelMinMaxObserver(**kw)
                    if method == "minmax"
                    else MovingAveragePerChannelMinMaxObserver(averaging_constant=c, **kw)
                )
                for b in bs:
                    obs(torch.from_numpy(b))
                s, z = obs.calculate_qparams()
                opts = {
                    "method": method,
                    "dtype": dtype,
                    "symmetric": symmetric,
                    "reduceRange": reduce_range,
                    "axis": axis,
                    "shape": list(shape),
                }
                if qmn is not None:
                    opts["quantMin"], opts["quantMax"] = qmn, qmx
                if c is not None:
                    opts["averagingConstant"] = c
                qmin, qmax, _ = qrange(dtype, symmetric, reduce_range, qmn, qmx)
                observed = pc_data[key].setdefault("observed", {})
                okey = method + ("" if c is None else f" c={c}")
                mn, mx = obs.min_val.numpy().astype(np.float32), obs.max_val.numpy().astype(np.float32)
                if okey in observed:  # min / max do not depend on the scheme
                    assert observed[okey]["min"] == enc(mn) and observed[okey]["max"] == enc(mx)
                observed[okey] = {"min": enc(mn), "max": enc(mx)}
                pc_cases.append(
                    {
                        "name": f"per-channel {method} {shape}/{axis} {dtype} {'sym' if symmetric else 'affine'}"
                        + (" reduce" if reduce_range else "")
                        + (f" [{qmn},{qmx}]" if qmn is not None else "")
                        + (f" c={c}" if c is not None else ""),
                        "data": key,
                        "observed": okey,
                        "options": opts,
                        "scale": enc(s.numpy().astype(np.float32)),
                        "zeroPoint": enc(z.numpy().astype(np.int32)),
                        "quantMin": qmin,
                        "quantMax": qmax,
                    }
                )
    return {k: [enc(b) for b in v] for k, v in data.items()}, cases, pc_data, pc_cases


# ------------------------------------------------------------------------------------------------ histogram reference

MIN_WIDTH = 2.0**-100


def ref_bin(v, lo32, sc32, n):
    """qk::ref::hist_bin on a float32 array."""
    t = (v - lo32).astype(np.float32) * sc32
    t = t.astype(np.float32)
    t = np.where(t > 0, t, F32(0))
    t = np.where(t < F32(n - 1), t, F32(n - 1))
    return np.trunc(t).astype(np.int64)


class RefHistogram:
    def __init__(self, bins, abs_):
        self.bins, self.abs = bins, abs_
        self.anchor = 0.0
        self.width = 0.0
        self.first = 0
        self.counts = None
        self.pending_value = 0.0
        self.pending_count = 0

    def edge(self, k):
        return self.anchor + (self.first + k) * self.width

    def binning(self):
        lo = min(max(self.edge(0), -FLT_MAX), FLT_MAX)
        return F32(lo), F32(1 / self.width)

    def add(self, x, lo, hi):
        v = x[~np.isnan(x)]
        if self.abs:
            v = np.abs(v)
            lo = 0.0
        count = v.size
        if count == 0:
            return
        if self.counts is None:
            if self.pending_count > 0:
                lo = min(lo, self.pending_value)
                hi = max(hi, self.pending_value)
            if not hi > lo:
                self.pending_value = hi
                self.pending_count += count
                return
            self.anchor = lo
            self.width = max((hi - lo) / self.bins, MIN_WIDTH)
            self.first = 0
            self.counts = np.zeros(self.bins, dtype=np.int64)
            if self.pending_count > 0:
                lo32, sc32 = self.binning()
                self.counts[ref_bin(np.array([self.pending_value], dtype=np.float32), lo32, sc32, self.bins)[0]] += (
                    self.pending_count
                )
                self.pending_count = 0
        else:
            self.grow(lo, hi)
        lo32, sc32 = self.binning()
        n = self.counts.size
        self.counts += np.bincount(ref_bin(v, lo32, sc32, n), minlength=n)

    def grow(self, lo, hi):
        n = self.counts.size
        jlo = int(np.floor((lo - self.anchor) / self.width))
        jhi = int(np.ceil((hi - self.anchor) / self.width))
        if jhi <= jlo:
            jhi = jlo + 1
        start = min(self.first, jlo)
        end = max(self.first + n, jhi)
        if start == self.first and end == self.first + n:
            return
        shift = 0
        while end - start > self.bins:
            start = start // 2  # floor
            end = -((-end) // 2)  # ceil
            shift += 1
        nxt = np.zeros(end - start, dtype=np.int64)
        idx = (self.first + np.arange(n)) // (1 << shift) - start
        np.add.at(nxt, idx, self.counts)
        self.width *= 2.0**shift
        self.first = start
        self.counts = nxt


def ref_quantile(h, p, upper):
    c = h.counts.astype(np.float64)
    total = float(np.sum(h.counts))
    target = (p / 100) * total if upper else (1 - p / 100) * total
    cum = 0.0
    for k in range(c.size):
        prev = cum
        cum += c[k]
        if (cum >= target) if upper else (cum > target):
            if c[k] == 0:
                continue
            return h.edge(k) + h.width * ((target - prev) / c[k])
    return h.edge(c.size)


def scipy_entropy(pk, qk):
    """scipy.stats.entropy(pk, qk) (natural log), written out: sum(rel_entr(pk / sum(pk), qk / sum(qk)))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pk = pk / np.sum(pk)
        qk = qk / np.sum(qk)
        vec = np.where(pk > 0, np.where(qk > 0, pk * np.log(pk / qk), np.inf), np.where(qk >= 0, 0.0, np.inf))
        vec = np.where(np.isnan(pk) | np.isnan(qk), np.nan, vec)
        return float(np.sum(vec))


def ref_entropy(counts, levels, start_bin=128, stride=1):
    """NVIDIA pytorch-quantization's _compute_amax_entropy (calib/histogram.py), vectorized, returning the chosen
    bin index and every divergence."""
    bins = counts.astype(np.float64).copy()  # NVIDIA writes b[0] = b[1] into the histogram itself
    bins[0] = bins[1]
    nbins = levels
    stop = len(bins)
    divergences = []
    for i in range(start_bin, stop + 1, stride):
        space = np.linspace(0, i, num=nbins + 1)
        digitized_space = np.digitize(range(i), space) - 1
        digitized_space[bins[:i] == 0] = -1
        valid = digitized_space != -1
        new_density_counts = np.bincount(digitized_space[valid], weights=bins[:i][valid], minlength=nbins)
        counter = np.bincount(digitized_space[valid], minlength=nbins)
        new_density_counts = np.where(counter > 0, new_density_counts / np.maximum(counter, 1), new_density_counts)
        new_density = np.zeros(i, dtype=np.float64)
        new_density[valid] = new_density_counts[digitized_space[valid]]
        reference_density = np.array(bins[: len(digitized_space)])
        reference_density[-1] += np.sum(bins[i:])
        ent = scipy_entropy(reference_density, new_density)
        divergences.append(np.inf if np.isnan(ent) else ent)
    divergences = np.array(divergences)
    last_argmin = len(divergences) - 1 - np.argmin(divergences[::-1])
    return int(last_argmin * stride + start_bin), divergences


MSE_MARGIN = 0.035  # lib/calibrate/search.ts MSE_MARGIN


def ref_mse(h, max_abs, range_of, q):
    """NVIDIA's _compute_amax_mse generalized (see lib/calibrate/search.ts): candidates (i + 1/2) * width from
    bin 128 while below max |x|, then max |x|; each scored with the quantizer qkernels applies, the last one (the
    minmax range) times 1 - MSE_MARGIN; the first least wins."""
    dtype, symmetric, qmin, qmax, custom = q
    c = h.counts.astype(np.float64)
    n = c.size
    edges = np.array([h.edge(k) for k in range(n + 1)])
    centers = (edges[:-1] + edges[1:]) / 2
    cands = []
    i = 128
    while (i + 0.5) * h.width < max_abs:
        cands.append((i + 0.5) * h.width)
        i += 1
    cands.append(max_abs)
    nzi = np.nonzero(c > 0)[0]
    cv, cc = centers[nzi], c[nzi]
    costs = []
    best, threshold = np.inf, f32(max_abs)
    for t in cands:
        t = f32(t)
        lo, hi = range_of(t)
        s, z = ref_qparams(lo, hi, dtype, symmetric, qmin, qmax, custom)
        qv = np.clip(np.rint(cv / s) + z, qmin, qmax)
        e = (qv - z) * s - cv
        terms = cc * (e * e)
        cost = float(np.cumsum(terms)[-1]) if terms.size else 0.0  # sequential sum, in bin order
        if len(costs) == len(cands) - 1:
            cost *= 1 - MSE_MARGIN
        costs.append(cost)
        if cost < best:
            best, threshold = cost, t
    return threshold, np.array(costs)


def near_best(values, first_index, pick_last):
    """(candidate index, value) pairs within 1e-9 relative of the best finite value."""
    v = np.asarray(values)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return []
    best = finite.min()
    tol = 1e-9 * max(abs(best), 1e-300)
    return [[int(i + first_index), float(v[i])] for i in np.nonzero(np.abs(v - best) <= tol)[0]]


def levels_of(symmetric, qmin, qmax, data_min):
    n = qmax - qmin + 1
    return n // 2 if (symmetric or data_min < 0) else n


def hist_cases(rng):
    n = 5000

    def normal(k, s=1.0, mu=0.0):
        return rng.standard_normal(k) * s + mu

    def laplace(k):
        return rng.laplace(0.0, 1.0, k)

    def relu(k):
        return np.maximum(rng.standard_normal(k), 0) * np.exp(0.75 * rng.standard_normal(k))

    def outliers(k):
        x = rng.standard_normal(k)
        m = rng.random(k) < 0.0005
        x[m] = rng.uniform(20, 50, m.sum()) * rng.choice([-1.0, 1.0], m.sum())
        return x

    scen = {
        "normal": [normal(n), normal(n), normal(n)],
        "laplace": [laplace(n), laplace(n), laplace(n)],
        "relu": [relu(n), relu(n), relu(n)],
        "outliers": [outliers(n), outliers(n), outliers(n)],
        "growing": [normal(n), normal(n, 4.0), normal(n, 16.0)],
        "shifted": [normal(n), normal(n, 1.0, 5.0), normal(n, 2.0, -5.0)],
        "zeros-first": [np.zeros(2000), normal(n)],
    }
    # float16 values, so the fixture stores 2 bytes per value; every one is exact in float32.
    scen = {k: [np.asarray(b).astype(np.float16) for b in v] for k, v in scen.items()}
    nan16 = np.float16(np.nan)
    scen["outliers"][1][[5, 77, 1234]] = nan16

    configs = []
    for p in (99.99, 99.9):
        configs.append(("percentile", {"percentile": p, "symmetric": True, "dtype": "int8"}))
    configs.append(("percentile", {"percentile": 99.99, "symmetric": False, "dtype": "int8"}))
    configs.append(("percentile", {"percentile": 99.0, "symmetric": False, "dtype": "uint8"}))
    configs.append(("percentile", {"percentile": 100, "symmetric": False, "dtype": "uint8"}))
    configs.append(("entropy", {"symmetric": True, "dtype": "int8"}))
    configs.append(("entropy", {"symmetric": False, "dtype": "uint8"}))
    configs.append(("entropy", {"symmetric": True, "dtype": "int8", "bins": 512}))
    configs.append(("mse", {"symmetric": True, "dtype": "int8"}))
    configs.append(("mse", {"symmetric": False, "dtype": "uint8"}))
    configs.append(("mse", {"symmetric": False, "dtype": "int8", "bins": 512}))
    configs.append(("mse", {"symmetric": True, "dtype": "int8", "quantMin": -8, "quantMax": 7}))

    out_scen = {}
    cases = []
    for name, batches16 in scen.items():
        batches = [b.astype(np.float32) for b in batches16]
        allv = np.concatenate(batches)
        fin = allv[~np.isnan(allv)]
        dmin, dmax = F32(fin.min()), F32(fin.max())
        hists = {}
        for bins in (2048, 512):
            for abs_ in (True, False):
                h = RefHistogram(bins, abs_)
                for b in batches:
                    v = b[~np.isnan(b)]
                    if v.size == 0:
                        continue
                    mn, mx = float(v.min()), float(v.max())
                    if abs_:
                        h.add(b, 0.0, max(-mn, mx))
                    else:
                        h.add(b, mn, mx)
                hists[(bins, abs_)] = h
        out_scen[name] = {
            "batches": [enc(b) for b in batches16],
            "histograms": [
                {
                    "bins": bins,
                    "abs": abs_,
                    "anchor": h.anchor,
                    "width": h.width,
                    "first": h.first,
                    "counts": None if h.counts is None else enc(h.counts.astype(np.uint16 if h.counts.max() < 65536 else np.int32)),
                }
                for (bins, abs_), h in hists.items()
            ],
        }
        for method, o in configs:
            bins = o.get("bins", 2048)
            dtype, symmetric = o["dtype"], o["symmetric"]
            qmin, qmax, custom = qrange(dtype, symmetric, False, o.get("quantMin"), o.get("quantMax"))
            h = hists[(bins, method == "entropy" or symmetric)]
            lo, hi, s, z, info = hist_result(h, method, o, fin, qmin, qmax, custom)
            opts = dict(o, method=method)
            cases.append(
                {
                    "name": f"{method} {name} " + " ".join(f"{k}={v}" for k, v in o.items()),
                    "data": name,
                    "options": opts,
                    "min": lo,
                    "max": hi,
                    "scale": s,
                    "zeroPoint": z,
                    "dataMin": float(dmin),
                    "dataMax": float(dmax),
                    "nanCount": int(np.isnan(allv).sum()),
                    "count": int(fin.size),
                    **info,
                }
            )
    return out_scen, cases


# ------------------------------------------------------------------------------------------------ per channel


def channel_of(b, shape, axis, c):
    """Channel c's values of a row-major batch b with `shape` (the channel axis is `axis`), in memory order."""
    return np.take(b.reshape(shape), c, axis=axis).ravel()


def channel_hist_cases(rng):
    """Per-channel histogram calibration: every channel is its own RefHistogram, fed its part of each batch, and
    searched with the per-tensor references."""
    k = 1500  # values per channel per batch

    def normal(n, s=1.0, mu=0.0):
        return rng.standard_normal(n) * s + mu

    def outliers(n):
        x = rng.standard_normal(n)
        m = rng.random(n) < 0.002
        x[m] = rng.uniform(20, 50, m.sum()) * rng.choice([-1.0, 1.0], m.sum())
        return x

    # Channel c of batch b (the per-tensor distributions, one per channel).
    channels = [
        ("normal", lambda b, n: normal(n, 0.5)),
        ("laplace", lambda b, n: rng.laplace(0.0, 1.0, n)),
        ("relu", lambda b, n: np.maximum(rng.standard_normal(n), 0) * np.exp(0.75 * rng.standard_normal(n))),
        ("outliers", lambda b, n: outliers(n)),
        ("growing", lambda b, n: normal(n, 4.0**b)),
        ("shifted", lambda b, n: normal(n, 1.0 + b, (0.0, 5.0, -5.0)[b])),
        ("zeros-first", lambda b, n: np.zeros(n) if b == 0 else normal(n)),
    ]
    nc = len(channels)
    # (shape, axis): axis 0 ([C, K], weights), a middle axis ([N, C, H]) and the last axis ([N, C], inner 1); the
    # leading dimension of the middle batch differs when it is not the axis.
    layouts = [("axis0", (nc, k), 0), ("middle", (30, nc, k // 30), 1), ("last", (k, nc), 1)]
    configs = [
        ("percentile", {"percentile": 99.9, "symmetric": True, "dtype": "int8"}),
        ("percentile", {"percentile": 99.0, "symmetric": False, "dtype": "uint8"}),
        ("entropy", {"symmetric": True, "dtype": "int8"}),
        ("entropy", {"symmetric": False, "dtype": "uint8"}),
        ("mse", {"symmetric": True, "dtype": "int8"}),
        ("mse", {"symmetric": False, "dtype": "uint8"}),
        ("mse", {"symmetric": False, "dtype": "int8", "bins": 512}),
    ]
    scen, cases = {}, []
    for name, shape, axis in layouts:
        shapes = [shape, shape, shape]
        if axis != 0:
            shapes[1] = (shape[0] + 2,) + shape[1:]
        batches16 = []
        for b, sh in enumerate(shapes):
            per = int(np.prod(sh)) // nc
            x = np.zeros(sh)
            for c, (_, gen) in enumerate(channels):
                idx = [slice(None)] * len(sh)
                idx[axis] = c
                x[tuple(idx)] = gen(b, per).reshape(x[tuple(idx)].shape)
            batches16.append(x.astype(np.float16).ravel())
        # A few NaNs in the outliers channel of the middle batch.
        out = np.flatnonzero(channel_mask(shapes[1], axis, 3))
        batches16[1][out[[5, 77, 1234]]] = np.float16(np.nan)
        batches = [b.astype(np.float32) for b in batches16]
        per_channel = [[channel_of(b, sh, axis, c) for b, sh in zip(batches, shapes)] for c in range(nc)]
        hists = {}
        for bins in (2048, 512):
            for abs_ in (True, False):
                hs = []
                for c in range(nc):
                    h = RefHistogram(bins, abs_)
                    for v in per_channel[c]:
                        f = v[~np.isnan(v)]
                        if f.size == 0:
                            continue
                        mn, mx = float(f.min()), float(f.max())
                        h.add(v, 0.0, max(-mn, mx)) if abs_ else h.add(v, mn, mx)
                    hs.append(h)
                hists[(bins, abs_)] = hs
        scen[name] = {
            "shape": list(shape),
            "axis": axis,
            "channels": [c for c, _ in channels],
            "batches": [enc(b) for b in batches16],
            "shapes": [list(sh) for sh in shapes],
            # Channel histograms for 2048 bins (|x| and x).
            "histograms": [
                {
                    "bins": 2048,
                    "abs": abs_,
                    "channels": [
                        {"anchor": h.anchor, "width": h.width, "first": h.first,
                         "counts": None if h.counts is None else enc(h.counts.astype(np.uint16))}
                        for h in hists[(2048, abs_)]
                    ],
                }
                for abs_ in (True, False)
            ],
        }
        for method, o in configs:
            bins = o.get("bins", 2048)
            dtype, symmetric = o["dtype"], o["symmetric"]
            qmin, qmax, custom = qrange(dtype, symmetric, False, o.get("quantMin"), o.get("quantMax"))
            abs_ = method == "entropy" or symmetric
            res = {key: [] for key in ("min", "max", "scale", "zeroPoint", "dataMin", "dataMax", "near")}
            nans = count = 0
            for c in range(nc):
                allv = np.concatenate(per_channel[c])
                fin = allv[~np.isnan(allv)]
                nans += int(np.isnan(allv).sum())
                count += int(fin.size)
                lo, hi, s_, z_, info = hist_result(hists[(bins, abs_)][c], method, o, fin, qmin, qmax, custom)
                near = [i for i, _ in info.get("near", [])]
                for key, v in zip(("min", "max", "scale", "zeroPoint", "near"), (lo, hi, s_, z_, near)):
                    res[key].append(v)
                res["dataMin"].append(float(F32(fin.min())))
                res["dataMax"].append(float(F32(fin.max())))
            opts = dict(o, method=method, axis=axis, shape=list(shape))
            cases.append(
                {
                    "name": f"per-channel {method} {name} {list(shape)}/{axis} " + " ".join(f"{k2}={v}" for k2, v in o.items()),
                    "data": name,
                    "options": opts,
                    "min": enc(np.array(res["min"], dtype=np.float32)),
                    "max": enc(np.array(res["max"], dtype=np.float32)),
                    "scale": enc(np.array(res["scale"], dtype=np.float32)),
                    "zeroPoint": enc(np.array(res["zeroPoint"], dtype=np.int32)),
                    "dataMin": enc(np.array(res["dataMin"], dtype=np.float32)),
                    "dataMax": enc(np.array(res["dataMax"], dtype=np.float32)),
                    "near": res["near"],
                    "nanCount": nans,
                    "count": count,
                }
            )
    return scen, cases


def channel_mask(shape, axis, c):
    """Flat mask of channel c's elements in a row-major tensor of `shape`."""
    m = np.zeros(shape, dtype=bool)
    idx = [slice(None)] * len(shape)
    idx[axis] = c
    m[tuple(idx)] = True
    return m.ravel()


def hist_result(h, method, o, fin, qmin, qmax, custom):
    """The reference range, scale and zero point of one histogram h over the finite values fin, and what the search
    saw: the levels, index and divergence of the entropy search, the candidate, candidate count and cost of the mse
    search, and the near-optimal candidates of either ({} for percentile). Per tensor and per channel alike."""
    dtype, symmetric = o["dtype"], o["symmetric"]
    dmin, dmax = F32(fin.min()), F32(fin.max())
    max_abs = float(max(-dmin, dmax))

    def range_of(t):
        return (-t, t) if symmetric else (float(max(dmin, -t)), float(min(dmax, t)))

    info = {}
    if h.counts is None:
        lo, hi = float(dmin), float(dmax)
    elif method == "percentile":
        if h.abs:
            t = f32(min(ref_quantile(h, o["percentile"], True), max_abs))
            lo, hi = -t, t
        else:
            lo = f32(max(ref_quantile(h, o["percentile"], False), float(dmin)))
            hi = f32(min(ref_quantile(h, o["percentile"], True), float(dmax)))
    elif method == "entropy":
        levels = levels_of(symmetric, qmin, qmax, float(dmin))
        idx, div = ref_entropy(h.counts, levels)
        lo, hi = range_of(f32(min(h.edge(idx), max_abs)))
        info = {"levels": levels, "index": idx, "near": near_best(div, 128, True), "divergence": float(div[idx - 128])}
    else:
        t, costs = ref_mse(h, max_abs, range_of, (dtype, symmetric, qmin, qmax, custom))
        lo, hi = range_of(t)
        k = int(np.argmin(costs))
        info = {"candidate": k, "candidates": int(costs.size), "near": near_best(costs, 0, False), "cost": float(costs[k])}
    lo, hi = f32(lo), f32(hi)
    s, z = torch_qparams(lo, hi, dtype, symmetric, qmin, qmax, custom)
    assert (s, z) == ref_qparams(lo, hi, dtype, symmetric, qmin, qmax, custom), (method, o)
    return lo + 0.0, hi + 0.0, s, z, info


# ------------------------------------------------------------------------------------------------ main


def build():
    rng = np.random.default_rng(20240505)
    tensor_data, tcases, pc_data, pc_cases = torch_cases(rng)
    torch_file = header(
        "PyTorch observers (MinMaxObserver, MovingAverageMinMaxObserver, PerChannelMinMaxObserver, "
        "MovingAveragePerChannelMinMaxObserver): min_val, max_val and calculate_qparams() after the batches"
    )
    torch_file.update({"tensorData": tensor_data, "tensor": tcases, "channelData": pc_data, "channel": pc_cases})
    rng = np.random.default_rng(20240506)
    scen, hcases = hist_cases(rng)
    hist_file = header(
        "Histogram calibration (percentile, entropy, mse): numpy reference implementations of "
        + GENERATOR
        + " on float16-valued data; scale / zero point by torch's _calculate_qparams"
    )
    hist_file.update({"scenarios": scen, "cases": hcases})
    rng = np.random.default_rng(20240507)
    cscen, ccases = channel_hist_cases(rng)
    channel_file = header(
        "Per-channel histogram calibration (percentile, entropy, mse): one reference histogram per channel, searched "
        "with the numpy reference implementations of " + GENERATOR + "; scale / zero point by torch's _calculate_qparams"
    )
    channel_file.update({"scenarios": cscen, "cases": ccases})
    return {"calibrate-torch.json": torch_file, "calibrate-hist.json": hist_file, "calibrate-hist-channel.json": channel_file}


def dump(obj):
    return json.dumps(obj, indent=1, sort_keys=False) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--check", action="store_true", help="fail if the committed files differ")
    args = ap.parse_args()
    files = build()
    bad = 0
    for name, obj in files.items():
        path = os.path.join(OUT_DIR, name)
        text = dump(obj)
        if args.check:
            old = open(path).read() if os.path.exists(path) else None
            if old != text:
                print(f"{path}: differs from the generator's output")
                bad += 1
            else:
                print(f"{path}: up to date")
        else:
            with open(path, "w") as f:
                f.write(text)
            print(f"{path}: {len(text)} bytes")
    counts = {k: len(v.get("tensor", [])) + len(v.get("channel", [])) + len(v.get("cases", [])) for k, v in files.items()}
    print("cases:", counts)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
