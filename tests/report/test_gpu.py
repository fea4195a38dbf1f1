"""The GPU path: every experiment's smoke preset on CUDA gives the CPU run's verdicts.

At smoke, claims are not evaluated (their verdicts match trivially) and every check is: each check must have
the CPU run's verdict on CUDA, where the arithmetic is the same up to the order of floating-point sums (the
checks' tolerances allow for that; a check that differs is a finding). Every experiment accepts
``--device cuda``; those that compute in float64 closed forms or on CPU-only data ignore it. Skipped without
CUDA, with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from udl.experiments import experiment_names, get_experiment
from udl.report import runner

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="CUDA is not available: the gpu tier needs a GPU"
    ),
]


def _verdicts(outcome: runner.Outcome) -> dict[str, object]:
    r = outcome.result
    return {
        "status": r["status"],
        "claims": [(c["id"], c["verdict"]) for c in r["claims"]],
        "checks": [(c["id"], c["verdict"]) for c in r["checks"]],
    }


@pytest.mark.parametrize("name", experiment_names())
def test_smoke_on_cuda_gives_the_cpu_verdicts(name: str, tmp_path: Path) -> None:
    exp = get_experiment(name)
    cpu = runner.execute(exp, exp.presets["smoke"], "smoke", final=tmp_path / "cpu", device="cpu")
    cuda = runner.execute(exp, exp.presets["smoke"], "smoke", final=tmp_path / "cuda", device="cuda")
    assert cuda.result["status"] == "ok", cuda.result["error"]
    assert _verdicts(cuda) == _verdicts(cpu)
    assert cuda.result["metrics"].keys() == cpu.result["metrics"].keys()
