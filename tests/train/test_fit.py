import pytest
import torch
from torch import nn

from reference import DirRun
from udl.errors import DivergenceError
from udl.train import classification_metrics, fit, seed_everything
from udl.train.checkpoint import load_checkpoint


def _problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(203, 5, generator=g)
    y = (x @ torch.randn(5, 3, generator=g)).argmax(-1)
    return x, y


def _train(run, epochs=7):
    seed_everything(1)
    x, y = _problem()
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    gen = torch.Generator().manual_seed(5)
    res = fit(
        model,
        nn.functional.cross_entropy,
        opt,
        (x, y),
        epochs=epochs,
        batch_size=32,
        scheduler=sched,
        generator=gen,
        evaluate=lambda m: {f"train_{k}": v for k, v in classification_metrics(m, x, y).items()},
        run=run,
        checkpoint_every=2,
    )
    return model, res


def test_fit_without_run_learns():
    _model, res = _train(None)
    assert len(res.history) == 7 and res.steps == 7 * 7  # ceil(203 / 32) = 7 batches per epoch
    assert res.history[-1]["train_error"] < res.history[0]["train_error"]
    assert res.history[-1]["loss"] < res.history[0]["loss"]


def test_resume_after_interruption_gives_identical_weights(tmp_path):
    reference, ref_res = _train(DirRun(tmp_path / "a"))
    run = DirRun(tmp_path / "b", stop_after_epoch=5)  # checkpoints at 2 and 4; killed after epoch 5
    with pytest.raises(KeyboardInterrupt):
        _train(run)
    assert load_checkpoint(tmp_path / "b" / "train")["epoch"] == 4
    resumed_run = DirRun(tmp_path / "b")
    resumed, res = _train(resumed_run)
    assert res.resumed_from_epoch == 4
    assert [s for s, _ in resumed_run.logged] == [5, 6, 7]
    for p, q in zip(reference.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q)
    assert res.history == ref_res.history


def test_finished_checkpoint_skips_training(tmp_path):
    _train(DirRun(tmp_path))
    run = DirRun(tmp_path)
    _model, res = _train(run)
    assert run.logged == [] and res.resumed_from_epoch == 7 and len(res.history) == 7


def test_divergence_stops_at_the_first_non_finite_loss():
    torch.manual_seed(0)
    x = torch.randn(64, 5)
    y = torch.randn(64, 1)
    model = nn.Linear(5, 1)
    opt = torch.optim.SGD(model.parameters(), lr=10.0)  # far beyond 2 / curvature: grows geometrically
    with pytest.raises(DivergenceError, match=r"became non-finite .* at step \d+") as info:
        fit(model, nn.functional.mse_loss, opt, (x, y), epochs=500, batch_size=64)
    assert info.value.quantity in ("training loss",) or info.value.quantity.startswith("gradient of")
    assert 1 < info.value.step < 500


def test_nan_gradient_is_named():
    x = torch.randn(8, 2)
    y = torch.randn(8, 1)
    model = nn.Linear(2, 1)

    def sqrt_grad_loss(pred, target):
        # value finite, gradient infinite: d/dw sqrt(w^2) at w = 0
        return ((pred - target) ** 2).mean() + torch.sqrt(model.weight[0, 0] * 0.0)

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(DivergenceError, match="gradient of weight") as info:
        fit(model, sqrt_grad_loss, opt, (x, y), epochs=1, batch_size=8)
    assert info.value.step == 1


def test_bad_arguments():
    x, y = _problem()
    model = nn.Linear(5, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="positive"):
        fit(model, nn.functional.cross_entropy, opt, (x, y), epochs=0, batch_size=32)
    with pytest.raises(ValueError, match="same length"):
        fit(model, nn.functional.cross_entropy, opt, (x, y[:-1]), epochs=1, batch_size=32)
