"""udl.nn.Dropout against torch.nn.Dropout; DropoutMLP; Monte Carlo dropout; exact mask average vs weight scaling."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from reference import F64, gen
from udl.nn import MLP, Dropout, DropoutMLP, exact_dropout_average, mc_dropout_predict, mc_dropout_samples
from udl.train import fit
from udl.train.checkpoint import load_checkpoint, save_checkpoint

# ------------------------------------------------------------------------------------------------ the module


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_training_output_and_gradient_equal_torch_dropout_bitwise(p: float, dtype: torch.dtype) -> None:
    x = torch.randn(3, 7, 5, dtype=dtype, generator=gen(0))
    xr, xo, xg = (x.clone().requires_grad_() for _ in range(3))
    torch.manual_seed(11)
    ref = nn.Dropout(p)(xr)
    ours = Dropout(p, generator=gen(11))(xo)
    torch.manual_seed(11)
    ours_global = Dropout(p)(xg)  # generator=None: torch's global generator, like torch
    assert torch.equal(ours, ref) and torch.equal(ours_global, ref)
    ref.sum().backward()
    ours.sum().backward()
    assert xo.grad is not None and xr.grad is not None and torch.equal(xo.grad, xr.grad)
    # every output is 0 or x / (1 − p)
    kept = ours.detach() != 0
    torch.testing.assert_close(ours.detach()[kept], x[kept] / (1 - p))


def test_non_contiguous_input_gets_torchs_mask() -> None:
    x = torch.randn(6, 9, dtype=F64, generator=gen(30)).T  # strides follow x, as torch's empty_like does
    torch.manual_seed(31)
    ref = nn.Dropout(0.5)(x)
    assert torch.equal(Dropout(0.5, generator=gen(31))(x), ref)


def test_eval_mode_and_edge_probabilities_behave_like_torch() -> None:
    x = torch.randn(4, 6, dtype=F64, generator=gen(1))
    drop = Dropout(0.5, generator=gen(2)).eval()
    assert drop(x) is x and nn.Dropout(0.5).eval()(x) is x  # identity: the weight-scaling rule, inverted
    assert Dropout(0.0, generator=gen(2))(x) is x
    torch.testing.assert_close(Dropout(1.0, generator=gen(2))(x), nn.Dropout(1.0)(x), rtol=0, atol=0)
    assert not Dropout(1.0)(x).any()
    for bad in (-0.1, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match="between 0 and 1"):
            Dropout(bad)  # type: ignore[arg-type]
    assert repr(Dropout(0.25)) == repr(nn.Dropout(0.25))


def test_inplace_overwrites_the_input_like_torch() -> None:
    x = torch.randn(5, 8, dtype=F64, generator=gen(3))
    a, b = x.clone(), x.clone()
    torch.manual_seed(4)
    nn.Dropout(0.3, inplace=True)(a)
    Dropout(0.3, inplace=True, generator=gen(4))(b)
    assert torch.equal(a, b) and not torch.equal(b, x)


def test_expectation_is_the_input_and_the_drop_rate_is_p() -> None:
    # Exact: E[m/(1−p)] x = ((1−p)/(1−p)) x = x. Measured: the mean of S masks is x within 5 standard errors,
    # SE = |x| sqrt(p/(1−p)) / sqrt(S); the fraction dropped is p within 5 binomial standard errors.
    p, s = 0.3, 20_000
    x = torch.randn(50, dtype=F64, generator=gen(5))
    drop = Dropout(p, generator=gen(6))
    out = drop(x.expand(s, -1))  # (S, 50): an independent mask per row
    se = x.abs() * math.sqrt(p / (1 - p)) / math.sqrt(s)
    assert ((out.mean(dim=0) - x).abs() <= 5 * se).all()
    dropped = float((out == 0).to(F64).mean())
    assert abs(dropped - p) <= 5 * math.sqrt(p * (1 - p) / out.numel())


def test_generator_state_travels_with_the_state_dict(tmp_path) -> None:
    drop = Dropout(0.5, generator=gen(7))
    x = torch.ones(100, dtype=F64)
    drop(x)  # advance the stream
    state = drop.state_dict()
    save_checkpoint(tmp_path / "d", state)  # through safetensors + JSON, as run checkpoints go
    expected = drop(x)
    fresh = Dropout(0.5, generator=gen(999))
    fresh.load_state_dict(load_checkpoint(tmp_path / "d"))
    assert torch.equal(fresh(x), expected)


class _MemoryRun:
    """A RunLike storing checkpoints through the real safetensors/JSON format."""

    def __init__(self, directory) -> None:
        self.directory = directory

    def log(self, step: int, **metrics: float) -> None:
        pass

    def progress(self, total: int, description: str):
        from udl.train import NullRun

        return NullRun().progress(total, description)

    def save_state(self, key: str, tree) -> None:
        save_checkpoint(self.directory / key, tree)

    def load_state(self, key: str):
        from udl.train import checkpoint_exists

        return load_checkpoint(self.directory / key) if checkpoint_exists(self.directory / key) else None


def test_training_with_dropout_resumes_to_the_same_weights(tmp_path) -> None:
    x = torch.randn(64, 6, generator=gen(8))
    y = torch.randint(0, 3, (64,), generator=gen(9))

    def train(epochs: int, run) -> DropoutMLP:
        model = DropoutMLP(6, (16, 16), 3, p=0.5, generator=gen(10), dropout_generator=gen(11))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        fit(
            model,
            nn.functional.cross_entropy,
            opt,
            (x, y),
            epochs=epochs,
            batch_size=16,
            generator=gen(12),
            run=run,
            checkpoint_every=1,
        )
        return model

    straight = train(4, _MemoryRun(tmp_path / "a"))
    train(2, _MemoryRun(tmp_path / "b"))
    resumed = train(4, _MemoryRun(tmp_path / "b"))  # continues from epoch 2 with the saved mask stream
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


# ----------------------------------------------------------------------------------------------- DropoutMLP


def test_dropout_mlp_in_eval_mode_is_the_mlp() -> None:
    net = DropoutMLP(5, (7, 4), 3, p=0.4, generator=gen(13), dtype=F64).eval()
    mlp = MLP(5, (7, 4), 3, generator=gen(13), dtype=F64)
    x = torch.randn(9, 5, dtype=F64, generator=gen(14))
    assert torch.equal(net(x), mlp(x))
    assert torch.equal(DropoutMLP(5, (7, 4), 3, p=0.0, generator=gen(13), dtype=F64)(x), mlp(x))
    with pytest.raises(ValueError, match="p must be < 1"):
        DropoutMLP(5, (7,), 3, p=1.0)
    with pytest.raises(ValueError, match="hidden layer"):
        DropoutMLP(5, (), 3)


def test_masked_forward_reproduces_a_training_pass() -> None:
    # With one input row, the training pass draws mask 1 (1, D_1) then mask 2 (1, D_2) from the generator.
    p = 0.5
    net = DropoutMLP(4, (6, 5), 2, p=p, generator=gen(15), dropout_generator=gen(16), dtype=F64).train()
    x = torch.randn(1, 4, dtype=F64, generator=gen(17))
    g = gen(16)
    masks = [torch.empty(1, w, dtype=F64).bernoulli_(1 - p, generator=g) for w in (6, 5)]
    torch.testing.assert_close(net.masked_forward(x, masks)[0], net(x), rtol=0, atol=1e-15)


# ----------------------------------------------------------------------------- exact average and weight scaling


def _brute_force_average(net: DropoutMLP, x: torch.Tensor) -> torch.Tensor:
    """Σ over masks of Pr(m) f(x, m), one mask at a time with itertools (the reference enumeration)."""
    widths, p = net.hidden_widths, net.p
    total = torch.zeros(x.shape[0], net.mlp.out_features, dtype=x.dtype)
    for bits in itertools.product((0.0, 1.0), repeat=sum(widths)):
        kept = sum(bits)
        prob = (1 - p) ** kept * p ** (len(bits) - kept)
        flat = torch.tensor(bits, dtype=x.dtype).unsqueeze(0)
        total += prob * net.masked_forward(x, list(torch.split(flat, list(widths), dim=1)))[0]
    return total


def test_exact_average_equals_weight_scaling_for_a_linear_network() -> None:
    net = DropoutMLP(3, (5, 4, 3), 2, p=0.3, activation="linear", generator=gen(18), dtype=F64).eval()
    x = torch.randn(7, 3, dtype=F64, generator=gen(19))
    exact = exact_dropout_average(net, x, chunk=100)
    torch.testing.assert_close(exact, net(x), rtol=1e-13, atol=1e-13)  # an identity, up to rounding


def test_exact_average_matches_brute_force_and_differs_from_weight_scaling_for_relu() -> None:
    net = DropoutMLP(3, (4, 4), 2, p=0.5, activation="relu", generator=gen(20), dtype=F64).eval()
    x = torch.randn(6, 3, dtype=F64, generator=gen(21))
    exact = exact_dropout_average(net, x, chunk=7)
    torch.testing.assert_close(exact, _brute_force_average(net, x), rtol=1e-13, atol=1e-13)
    gap = float((exact - net(x).detach()).abs().max())
    assert gap > 1e-3  # weight scaling only approximates the mask average once a ReLU follows a dropped layer


def test_one_hidden_layer_is_exact_even_with_relu() -> None:
    # Dropout only on the last hidden layer: the output is affine in the mask, so weight scaling is exact.
    net = DropoutMLP(3, (8,), 2, p=0.4, activation="relu", generator=gen(22), dtype=F64).eval()
    x = torch.randn(5, 3, dtype=F64, generator=gen(23))
    torch.testing.assert_close(exact_dropout_average(net, x), net(x), rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="max_units"):
        exact_dropout_average(DropoutMLP(3, (30,), 2), x.float())


def test_monte_carlo_dropout_converges_to_the_exact_average() -> None:
    net = DropoutMLP(3, (4, 4), 2, p=0.5, generator=gen(24), dtype=F64).eval()
    x = torch.randn(5, 3, dtype=F64, generator=gen(25))
    s = 100_000
    pred = mc_dropout_predict(net, x, s, generator=gen(26))
    exact = exact_dropout_average(net, x)
    assert ((pred.mean - exact).abs() <= 5 * pred.std / math.sqrt(s) + 1e-12).all()
    assert not net.training and not any(m.training for m in net.modules())  # modes restored


# ---------------------------------------------------------------------------------------- Monte Carlo dropout


def test_mc_dropout_is_deterministic_under_a_generator_and_leaves_other_layers_in_eval() -> None:
    net = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), Dropout(0.5), nn.Linear(8, 2)).double()
    x = torch.randn(10, 3, dtype=F64, generator=gen(27))
    net.train()
    bn = net[1]
    before = bn.running_mean.clone()
    a = mc_dropout_samples(net, x, 50, generator=gen(28), max_rows=64)
    b = mc_dropout_samples(net, x, 50, generator=gen(28), max_rows=64)
    assert a.shape == (50, 10, 2) and torch.equal(a, b)
    assert torch.equal(bn.running_mean, before)  # batch norm ran in eval mode
    assert net.training and all(m.training for m in net.modules())  # modes restored
    assert net[3].generator is None  # the layer's own generator restored
    pred = mc_dropout_predict(net, x, 50, generator=gen(28))
    # mc_dropout_predict batches differently from max_rows=64, so compare its statistics with its own samples
    c = mc_dropout_samples(net, x, 50, generator=gen(28))
    torch.testing.assert_close(pred.mean, c.mean(dim=0), rtol=0, atol=0)
    torch.testing.assert_close(pred.std, c.std(dim=0, correction=0), rtol=0, atol=0)
    assert (a.std(dim=0) > 0).any()


def test_mc_dropout_with_torch_dropout_and_bad_input() -> None:
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))
    x = torch.randn(4, 3)
    assert mc_dropout_samples(net, x, 3).shape == (3, 4, 2)  # torch's layers draw from the global generator
    with pytest.raises(ValueError, match="global generator"):
        mc_dropout_samples(net, x, 3, generator=gen(0))
    with pytest.raises(ValueError, match="no dropout"):
        mc_dropout_samples(nn.Linear(3, 2), x, 3)
    with pytest.raises(ValueError, match="samples"):
        mc_dropout_samples(net, x, 0)
