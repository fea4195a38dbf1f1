"""A data-parallel ``fit`` for tests/train/test_distributed.py: run under ``python -m torch.distributed.run``
(several ranks) or plainly (one process). Writes each rank's final weights to ``OUT/weights-<rank>.pt``; the
run object (metrics.jsonl, checkpoints) writes into ``OUT/run`` on rank 0 only.

usage: _ddp_worker.py OUT [--kill-at EPOCH] [--resume]     one run into OUT (--kill-at: every rank dies there)
       _ddp_worker.py OUT --phases                         in one launch: an uninterrupted run into OUT/full,
                                                           one interrupted at epoch 4 and resumed into OUT/resumed
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from torch import nn

from udl.optim import SGD
from udl.report import Run
from udl.train import distributed, fit, seed_everything

N, BATCH, EPOCHS = 100, 15, 6  # batches of 15 (shares 8 + 7) and a last one of 10 (5 + 5)


class Interrupted(Exception):
    """Raised on every rank inside epoch 4's evaluation: the training and its objects are abandoned there."""


def train(
    out: Path, *, kill_at: int | None = None, resume: bool = False, hard: bool = True
) -> dict[str, torch.Tensor]:
    """Train into ``out``; at epoch ``kill_at`` every rank dies (``hard``: os._exit) or raises Interrupted."""
    distributed.init_from_env(torch.device("cpu"))
    rank, _ = distributed.rank_and_world()
    seed_everything(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (N,), generator=g)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    opt = SGD(model.parameters(), lr=0.2, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    epoch = [0]

    def evaluate(m: nn.Module) -> dict[str, float]:
        epoch[0] += 1
        if kill_at is not None and epoch[0] == kill_at:
            if hard:
                os._exit(17)  # every rank dies here, after the checkpoint of the epoch before
            raise Interrupted
        return {"train_error": float((m(x).argmax(-1) != y).double().mean())}

    run_dir = out / "run"
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
    distributed.barrier()
    run = Run(run_dir, device=torch.device("cpu"), resume=resume, identity={"experiment": "ddp-test"})
    fit(model, nn.functional.cross_entropy, opt, (x, y), epochs=EPOCHS, batch_size=BATCH, scheduler=sched,
        generator=g, evaluate=evaluate, run=run, checkpoint_every=1)  # fmt: skip
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out.mkdir(parents=True, exist_ok=True)
    torch.save(weights, out / f"weights-{rank}.pt")
    return weights


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--phases", action="store_true")
    a = parser.parse_args()
    if a.phases:
        train(a.out / "full")
        try:
            train(a.out / "resumed", kill_at=4, hard=False)
        except Interrupted:
            pass
        else:
            raise AssertionError("the interrupted run was not interrupted")
        if distributed.rank_and_world()[0] == 0:  # what the interrupted run left: epochs 1-3
            (a.out / "lines-at-kill").write_text(
                str(len((a.out / "resumed/run/metrics.jsonl").read_text().splitlines()))
            )
        train(a.out / "resumed", resume=True)
    else:
        train(a.out, kill_at=a.kill_at, resume=a.resume)
