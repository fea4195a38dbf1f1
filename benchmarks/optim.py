"""Benchmark: one optimizer step of udl.optim vs torch.optim, both multi-tensor (foreach=True).

The parameters are those of a ResNet-18 (62 tensors of mixed sizes, 11.7M float32 numbers: 7x7 and 3x3 convolution
kernels, 1x1 shortcuts, batch-norm scales and shifts, a 512x1000 classifier), on the CPU, with fixed random
gradients. Each optimizer is warmed up, then the two implementations take turns, one step each; the table gives the
median step time of each and the ratio torch_time / udl_time (above 1: udl is faster) as the median over the
adjacent pairs of steps, which cancels most of the noise of a shared machine. The trajectories are checked to be
identical before timing. Run: python benchmarks/optim.py
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

import torch

import udl.optim

WARMUP = 5
STEPS = 30
BUDGET_S = 8.0  # per optimizer: stop sampling early on a loaded machine, so the run stays well under a minute


def resnet18_shapes() -> list[tuple[int, ...]]:
    """Parameter shapes of torchvision's ResNet-18, in order (convolutions without bias, batch norms)."""
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
    c_in = 64
    for c in (64, 128, 256, 512):
        for block in range(2):
            first_in = c_in if block == 0 else c
            shapes += [(c, first_in, 3, 3), (c,), (c,), (c, c, 3, 3), (c,), (c,)]
            if block == 0 and first_in != c:
                shapes += [(c, first_in, 1, 1), (c,), (c,)]
        c_in = c
    shapes += [(1000, 512), (1000,)]
    return shapes


def make_params(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    params = []
    for shape in resnet18_shapes():
        p = torch.randn(shape, generator=g).mul_(0.05).requires_grad_()
        p.grad = torch.randn(shape, generator=g).mul_(0.01)
        params.append(p)
    return params


CASES: dict[str, tuple[Callable[..., torch.optim.Optimizer], Callable[..., torch.optim.Optimizer], dict]] = {
    "SGD momentum": (torch.optim.SGD, udl.optim.SGD, {"lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4}),
    "Adam": (torch.optim.Adam, udl.optim.Adam, {"lr": 1e-3}),
    "AdamW": (torch.optim.AdamW, udl.optim.AdamW, {"lr": 1e-3, "weight_decay": 1e-2}),
    "RMSprop": (torch.optim.RMSprop, udl.optim.RMSprop, {"lr": 1e-3}),
}


def time_step(optimizer: torch.optim.Optimizer) -> float:
    start = time.perf_counter()
    optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    shapes = resnet18_shapes()
    n = sum(torch.Size(s).numel() for s in shapes)
    print(
        f"optimizer step, ResNet-18 parameter set ({len(shapes)} tensors, {n / 1e6:.1f}M float32), CPU, "
        f"{torch.get_num_threads()} threads, foreach=True, median of up to {STEPS} steps after {WARMUP} warm-up"
    )
    print(f"  {'optimizer':14s} {'torch ms':>9s} {'udl ms':>9s} {'torch/udl':>10s} {'steps':>6s}")
    summary: dict[str, dict[str, float]] = {}
    for name, (torch_cls, udl_cls, kwargs) in CASES.items():
        torch_params, udl_params = make_params(0), make_params(0)
        torch_opt = torch_cls(torch_params, foreach=True, **kwargs)
        udl_opt = udl_cls(udl_params, foreach=True, **kwargs)
        warm_deadline = time.perf_counter() + BUDGET_S / 2
        for _ in range(WARMUP):
            torch_opt.step()
            udl_opt.step()
            if time.perf_counter() > warm_deadline:
                break
        same = all(torch.equal(a, b) for a, b in zip(torch_params, udl_params, strict=True))
        torch_times: list[float] = []
        udl_times: list[float] = []
        deadline = time.perf_counter() + BUDGET_S
        for i in range(STEPS):  # alternate which goes first, so drift and cache effects hit both alike
            if i >= 3 and time.perf_counter() > deadline:
                break
            if i % 2 == 0:
                torch_times.append(time_step(torch_opt))
                udl_times.append(time_step(udl_opt))
            else:
                udl_times.append(time_step(udl_opt))
                torch_times.append(time_step(torch_opt))
        t_torch, t_udl = statistics.median(torch_times), statistics.median(udl_times)
        ratio = statistics.median(a / b for a, b in zip(torch_times, udl_times, strict=True))
        note = "" if same else "   (trajectories differ!)"
        print(f"  {name:14s} {t_torch * 1e3:9.2f} {t_udl * 1e3:9.2f} {ratio:10.3f} {len(udl_times):6d}{note}")
        summary[f"{name}_step"] = {
            "ours_s": round(t_udl, 6),
            "baseline_s": round(t_torch, 6),
            "speedup": round(ratio, 3),
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
