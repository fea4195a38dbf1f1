"""Tests of the negative log-likelihoods in udl.losses against torch.distributions and closed forms (float64)."""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
import pytest
import torch
from torch import Tensor
from torch.distributions import (
    Bernoulli,
    Categorical,
    Laplace,
    MixtureSameFamily,
    Normal,
    Poisson,
    VonMises,
)

from reference import F64
from reference import gen as _gen
from udl.losses import (
    REDUCTIONS,
    bernoulli_nll,
    categorical_nll,
    gaussian_mixture_nll,
    gaussian_nll,
    laplace_nll,
    poisson_nll,
    von_mises_nll,
)


def _randn(*shape: int, g: torch.Generator) -> Tensor:
    return torch.randn(*shape, generator=g, dtype=F64)


def _rand(*shape: int, g: torch.Generator, lo: float, hi: float) -> Tensor:
    return lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=F64)


def _log_uniform(*shape: int, g: torch.Generator, lo: float, hi: float) -> Tensor:
    return torch.exp(_rand(*shape, g=g, lo=math.log(lo), hi=math.log(hi)))


def _check_reductions(
    fn: Callable[..., Tensor],
    args: tuple[Tensor, ...],
    expected: Tensor,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """``fn(*args, reduction=r)`` matches the elementwise ``expected`` for all three reductions."""
    none = fn(*args, reduction="none")
    assert none.shape == expected.shape
    assert none.dtype == F64
    torch.testing.assert_close(none, expected, rtol=rtol, atol=atol)
    torch.testing.assert_close(fn(*args, reduction="sum"), expected.sum(), rtol=rtol, atol=atol)
    torch.testing.assert_close(fn(*args), expected.mean(), rtol=rtol, atol=atol)  # "mean" is the default
    torch.testing.assert_close(fn(*args, reduction="mean"), expected.mean(), rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- agreement with torch.distributions


@pytest.mark.parametrize("seed", range(3))
def test_gaussian_matches_normal_with_broadcasting(seed: int) -> None:
    g = _gen(seed)
    mean = 3 * _randn(3, 1, 4, g=g)
    std = _log_uniform(1, 5, 1, g=g, lo=1e-3, hi=1e3)
    target = 3 * _randn(5, 4, g=g)
    expected = -Normal(mean, std).log_prob(target)
    assert expected.shape == (3, 5, 4)
    _check_reductions(gaussian_nll, (mean, std, target), expected)


def test_gaussian_fixed_std_is_scaled_least_squares() -> None:
    # UDL section 5.3.1: with σ fixed the loss is (y - μ)² / (2σ²) plus a constant.
    g = _gen(0)
    mean, target = _randn(50, g=g), _randn(50, g=g)
    loss = gaussian_nll(mean, 2.0, target, reduction="none")
    torch.testing.assert_close(loss, (target - mean) ** 2 / 8 + math.log(2.0) + 0.5 * math.log(2 * math.pi))


@pytest.mark.parametrize("seed", range(3))
def test_laplace_matches_torch(seed: int) -> None:
    g = _gen(seed)
    loc = 3 * _randn(4, 1, g=g)
    scale = _log_uniform(6, g=g, lo=1e-3, hi=1e3)
    target = 5 * _randn(4, 6, g=g)
    _check_reductions(laplace_nll, (loc, scale, target), -Laplace(loc, scale).log_prob(target))


def _von_mises_mp(loc: float, kappa: float, y: float) -> float:
    """−log of the von Mises density at 50 significant digits (mpmath's Bessel I0, no scaling tricks)."""
    with mpmath.workdps(50):
        k = mpmath.mpf(kappa)
        return float(
            -k * mpmath.cos(mpmath.mpf(y) - mpmath.mpf(loc))
            + mpmath.log(2 * mpmath.pi * mpmath.besseli(0, k))
        )


@pytest.mark.parametrize("seed", range(2))
def test_von_mises_matches_torch_moderate_kappa(seed: int) -> None:
    g = _gen(seed)
    loc = _rand(3, 1, g=g, lo=-math.pi, hi=math.pi)
    kappa = _log_uniform(1, 7, g=g, lo=1e-3, hi=100.0)
    target = _rand(3, 7, g=g, lo=-4 * math.pi, hi=4 * math.pi)  # unwrapped angles: the density is periodic
    expected = -VonMises(loc, kappa).log_prob(target)
    # torch's log I0 is a polynomial approximation accurate to a few 1e-7.
    _check_reductions(von_mises_nll, (loc, kappa, target), expected, rtol=1e-6, atol=1e-6)


def test_von_mises_matches_high_precision_reference_up_to_huge_kappa() -> None:
    g = _gen(1)
    kappas = [0.0, 1e-6, 0.1, 1.0, 3.75, 10.0, 100.0, 700.0, 750.0, 1e3, 1e4]  # I0 overflows float64 near 713
    loc = _rand(len(kappas), g=g, lo=-math.pi, hi=math.pi)
    # Near the mode (where large-κ losses are small and cancellation would show) and far from it.
    offsets = torch.tensor([1e-4, -3e-3, 0.02, -0.3, 2.0, math.pi], dtype=F64)
    for kappa, mu in zip(kappas, loc.tolist(), strict=True):
        y = mu + offsets
        ours = von_mises_nll(torch.tensor(mu, dtype=F64), kappa, y, reduction="none")
        expected = torch.tensor([_von_mises_mp(mu, kappa, v) for v in y.tolist()], dtype=F64)
        torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)


def test_von_mises_extreme_and_uniform_cases() -> None:
    y = torch.linspace(-3, 3, 7, dtype=F64)
    # κ = 0: the uniform density 1/(2π) on the circle.
    torch.testing.assert_close(
        von_mises_nll(torch.zeros(()), 0.0, y, reduction="none"),
        torch.full((7,), math.log(2 * math.pi), dtype=F64),
    )
    # κ = 1e300: finite at and near the mode (≈ −½log(κ/2π) + κd²/2), huge but finite elsewhere.
    kappa = torch.tensor(1e300, dtype=F64)
    at_mode = von_mises_nll(torch.zeros((), dtype=F64), kappa, torch.zeros((), dtype=F64))
    torch.testing.assert_close(at_mode, torch.tensor(-0.5 * math.log(1e300 / (2 * math.pi)), dtype=F64))
    assert torch.isfinite(von_mises_nll(torch.zeros((), dtype=F64), kappa, y, reduction="none")).all()


@pytest.mark.parametrize("seed", range(3))
def test_bernoulli_matches_torch(seed: int) -> None:
    g = _gen(seed)
    logits = 10 * _randn(4, 1, g=g)
    target = torch.randint(0, 2, (4, 5), generator=g).to(F64)
    _check_reductions(bernoulli_nll, (logits, target), -Bernoulli(logits=logits).log_prob(target))


def test_bernoulli_extreme_logits_stay_finite_and_correct() -> None:
    logits = torch.tensor([1e3, 1e3, -1e3, -1e3, 40.0, -40.0, 0.0], dtype=F64, requires_grad=True)
    target = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0], dtype=F64)
    loss = bernoulli_nll(logits, target, reduction="none")
    expected = torch.tensor([0.0, 1e3, 1e3, 0.0, math.exp(-40.0), 40.0, math.log(2.0)], dtype=F64)
    torch.testing.assert_close(loss, expected, rtol=1e-14, atol=0.0)  # exp(-40) to full relative precision
    torch.testing.assert_close(loss, -Bernoulli(logits=logits).log_prob(target))
    (grad,) = torch.autograd.grad(loss.sum(), logits)
    torch.testing.assert_close(grad, torch.sigmoid(logits) - target)  # d/df = sig[f] - y


def test_bernoulli_accepts_integer_and_bool_targets() -> None:
    logits = torch.tensor([0.3, -2.0], dtype=F64)
    expected = bernoulli_nll(logits, torch.tensor([1.0, 0.0], dtype=F64))
    torch.testing.assert_close(bernoulli_nll(logits, torch.tensor([1, 0])), expected)
    torch.testing.assert_close(bernoulli_nll(logits, torch.tensor([True, False])), expected)


@pytest.mark.parametrize("seed", range(3))
def test_categorical_matches_torch_with_leading_dims(seed: int) -> None:
    g = _gen(seed)
    logits = 5 * _randn(2, 3, 6, g=g)
    target = torch.randint(0, 6, (2, 3), generator=g)
    _check_reductions(categorical_nll, (logits, target), -Categorical(logits=logits).log_prob(target))


def test_categorical_broadcasts_shared_logits() -> None:
    g = _gen(0)
    logits = _randn(1, 5, g=g)
    target = torch.randint(0, 5, (4, 3), generator=g)
    expected = -torch.log_softmax(logits[0], -1)[target]
    _check_reductions(categorical_nll, (logits, target), expected)


def test_categorical_extreme_logits_stay_finite_and_correct() -> None:
    logits = torch.tensor([[1e3, -1e3, 0.0]], dtype=F64).expand(3, 3)
    target = torch.tensor([0, 1, 2])
    loss = categorical_nll(logits, target, reduction="none")
    torch.testing.assert_close(loss, torch.tensor([0.0, 2e3, 1e3], dtype=F64))
    torch.testing.assert_close(loss, -Categorical(logits=logits).log_prob(target))


@pytest.mark.parametrize("seed", range(3))
def test_poisson_matches_torch_including_log_factorial(seed: int) -> None:
    g = _gen(seed)
    log_rate = _rand(3, 1, g=g, lo=-5, hi=8)
    target = torch.randint(0, 3000, (3, 8), generator=g)
    expected = -Poisson(torch.exp(log_rate)).log_prob(target.to(F64))
    _check_reductions(poisson_nll, (log_rate, target), expected)
    _check_reductions(poisson_nll, (log_rate, target.to(F64)), expected)


@pytest.mark.parametrize("seed", range(3))
def test_gaussian_mixture_matches_mixture_same_family(seed: int) -> None:
    g = _gen(seed)
    k = 4
    logits = 3 * _randn(k, g=g)  # shared weights
    means = 4 * _randn(5, k, g=g)
    stds = _log_uniform(1, k, g=g, lo=1e-2, hi=10.0)  # shared stds
    target = 5 * _randn(3, 5, g=g)
    shape = (3, 5, k)
    mixture = MixtureSameFamily(
        Categorical(logits=logits.expand(shape)), Normal(means.expand(shape), stds.expand(shape))
    )
    _check_reductions(gaussian_mixture_nll, (logits, means, stds, target), -mixture.log_prob(target))


def test_gaussian_mixture_far_target_stays_finite() -> None:
    # Every component density underflows to 0 at y = 1e4, yet the log-density is finite and exact.
    logits = torch.tensor([0.0, 1.0], dtype=F64)
    means = torch.tensor([0.0, 1.0], dtype=F64)
    stds = torch.tensor([1.0, 2.0], dtype=F64)
    y = torch.tensor(1e4, dtype=F64)
    assert (torch.exp(Normal(means, stds).log_prob(y)) == 0).all()
    loss = gaussian_mixture_nll(logits, means, stds, y)
    torch.testing.assert_close(
        loss, -MixtureSameFamily(Categorical(logits=logits), Normal(means, stds)).log_prob(y)
    )
    # the wide component dominates: -log λ_2 + the normal NLL of component 2
    log_w2 = torch.log_softmax(logits, 0)[1]
    torch.testing.assert_close(loss, -log_w2 + gaussian_nll(means[1], stds[1], y), rtol=1e-12, atol=0.0)


def test_gaussian_mixture_with_one_component_is_gaussian() -> None:
    g = _gen(0)
    mean, std, y = _randn(10, 1, g=g), _log_uniform(10, 1, g=g, lo=0.1, hi=10), _randn(10, g=g)
    torch.testing.assert_close(
        gaussian_mixture_nll(torch.zeros(10, 1, dtype=F64), mean, std, y, reduction="none"),
        gaussian_nll(mean[:, 0], std[:, 0], y, reduction="none"),
    )


# ------------------------------------------------------------------------- normalization: exp(-loss) is a distribution


def _trapezoid_mass(fn: Callable[[Tensor], Tensor], lo: float, hi: float, n: int = 200_001) -> float:
    y = torch.linspace(lo, hi, n, dtype=F64)
    return float(torch.trapezoid(torch.exp(-fn(y)), y))


@pytest.mark.parametrize(
    ("name", "fn", "lo", "hi"),
    [
        ("gaussian", lambda y: gaussian_nll(torch.tensor(0.7, dtype=F64), 0.3, y, reduction="none"), -5, 6),
        ("laplace", lambda y: laplace_nll(torch.tensor(-1.0, dtype=F64), 0.5, y, reduction="none"), -40, 40),
        *[
            (
                f"von_mises_{k:g}",
                (lambda y, k=k: von_mises_nll(torch.tensor(2.0, dtype=F64), k, y, reduction="none")),
                0,
                2 * math.pi,
            )
            for k in (0.0, 0.5, 20.0, 1e4)
        ],
        (
            "mixture",
            lambda y: gaussian_mixture_nll(
                torch.tensor([0.0, 2.0, -1.0], dtype=F64),
                torch.tensor([-3.0, 0.0, 4.0], dtype=F64),
                torch.tensor([0.5, 1.0, 0.1], dtype=F64),
                y,
                reduction="none",
            ),
            -12,
            12,
        ),
    ],
)
def test_continuous_densities_integrate_to_one(
    name: str, fn: Callable[[Tensor], Tensor], lo: float, hi: float
) -> None:
    # 1e-6 resolves any wrong normalizing constant; the Laplace kink limits the trapezoid rule to ~1e-8.
    assert _trapezoid_mass(fn, lo, hi) == pytest.approx(1.0, abs=1e-6), name


def test_discrete_distributions_sum_to_one() -> None:
    g = _gen(0)
    logits = 4 * _randn(3, 1, g=g)
    mass = torch.exp(-bernoulli_nll(logits, torch.tensor([[0.0, 1.0]], dtype=F64), reduction="none")).sum(-1)
    torch.testing.assert_close(mass, torch.ones(3, dtype=F64))

    logits = 4 * _randn(3, 7, g=g)
    classes = torch.arange(7).unsqueeze(-1)  # (7, 1) against logits' leading (3,) -> (7, 3)
    mass = torch.exp(-categorical_nll(logits, classes, reduction="none")).sum(0)
    torch.testing.assert_close(mass, torch.ones(3, dtype=F64))

    counts = torch.arange(400, dtype=F64).unsqueeze(-1)
    log_rate = torch.tensor([-3.0, 0.0, 2.0, 4.0], dtype=F64)
    mass = torch.exp(-poisson_nll(log_rate, counts, reduction="none")).sum(0)
    torch.testing.assert_close(mass, torch.ones(4, dtype=F64))


# ----------------------------------------------------------------------------------------- maximum likelihood


def test_gaussian_mle_is_sample_mean_and_std() -> None:
    g = _gen(0)
    y = 1.5 + 0.7 * _randn(300, g=g)
    mu_hat, sigma_hat = y.mean(), y.std(correction=0)  # closed-form MLE (biased std)

    # The gradient vanishes at the closed-form MLE ...
    mu, sigma = mu_hat.clone().requires_grad_(), sigma_hat.clone().requires_grad_()
    grads = torch.autograd.grad(gaussian_nll(mu, sigma, y), (mu, sigma))
    assert max(abs(float(v)) for v in grads) < 1e-12

    # ... and L-BFGS from a poor start finds it.
    params = torch.zeros(2, dtype=F64, requires_grad=True)  # (μ, log σ)
    opt = torch.optim.LBFGS(
        [params], max_iter=200, tolerance_grad=1e-12, tolerance_change=0.0, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = gaussian_nll(params[0], torch.exp(params[1]), y)
        loss.backward()
        return loss

    opt.step(closure)
    params = params.detach()
    assert float(params[0]) == pytest.approx(float(mu_hat), abs=1e-8)
    assert math.exp(float(params[1])) == pytest.approx(float(sigma_hat), abs=1e-8)


def test_laplace_mle_is_median_and_mean_absolute_deviation() -> None:
    g = _gen(1)
    y = _randn(201, g=g) ** 3  # odd count: a unique median
    median = y.median()
    b_hat = (y - median).abs().mean()
    best = laplace_nll(median, b_hat, y)
    for d_loc, d_scale in [(1e-3, 0.0), (-1e-3, 0.0), (0.0, 1e-3), (0.0, -1e-3), (0.05, 0.02)]:
        assert laplace_nll(median + d_loc, b_hat + d_scale, y) > best
    b = b_hat.clone().requires_grad_()
    (grad,) = torch.autograd.grad(laplace_nll(median, b, y), b)
    assert abs(float(grad)) < 1e-12


def test_bernoulli_categorical_poisson_mle_gradients_vanish() -> None:
    g = _gen(2)
    y = (torch.rand(500, generator=g, dtype=F64) < 0.3).to(F64)
    p = y.mean()
    logit = torch.log(p / (1 - p)).requires_grad_()
    (grad,) = torch.autograd.grad(bernoulli_nll(logit, y), logit)
    assert abs(float(grad)) < 1e-12

    classes = torch.randint(0, 4, (500,), generator=g)
    logits = torch.log(torch.bincount(classes, minlength=4).to(F64)).requires_grad_()
    (grad,) = torch.autograd.grad(categorical_nll(logits, classes), logits)
    assert grad.abs().max() < 1e-12

    counts = torch.randint(0, 20, (500,), generator=g)
    log_rate = torch.log(counts.to(F64).mean()).requires_grad_()
    (grad,) = torch.autograd.grad(poisson_nll(log_rate, counts), log_rate)
    assert abs(float(grad)) < 1e-12


# ----------------------------------------------------------------------------------------------- validation

ONE = torch.ones(3, dtype=F64)
CALLS: dict[str, Callable[..., Tensor]] = {
    "gaussian": lambda **kw: gaussian_nll(ONE, ONE, ONE, **kw),
    "laplace": lambda **kw: laplace_nll(ONE, ONE, ONE, **kw),
    "von_mises": lambda **kw: von_mises_nll(ONE, ONE, ONE, **kw),
    "bernoulli": lambda **kw: bernoulli_nll(ONE, ONE, **kw),
    "categorical": lambda **kw: categorical_nll(ONE.expand(2, 3), torch.tensor([0, 2]), **kw),
    "poisson": lambda **kw: poisson_nll(ONE, ONE, **kw),
    "mixture": lambda **kw: gaussian_mixture_nll(ONE, ONE, ONE, torch.zeros(()), **kw),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_bad_reduction_lists_valid_choices(name: str) -> None:
    assert REDUCTIONS == ("mean", "sum", "none")
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none'; got 'avg'"):
        CALLS[name](reduction="avg")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: gaussian_nll(ONE, torch.tensor([1.0, 0.0, 1.0]), ONE), r"std must be > 0 .* 0"),
        (lambda: gaussian_nll(ONE, -2.0, ONE), r"std must be > 0 .* -2"),
        (lambda: laplace_nll(ONE, torch.tensor([1.0, -0.5, 1.0]), ONE), r"scale must be > 0 .* -0.5"),
        (lambda: von_mises_nll(ONE, -1.0, ONE), r"concentration must be >= 0 .* -1"),
        (
            lambda: bernoulli_nll(ONE, torch.tensor([0.0, 0.5, 1.0])),
            r"target values must be in \{0, 1\}; got 0.5",
        ),
        (lambda: bernoulli_nll(ONE, torch.tensor([0.0, -1.0, 1.0])), r"support \{0, 1\}"),
        (lambda: categorical_nll(ONE.expand(2, 3), torch.tensor([0.0, 1.0])), r"integer tensor\); got dtype"),
        (lambda: categorical_nll(ONE.expand(2, 3), torch.tensor([0, 3])), r"in 0\.\.2 .* K = 3 .* 0 to 3"),
        (lambda: categorical_nll(ONE.expand(2, 3), torch.tensor([-1, 0])), r"in 0\.\.2"),
        (lambda: categorical_nll(torch.tensor(1.0), torch.tensor(0)), r"class dimension"),
        (lambda: poisson_nll(ONE, torch.tensor([0.0, 1.5, 2.0])), r"counts .* got 1.5"),
        (lambda: poisson_nll(ONE, torch.tensor([0, -1, 2])), r"counts .* got -1"),
        (lambda: gaussian_mixture_nll(ONE, ONE, torch.tensor([1.0, 0.0, 1.0]), ONE[0]), r"stds must be > 0"),
        (lambda: gaussian_mixture_nll(ONE[0], ONE, ONE, ONE[0]), r"logits must have a component dimension"),
    ],
)
def test_invalid_arguments_raise_helpful_errors(call: Callable[[], Tensor], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_nan_parameters_propagate_instead_of_raising() -> None:
    nan = torch.tensor([float("nan")], dtype=F64)
    assert torch.isnan(gaussian_nll(ONE[:1], nan, ONE[:1]))
    assert torch.isnan(von_mises_nll(ONE[:1], nan, ONE[:1]))
