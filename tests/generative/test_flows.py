"""Normalizing flows against autograd in float64: every flow's round trip, log|det J| against the log-determinant
of ``torch.autograd.functional.jacobian`` both ways, densities integrating to 1 in 1-D and 2-D, MADE's
autoregressive structure, and the residual flow's fixed-point inverse and power-series log-determinant."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor
from torch.autograd.functional import jacobian as autograd_jacobian

from udl.generative.flows import (
    FLOW_FAMILIES,
    MADE,
    AffineCoupling,
    ContractiveMLP,
    Flow,
    FlowDensity,
    InverseAutoregressiveFlow,
    LinearLU,
    LogitTransform,
    MaskedAutoregressiveFlow,
    MultiScaleFlow,
    Permutation,
    PiecewiseLinearFlow,
    ResidualFlow,
    SequentialFlow,
    Squeeze,
    StandardNormal,
    alternating_mask,
    channel_mask,
    conv_conditioner,
    fixed_point_inverse,
    flow_stack,
    hutchinson_log_det,
    jacobian,
    mlp_conditioner,
    multiscale_realnvp,
    piecewise_linear,
    power_series_log_det,
)

D = 3


def _randomize(flow: Flow, scale: float, seed: int = 0) -> Flow:
    """float64, and every parameter moved off its (often identity) initialization."""
    g = torch.Generator().manual_seed(seed)
    flow = flow.double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return flow


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _coupling_stack(d: int) -> Flow:
    g = _gen(1)
    return SequentialFlow(
        AffineCoupling(alternating_mask(d, 0), mlp_conditioner(d, 16, generator=g)),
        Permutation(d),
        AffineCoupling(alternating_mask(d, 1), mlp_conditioner(d, 16, generator=g)),
    )


VECTOR_FLOWS: dict[str, Callable[[int, float], Flow]] = {
    "piecewise-linear": lambda d, k=1.0: _randomize(PiecewiseLinearFlow(d, bins=6, bound=3.0), 0.8 * k),
    "linear-lu": lambda d, k=1.0: _randomize(LinearLU(d, generator=_gen(2)), 0.3 * k),
    "affine-coupling": lambda d, k=1.0: _randomize(_coupling_stack(d), 0.3 * k),
    "maf": lambda d, k=1.0: _randomize(MaskedAutoregressiveFlow(d, 16, generator=_gen(3)), 0.3 * k),
    "iaf": lambda d, k=1.0: _randomize(InverseAutoregressiveFlow(d, 16, generator=_gen(4)), 0.3 * k),
    "residual": lambda d, k=1.0: _randomize(
        ResidualFlow(ContractiveMLP(d, 16, lipschitz=0.8, generator=_gen(5)), tol=1e-13), 0.3 * k
    ),
    "composed": lambda d, k=1.0: _randomize(
        SequentialFlow(
            LinearLU(d, generator=_gen(6)),
            PiecewiseLinearFlow(d, bins=5, bound=4.0),
            MaskedAutoregressiveFlow(d, 16, generator=_gen(7)),
        ),
        0.3 * k,
    ),
}


def _log_det_of(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """log|det ∂f/∂x| of one sample x (its event shape) from autograd's full Jacobian."""
    jac = autograd_jacobian(lambda v: f(v.unsqueeze(0))[0], x)
    n = x.numel()
    return torch.linalg.slogdet(jac.reshape(n, n)).logabsdet


def _check_flow(flow: Flow, x: Tensor, round_trip: float = 1e-10) -> None:
    z, log_det = flow(x)
    back, log_det_inv = flow.inverse(z)
    assert z.shape[0] == x.shape[0] and z[0].numel() == x[0].numel()  # a flow keeps the number of variables
    assert log_det.shape == (x.shape[0],) and log_det_inv.shape == (x.shape[0],)
    assert (back - x).abs().max() < round_trip
    for n in range(x.shape[0]):
        expected = _log_det_of(lambda v: flow(v)[0], x[n])
        torch.testing.assert_close(log_det[n], expected, atol=1e-10, rtol=0)
        expected_inv = _log_det_of(lambda v: flow.inverse(v)[0], z[n])
        torch.testing.assert_close(log_det_inv[n], expected_inv, atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", list(VECTOR_FLOWS))
def test_vector_flow_round_trip_and_log_det(name: str) -> None:
    flow = VECTOR_FLOWS[name](D, 1.0)
    x = 1.5 * torch.randn(5, D, generator=_gen(10), dtype=torch.float64)
    _check_flow(flow, x)
    torch.testing.assert_close(flow.inverse(flow(x)[0])[1], -flow(x)[1], atol=1e-10, rtol=0)


@pytest.mark.parametrize("family", FLOW_FAMILIES)
def test_flow_stack_round_trip_and_log_det(family: str) -> None:
    flow = _randomize(flow_stack(family, D, layers=2, hidden=8, generator=_gen(40)), 0.2)
    _check_flow(flow, torch.randn(3, D, generator=_gen(41), dtype=torch.float64))
    with pytest.raises(ValueError, match="family"):
        flow_stack("glow", D)


def test_logit_transform() -> None:
    x = torch.rand(4, 2, 2, 2, generator=_gen(11), dtype=torch.float64)
    flow = LogitTransform(0.05)
    _check_flow(flow, x)
    torch.testing.assert_close(flow(x)[0], torch.logit(0.05 + 0.9 * x))


def test_image_flows_round_trip_and_log_det() -> None:
    x = torch.rand(3, 2, 4, 4, generator=_gen(12), dtype=torch.float64)
    _check_flow(_randomize(LinearLU(2, dim=1, generator=_gen(13)), 0.3), x)
    _check_flow(Squeeze().double(), x)
    coupling = AffineCoupling(channel_mask(2, 1), conv_conditioner(2, 8, generator=_gen(14)))
    _check_flow(_randomize(coupling, 0.2), x)
    ms = _randomize(multiscale_realnvp((2, 4, 4), scales=2, steps=2, hidden=8, generator=_gen(15)), 0.1)
    assert isinstance(ms, MultiScaleFlow)
    z, _ = ms(x)
    assert z.shape == (3, 32)
    _check_flow(ms, x)


def test_squeeze_is_the_2x2_block_rearrangement() -> None:
    x = torch.arange(2 * 4 * 4, dtype=torch.float64).reshape(1, 2, 4, 4)
    z, _ = Squeeze()(x)
    for c in range(2):
        for i in range(2):
            for j in range(2):
                torch.testing.assert_close(z[0, 4 * c + 2 * i + j], x[0, c, i::2, j::2])


def test_multiscale_factors_out_half_at_each_scale() -> None:
    ms = multiscale_realnvp((1, 8, 8), scales=2, steps=1, hidden=4, generator=_gen(0))
    assert ms.kept == [(4, 4, 4), (8, 2, 2)]  # 2 x 4 x 4 = 32 factored out, then 8 x 2 x 2 = 32 to the end


def test_piecewise_linear_matches_interpolation_of_its_knots() -> None:
    g = _gen(16)
    w, h = (
        torch.randn(1, 5, generator=g, dtype=torch.float64),
        torch.randn(1, 5, generator=g, dtype=torch.float64),
    )
    x = torch.linspace(-3.5, 3.5, 101, dtype=torch.float64)[:, None]
    y, log_deriv = piecewise_linear(x, w, h, 2.0)
    from udl.generative.flows._elementwise import _knots

    _, xk = _knots(w, 2.0)
    _, yk = _knots(h, 2.0)
    import numpy as np

    expected = np.interp(x[:, 0].numpy(), xk[0].numpy(), yk[0].numpy())
    inside = x[:, 0].abs() < 2
    torch.testing.assert_close(y[inside, 0], torch.from_numpy(expected)[inside])
    torch.testing.assert_close(y[~inside], x[~inside])  # identity tails
    assert bool((log_deriv[~inside] == 0).all())


def _integrate_1d(density: FlowDensity) -> float:
    grid = torch.linspace(-14, 14, 200_001, dtype=torch.float64)[:, None]
    with torch.no_grad():
        return float(torch.trapezoid(density.log_prob(grid).exp(), grid[:, 0]))


def _integrate_2d(density: FlowDensity, half_width: float = 14.0, points: int = 841) -> float:
    axis = torch.linspace(-half_width, half_width, points, dtype=torch.float64)
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    with torch.no_grad():
        p = density.log_prob(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)).exp().reshape(points, points)
    return float(torch.trapezoid(torch.trapezoid(p, axis, dim=1), axis))


@pytest.mark.parametrize("name", ["piecewise-linear", "composed", "maf"])
def test_density_integrates_to_one_1d(name: str) -> None:
    # trapezoid rule, step 1.4e-4: the piecewise-linear density jumps at its knots (error O(step) per knot)
    assert _integrate_1d(FlowDensity(VECTOR_FLOWS[name](1, 0.5), 1)) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", list(VECTOR_FLOWS))
def test_density_integrates_to_one_2d(name: str) -> None:
    # milder parameters than the round-trip test keep the mass inside the grid's box
    # the piecewise-linear density jumps at its knots: a finer grid on the box holding its mass
    grid = {"half_width": 6.0, "points": 1201} if name == "piecewise-linear" else {}
    assert _integrate_2d(FlowDensity(VECTOR_FLOWS[name](2, 0.2), 2), **grid) == pytest.approx(1.0, abs=1e-3)


def test_flow_density_matches_torch_distributions_for_a_linear_flow() -> None:
    flow = _randomize(LinearLU(D, generator=_gen(17)), 0.3)
    density = FlowDensity(flow, D)
    with torch.no_grad():
        omega, beta = flow.weight(), flow.bias
        # z = Ωx + β ~ N(0, I)  <=>  x ~ N(−Ω⁻¹β, (ΩᵀΩ)⁻¹)
        inv = torch.linalg.inv(omega)
        reference = torch.distributions.MultivariateNormal(-inv @ beta, covariance_matrix=inv @ inv.T)
        x = torch.randn(6, D, generator=_gen(18), dtype=torch.float64)
        torch.testing.assert_close(density.log_prob(x), reference.log_prob(x))
        samples = density.sample(20_000, generator=_gen(19))
    torch.testing.assert_close(samples.mean(0), reference.mean, atol=0.05, rtol=0)


def test_made_is_autoregressive() -> None:
    made = _randomize(MADE(5, 20, layers=3, generator=_gen(20)), 0.5)
    x = torch.randn(5, dtype=torch.float64, generator=_gen(21))
    jac = autograd_jacobian(lambda v: made(v[None])[0], x)  # (outputs, D, D_in)
    d = torch.arange(5)
    assert bool((jac[:, d[:, None] <= d[None, :]] == 0).all())  # output d: no dependence on x_{>=d}
    assert bool((jac[:, d[:, None] > d[None, :]].abs() > 0).all())  # and it does depend on all of x_{<d}


def test_maf_and_iaf_jacobians_are_lower_triangular() -> None:
    x = torch.randn(4, generator=_gen(22), dtype=torch.float64)
    maf = VECTOR_FLOWS["maf"](4, 1.0)
    iaf = VECTOR_FLOWS["iaf"](4, 1.0)
    for f in (lambda v: maf(v[None])[0][0], lambda v: iaf.inverse(v[None])[0][0]):
        jac = autograd_jacobian(f, x)
        below = torch.tril_indices(4, 4, -1)
        assert bool((torch.triu(jac, 1) == 0).all())
        assert bool((jac[below[0], below[1]].abs() > 0).all())


def test_contractive_mlp_lipschitz_bound_holds() -> None:
    g = _randomize(ContractiveMLP(3, 16, layers=2, lipschitz=0.7, generator=_gen(23)), 1.0)
    bound = g.lipschitz_bound()
    assert bound <= 0.7 + 1e-12
    x = 3 * torch.randn(200, 3, generator=_gen(24), dtype=torch.float64)
    _, jac = jacobian(g, x)
    assert float(torch.linalg.matrix_norm(jac, ord=2).max()) <= bound + 1e-12


def test_fixed_point_inverse_converges_geometrically() -> None:
    g = _randomize(ContractiveMLP(3, 16, lipschitz=0.6, generator=_gen(25)), 1.0)
    x_true = torch.randn(50, 3, generator=_gen(26), dtype=torch.float64)
    with torch.no_grad():
        z = x_true + g(x_true)
        bound = g.lipschitz_bound()
        x = z
        error0 = (x - x_true).norm(dim=1)
        for k in range(1, 15):
            x = z - g(x)
            assert bool(((x - x_true).norm(dim=1) <= bound**k * error0 + 1e-13).all())
        result = fixed_point_inverse(g, z, tol=1e-12)
    assert (result.x - x_true).abs().max() < bound * 1e-12 / (1 - bound) + 1e-15
    with pytest.raises(RuntimeError, match="did not reach"):
        fixed_point_inverse(g, z, tol=1e-12, max_iter=2)


def test_power_series_converges_to_the_exact_log_det_within_the_truncation_bound() -> None:
    g = _randomize(ContractiveMLP(4, 16, lipschitz=0.8, generator=_gen(27)), 1.0)
    x = torch.randn(10, 4, generator=_gen(28), dtype=torch.float64)
    _, jac = jacobian(g, x)
    exact = torch.linalg.slogdet(torch.eye(4, dtype=torch.float64) + jac).logabsdet
    lip = torch.linalg.matrix_norm(jac, ord=2)
    for terms in (2, 5, 10, 40):
        tail = sum(lip**k / k for k in range(terms + 1, 400))
        assert bool(((power_series_log_det(jac, terms) - exact).abs() <= 4 * tail + 1e-12).all())


def test_hutchinson_estimator_is_unbiased() -> None:
    g = _randomize(ContractiveMLP(4, 16, lipschitz=0.9, generator=_gen(29)), 1.0)
    x = torch.randn(3, 4, generator=_gen(30), dtype=torch.float64)
    _, jac = jacobian(g, x)
    target = power_series_log_det(jac, 6)
    _, estimates = hutchinson_log_det(g, x, terms=6, probes=2000, generator=_gen(31), per_probe=True)
    se = estimates.std(0) / math.sqrt(estimates.shape[0])
    assert bool(((estimates.mean(0) - target).abs() < 4 * se).all())  # 4 SE: a 6e-5 false-alarm rate
    assert bool((se > 0).all())


def test_residual_series_log_det_trains_and_matches_exact_on_average() -> None:
    g = _randomize(ContractiveMLP(2, 8, lipschitz=0.5, generator=_gen(32)), 1.0)
    exact, series = (
        ResidualFlow(g),
        ResidualFlow(g, log_det="series", terms=30, probes=64, generator=_gen(33)),
    )
    x = torch.randn(4, 2, generator=_gen(34), dtype=torch.float64)
    (_, a), (_, b) = exact(x), series(x)
    assert (a - b).abs().max() < 0.05  # 64 probes of a small-trace Jacobian
    b.sum().backward()
    assert all(layer.weight.grad is not None for layer in g.linears)  # the last bias has no effect on J


def test_residual_exact_log_det_gradients_match_finite_differences() -> None:
    g = _randomize(ContractiveMLP(2, 4, layers=1, lipschitz=0.7, generator=_gen(35)), 1.0)
    flow = ResidualFlow(g)
    x = torch.randn(3, 2, generator=_gen(36), dtype=torch.float64)
    weight = g.linears[0].weight
    assert torch.autograd.gradcheck(
        lambda w: ResidualFlow(_with_weight(g, w))(x)[1], (weight.detach().clone().requires_grad_(),)
    )
    del flow


def _with_weight(g: ContractiveMLP, w: Tensor) -> Callable[[Tensor], Tensor]:
    def f(x: Tensor) -> Tensor:
        weights = g.weights()
        sigma = torch.linalg.matrix_norm(w, ord=2)
        weights[0] = w * torch.clamp(g.lipschitz ** (1 / len(weights)) / sigma, max=1.0)
        h = torch.nn.functional.elu(torch.nn.functional.linear(x, weights[0], g.linears[0].bias))
        return torch.nn.functional.linear(h, weights[1], g.linears[1].bias)

    return f


def test_standard_normal_matches_torch() -> None:
    base = StandardNormal((2, 3))
    z = torch.randn(4, 2, 3, generator=_gen(37), dtype=torch.float64)
    reference = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum((1, 2))
    torch.testing.assert_close(base.log_prob(z), reference)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: PiecewiseLinearFlow(2, bins=0), "bins"),
        (lambda: PiecewiseLinearFlow(2, bound=-1.0), "bound"),
        (lambda: LogitTransform(0.5), "alpha"),
        (lambda: ContractiveMLP(2, lipschitz=1.0), "lipschitz"),
        (lambda: ResidualFlow(ContractiveMLP(2), log_det="trace"), "log_det"),
        (lambda: AffineCoupling(torch.tensor([0.5, 1.0]), mlp_conditioner(2)), "mask"),
        (lambda: Permutation(3, torch.tensor([0, 0, 1])), "permutation"),
        (lambda: multiscale_realnvp((1, 6, 6), scales=2), "divisible"),
        (lambda: SequentialFlow(torch.nn.Linear(2, 2)), "Flow"),  # type: ignore[arg-type]
    ],
)
def test_bad_input(build: Callable[[], object], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        build()
