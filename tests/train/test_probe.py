"""The linear probe against closed forms and scikit-learn: ridge = augmented least squares, logistic = the
stationary point of the regularized objective; separable data is fitted perfectly; the fit is deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reference import F64, gen
from udl.train import linear_probe


def _blobs(n: int, d: int, c: int, seed: int, spread: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = gen(seed)
    centres = 4.0 * torch.randn(c, d, dtype=F64, generator=g)
    y = torch.randint(0, c, (n,), generator=g)
    return centres[y] + spread * torch.randn(n, d, dtype=F64, generator=g), y


@pytest.mark.parametrize("method", ["logistic", "ridge"])
def test_linear_probe_separates_linearly_separable_classes(method):
    x, y = _blobs(300, 5, 4, 14, spread=0.3)
    x_test, y_test = _blobs(200, 5, 4, 14, spread=0.3)
    result = linear_probe(x[:200], y[:200], x[200:], y[200:], method=method)
    assert result.train_accuracy == 1.0 and result.test_accuracy == 1.0
    assert linear_probe(x, y, x_test, y_test, method=method, num_classes=4).test_accuracy == 1.0


def test_linear_probe_ridge_equals_the_augmented_least_squares_solution():
    x, y = _blobs(120, 6, 3, 15, spread=3.0)
    lam = 0.05
    result = linear_probe(x, y, x, y, method="ridge", l2=lam)
    z = ((x - x.mean(0)) / x.std(0, correction=0)).numpy()
    n = len(z)
    # min (1/N)||Z W + b - Y||² + λ||W||²: least squares on [Z 1; √(Nλ) I 0] against [Y; 0]
    design = np.block([[z, np.ones((n, 1))], [math.sqrt(n * lam) * np.eye(6), np.zeros((6, 1))]])
    targets = np.vstack([np.eye(3)[y.numpy()], np.zeros((6, 3))])
    solution = np.linalg.lstsq(design, targets, rcond=None)[0]
    np.testing.assert_allclose(result.weight.numpy(), solution[:6].T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.bias.numpy(), solution[6], rtol=1e-9, atol=1e-12)


def test_linear_probe_logistic_is_the_regularized_optimum_and_matches_sklearn():
    from sklearn.linear_model import LogisticRegression

    x, y = _blobs(200, 5, 3, 16, spread=4.0)
    lam = 1e-2
    result = linear_probe(x, y, x, y, l2=lam)
    z = (x - x.mean(0)) / x.std(0, correction=0)
    w = result.weight.clone().requires_grad_(True)
    b = result.bias.clone().requires_grad_(True)
    objective = F.cross_entropy(z @ w.T + b, y) + 0.5 * lam * w.pow(2).sum()
    gw, gb = torch.autograd.grad(objective, (w, b))
    assert float(gw.abs().max()) < 1e-7 and float(gb.abs().max()) < 1e-7  # stationary point of a convex loss
    # sklearn minimizes C Σ CE + ½||W||², the same minimizer when C = 1 / (λ N); its biases sum to zero,
    # ours are defined up to a constant (softmax shift invariance; the bias is unpenalized): compare centred.
    sk = LogisticRegression(C=1 / (lam * len(z)), tol=1e-12, max_iter=10_000).fit(z.numpy(), y.numpy())
    np.testing.assert_allclose(result.weight.numpy(), sk.coef_, atol=1e-5)
    np.testing.assert_allclose(
        result.bias.numpy() - result.bias.numpy().mean(), sk.intercept_ - sk.intercept_.mean(), atol=1e-5
    )
    predicted = sk.predict(z.numpy())
    assert result.train_accuracy == pytest.approx(float((predicted == y.numpy()).mean()))


def test_linear_probe_is_deterministic_and_handles_constant_features():
    x, y = _blobs(100, 4, 3, 17, spread=1.0)
    x = torch.cat([x, torch.zeros(100, 2, dtype=F64)], dim=1)  # two dead features
    a = linear_probe(x.float(), y, x.float(), y)
    b = linear_probe(x.float(), y, x.float(), y)
    assert torch.equal(a.weight, b.weight) and a.test_accuracy == b.test_accuracy
    assert torch.isfinite(a.weight).all() and (a.weight[:, 4:] == 0).all()
    with pytest.raises(ValueError, match="method"):
        linear_probe(x, y, x, y, method="svm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="features must be"):
        linear_probe(x, y, x[:, :3], y)
