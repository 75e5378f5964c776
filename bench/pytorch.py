# PyTorch's figures for the calibration and fake-quant rows (bench/contenders/pytorch.mjs runs this with
# /usr/bin/python3): one thread, float32 standard-normal input of n elements, each case timed `reps` times after a
# warm-up call. Prints one JSON object: {"version": ..., "seconds": {case: [per-call seconds, ...]}}.
import json
import sys
import time
import warnings

import torch

warnings.filterwarnings('ignore')
torch.set_num_threads(1)
from torch.ao.quantization.observer import (  # noqa: E402
    HistogramObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    PerChannelMinMaxObserver,
)

args = json.loads(sys.argv[1])
n, reps, channels = args['n'], args['reps'], args['channels']
torch.manual_seed(0)
x = torch.randn(n)
g = torch.randn(n)
scale, zp, qmin, qmax = 6 / 255, 0, -128, 127


def hist_observe():
    HistogramObserver()(x)


observed = HistogramObserver()
observed(x)

xg = x.clone().requires_grad_(True)


def fq_fwd_bwd():
    xg.grad = None
    torch.fake_quantize_per_tensor_affine(xg, scale, zp, qmin, qmax).backward(g)


s_t = torch.tensor([scale], requires_grad=True)
z_t = torch.tensor([float(zp)], requires_grad=True)
grad_factor = 1.0 / (n * qmax) ** 0.5


def learnable():
    xg.grad = None
    s_t.grad = None
    z_t.grad = None
    torch._fake_quantize_learnable_per_tensor_affine(xg, s_t, z_t, qmin, qmax, grad_factor).backward(g)


a0 = x.view(channels, n // channels)
cases = {
    'minmax': lambda: MinMaxObserver()(x),
    'movingaverage': lambda: MovingAverageMinMaxObserver()(x),
    'perchannel': lambda: PerChannelMinMaxObserver(ch_axis=0)(a0),
    'histogram': hist_observe,
    'calculate_qparams': lambda: observed.calculate_qparams(),
    'fq-forward': lambda: torch.fake_quantize_per_tensor_affine(x, scale, zp, qmin, qmax),
    'fq-fwd-bwd': fq_fwd_bwd,
    'learnable-fwd-bwd': learnable,
}
out = {'version': torch.__version__, 'seconds': {}}
for name in args['cases']:
    f = cases[name]
    f()
    samples = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        samples.append(time.perf_counter() - t)
    out['seconds'][name] = samples
print(json.dumps(out))
