"""udl.ethics explainability: saliency and integrated gradients vs captum (float64, same baseline, steps and rule),
completeness, partial dependence vs scikit-learn and as the mean ICE curve, LIME's surrogate vs scikit-learn's Ridge
and on a linear model, the deletion curve by brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients, Saliency
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.linear_model import Ridge
from sklearn.neural_network import MLPRegressor

from udl import ethics
from udl.nn import MLP


def _net(d: int = 6, out: int = 3, seed: int = 0) -> torch.nn.Module:
    return MLP(d, (16, 16), out, activation="tanh", generator=torch.Generator().manual_seed(seed)).double()


def _x(n: int = 5, d: int = 6, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")
@pytest.mark.parametrize("abs_", [True, False])
def test_saliency_equals_captum(abs_: bool) -> None:
    net, x = _net(), _x()
    target = torch.tensor([0, 1, 2, 1, 0])
    ours = ethics.saliency(net, x, target, abs=abs_)
    theirs = Saliency(net).attribute(x, target=target, abs=abs_)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-14)


@pytest.mark.parametrize("method", ethics.IG_METHODS)
@pytest.mark.parametrize("n_steps", [7, 50])
def test_integrated_gradients_equals_captum(method: str, n_steps: int) -> None:
    net, x = _net(), _x()
    baseline = _x(1, seed=9).expand_as(x).contiguous()
    ours = ethics.integrated_gradients(net, x, baseline, 2, n_steps=n_steps, method=method)
    theirs = IntegratedGradients(net).attribute(x, baseline, target=2, n_steps=n_steps, method=method)
    # captum casts its quadrature weights to float32 (``torch.tensor(step_sizes).float()``) and builds its Riemann
    # nodes with a float32 linspace: it agrees to float32 rounding of the weights, ~1e-7 relative
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
    # the float64 reference: the same rule evaluated step by step with autograd
    alphas, weights = ethics.quadrature(n_steps, method)
    total = torch.zeros_like(x)
    for a, w in zip(alphas, weights, strict=True):
        point = (baseline + a * (x - baseline)).requires_grad_(True)
        (g,) = torch.autograd.grad(net(point)[:, 2].sum(), point)
        total += w * g
    torch.testing.assert_close(ours, (x - baseline) * total, rtol=0, atol=1e-14)


def test_integrated_gradients_completeness_error_falls_with_steps() -> None:
    net, x = _net(), _x(20)
    f = net(x)[:, 1] - net(torch.zeros_like(x))[:, 1]
    errors = {}
    for method in ("riemann_middle", "gausslegendre"):
        errors[method] = [
            float(
                (ethics.integrated_gradients(net, x, None, 1, n_steps=s, method=method).sum(1) - f)
                .abs()
                .max()
                .detach()
            )
            for s in (4, 16, 64)
        ]
    mid, gl = errors["riemann_middle"], errors["gausslegendre"]
    assert mid[0] > mid[1] > mid[2] and mid[2] < 1e-3  # the midpoint rule's error is O(1/n²)
    assert mid[1] / mid[2] > 8
    assert gl[2] < 1e-10 and gl[1] < mid[2]


def test_integrated_gradients_of_a_linear_model_is_exact() -> None:
    w = torch.randn(6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    x, b = _x(), _x(seed=4)
    ig = ethics.integrated_gradients(lambda z: z @ w, x, b, n_steps=2, method="riemann_left")
    torch.testing.assert_close(ig, (x - b) * w, rtol=0, atol=1e-14)


def test_quadrature_integrates_polynomials() -> None:
    for method in ethics.IG_METHODS:
        a, w = ethics.quadrature(11, method)
        # captum's "trapezoid" halves the end weights of 1/n (not 1/(n − 1)): its weights sum to 1 − 1/n
        total = 1 - 1 / 11 if method == "riemann_trapezoid" else 1.0
        assert float(w.sum()) == pytest.approx(total, abs=1e-14)
        assert float(a.min()) >= 0 and float(a.max()) <= 1
    a, w = ethics.quadrature(5, "gausslegendre")
    assert float(w @ a**9) == pytest.approx(0.1, abs=1e-14)  # exact up to degree 2n − 1
    with pytest.raises(ValueError, match="method must be one of"):
        ethics.quadrature(5, "simpson")  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_ice_and_partial_dependence_equal_sklearn() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = np.sin(2 * x[:, 0]) * x[:, 1] + x[:, 2] ** 2
    est = MLPRegressor(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(x, y)
    grid = np.linspace(-2, 2, 9)
    sk = sk_partial_dependence(est, x, [1], custom_values={1: grid}, kind="both", method="brute")

    def forward(z: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(est.predict(z.numpy()))

    xt = torch.from_numpy(x)
    ice = ethics.ice_curves(forward, xt, 1, torch.from_numpy(grid))
    np.testing.assert_allclose(ice.numpy(), sk["individual"][0], atol=1e-12)
    pd = ethics.partial_dependence(forward, xt, 1, torch.from_numpy(grid))
    np.testing.assert_allclose(pd.numpy(), sk["average"][0], atol=1e-12)
    torch.testing.assert_close(pd, ice.mean(0))


def test_lime_surrogate_equals_weighted_ridge_and_recovers_a_linear_model() -> None:
    w = torch.tensor([3.0, -2.0, 0.0, 0.5, 0.0, 1.0], dtype=torch.float64)
    x = _x(1)[0]
    s = ethics.lime(lambda z: z @ w, x, num_features=6, alpha=0.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(s.attributions(), w * x, rtol=0, atol=1e-10)  # f(h(z)) = Σ z_j w_j x_j exactly
    assert s.fidelity == pytest.approx(1.0, abs=1e-12)
    # a nonlinear model: the selected-feature refit is scikit-learn's Ridge with sample weights
    net = _net(out=1)
    g = torch.Generator().manual_seed(1)
    s = ethics.lime(net, x, num_features=3, alpha=1.0, num_samples=300, kernel_width=0.3, generator=g)
    z = (torch.rand(300, 6, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    z[0] = 1
    with torch.no_grad():
        y = net(x * z)[:, 0]
    wt = torch.exp(-((1 - z).mean(1) ** 2) / 0.3**2)
    r = Ridge(alpha=1.0).fit(z[:, s.features].numpy(), y.numpy(), sample_weight=wt.numpy())
    np.testing.assert_allclose(s.coef.numpy(), r.coef_, atol=1e-10)
    assert s.intercept == pytest.approx(float(r.intercept_), abs=1e-10)
    assert s.fidelity == pytest.approx(r.score(z[:, s.features].numpy(), y.numpy(), sample_weight=wt.numpy()))


def test_deletion_curve_by_brute_force() -> None:
    net, x = _net(), _x(4)
    attr = ethics.saliency(net, x, 0)
    steps = torch.tensor([0, 2, 6])
    curve = ethics.deletion_curve(net, x, attr, steps, target=0)
    for i in range(4):
        order = attr[i].argsort(descending=True)
        for j, k in enumerate(steps.tolist()):
            xi = x[i].clone()
            xi[order[:k]] = 0
            assert float(curve[i, j]) == pytest.approx(float(net(xi[None])[0, 0].detach()), abs=1e-14)
    assert torch.allclose(curve[:, -1], net(torch.zeros(1, 6, dtype=torch.float64))[0, 0].expand(4))


def test_bad_input() -> None:
    net, x = _net(), _x()
    with pytest.raises(ValueError, match="target is needed"):
        ethics.saliency(net, x)
    with pytest.raises(ValueError, match="n_steps"):
        ethics.integrated_gradients(net, x, target=0, n_steps=1, method="riemann_left")
    with pytest.raises(ValueError, match="num_features"):
        ethics.lime(net, x[0], target=0, num_features=7)
    with pytest.raises(ValueError, match="feature"):
        ethics.ice_curves(net, x, 6, torch.zeros(3), target=0)
