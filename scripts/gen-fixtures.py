#!/usr/bin/python3
"""Generates the reference fixtures in test/fixtures/*.json from PyTorch and numpy.

How to run (from the repository root; Debian's interpreter, which has python3-torch and python3-numpy):

    /usr/bin/python3 scripts/gen-fixtures.py            # writes test/fixtures/{quantize,float16,bfloat16}.json
    /usr/bin/python3 scripts/gen-fixtures.py --check    # regenerates in memory, fails if the committed files differ

The output is deterministic (fixed seeds, no threads involved in any value), so rerunning with the same torch and
numpy versions reproduces the files byte for byte. test/fixtures.test.ts replays every case on every ISA tier the
machine offers and compares bit for bit.

Files and cases
---------------
test/fixtures/quantize.json  (torch)
  quantize           per tensor: torch.quantize_per_tensor(x, scale, zp, qint8 / quint8).int_repr() for scales
                     0.02, 1/3, 0.1, 1e-3, 7.5 (as float32) and zero points 0, -128, 127, 3 (int8) / 0, 128, 255
                     (uint8). One input vector per scale: random normal and uniform values, large (saturating)
                     values, exact rounding ties (x with x * (1.0f / scale) == k + 0.5 exactly in float32, for k in
                     [-300, 300], plus the float32 neighbours of each tie), exact multiples k * scale, +0, -0 and
                     tiny values. Inputs stay within |x / scale| < 2^31: PyTorch 1.13's CPU kernel converts
                     zp + round(x * inv_scale) to int64 without a range check, so NaN, +/-Infinity and huge finite
                     values give undefined (in practice wrong) results there.
                     per channel: torch.quantize_per_channel(x, scales, zps, axis, dtype).int_repr() for shapes
                     [4,33]/0, [3,5,7]/1, [2,3,40]/2, [2,3,40]/1, [16,1]/0, [8,100]/0, [37,24]/1, [77]/0 with
                     random positive float32 scales and random zero points within the dtype's range; inputs mix
                     random values with per-channel rounding ties.
  dequantize         per tensor and per channel, for the same parameters; q holds every value of the dtype plus
                     random ones. `expected` is the documented semantics, (q.int() - zp).float() * scale computed in
                     float32 (exact integer difference, one float32 rounding), computed with torch. `torch` is
                     torch.dequantize() of the same quantized tensor; its vectorized CPU path computes
                     fma(scale, q, -zp * scale), which can differ from `expected`; `torchUlp` records the largest
                     difference in float32 ulps and `torchDiffers` how many elements differ at all.
  special            hand-written, NOT from torch (torch gets them wrong): NaN -> zero point, +Infinity -> quantMax,
                     -Infinity -> quantMin, +/-FLT_MAX and +/-1e30 saturate.
test/fixtures/float16.json  (numpy)
  toFloat16          x.astype(np.float16).view(np.uint16) for: random float32 in every binade from 2^-30 (below the
                     smallest subnormal) to 2^17 (overflow), exact ties at the half-way points between adjacent halves
                     (normal and subnormal, including 2^-25, the subnormal/normal boundary and 65520) and their
                     float32 neighbours, +/-0, +/-Infinity, values just below/above 65504 and 65520, and random
                     non-NaN float32 bit patterns.
  fromFloat16        np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32): all 65,536 halves; the
                     input is stored as {"arange": [0, 65536]}. NaN halves: the test only checks NaN + sign (numpy
                     keeps signalling NaNs signalling, F16C quiets them).
  special            hand-written: float32 NaNs (both signs, quiet and signalling) -> a NaN half with the same sign.
test/fixtures/bfloat16.json  (torch)
  toBFloat16         torch.from_numpy(x).to(torch.bfloat16).view(torch.int16) (as uint16) for random values in every
                     float32 binade, random bit patterns, exact ties (low half 0x8000 with even and odd upper halves)
                     and their neighbours, subnormals, +/-0, +/-Infinity, and the overflow to Infinity near 3.4e38.
                     NaN is left out (torch returns 0x7fc0 for every NaN; qkernels keeps the sign and payload).
  fromBFloat16       all 65,536 bfloat16 patterns .to(torch.float32) (input stored as {"arange": [0, 65536]}),
                     compared bit for bit including NaNs (the conversion is a shift).
  special            hand-written: float32 NaNs -> a NaN bfloat16 with the same sign.

Array encoding
--------------
Every array is {"dtype": "float32" | "int8" | "uint8" | "uint16" | "int32", "shape": [...], "b64": "..."}: the
base64 of its little-endian raw bytes (float32 arrays are therefore their exact bit patterns), or
{"dtype": "uint16", "shape": [n], "arange": [start, stop]} for a range. Scalars are JSON numbers; a float32
scale is written as the double equal to it, so Math.fround() in JS is the identity on it.
"""

import argparse
import base64
import json
import os
import platform
import sys

import numpy as np
import torch

GENERATOR = "scripts/gen-fixtures.py"
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")

F32 = np.float32
FLT_MAX = float(np.finfo(np.float32).max)
# float32 NaNs for the hand-written NaN cases: quiet and signalling, both signs, assorted payloads.
NAN_BITS = [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FBFFFFF, 0xFFFFFFFF, 0x7FC02000, 0xFFA5A5A5]


# ----------------------------------------------------------------------------------------------- helpers


def enc(a):
    a = np.ascontiguousarray(a)
    dt = a.dtype.newbyteorder("<")
    return {"dtype": a.dtype.name, "shape": list(a.shape), "b64": base64.b64encode(a.astype(dt).tobytes()).decode()}


def arange16():
    return {"dtype": "uint16", "shape": [65536], "arange": [0, 65536]}


def header(what):
    return {
        "generator": GENERATOR,
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "description": what,
    }


def bits(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32)


def from_bits(u):
    return np.asarray(u, dtype=np.uint32).view(np.float32)


def f32(v):
    """float32 value of v, written back as the Python float equal to it."""
    return float(F32(v))


def ulp_diff(a, b):
    """Distance in float32 ulps between finite float32 arrays (monotone integer mapping of the bit patterns)."""

    def key(x):
        u = bits(x).astype(np.int64)
        return np.where(u & 0x80000000, 0x80000000 - u, u)

    return np.abs(key(a) - key(b))


def nextafter32(x, toward):
    return np.nextafter(np.asarray(x, dtype=np.float32), np.asarray(toward, dtype=np.float32))


def dedupe(x):
    """Drops repeated bit patterns, keeping the first occurrence (so -0 and +0 both stay)."""
    _, idx = np.unique(bits(x), return_index=True)
    return x[np.sort(idx)]


STATS = []  # lines for the summary printed at the end


# ----------------------------------------------------------------------------------------------- quantize

TENSOR_SCALES = [0.02, 1 / 3, 0.1, 1e-3, 7.5]
INT8_ZPS = [0, -128, 127, 3]
UINT8_ZPS = [0, 128, 255]
QDT = {"int8": (torch.qint8, -128, 127, np.int8), "uint8": (torch.quint8, 0, 255, np.uint8)}


def ref_quantize(x, inv, zp, qmin, qmax):
    """The documented semantics in numpy (float32 throughout), used only to cross-check torch."""
    v = (x * inv).astype(np.float32)
    r = np.rint(v) + np.asarray(zp, dtype=np.float32)
    r = np.clip(r, F32(qmin), F32(qmax))
    return np.where(np.isnan(v), zp, r).astype(np.int64)


def ties(scale, ks):
    """For each k, the float32 x nearest (k + 0.5) * scale with x * (1.0f / scale) == k + 0.5 exactly."""
    s = F32(scale)
    inv = F32(1) / s
    out = []
    missing = 0
    for k in ks:
        t = F32(k + 0.5)
        c = F32((k + 0.5) * float(s))
        found = None
        # Walk outwards from the rounded product, a few ulps each way.
        lo = hi = c
        for _ in range(16):
            for cand in (lo, hi) if lo != hi else (lo,):
                if F32(cand * inv) == t:
                    found = cand
                    break
            if found is not None:
                break
            lo = nextafter32(lo, -np.inf)
            hi = nextafter32(hi, np.inf)
        if found is None:
            missing += 1
        else:
            out.append(found)
    return np.array(out, dtype=np.float32), missing


def tensor_inputs(rng, scale):
    s = float(F32(scale))
    parts = []
    parts.append(rng.standard_normal(256) * s * 40)  # mostly in range, some saturate
    parts.append(rng.standard_normal(64))  # unscaled
    parts.append(rng.uniform(-200 * s, 200 * s, 128))
    mag = 10.0 ** rng.uniform(0, 6, 64) * s * 128  # saturating, |x / scale| up to 1.28e8
    parts.append(mag * rng.choice([-1.0, 1.0], 64))
    parts.append(np.arange(-140, 141) * s)  # multiples k * scale (rounded to float32)
    x = np.concatenate([np.asarray(p, dtype=np.float64) for p in parts]).astype(np.float32)
    t, missing = ties(scale, range(-300, 301))
    near = np.concatenate([nextafter32(t, -np.inf), nextafter32(t, np.inf)])
    special = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-45, -1e-45, s * 2.0**-30, -s * 0.5, s * 0.5], dtype=np.float32)
    x = dedupe(np.concatenate([special, x, t, near]))
    return x, len(t), missing


def quantize_torch(x, scale, zp, dtype):
    qt = torch.quantize_per_tensor(torch.from_numpy(x.copy()), scale, zp, QDT[dtype][0])
    return qt, qt.int_repr().numpy().astype(QDT[dtype][3])


def dequantize_exact_torch(q, scale, zp):
    """(q.int() - zp).float() * scale in float32 with torch: exact integer difference, one float32 rounding."""
    qi = torch.from_numpy(np.asarray(q).astype(np.int32))
    zpi = torch.from_numpy(np.asarray(zp).astype(np.int32))
    sc = torch.from_numpy(np.asarray(scale, dtype=np.float32))
    return ((qi - zpi).to(torch.float32) * sc).numpy()


def dequant_case(name, dtype, q, expected, got_torch, params):
    assert np.all(np.isfinite(expected)) and np.all(np.isfinite(got_torch))
    d = ulp_diff(expected, got_torch)
    STATS.append((name, q.size, int(np.count_nonzero(d)), int(d.max())))
    case = {"name": name, "dtype": dtype}
    case.update(params)
    case.update(
        {
            "q": enc(q),
            "expected": enc(expected),
            "torch": enc(got_torch),
            "torchDiffers": int(np.count_nonzero(d)),
            "torchUlp": int(d.max()),
        }
    )
    return case


def gen_quantize():
    rng = np.random.default_rng(20240611)
    inputs = {}
    quant, dequant = [], []
    tie_total = tie_missing = 0
    mismatches = 0
    for scale in TENSOR_SCALES:
        s = f32(scale)
        inv = F32(1) / F32(s)
        key = f"scale={s!r}"
        x, nt, miss = tensor_inputs(rng, s)
        tie_total += nt
        tie_missing += miss
        STATS.append(f"per-tensor scale={s!r}: {x.size} inputs, {nt} exact ties (k in [-300, 300] with none: {miss})")
        # The inputs must stay where torch's int64 conversion is defined.
        assert np.all(np.abs(x.astype(np.float64) * float(inv)) < 2.0**31)
        inputs[key] = enc(x)
        for dtype, zps in (("int8", INT8_ZPS), ("uint8", UINT8_ZPS)):
            _, qmin, qmax, npdt = QDT[dtype]
            for zp in zps:
                qt, q = quantize_torch(x, s, zp, dtype)
                mismatches += int(np.count_nonzero(q.astype(np.int64) != ref_quantize(x, inv, zp, qmin, qmax)))
                name = f"per-tensor {dtype} scale={s!r} zp={zp}"
                quant.append({"name": name, "dtype": dtype, "scale": s, "zeroPoint": zp, "x": key, "expected": enc(q)})
                # Dequantize every value of the dtype plus 45 random ones (an odd length: vector tails).
                qa = np.concatenate([np.arange(qmin, qmax + 1), rng.integers(qmin, qmax + 1, 45)]).astype(npdt)
                qq = torch._make_per_tensor_quantized_tensor(torch.from_numpy(qa.copy()), s, zp)
                dequant.append(
                    dequant_case(
                        f"per-tensor {dtype} scale={s!r} zp={zp}",
                        dtype,
                        qa,
                        dequantize_exact_torch(qa, s, zp),
                        torch.dequantize(qq).numpy(),
                        {"scale": s, "zeroPoint": zp},
                    )
                )
    STATS.append(f"per-tensor ties: {tie_total} found, {tie_missing} k without an exact float32 tie")

    layouts = [
        ([4, 33], 0),
        ([3, 5, 7], 1),
        ([2, 3, 40], 2),
        ([2, 3, 40], 1),
        ([16, 1], 0),
        ([8, 100], 0),
        ([37, 24], 1),
        ([77], 0),
    ]
    for shape, axis in layouts:
        for dtype in ("int8", "uint8"):
            _, qmin, qmax, npdt = QDT[dtype]
            ch = shape[axis]
            scales = np.exp(rng.uniform(np.log(1e-3), np.log(10.0), ch)).astype(np.float32)
            zps = rng.integers(qmin, qmax + 1, ch)
            zps[0] = qmin
            if ch > 1:
                zps[-1] = qmax
            n = int(np.prod(shape))
            # Channel index of every element of a contiguous row-major tensor.
            inner = int(np.prod(shape[axis + 1 :]))
            cidx = (np.arange(n) // inner) % ch
            sc = scales[cidx].astype(np.float64)
            kind = rng.integers(0, 4, n)
            x = np.empty(n, dtype=np.float32)
            x[:] = (rng.standard_normal(n) * sc * 60).astype(np.float32)
            m = kind == 1  # exact ties for the element's channel scale
            for i in np.nonzero(m)[0]:
                t, _ = ties(scales[cidx[i]], [int(rng.integers(-300, 300))])
                if t.size:
                    x[i] = t[0] if rng.integers(0, 4) else nextafter32(t[0], rng.choice([-np.inf, np.inf]))
            m = kind == 2  # saturating
            ns = int(m.sum())
            x[m] = (10.0 ** rng.uniform(2.5, 6, ns) * sc[m] * rng.choice([-1.0, 1.0], ns)).astype(np.float32)
            x[rng.integers(0, n, max(1, n // 50))] = -0.0
            xt = torch.from_numpy(x.reshape(shape).copy())
            ts = torch.from_numpy(scales.astype(np.float64))
            tz = torch.from_numpy(zps.astype(np.int64))
            qt = torch.quantize_per_channel(xt, ts, tz, axis, QDT[dtype][0])
            q = qt.int_repr().numpy().astype(npdt).reshape(-1)
            inv = (F32(1) / scales)[cidx]
            mismatches += int(np.count_nonzero(q.astype(np.int64) != ref_quantize(x, inv, zps[cidx], qmin, qmax)))
            name = f"per-channel {dtype} shape=[{','.join(map(str, shape))}] axis={axis}"
            params = {"scale": enc(scales), "zeroPoint": enc(zps.astype(np.int32)), "axis": axis, "shape": shape}
            key = f"{name} x"
            inputs[key] = enc(x)
            quant.append({"name": name, "dtype": dtype, **params, "x": key, "expected": enc(q)})
            qa = rng.integers(qmin, qmax + 1, n).astype(npdt)
            qa[: min(n, 4)] = [qmin, qmax, qmin, qmax][: min(n, 4)]
            qq = torch._make_per_channel_quantized_tensor(torch.from_numpy(qa.reshape(shape).copy()), ts, tz, axis)
            shp = [1] * len(shape)
            shp[axis] = ch
            expected = dequantize_exact_torch(qa.reshape(shape), scales.reshape(shp), zps.reshape(shp)).reshape(-1)
            dequant.append(dequant_case(name, dtype, qa, expected, torch.dequantize(qq).numpy().reshape(-1), params))

    STATS.append(f"torch quantize vs the documented formula (numpy): {mismatches} mismatching elements")
    assert mismatches == 0, "torch disagrees with the documented quantize semantics on a stored input"

    # Hand-written: what torch 1.13 gets wrong (undefined float -> int64 conversion).
    nan = float("nan")
    special = []
    sx = np.array([nan, -nan, np.inf, -np.inf, FLT_MAX, -FLT_MAX, 1e30, -1e30, 0.0], dtype=np.float32)
    sx[1] = from_bits(np.uint32(0xFFC00000))  # a negative quiet NaN
    sx = np.concatenate([sx, from_bits(np.array([0x7F800001, 0xFFBFFFFF], dtype=np.uint32))])  # signalling NaNs
    for dtype, zps in (("int8", [0, -128, 127, 3]), ("uint8", [0, 128, 255])):
        _, qmin, qmax, npdt = QDT[dtype]
        for scale in (0.02, 1e-3, 7.5):
            s = f32(scale)
            for zp in zps:
                exp = [zp, zp, qmax, qmin, qmax, qmin, qmax, qmin, zp, zp, zp]
                special.append(
                    {
                        "name": f"special {dtype} scale={s!r} zp={zp}",
                        "dtype": dtype,
                        "scale": s,
                        "zeroPoint": zp,
                        "x": enc(sx),
                        "expected": enc(np.array(exp, dtype=npdt)),
                    }
                )
    # Record how torch handles them (for the report only).
    _, tq = quantize_torch(sx, f32(0.02), 3, "int8")
    STATS.append(
        f"torch {torch.__version__} on [NaN, -NaN, +Inf, -Inf, FLT_MAX, -FLT_MAX, 1e30, -1e30, 0, sNaN, -sNaN], "
        f"int8 scale=0.02 zp=3 (not stored): {tq.tolist()}"
    )

    doc = header("torch.quantize_per_tensor / quantize_per_channel int_repr and dequantize; see " + GENERATOR)
    doc.update({"inputs": inputs, "quantize": quant, "dequantize": dequant, "special": special})
    return doc


# ----------------------------------------------------------------------------------------------- float16


def half_values(h):
    return np.asarray(h, dtype=np.uint16).view(np.float16).astype(np.float32)


def gen_float16():
    rng = np.random.default_rng(16)
    parts = []
    # Random float32 in every binade 2^-30 .. 2^17 (subnormal halves start at 2^-24, overflow at 65520).
    for e in range(-30, 18):
        m = rng.uniform(1.0, 2.0, 48)
        sg = rng.choice([-1.0, 1.0], 48)
        parts.append((sg * m * 2.0**e).astype(np.float32))
    # Random mantissa bits in the same binades (uniform over the low 13 bits, which decide the rounding).
    e = rng.integers(127 - 30, 127 + 18, 1024).astype(np.uint32)
    sgn = rng.integers(0, 2, 1024).astype(np.uint32) << 31
    u = sgn | (e << 23) | rng.integers(0, 1 << 23, 1024).astype(np.uint32)
    parts.append(from_bits(u))
    # Exact ties: the midpoint between adjacent finite halves (exact in float32), for random and boundary halves.
    hs = [rng.integers(0, 0x7BFF, 1500), np.arange(0, 40), np.arange(0x3F0, 0x410), np.arange(0x7BE0, 0x7BFF)]
    hs = np.concatenate(hs + [[0x3BFF, 0x3C00]]).astype(np.uint16)
    lo = half_values(hs).astype(np.float64)
    hi = half_values(hs + 1).astype(np.float64)
    mid = ((lo + hi) / 2).astype(np.float32)
    assert np.all(mid.astype(np.float64) == (lo + hi) / 2)
    mid = np.concatenate([mid, np.array([65520.0, 2.0**-25, 3 * 2.0**-26], dtype=np.float32)])
    mid = np.concatenate([mid, -mid])
    parts += [mid, nextafter32(mid, -np.inf), nextafter32(mid, np.inf)]
    # Zeros, infinities and the overflow boundary.
    edge = [0.0, -0.0, np.inf, -np.inf, 65504.0, 65519.0, 65520.0, 65536.0, 1e5, FLT_MAX, 2.0**-24, 2.0**-14, 2.0**-149]
    edge = np.array(edge, dtype=np.float32)
    edge = np.concatenate([edge, nextafter32(edge, -np.inf), nextafter32(edge, np.inf)])
    parts += [edge, -edge]
    # Random non-NaN float32 bit patterns.
    u = rng.integers(0, 1 << 32, 2048, dtype=np.uint64).astype(np.uint32)
    parts.append(from_bits(u[(u & 0x7FFFFFFF) <= 0x7F800000]))
    x = dedupe(np.concatenate(parts).astype(np.float32))
    assert not np.any(np.isnan(x))
    h = x.astype(np.float16).view(np.uint16)
    # Cross-check numpy against torch's float16 conversion (both round to nearest even).
    th = torch.from_numpy(x.copy()).to(torch.float16).view(torch.int16).numpy().view(np.uint16)
    STATS.append(f"float16: numpy vs torch astype disagreements: {int(np.count_nonzero(h != th))} of {x.size}")

    to16 = [{"name": "toFloat16 numpy astype(float16)", "x": enc(x), "expected": enc(h)}]
    allh = np.arange(65536, dtype=np.uint16)
    dec = allh.view(np.float16).astype(np.float32)
    from16 = [{"name": "fromFloat16 all 65536 halves (numpy)", "h": arange16(), "expected": enc(dec)}]

    nanx = from_bits(np.array(NAN_BITS, dtype=np.uint32))
    special = [{"name": "toFloat16 NaN keeps its sign", "x": enc(nanx), "expected": "NaN with the input's sign"}]
    doc = header("numpy float32 <-> float16 (IEEE binary16) conversion; see scripts/gen-fixtures.py")
    doc.update({"toFloat16": to16, "fromFloat16": from16, "special": special})
    STATS.append(f"float16: {x.size} toFloat16 inputs, 65536 fromFloat16 inputs")
    return doc


# ----------------------------------------------------------------------------------------------- bfloat16


def gen_bfloat16():
    rng = np.random.default_rng(1616)
    parts = []
    # Random values in every float32 binade, subnormals included (exponent field 0 .. 254).
    e = np.repeat(np.arange(0, 255, dtype=np.uint32), 8)
    n = e.size
    u = (rng.integers(0, 2, n).astype(np.uint32) << 31) | (e << 23) | rng.integers(0, 1 << 23, n).astype(np.uint32)
    parts.append(from_bits(u))
    # Random bit patterns (non-NaN).
    u = rng.integers(0, 1 << 32, 2048, dtype=np.uint64).astype(np.uint32)
    parts.append(from_bits(u[(u & 0x7FFFFFFF) <= 0x7F800000]))
    # Exact ties (low half 0x8000) with even and odd upper halves, and their neighbours 0x7fff / 0x8001.
    up = [rng.integers(0, 0x7F80, 1000), np.arange(0, 8), np.arange(0x7F70, 0x7F80), [0x3F80, 0x3F81, 0x0080, 0x007F]]
    up = np.concatenate(up).astype(np.uint32)
    up = np.concatenate([up, up | 0x8000])
    for low in (0x8000, 0x7FFF, 0x8001, 0x0000, 0xFFFF):
        parts.append(from_bits((up << 16) | low))
    # Subnormals, zeros, infinities, the overflow boundary near FLT_MAX.
    edge = [0x00000000, 0x00000001, 0x00007FFF, 0x00008000, 0x00018000, 0x007FFFFF, 0x00800000]  # zero, subnormals
    edge += [0x7F7F7FFF, 0x7F7F8000, 0x7F7F8001, 0x7F7FFFFF, 0x7F7E8000, 0x7F800000]  # FLT_MAX region, Infinity
    edge = from_bits(np.array(edge, dtype=np.uint32))
    parts += [edge, -edge]
    x = dedupe(np.concatenate(parts).astype(np.float32))
    assert not np.any(np.isnan(x))
    h = torch.from_numpy(x.copy()).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    # Cross-check torch against round-to-nearest-even on the bits.
    u = bits(x).astype(np.uint64)
    ref = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    bad = int(np.count_nonzero(h != ref))
    STATS.append(f"bfloat16: torch vs (x + 0x7fff + lsb) >> 16 disagreements: {bad} of {x.size}")
    to16 = [{"name": "toBFloat16 torch .to(bfloat16)", "x": enc(x), "expected": enc(h)}]
    allh = torch.from_numpy(np.arange(65536, dtype=np.uint16).view(np.int16).copy()).view(torch.bfloat16)
    dec = allh.to(torch.float32).numpy()
    shifted = from_bits(np.arange(65536, dtype=np.uint32) << 16)
    bad = int(np.count_nonzero(bits(dec) != bits(shifted)))
    STATS.append(f"bfloat16: torch decode vs bits << 16 disagreements: {bad} of 65536")
    from16 = [{"name": "fromBFloat16 all 65536 patterns (torch)", "h": arange16(), "expected": enc(dec)}]
    nanx = from_bits(np.array(NAN_BITS, dtype=np.uint32))
    special = [{"name": "toBFloat16 NaN keeps its sign", "x": enc(nanx), "expected": "NaN with the input's sign"}]
    doc = header("torch float32 <-> bfloat16 conversion; see scripts/gen-fixtures.py")
    doc.update({"toBFloat16": to16, "fromBFloat16": from16, "special": special})
    STATS.append(f"bfloat16: {x.size} toBFloat16 inputs, 65536 fromBFloat16 inputs")
    return doc


# ----------------------------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed fixtures differ from a fresh run")
    args = ap.parse_args()
    torch.set_num_threads(1)
    np.seterr(over="ignore")  # nextafter(FLT_MAX, inf) and float16 overflow are intended
    docs = {"quantize.json": gen_quantize(), "float16.json": gen_float16(), "bfloat16.json": gen_bfloat16()}
    os.makedirs(OUT_DIR, exist_ok=True)
    stale = []
    for name, doc in docs.items():
        text = json.dumps(doc, indent=1) + "\n"
        path = os.path.join(OUT_DIR, name)
        if args.check:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    stale.append(name)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        print(f"{'checked' if args.check else 'wrote'} test/fixtures/{name}: {len(text)} bytes")
    q = docs["quantize.json"]
    print(f"quantize cases: {len(q['quantize'])}, dequantize: {len(q['dequantize'])}, special: {len(q['special'])}")
    total = sum(s[1] for s in STATS if isinstance(s, tuple))
    differ = sum(s[2] for s in STATS if isinstance(s, tuple))
    worst = max(s[3] for s in STATS if isinstance(s, tuple))
    print(f"torch.dequantize vs exact (q - zp) * scale: {differ} of {total} elements differ, at most {worst} ulp")
    for s in STATS:
        if isinstance(s, tuple):
            if s[2]:
                print(f"  {s[0]}: {s[2]} of {s[1]} differ, max {s[3]} ulp")
        else:
            print(s)
    if stale:
        sys.exit(f"stale fixtures: {', '.join(stale)}; rerun /usr/bin/python3 {GENERATOR}")


if __name__ == "__main__":
    main()
