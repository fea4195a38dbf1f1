"""mnist1d-table: the verdicts on made-up accuracies, the config checks, and the stacked training loop
(equal to training each seed alone, float64; resumed bit for bit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from udl.experiments.ch08.mnist1d_table import (
    MODELS,
    Config,
    accuracy_verdict,
    ordering_verdict,
    train_stacked,
)
from udl.nn import StackedEnsemble
from udl.optim import Adam
from udl.report import Run
from udl.stats import Verdict


def test_accuracy_verdict_holds_fails_and_needs_a_spread() -> None:
    assert accuracy_verdict([93.0, 94.5, 95.0, 93.5], 94.0) is Verdict.HOLDS
    assert accuracy_verdict([92.1, 92.3, 92.2], 94.0) is Verdict.FAILS  # tight seeds, 1.8 points below
    assert accuracy_verdict([31.5, 31.4, 31.5], 32.0) is Verdict.FAILS
    assert accuracy_verdict([94.0], 94.0) is Verdict.NOT_ESTABLISHED  # one seed: no spread


def _table(cnn: list[float], gru: list[float], mlp: list[float], logistic: list[float]) -> dict:
    return {"cnn": cnn, "gru": gru, "mlp": mlp, "logistic": logistic}


def test_ordering_verdict() -> None:
    good = _table([94, 93, 95], [91, 90, 92], [68, 67, 69], [32, 32, 31])
    verdict, comparisons = ordering_verdict(good)
    assert verdict is Verdict.HOLDS and set(comparisons) == {"cnn>mlp", "gru>mlp", "mlp>logistic"}
    # the MLP below logistic regression: fails
    assert (
        ordering_verdict(_table([94, 93, 95], [91, 90, 92], [30, 31, 29], [32, 32, 31]))[0] is Verdict.FAILS
    )
    # the GRU only noisily above the MLP: not established
    noisy = _table([94, 93, 95], [60, 80, 70], [68, 67, 69], [32, 32, 31])
    assert ordering_verdict(noisy)[0] is Verdict.NOT_ESTABLISHED
    # equal arms: no difference at all fails
    assert (
        ordering_verdict(_table([68, 67, 69], [91, 90, 92], [68, 67, 69], [32, 32, 31]))[0] is Verdict.FAILS
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("steps", 0), ("eval_every", 0), ("seeds", 0), ("checkpoint_every", 0), ("lr", 0.0),
     ("batch_size", 0), ("batch_size", 4001), ("train_split", 1.0), ("num_samples", 5)],
)  # fmt: skip
def test_config_rejects(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})


def test_config_rejects_eval_every_beyond_steps() -> None:
    with pytest.raises(ValueError, match="eval_every"):
        Config(steps=10, eval_every=11)


def _data(dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    x, x_test = torch.randn(120, 40, generator=g, dtype=dtype), torch.randn(30, 40, generator=g, dtype=dtype)
    return x, torch.randint(0, 10, (120,), generator=g), x_test, torch.randint(0, 10, (30,), generator=g)


def _alone(model: nn.Module, cfg: Config, data: tuple[torch.Tensor, ...]) -> nn.Module:
    """The benchmark's train_model loop for one model: consecutive batches, Adam, steps 0..steps."""
    x, y = data[0], data[1]
    optimizer = Adam(model.parameters(), lr=cfg.lr)
    for step in range(cfg.steps + 1):
        i = (step * cfg.batch_size) % len(x)
        loss = nn.functional.cross_entropy(model(x[i : i + cfg.batch_size]), y[i : i + cfg.batch_size])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model


@pytest.mark.parametrize("name", list(MODELS))
def test_stacked_training_equals_each_seed_alone_float64(name: str, tmp_path: Path) -> None:
    cfg = Config(steps=12, eval_every=6, batch_size=50, seeds=3)  # 120 rows, batches of 50: a short last one
    data = _data(torch.float64)
    factory = MODELS[name][1]
    members = [factory(generator=torch.Generator().manual_seed(s)).double() for s in range(3)]
    stacked = StackedEnsemble(members)
    history = train_stacked(name, stacked, cfg, data, Run(tmp_path, device=torch.device("cpu")))
    assert history["step"] == [0, 6, 12] and len(history["test_accuracy"][0]) == 3
    for m, member in enumerate(members):
        alone = _alone(member, cfg, data)
        for p_name, p in alone.named_parameters():
            torch.testing.assert_close(
                stacked.get_parameter(p_name.replace(".", "__"))[m], p, rtol=1e-9, atol=1e-11
            )


@pytest.mark.parametrize("name", list(MODELS))
def test_a_seed_trains_alike_whatever_the_number_of_seeds_beside_it(name: str, tmp_path: Path) -> None:
    """float32, bit for bit: seed 0 trained with seeds 1 and 2 beside it = seed 0 trained alone (the GRU: to
    rounding only)."""
    cfg = Config(steps=8, eval_every=4, batch_size=50, seeds=3)
    data, factory = _data(torch.float32), MODELS[name][1]
    (tmp_path / "three").mkdir()
    (tmp_path / "one").mkdir()
    three = StackedEnsemble([factory(generator=torch.Generator().manual_seed(s)) for s in range(3)])
    one = StackedEnsemble([factory(generator=torch.Generator().manual_seed(0))])
    h3 = train_stacked(name, three, cfg, data, Run(tmp_path / "three", device=torch.device("cpu")))
    h1 = train_stacked(name, one, cfg, data, Run(tmp_path / "one", device=torch.device("cpu")))
    if name == "gru":  # its batched matrix products (2M members x directions) round differently with M
        torch.testing.assert_close(
            three.get_parameter("linear__weight")[:1], one.get_parameter("linear__weight")
        )
        return
    assert [a[0] for a in h3["test_loss"]] == [a[0] for a in h1["test_loss"]]
    for (k, a), (_, b) in zip(three.state_dict().items(), one.state_dict().items(), strict=True):
        assert torch.equal(a[:1], b), k


class _Killed(Exception):
    pass


class _KilledAfterStep19(Run):
    def save_state(self, key: str, tree: Any) -> None:
        super().save_state(key, tree)
        if tree["next_step"] == 20:
            raise _Killed


def test_resume_continues_bit_for_bit(tmp_path: Path) -> None:
    data = _data(torch.float32)
    cfg = Config(steps=29, eval_every=10, batch_size=50, seeds=2, checkpoint_every=10)

    def fresh() -> StackedEnsemble:
        return StackedEnsemble([MODELS["cnn"][1](generator=torch.Generator().manual_seed(s)) for s in (0, 1)])

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = fresh()
    expected = train_stacked("cnn", whole, cfg, data, Run(tmp_path / "a", device=torch.device("cpu")))
    assert expected["step"] == [0, 10, 20, 29]
    with pytest.raises(_Killed):  # killed right after the checkpoint of step 19
        train_stacked(
            "cnn", fresh(), cfg, data, _KilledAfterStep19(tmp_path / "b", device=torch.device("cpu"))
        )
    resumed = fresh()
    history = train_stacked("cnn", resumed, cfg, data, Run(tmp_path / "b", device=torch.device("cpu")))
    assert history == expected
    for (k, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
