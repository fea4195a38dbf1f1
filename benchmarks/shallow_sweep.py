"""Benchmark: training a width sweep of shallow networks, one network at a time vs batched.

The sweep of the shallow-networks experiment (widths 1..128, 4 replicas each, full-batch Adam on 256 points):

- ``loop``: 32 ``ShallowNetwork`` modules, each with its own Adam, trained one after the other (the obvious code);
- ``per-width``: one ``BatchedShallowNetwork`` per width holding its 4 replicas (what the experiment does);
- ``padded``: a single ``BatchedShallowNetwork`` holding all 32, padded to width 128.

All three compute the same fits (checked: same final predictions to float32 rounding).
Run: python benchmarks/shallow_sweep.py
"""

from __future__ import annotations

import json
import time

import torch

from udl.data.toy import sine_exp_function
from udl.nn import BatchedShallowNetwork

WIDTHS = (1, 2, 4, 8, 16, 32, 64, 128)
REPLICAS = 4
STEPS = 300


def train(modules: list[torch.nn.Module], x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    for module in modules:
        optimizer = torch.optim.Adam(module.parameters(), lr=0.01)
        for _ in range(STEPS):
            out = module(x)
            loss = (out - y).pow(2).mean(dim=(-2, -1)).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return [m(x).reshape(-1, x.shape[0]) for m in modules]


def build(kind: str) -> list[torch.nn.Module]:
    g = torch.Generator().manual_seed(0)
    if kind == "loop":
        return [
            BatchedShallowNetwork(1, [w], 1, generator=g).member(0) for w in WIDTHS for _ in range(REPLICAS)
        ]
    if kind == "per-width":
        return [BatchedShallowNetwork(1, [w] * REPLICAS, 1, generator=g) for w in WIDTHS]
    return [BatchedShallowNetwork(1, [w for w in WIDTHS for _ in range(REPLICAS)], 1, generator=g)]


def main() -> None:
    torch.set_num_threads(torch.get_num_threads())
    x = torch.linspace(-1, 1, 256).unsqueeze(1)
    y = sine_exp_function((x + 1) / 2)
    results, times = {}, {}
    for kind in ("loop", "per-width", "padded"):
        start = time.perf_counter()
        results[kind] = torch.cat(train(build(kind), x, y))
        times[kind] = time.perf_counter() - start
    for kind in ("per-width", "padded"):
        diff = float((results[kind] - results["loop"]).abs().max())
        assert diff < 1e-3, f"{kind} disagrees with the loop by {diff}"
    print(
        f"shallow width sweep: {len(WIDTHS)} widths x {REPLICAS} replicas, {STEPS} Adam steps, "
        f"{torch.get_num_threads()} threads"
    )
    for kind, seconds in times.items():
        print(f"  {kind:10s} {seconds:7.2f} s   speed-up vs loop {times['loop'] / seconds:5.1f}x")
    summary = {
        f"shallow_sweep_{kind}_vs_loop": {
            "ours_s": round(times[kind], 4),
            "baseline_s": round(times["loop"], 4),
            "speedup": round(times["loop"] / times[kind], 2),
        }
        for kind in ("per-width", "padded")
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
