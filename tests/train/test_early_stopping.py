"""EarlyStopping alone (patience, min_delta, mode, bad input) and inside ``fit`` (stop epoch, restoring exactly
the best epoch's weights, checkpoint/resume mid-patience giving the uninterrupted result)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from reference import DirRun
from udl.errors import CheckpointError
from udl.train import EarlyStopping, fit, seed_everything
from udl.train.checkpoint import load_checkpoint


def _reference_stop(
    values: list[float], patience: int, min_delta: float, mode: str
) -> tuple[int | None, int]:
    """(stop epoch, best epoch) by the definition, written independently: an epoch improves on the running best
    by more than min_delta; stop when the last `patience` epochs all failed to."""
    sign = 1.0 if mode == "min" else -1.0
    best, best_epoch, since = math.inf, 0, 0
    for epoch, v in enumerate(values, 1):
        if epoch == 1 or sign * v < best - min_delta:
            best, best_epoch, since = sign * v, epoch, 0
        else:
            since += 1
            if since == patience:
                return epoch, best_epoch
    return None, best_epoch


SEQUENCE = [5.0, 4.0, 4.5, 3.0, 3.5, 3.2, 3.1, 3.9, 2.0, 1.0]


def test_patience_counting() -> None:
    es = EarlyStopping(patience=3, monitor="val", restore_best=False)
    bad = []
    for epoch, v in enumerate(SEQUENCE, 1):
        stop = es.step(epoch, {"val": v, "loss": 0.0})
        bad.append(es.bad_epochs)
        if stop:
            break
    assert bad == [0, 0, 1, 0, 1, 2, 3]
    assert es.stopped_epoch == 7 and es.best_epoch == 4 and es.best == 3.0 and es.should_stop
    assert (es.stopped_epoch, es.best_epoch) == _reference_stop(SEQUENCE, 3, 0.0, "min")
    with pytest.raises(RuntimeError, match="already stopped"):
        es.step(8, {"val": 0.0})


@pytest.mark.parametrize("patience", [1, 2, 4, 6])
@pytest.mark.parametrize("min_delta", [0.0, 0.25, 0.6])
@pytest.mark.parametrize("mode", ["min", "max"])
def test_matches_the_reference_definition(patience: int, min_delta: float, mode: str) -> None:
    g = torch.Generator().manual_seed(patience * 100 + int(min_delta * 10))
    values = torch.randn(30, generator=g, dtype=torch.float64).cumsum(0).tolist()  # a random walk
    es = EarlyStopping(patience=patience, min_delta=min_delta, monitor="m", mode=mode, restore_best=False)
    for epoch, v in enumerate(values, 1):
        if es.step(epoch, {"m": v}):
            break
    assert (es.stopped_epoch, es.best_epoch) == _reference_stop(values, patience, min_delta, mode)


def test_min_delta_and_max_mode() -> None:
    es = EarlyStopping(patience=2, min_delta=0.1, monitor="val", restore_best=False)
    assert not es.step(1, {"val": 1.0})
    assert not es.step(2, {"val": 0.95})  # better, but by less than min_delta
    assert es.step(3, {"val": 0.9})  # 0.9 is not below 1.0 − 0.1
    assert es.best_epoch == 1
    es = EarlyStopping(patience=1, monitor="acc", mode="max", restore_best=False)
    assert not es.step(1, {"acc": 0.5}) and not es.step(2, {"acc": 0.6})
    assert es.step(3, {"acc": 0.6}) and es.best_epoch == 2


def test_bad_input() -> None:
    for kwargs in (
        {"patience": 0},
        {"patience": 2.0},
        {"patience": 1, "min_delta": -1.0},
        {"patience": 1, "mode": "up"},
    ):
        with pytest.raises(ValueError):
            EarlyStopping(**kwargs)  # type: ignore[arg-type]
    es = EarlyStopping(patience=2, monitor="val_error")
    with pytest.raises(ValueError, match=r"'val_error'.*loss, test_error"):
        es.step(1, {"loss": 1.0, "test_error": 0.5})
    with pytest.raises(ValueError, match="needs the model"):
        es.step(1, {"val_error": 0.5})
    with pytest.raises(ValueError, match="NaN"):
        EarlyStopping(patience=2, monitor="v", restore_best=False).step(1, {"v": float("nan")})


# -- inside fit ----------------------------------------------------------------------------------------------------
def _problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 5, generator=g)
    y = (x @ torch.randn(5, 3, generator=g)).argmax(-1)
    return x, y


def _train(run=None, early_stopping=None, epochs=20, snapshots=None, first_epoch=0, checkpoint_every=2):
    """Train a small classifier; the monitored 'val' metric is a fixed function of the epoch (SEQUENCE-like), so
    the stop epoch is known in advance; ``snapshots`` collects the weights seen at every evaluation."""
    seed_everything(1)
    x, y = _problem()
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    epoch = {"n": first_epoch}
    values = [5.0, 4.0, 4.5, 3.0, 3.5, 3.2, 3.1, 2.9, 3.3, 3.4, 3.6, 3.0, 3.2, 3.3] + [9.0] * 30

    def evaluate(m: nn.Module) -> dict[str, float]:
        epoch["n"] += 1
        if snapshots is not None:
            snapshots[epoch["n"]] = {k: v.clone() for k, v in m.state_dict().items()}
        return {"val": values[epoch["n"] - 1]}

    res = fit(
        model,
        nn.functional.cross_entropy,
        opt,
        (x, y),
        epochs=epochs,
        batch_size=32,
        generator=torch.Generator().manual_seed(5),
        evaluate=evaluate,
        run=run,
        checkpoint_every=checkpoint_every,
        early_stopping=early_stopping,
    )
    return model, res


def test_fit_stops_and_restores_exactly_the_best_epoch(tmp_path) -> None:
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    model, res = _train(early_stopping=EarlyStopping(patience=4, monitor="val"), snapshots=snapshots)
    # best 2.9 at epoch 8; epochs 9-12 do not improve on it -> stop at 12
    assert res.stopped_epoch == 12 and res.best_epoch == 8 and len(res.history) == 12
    assert res.steps == 12 * 3
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[8][k])
    assert not torch.equal(snapshots[12]["0.weight"], snapshots[8]["0.weight"])
    # without restore_best the model keeps the last epoch's weights
    model, res = _train(
        early_stopping=EarlyStopping(patience=4, monitor="val", restore_best=False), snapshots=snapshots
    )
    assert res.stopped_epoch == 12
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[12][k])


def test_restore_best_also_when_patience_never_runs_out() -> None:
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    model, res = _train(
        early_stopping=EarlyStopping(patience=50, monitor="val"), epochs=10, snapshots=snapshots
    )
    assert res.stopped_epoch is None and res.best_epoch == 8 and len(res.history) == 10
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[8][k])


def test_without_early_stopping_nothing_changes(tmp_path) -> None:
    _model, res = _train(run=DirRun(tmp_path), epochs=6)
    assert res.stopped_epoch is None and res.best_epoch is None and len(res.history) == 6
    assert "early_stopping" not in load_checkpoint(tmp_path / "train")


@pytest.mark.parametrize("kill_after", [11, 12])
def test_resume_mid_patience_gives_the_uninterrupted_result(tmp_path, kill_after: int) -> None:
    reference, ref_res = _train(
        run=DirRun(tmp_path / "a"), early_stopping=EarlyStopping(patience=4, monitor="val")
    )
    run = DirRun(tmp_path / "b", stop_after_epoch=kill_after)
    with pytest.raises(KeyboardInterrupt):
        _train(run=run, early_stopping=EarlyStopping(patience=4, monitor="val"))
    saved = load_checkpoint(tmp_path / "b" / "train")
    assert saved["epoch"] == 10  # checkpoints every 2 epochs; killed after logging epoch 11 or 12 (the stop)
    state = saved["early_stopping"]
    assert state["best_epoch"] == 8 and state["bad_epochs"] == 2 and state["stopped_epoch"] is None
    resumed_run = DirRun(tmp_path / "b")
    resumed, res = _train(
        run=resumed_run, early_stopping=EarlyStopping(patience=4, monitor="val"), first_epoch=saved["epoch"]
    )
    assert res.resumed_from_epoch == 10 and [s for s, _ in resumed_run.logged] == [11, 12]
    assert (res.stopped_epoch, res.best_epoch) == (ref_res.stopped_epoch, ref_res.best_epoch) == (12, 8)
    assert res.history == ref_res.history and res.steps == ref_res.steps
    for p, q in zip(reference.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_resuming_a_stopped_run_returns_at_once(tmp_path) -> None:
    reference, ref_res = _train(run=DirRun(tmp_path), early_stopping=EarlyStopping(patience=4, monitor="val"))
    again = DirRun(tmp_path)
    model, res = _train(run=again, early_stopping=EarlyStopping(patience=4, monitor="val"), first_epoch=12)
    assert again.logged == [] and res.resumed_from_epoch == 12
    assert (res.stopped_epoch, res.best_epoch) == (12, 8) and res.history == ref_res.history
    for p, q in zip(reference.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_resume_refuses_other_settings_or_a_checkpoint_without_early_stopping(tmp_path) -> None:
    run = DirRun(tmp_path / "a", stop_after_epoch=5)
    with pytest.raises(KeyboardInterrupt):
        _train(run=run, early_stopping=EarlyStopping(patience=4, monitor="val"))
    with pytest.raises(CheckpointError, match="same settings"):
        _train(
            run=DirRun(tmp_path / "a"), early_stopping=EarlyStopping(patience=3, monitor="val"), first_epoch=4
        )
    _train(run=DirRun(tmp_path / "b"), epochs=4)
    with pytest.raises(CheckpointError, match="without early stopping"):
        _train(run=DirRun(tmp_path / "b"), early_stopping=EarlyStopping(patience=3, monitor="val"), epochs=6)
