"""The sweep engine: M models trained together end exactly where the same M models trained alone end."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from udl.nn import MLP
from udl.optim import SGD, Adam, AdamW, StepDecay
from udl.train import StackedMLP, error_rates, plan_buckets, train_sweep

F64 = torch.float64


def _data(n: int = 60, d: int = 5, classes: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=F64), torch.randint(classes, (n,), generator=g)


def _alone(
    widths, seed, x, y, *, epochs, batch, lr, momentum=0.0, optimizer="sgd", order_seed=0, activation="relu"
) -> MLP:
    net = MLP(
        x.shape[-1], widths, 3, activation, "he", generator=torch.Generator().manual_seed(seed), dtype=F64
    )
    opt = (
        SGD(net.parameters(), lr=lr, momentum=momentum)
        if optimizer == "sgd"
        else Adam(net.parameters(), lr=lr)
    )
    g = torch.Generator().manual_seed(order_seed)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    return net


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_stacked_members_equal_stand_alone_mlps(activation: str) -> None:
    hidden = [(3, 3), (7, 5), (1, 8)]
    model = StackedMLP(5, hidden, 3, activation, seeds=[4, 5, 6], dtype=F64)
    x, _ = _data()
    out = model(x)
    assert out.shape == (3, 60, 3)
    for m, (widths, seed) in enumerate(zip(hidden, [4, 5, 6], strict=True)):
        alone = MLP(5, widths, 3, activation, "he", generator=torch.Generator().manual_seed(seed), dtype=F64)
        torch.testing.assert_close(out[m], alone(x), rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(model.member(m)(x), alone(x), rtol=0, atol=0)
    assert model.num_parameters() == [MLP(5, h, 3).num_parameters() for h in hidden]


@pytest.mark.parametrize(
    ("optimizer", "momentum", "activation", "depth"),
    [("sgd", 0.9, "relu", 2), ("adam", 0.0, "relu", 2), ("sgd", 0.9, "relu", 3), ("sgd", 0.5, "tanh", 2)],
)
def test_trained_together_equals_trained_alone(
    optimizer: str, momentum: float, activation: str, depth: int
) -> None:
    """ReLU members use the hand-written backward pass, other activations autograd: both must match."""
    x, y = _data()
    hidden = [(w,) * depth for w in (2, 4, 9, 16)]
    kwargs = {"epochs": 4, "batch": 16, "lr": 0.05 if optimizer == "sgd" else 0.01}
    models: dict[str, StackedMLP] = {}

    def keep(model: StackedMLP) -> dict[str, torch.Tensor]:
        models[f"{len(models)}"] = model
        return {"train_error": error_rates(model, x, y)}

    result = train_sweep(
        hidden,
        (x, y),
        in_features=5,
        out_features=3,
        epochs=kwargs["epochs"],
        batch_size=kwargs["batch"],
        lr=kwargs["lr"],
        optimizer=optimizer,
        momentum=momentum,
        activation=activation,
        seeds=[10, 11, 12, 13],
        evaluate=keep,
        evaluate_every=kwargs["epochs"],
        overhead_macs=1e9,
        dtype=F64,  # huge overhead: one bucket, padded
    )
    assert len(models) == 1
    stacked = models["0"]
    for m, (widths, seed) in enumerate(zip(hidden, [10, 11, 12, 13], strict=True)):
        alone = _alone(
            widths, seed, x, y, optimizer=optimizer, momentum=momentum, activation=activation, **kwargs
        )
        got = stacked.member(stacked.seeds.index(seed))
        for a, b in zip(got.parameters(), alone.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
        assert result.history[m][-1]["train_error"] == pytest.approx(
            float((alone(x).argmax(-1) != y).float().mean())
        )


def test_per_member_data_and_order() -> None:
    """Each member may have its own data set (e.g. a bootstrap sample) and its own batch order."""
    x, y = _data()
    g = torch.Generator().manual_seed(3)
    boot = torch.stack([torch.randint(60, (60,), generator=g) for _ in range(2)])
    xs, ys = x[boot], y[boot]
    models: list[StackedMLP] = []
    train_sweep(
        [(6,), (6,)],
        (xs, ys),
        in_features=5,
        out_features=3,
        epochs=3,
        batch_size=20,
        lr=0.1,
        momentum=0.5,
        seeds=[1, 2],
        shared_order=False,
        order_seed=100,
        evaluate=lambda mod: models.append(mod) or {},
        evaluate_every=3,
        dtype=F64,
    )
    for m, seed in enumerate([1, 2]):
        alone = _alone(
            (6,), seed, xs[m], ys[m], epochs=3, batch=20, lr=0.1, momentum=0.5, order_seed=100 + seed
        )
        for a, b in zip(models[0].member(m).parameters(), alone.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_plan_buckets_is_optimal_and_covers_every_width() -> None:
    widths = [2, 4, 8, 100, 120, 400]

    def cost(w: int) -> float:
        return float(w * w)

    buckets = plan_buckets(widths, cost, overhead=5000.0)
    assert sorted(i for b in buckets for i in b) == list(range(len(widths)))
    total = sum(len(b) * cost(max(widths[i] for i in b)) + 5000.0 for b in buckets)
    # brute force over all ways to cut the sorted list
    best = math.inf
    for mask in range(1 << (len(widths) - 1)):
        cuts = [0] + [i + 1 for i in range(len(widths) - 1) if mask >> i & 1] + [len(widths)]
        value = sum((b - a) * cost(widths[b - 1]) + 5000.0 for a, b in itertools.pairwise(cuts))
        best = min(best, value)
    assert total == pytest.approx(best)
    assert plan_buckets(widths, cost, overhead=0.0) == [[i] for i in range(len(widths))]
    assert len(plan_buckets(widths, cost, overhead=1e12)) == 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="one length"):
        StackedMLP(2, [(3,), (3, 3)], 2)
    with pytest.raises(ValueError, match="one seed per member"):
        StackedMLP(2, [(3,)], 2, seeds=[1, 2])
    x, y = _data()
    with pytest.raises(ValueError, match="valid: 'sgd', 'adam'"):
        train_sweep(
            [(3,)], (x, y), in_features=5, out_features=3, epochs=1, batch_size=10, lr=0.1, optimizer="lbfgs"
        )  # type: ignore[arg-type]


def test_buckets_trained_side_by_side_equal_buckets_trained_in_turn() -> None:
    """``workers`` threads train the buckets concurrently; every member still ends as if trained alone."""
    x, y = _data()
    hidden = [(2, 2), (5, 5), (9, 9), (16, 16)]
    finals: dict[int, dict[tuple[int, ...], MLP]] = {1: {}, 2: {}}
    histories = {}
    threads = torch.get_num_threads()
    for workers in (1, 2):

        def keep(model: StackedMLP, workers: int = workers) -> dict[str, torch.Tensor]:
            for j, widths in enumerate(model.hidden):
                finals[workers][widths] = model.member(j)
            return {"train_error": error_rates(model, x, y)}

        result = train_sweep(
            hidden,
            (x, y),
            in_features=5,
            out_features=3,
            epochs=3,
            batch_size=16,
            lr=0.05,
            momentum=0.9,
            seeds=[10, 11, 12, 13],
            evaluate=keep,
            evaluate_every=3,
            overhead_macs=0.0,  # one bucket per width
            dtype=F64,
            workers=workers,
        )
        histories[workers] = result.history
        for m, widths in enumerate(hidden):  # the returned models are the final ones
            for a, b in zip(result.member(m).parameters(), finals[workers][widths].parameters(), strict=True):
                assert torch.equal(a, b)
        assert sorted(i for members in result.members for i in members) == [0, 1, 2, 3]
    assert histories[1] == histories[2]
    for widths, seed in zip(hidden, [10, 11, 12, 13], strict=True):
        alone = _alone(widths, seed, x, y, epochs=3, batch=16, lr=0.05, momentum=0.9)
        for workers in (1, 2):
            for a, b in zip(finals[workers][widths].parameters(), alone.parameters(), strict=True):
                torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert torch.get_num_threads() == threads  # the intra-op thread count is restored


def test_optimizer_factory_equals_the_string_path_and_allows_weight_decay_and_schedules() -> None:
    """A factory ``params -> optimizer`` (with a per-epoch schedule factory) trains every member as alone."""
    x, y = _data()
    hidden = [(3,), (8,)]
    common = {
        "in_features": 5,
        "out_features": 3,
        "epochs": 3,
        "batch_size": 16,
        "seeds": [1, 2],
        "dtype": F64,
    }
    by_name = train_sweep(hidden, (x, y), lr=0.05, momentum=0.9, **common)
    by_factory = train_sweep(hidden, (x, y), optimizer=lambda p: SGD(p, lr=0.05, momentum=0.9), **common)
    for m in range(2):
        for a, b in zip(by_name.member(m).parameters(), by_factory.member(m).parameters(), strict=True):
            assert torch.equal(a, b)

    result = train_sweep(
        hidden,
        (x, y),
        optimizer=lambda p: AdamW(p, lr=0.02, weight_decay=0.1),
        scheduler=lambda opt: StepDecay(opt, step_size=1, gamma=0.5),
        **common,
    )
    for m, (widths, seed) in enumerate(zip(hidden, [1, 2], strict=True)):
        net = MLP(5, widths, 3, "relu", "he", generator=torch.Generator().manual_seed(seed), dtype=F64)
        opt = AdamW(net.parameters(), lr=0.02, weight_decay=0.1)
        sched = StepDecay(opt, step_size=1, gamma=0.5)
        g = torch.Generator().manual_seed(0)
        for _ in range(3):
            perm = torch.randperm(len(x), generator=g)
            for i in range(0, len(x), 16):
                opt.zero_grad()
                nn.functional.cross_entropy(net(x[perm[i : i + 16]]), y[perm[i : i + 16]]).backward()
                opt.step()
            sched.step()
        for a, b in zip(result.member(m).parameters(), net.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="factory sets its own"):
        train_sweep(hidden, (x, y), lr=0.1, optimizer=lambda p: SGD(p, lr=0.1), **common)
    with pytest.raises(ValueError, match="needs lr"):
        train_sweep(hidden, (x, y), **common)


def test_outputs_and_weight_vectors_follow_member_order() -> None:
    x, y = torch.randn(30, 4), torch.randint(0, 3, (30,))
    hidden = [(8,), (2,), (5,)]
    result = train_sweep(hidden, (x, y), in_features=4, out_features=3, epochs=1, batch_size=10, lr=0.1)
    out = result.outputs(x)
    assert out.shape == (3, 30, 3) and not out.requires_grad
    for m in range(3):
        torch.testing.assert_close(out[m], result.member(m)(x), rtol=1e-6, atol=1e-6)
    model = StackedMLP(4, hidden, 3)
    rows = model.weight_vectors()
    assert rows.shape == (3, 4 * 8 + 8 * 3)
    torch.testing.assert_close(rows[1].norm(), torch.cat([w[1].flatten() for w in model.weights]).norm())
