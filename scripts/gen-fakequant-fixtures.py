#!/usr/bin/python3
"""Generates test/fixtures/fakequant.json from PyTorch: fake quantization for quantization-aware training.

How to run (from the repository root; Debian's interpreter, which has python3-torch and python3-numpy):

    /usr/bin/python3 scripts/gen-fakequant-fixtures.py            # writes test/fixtures/fakequant.json
    /usr/bin/python3 scripts/gen-fakequant-fixtures.py --check    # regenerates in memory, fails if the file differs

Deterministic (fixed seeds, torch.set_num_threads(1) so every sum runs in one order). test/fakequant.test.ts
replays every case on every ISA tier the machine offers.

Cases (all from torch 1.13's CPU kernels; the machine's CPU capability is recorded in "versions.capability":
the learnable gradients below were made with the AVX2 capability, whose kernels GCC compiled with FMA
contraction, which qkernels reproduces; PyTorch's DEFAULT capability rounds two products separately and may
differ in the last bit of a gradient term)
-----
forward          torch.fake_quantize_per_tensor_affine(x, scale, zp, qmin, qmax) -> "output" and
                 torch.ops.aten.fake_quantize_per_tensor_affine_cachemask(...)[1] -> "mask" (checked equal to the
                 plain op's output), for int8, uint8, 4-bit, 2-bit, 16-bit and reduced ranges, several float32
                 scales and zero points. Inputs: random normal and uniform values, saturating values, exact rounding
                 ties (x * (1.0f / scale) == k + 0.5 in float32) and their float32 neighbours, multiples of the
                 scale, +/-0 and tiny values; all finite with |x / scale| < 2^31 (torch's float -> int64 conversion
                 is undefined beyond). "gradOut" and "gradX": autograd of the same op, x.grad after
                 y.backward(gradOut) (gradOut holds some -x, +/-Infinity and quiet NaNs too).
forwardChannel   the same for torch.fake_quantize_per_channel_affine / _cachemask (zero points int32).
learnable        torch._fake_quantize_learnable_per_tensor_affine(x, scale[1], zeroPoint[1] (float), qmin, qmax,
                 gradFactor): "output", and after output.backward(gradOut): "gradX", "gradScale", "gradZeroPoint"
                 (float32 scalars). Zero points include non-integers, negatives and halves (the per-tensor backward
                 uses trunc(clamp(z + 0.5)), the forward nearbyint(z)); gradFactor 1 and 1/sqrt(numel * qmax).
                 "exactScale" / "exactZeroPoint": math.fsum of torch's own per-element terms (obtained from
                 the per-channel op with one channel per element and an integer zero point, when the two kernels
                 agree element by element; null otherwise), to tell summation error from a wrong term.
learnableChannel torch._fake_quantize_learnable_per_channel_affine: output, gradX and per-channel gradScale /
                 gradZeroPoint (float32 arrays), with "exactScale" / "exactZeroPoint": per channel, math.fsum of
                 torch's own per-element terms (the same op on the [numel, 1] view, one channel per element).
module           torch.ao.quantization.FakeQuantize sequences: a list of steps, each with the flags set before
                 it (observer / fake quant enabled), x, the scale and zero point after forward, the output and the
                 gradient of output.backward(gradOut). Observers: MovingAverageMinMaxObserver (qint8 symmetric,
                 quint8 affine, 4-bit), MinMaxObserver, MovingAveragePerChannelMinMaxObserver (weights).

Array encoding: {"dtype": "float32" | "uint8" | "int32", "shape": [...], "b64": base64 of little-endian bytes}.
A float32 scalar is written as the double equal to it.
"""

import argparse
import base64
import json
import math
import os
import platform
import sys

import numpy as np
import torch

GENERATOR = "scripts/gen-fakequant-fixtures.py"
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "fakequant.json")
F32 = np.float32
STATS = []

torch.set_num_threads(1)


def enc(a):
    a = np.ascontiguousarray(a)
    dt = a.dtype.newbyteorder("<")
    return {"dtype": a.dtype.name, "shape": list(a.shape), "b64": base64.b64encode(a.astype(dt).tobytes()).decode()}


def f32(v):
    return float(F32(v))


def bits(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32)


def nextafter32(x, toward):
    return np.nextafter(np.asarray(x, dtype=np.float32), np.asarray(toward, dtype=np.float32))


def dedupe(x):
    _, idx = np.unique(bits(x), return_index=True)
    return x[np.sort(idx)]


def ties(scale, ks):
    """For each k, a float32 x with x * (1.0f / scale) == k + 0.5 exactly (when one exists near (k + 0.5) * scale)."""
    s = F32(scale)
    inv = F32(1) / s
    out = []
    for k in ks:
        t = F32(k + 0.5)
        lo = hi = F32((k + 0.5) * float(s))
        for _ in range(16):
            hit = [c for c in ((lo, hi) if lo != hi else (lo,)) if F32(c * inv) == t]
            if hit:
                out.append(hit[0])
                break
            lo = nextafter32(lo, -np.inf)
            hi = nextafter32(hi, np.inf)
    return np.array(out, dtype=np.float32)


def inputs(rng, scale, qmin, qmax, zp):
    """Finite inputs around the quantized range [qmin, qmax] for this scale and zero point."""
    s = float(F32(scale))
    lo, hi = (qmin - zp) * s, (qmax - zp) * s
    span = hi - lo
    parts = [
        rng.uniform(lo - 0.1 * span, hi + 0.1 * span, 400),
        rng.standard_normal(200) * span / 4,
        rng.standard_normal(64),
        (10.0 ** rng.uniform(0, 3, 48)) * max(abs(lo), abs(hi), s) * rng.choice([-1.0, 1.0], 48),  # saturating
        np.arange(-40, 41) * s,
    ]
    x = np.concatenate([np.asarray(p, dtype=np.float64) for p in parts]).astype(np.float32)
    k0 = int(max(qmin - zp - 3, -400))
    k1 = int(min(qmax - zp + 3, 400))
    ks = np.unique(np.concatenate([np.arange(k0, min(k0 + 40, k1)), np.arange(max(k1 - 40, k0), k1), rng.integers(k0, k1, 120)]))
    t = ties(s, ks)
    near = np.concatenate([nextafter32(t, -np.inf), nextafter32(t, np.inf)])
    special = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-45, -1e-45, s * 0.5, -s * 0.5, lo, hi], dtype=np.float32)
    x = dedupe(np.concatenate([special, x, t, near]))
    x = x[np.abs(x.astype(np.float64) / s) < 2.0**31]
    return rng.permutation(x).astype(np.float32)


def grads(rng, n, specials=True):
    g = rng.standard_normal(n).astype(np.float32)
    if specials and n > 16:
        idx = rng.choice(n, 8, replace=False)
        g[idx[:2]] = np.inf
        g[idx[2:4]] = -np.inf
        g[idx[4:6]] = np.nan
        g[idx[6]] = -0.0
        g[idx[7]] = 0.0
    return g


def t32(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32).copy())


# ----------------------------------------------------------------------------------------------- forward

TENSOR_CASES = [
    # name, scale, zp, qmin, qmax
    ("int8", 0.02, 0, -128, 127),
    ("int8 zp=-5", 1 / 3, -5, -128, 127),
    ("int8 zp=127", 0.1, 127, -128, 127),
    ("uint8", 0.0173, 128, 0, 255),
    ("uint8 zp=0", 7.5, 0, 0, 255),
    ("uint8 reduce-range", 1e-3, 64, 0, 127),
    ("4-bit", 0.1, 0, -8, 7),
    ("4-bit zp=3", 0.37, 3, -8, 7),
    ("2-bit", 0.5, 1, -2, 1),
    ("16-bit", 1e-4, 0, -32768, 32767),
    ("uint16 zp", 2.0**-10, 1000, 0, 65535),
]


def fq_tensor(x, s, zp, qmin, qmax, g):
    out, mask = torch.ops.aten.fake_quantize_per_tensor_affine_cachemask(t32(x), s, zp, qmin, qmax)
    xt = t32(x).requires_grad_()
    y = torch.fake_quantize_per_tensor_affine(xt, s, zp, qmin, qmax)
    assert torch.equal(y.detach().view(torch.int32), out.view(torch.int32))
    y.backward(t32(g))
    return out.numpy(), mask.numpy().astype(np.uint8), xt.grad.numpy()


def gen_forward(rng):
    cases = []
    for name, scale, zp, qmin, qmax in TENSOR_CASES:
        s = f32(scale)
        x = inputs(rng, s, qmin, qmax, zp)
        g = grads(rng, x.size)
        out, mask, gx = fq_tensor(x, s, zp, qmin, qmax, g)
        cases.append({"name": f"{name} scale={s!r} zp={zp}", "scale": s, "zeroPoint": zp, "quantMin": qmin,
                      "quantMax": qmax, "x": enc(x), "output": enc(out), "mask": enc(mask), "gradOut": enc(g),
                      "gradX": enc(gx)})
        STATS.append(f"forward {name}: {x.size} inputs, {int(mask.sum())} unclamped")
    return cases


CHANNEL_LAYOUTS = [([4, 33], 0), ([3, 5, 7], 1), ([2, 3, 40], 2), ([8, 100], 0), ([37, 24], 1), ([2, 16, 5, 5], 1),
                   ([77], 0)]


def channel_params(rng, ch, qmin, qmax):
    scales = np.exp(rng.uniform(np.log(1e-3), np.log(1.0), ch)).astype(np.float32)
    zps = rng.integers(qmin, qmax + 1, ch).astype(np.int32)
    zps[0] = qmin
    if ch > 1:
        zps[-1] = qmax
    return scales, zps


def channel_x(rng, shape, axis, scales):
    n = int(np.prod(shape))
    inner = int(np.prod(shape[axis + 1:]))
    cidx = (np.arange(n) // inner) % shape[axis]
    sc = scales[cidx].astype(np.float64)
    x = (rng.standard_normal(n) * sc * 60).astype(np.float32)
    kind = rng.integers(0, 4, n)
    for i in np.nonzero(kind == 1)[0]:
        t = ties(scales[cidx[i]], [int(rng.integers(-150, 150))])
        if t.size:
            x[i] = t[0] if rng.integers(0, 3) else nextafter32(t[0], rng.choice([-np.inf, np.inf]))
    m = kind == 2
    x[m] = (10.0 ** rng.uniform(2.3, 5, int(m.sum())) * sc[m] * rng.choice([-1.0, 1.0], int(m.sum()))).astype(np.float32)
    x[rng.integers(0, n, max(1, n // 50))] = -0.0
    return x


def gen_forward_channel(rng):
    cases = []
    for shape, axis in CHANNEL_LAYOUTS:
        for qmin, qmax in ((-128, 127), (0, 255), (-8, 7)):
            ch = shape[axis]
            scales, zps = channel_params(rng, ch, qmin, qmax)
            x = channel_x(rng, shape, axis, scales)
            g = grads(rng, x.size)
            ts, tz = torch.from_numpy(scales.copy()), torch.from_numpy(zps.copy())
            out, mask = torch.ops.aten.fake_quantize_per_channel_affine_cachemask(t32(x).reshape(shape), ts, tz, axis,
                                                                                   qmin, qmax)
            xt = t32(x).reshape(shape).requires_grad_()
            y = torch.fake_quantize_per_channel_affine(xt, ts, tz, axis, qmin, qmax)
            assert torch.equal(y.detach().view(torch.int32), out.view(torch.int32))
            y.backward(t32(g).reshape(shape))
            cases.append({"name": f"shape=[{','.join(map(str, shape))}] axis={axis} q=[{qmin},{qmax}]",
                          "scale": enc(scales), "zeroPoint": enc(zps), "axis": axis, "shape": shape,
                          "quantMin": qmin, "quantMax": qmax, "x": enc(x), "output": enc(out.numpy().reshape(-1)),
                          "mask": enc(mask.numpy().reshape(-1).astype(np.uint8)), "gradOut": enc(g),
                          "gradX": enc(xt.grad.numpy().reshape(-1))})
    return cases


# ----------------------------------------------------------------------------------------------- learnable

LEARNABLE_CASES = [
    # name, scale, zero point (float), qmin, qmax, gradFactor (None: 1/sqrt(numel * qmax))
    ("int8", 0.02, 0.0, -128, 127, 1.0),
    ("int8 lsq", 0.05, 0.0, -128, 127, None),
    ("int8 zp=-1.3", 1 / 3, -1.3, -128, 127, 1.0),
    ("int8 zp=2.5", 0.1, 2.5, -128, 127, 0.37),
    ("int8 zp=-2.5", 0.1, -2.5, -128, 127, 1.0),
    ("int8 zp=-5 (backward uses -4)", 0.1, -5.0, -128, 127, 1.0),
    ("uint8 zp=127.7", 0.0173, 127.7, 0, 255, 1.0),
    ("uint8 zp=300 (clamped)", 0.0173, 300.0, 0, 255, None),
    ("4-bit", 0.1, 0.4, -8, 7, None),
    ("4-bit zp=-0.6", 0.37, -0.6, -8, 7, 1.0),
    ("2-bit", 0.5, 0.0, -2, 1, 1.0),
]


def learnable_tensor(x, s, z, qmin, qmax, gf, g):
    xt = t32(x).requires_grad_()
    st = torch.tensor([s], dtype=torch.float32, requires_grad=True)
    zt = torch.tensor([z], dtype=torch.float32, requires_grad=True)
    y = torch._fake_quantize_learnable_per_tensor_affine(xt, st, zt, qmin, qmax, gf)
    y.backward(t32(g))
    return y.detach().numpy(), xt.grad.numpy(), f32(st.grad[0]), f32(zt.grad[0])


def per_element_terms(x, s, zp_int, qmin, qmax, gf, g):
    """torch's own per-element gradient terms: the per-channel learnable op with one channel per element."""
    n = x.size
    xt = t32(x).reshape(n, 1).requires_grad_()
    st = torch.full((n,), s, dtype=torch.float32, requires_grad=True)
    zt = torch.full((n,), float(zp_int), dtype=torch.float32, requires_grad=True)
    y = torch._fake_quantize_learnable_per_channel_affine(xt, st, zt, 0, qmin, qmax, gf)
    y.backward(t32(g).reshape(n, 1))
    return xt.grad.numpy().reshape(-1), st.grad.numpy(), zt.grad.numpy()


def gen_learnable(rng):
    cases = []
    worst = 0.0
    for name, scale, z, qmin, qmax, gf in LEARNABLE_CASES:
        s = f32(scale)
        zf = f32(z)
        zfwd = int(min(max(np.rint(F32(zf)), qmin), qmax))
        x = inputs(rng, s, qmin, qmax, zfwd)
        # at least 1537 elements (an odd length): the interesting values plus random ones
        extra = (rng.standard_normal(max(0, 1537 - x.size)) * s * (qmax - qmin) / 4).astype(np.float32)
        x = np.concatenate([x, extra])
        g = grads(rng, x.size, specials=False)
        gfv = f32(1.0 / math.sqrt(x.size * qmax)) if gf is None else f32(gf)
        out, gx, gs, gz = learnable_tensor(x, s, zf, qmin, qmax, gfv, g)
        case = {"name": f"{name} scale={s!r} zp={zf!r} gradFactor={gfv!r}", "scale": s, "zeroPoint": zf,
                "quantMin": qmin, "quantMax": qmax, "gradFactor": gfv, "x": enc(x), "gradOut": enc(g),
                "output": enc(out), "gradX": enc(gx), "gradScale": gs, "gradZeroPoint": gz,
                "exactScale": None, "exactZeroPoint": None}
        # The backward's zero point (trunc(clamp(z + 0.5))) equals the per-channel op's (rint) for these z?
        zb = int(math.trunc(min(max(float(F32(F32(zf) + F32(0.5))), qmin), qmax)))
        if zb == int(min(max(np.rint(zf), qmin), qmax)):
            ex, es, ez = per_element_terms(x, s, zb, qmin, qmax, gfv, g)
            if np.array_equal(bits(ex), bits(gx)):
                case["exactScale"] = math.fsum(es.astype(np.float64))
                case["exactZeroPoint"] = math.fsum(ez.astype(np.float64))
                for got, exact in ((gs, case["exactScale"]), (gz, case["exactZeroPoint"])):
                    if exact != 0:
                        worst = max(worst, abs(got - exact) / abs(exact))
        cases.append(case)
        STATS.append(f"learnable {name}: n={x.size} gradScale={gs!r} (exact sum {case['exactScale']!r}) "
                     f"gradZeroPoint={gz!r} (exact {case['exactZeroPoint']!r})")
    STATS.append(f"learnable: torch's float32 sums vs the exact sums of its own terms: worst relative error {worst:.3g}")
    return cases


STATS_WORST = [0.0]


def gen_learnable_channel(rng):
    cases = []
    # torch 1.13's per-channel learnable backward fails on a 1-D tensor (its sum over no axis reduces everything)
    for shape, axis in [sa for sa in CHANNEL_LAYOUTS if len(sa[0]) > 1]:
        for qmin, qmax, gf in ((-128, 127, 1.0), (0, 255, None), (-8, 7, 0.5)):
            ch = shape[axis]
            scales, zi = channel_params(rng, ch, qmin, qmax)
            zf = (zi.astype(np.float32) + rng.choice(np.array([0.0, 0.3, -0.4, 0.5, -0.5], dtype=np.float32), ch)).astype(np.float32)
            x = channel_x(rng, shape, axis, scales)
            g = grads(rng, x.size, specials=False)
            gfv = f32(1.0 / math.sqrt(x.size * qmax)) if gf is None else f32(gf)
            xt = t32(x).reshape(shape).requires_grad_()
            st = torch.from_numpy(scales.copy()).requires_grad_()
            zt = torch.from_numpy(zf.copy()).requires_grad_()
            y = torch._fake_quantize_learnable_per_channel_affine(xt, st, zt, axis, qmin, qmax, gfv)
            y.backward(t32(g).reshape(shape))
            # Exact per-channel sums of torch's own per-element terms (one channel per element, [n, 1]).
            n = x.size
            inner = int(np.prod(shape[axis + 1:]))
            cidx = (np.arange(n) // inner) % ch
            xe = t32(x).reshape(n, 1).requires_grad_()
            se = torch.from_numpy(scales[cidx].copy()).requires_grad_()
            ze = torch.from_numpy(zf[cidx].copy()).requires_grad_()
            torch._fake_quantize_learnable_per_channel_affine(xe, se, ze, 0, qmin, qmax, gfv).backward(t32(g).reshape(n, 1))
            assert np.array_equal(bits(xe.grad.numpy().reshape(-1)), bits(xt.grad.numpy().reshape(-1)))
            es = [math.fsum(se.grad.numpy()[cidx == c].astype(np.float64)) for c in range(ch)]
            ez = [math.fsum(ze.grad.numpy()[cidx == c].astype(np.float64)) for c in range(ch)]
            for got, exact in ((st.grad.numpy(), es), (zt.grad.numpy(), ez)):
                for gv, ev in zip(got, exact):
                    if ev != 0:
                        STATS_WORST[0] = max(STATS_WORST[0], abs(float(gv) - ev) / abs(ev))
            cases.append({"name": f"shape=[{','.join(map(str, shape))}] axis={axis} q=[{qmin},{qmax}] gradFactor={gfv!r}",
                          "exactScale": es, "exactZeroPoint": ez,
                          "scale": enc(scales), "zeroPoint": enc(zf), "axis": axis, "shape": shape, "quantMin": qmin,
                          "quantMax": qmax, "gradFactor": gfv, "x": enc(x), "gradOut": enc(g),
                          "output": enc(y.detach().numpy().reshape(-1)), "gradX": enc(xt.grad.numpy().reshape(-1)),
                          "gradScale": enc(st.grad.numpy()), "gradZeroPoint": enc(zt.grad.numpy())})
    STATS.append(f"learnable per channel: torch's float32 sums vs the exact sums of its own terms: worst relative "
                 f"error {STATS_WORST[0]:.3g}")
    return cases


# ----------------------------------------------------------------------------------------------- FakeQuantize

def gen_module(rng):
    from torch.ao.quantization import FakeQuantize
    from torch.ao.quantization.observer import (MinMaxObserver, MovingAverageMinMaxObserver,
                                                 MovingAveragePerChannelMinMaxObserver)

    seqs = []
    configs = [
        ("movingAverage int8 symmetric", {"method": "movingAverage", "dtype": "int8", "symmetric": True},
         dict(observer=MovingAverageMinMaxObserver, quant_min=-128, quant_max=127, dtype=torch.qint8,
              qscheme=torch.per_tensor_symmetric), None),
        ("movingAverage uint8 affine c=0.1", {"method": "movingAverage", "dtype": "uint8", "averagingConstant": 0.1},
         dict(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8,
              qscheme=torch.per_tensor_affine, averaging_constant=0.1), None),
        ("minmax uint8 affine", {"method": "minmax", "dtype": "uint8"},
         dict(observer=MinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8,
              qscheme=torch.per_tensor_affine), None),
        ("movingAverage 4-bit", {"method": "movingAverage", "dtype": "int8", "quantMin": -8, "quantMax": 7},
         dict(observer=MovingAverageMinMaxObserver, quant_min=-8, quant_max=7, dtype=torch.qint8,
              qscheme=torch.per_tensor_affine), None),
        ("per-channel weights int8 symmetric",
         {"method": "movingAverage", "dtype": "int8", "symmetric": True, "axis": 0, "shape": [8, 3, 3, 3]},
         dict(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127, dtype=torch.qint8,
              qscheme=torch.per_channel_symmetric, ch_axis=0), [8, 3, 3, 3]),
    ]
    # flags before each step: (observer enabled, fake quant enabled)
    flags = [(True, True), (True, True), (True, True), (False, True), (True, False), (False, True)]
    for name, options, kwargs, shape in configs:
        fq = FakeQuantize(**kwargs)
        fq.train()
        steps = []
        for i, (obs, fqe) in enumerate(flags):
            fq.enable_observer(obs)
            fq.enable_fake_quant(fqe)
            n = int(np.prod(shape)) if shape else 257 + 64 * i
            spread = 1.0 + 0.5 * i
            x = (rng.standard_normal(n) * spread + 0.2 * i).astype(np.float32)
            if shape:
                x = (x.reshape(shape) * np.linspace(0.2, 2.0, shape[0]).reshape(-1, 1, 1, 1)).astype(np.float32).reshape(-1)
            g = grads(rng, n, specials=False)
            xt = t32(x).reshape(shape if shape else [n]).requires_grad_()
            y = fq(xt)
            y.backward(t32(g).reshape(shape if shape else [n]))
            steps.append({"observerEnabled": obs, "fakeQuantEnabled": fqe, "x": enc(x), "gradOut": enc(g),
                          "scale": enc(fq.scale.detach().numpy().astype(np.float32)),
                          "zeroPoint": enc(fq.zero_point.detach().numpy().astype(np.int32)),
                          "output": enc(y.detach().numpy().reshape(-1)), "gradX": enc(xt.grad.numpy().reshape(-1))})
        seqs.append({"name": name, "options": options, "shape": shape, "steps": steps})
    return seqs


# ----------------------------------------------------------------------------------------------- main

def capability():
    cfg = torch.__config__.show()
    for line in cfg.splitlines():
        if "CPU capability usage" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


def generate():
    rng = np.random.default_rng(20240607)
    doc = {
        "generator": GENERATOR,
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
                     "capability": capability()},
        "description": "torch fake_quantize_* (forward, mask, autograd), _fake_quantize_learnable_* (LSQ) and "
                       "torch.ao.quantization.FakeQuantize; see " + GENERATOR,
    }
    doc["forward"] = gen_forward(rng)
    doc["forwardChannel"] = gen_forward_channel(rng)
    doc["learnable"] = gen_learnable(rng)
    doc["learnableChannel"] = gen_learnable_channel(rng)
    doc["module"] = gen_module(rng)
    return json.dumps(doc, indent=1) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed file differs from a fresh run")
    args = ap.parse_args()
    text = generate()
    if args.check:
        with open(OUT) as f:
            same = f.read() == text
        print(f"{os.path.relpath(OUT, ROOT)}: {'up to date' if same else 'DIFFERS'}")
        sys.exit(0 if same else 1)
    with open(OUT, "w") as f:
        f.write(text)
    for s in STATS:
        print(s)
    print(f"wrote {os.path.relpath(OUT, ROOT)} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
