"""Benchmark: the double-descent protocol (fig. 8.10), sweep engine vs the plain per-model loop.

28 MLPs 40-h-h-10 (h = 2..400) on 4000 MNIST-1D examples, SGD lr 0.01 momentum 0.9, batch 100 — the book's
protocol with EPOCHS epochs instead of 1000. ``loop`` trains one ``udl.nn.MLP`` after another (what the book's
notebook does); ``engine`` is ``udl.train.train_sweep``. They alternate in this process (loop, engine, loop,
engine) so both see the same machine state; the best time of each is reported, with the achieved GFLOP/s
(useful work only: 6 × multiply-adds × examples, no padding) against this machine's float32 matmul peak,
measured here on 2048² matrices.

Run: python benchmarks/sweep.py [EPOCHS]
"""

from __future__ import annotations

import json
import sys
import time

import torch
from torch import nn

from udl.data import MNIST1DConfig, load_mnist1d
from udl.experiments.ch08.double_descent import BOOK_WIDTHS
from udl.nn import MLP
from udl.optim import SGD
from udl.train import train_sweep


def useful_flops(epochs: int, examples: int) -> float:
    macs = sum(40 * h + h * h + 10 * h for h in BOOK_WIDTHS)
    return 6.0 * macs * examples * epochs  # forward 2 FLOP per MAC, backward twice the forward


def matmul_peak() -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * 2048**3 / best / 1e9


def loop(x: torch.Tensor, y: torch.Tensor, epochs: int) -> float:
    start = time.perf_counter()
    for i, h in enumerate(BOOK_WIDTHS):
        net = MLP(40, (h, h), 10, init="he", generator=torch.Generator().manual_seed(i))
        opt = SGD(net.parameters(), lr=0.01, momentum=0.9)
        g = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            perm = torch.randperm(len(x), generator=g)
            for j in range(0, len(x), 100):
                idx = perm[j : j + 100]
                opt.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
                opt.step()
    return time.perf_counter() - start


def engine(x: torch.Tensor, y: torch.Tensor, epochs: int, workers: int | None = None) -> float:
    start = time.perf_counter()
    train_sweep(
        [(h, h) for h in BOOK_WIDTHS],
        (x, y),
        in_features=40,
        out_features=10,
        epochs=epochs,
        batch_size=100,
        lr=0.01,
        momentum=0.9,
        seeds=list(range(len(BOOK_WIDTHS))),
        workers=workers,
    )
    return time.perf_counter() - start


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    data = load_mnist1d(MNIST1DConfig(num_samples=8000, train_split=0.5, label_noise=0.15))
    x, y = data.x_train, data.y_train
    peak = matmul_peak()
    times: dict[str, list[float]] = {"loop": [], "engine": [], "engine-1-worker": []}
    for _ in range(2):
        times["loop"].append(loop(x, y, epochs))
        times["engine"].append(engine(x, y, epochs))
        times["engine-1-worker"].append(engine(x, y, epochs, workers=1))
    flops = useful_flops(epochs, len(x))
    print(
        f"double-descent sweep: {len(BOOK_WIDTHS)} widths, {epochs} epochs, {torch.get_num_threads()} threads; "
        f"float32 matmul peak {peak:.0f} GFLOP/s"
    )
    for kind in times:
        best = min(times[kind])
        print(
            f"  {kind:15s} {best:7.2f} s   {flops / best / 1e9:6.1f} GFLOP/s "
            f"({100 * flops / best / 1e9 / peak:.0f}% of peak)   1000 epochs ≈ {best * 1000 / epochs / 60:.1f} min"
        )
    floor = useful_flops(epochs, len(x)) / peak / 1e9
    print(
        f"  speed-up {min(times['loop']) / min(times['engine']):.1f}x (1 worker: "
        f"{min(times['loop']) / min(times['engine-1-worker']):.1f}x);  engine / floor at peak "
        f"{min(times['engine']) / floor:.1f}x; floor for 1000 epochs: {floor * 1000 / epochs:.0f} s"
    )
    print(
        json.dumps(
            {
                f"double_descent_{kind}_vs_loop": {
                    "ours_s": round(min(times[kind]), 4),
                    "baseline_s": round(min(times["loop"]), 4),
                    "speedup": round(min(times["loop"]) / min(times[kind]), 2),
                }
                for kind in ("engine", "engine-1-worker")
            }
        )
    )


if __name__ == "__main__":
    main()
