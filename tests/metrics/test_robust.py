"""Tests of udl.metrics: accuracy, and robust accuracy against a closed form for a linear binary classifier."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from udl.attacks import pgd
from udl.metrics import accuracy, robust_accuracy


def _linear(generator: torch.Generator) -> nn.Linear:
    model = nn.Linear(5, 2).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(2, 5, generator=generator, dtype=torch.float64))
        model.bias.copy_(torch.randn(2, generator=generator, dtype=torch.float64))
    return model


def _data(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(400, 5, generator=generator, dtype=torch.float64), torch.randint(
        0, 2, (400,), generator=generator
    )


def test_accuracy_counts_the_arg_max() -> None:
    model = nn.Identity()
    x = torch.tensor([[0.0, 1.0], [2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(model, x, torch.tensor([1, 0, 0, 0])) == 0.75


@pytest.mark.parametrize("eps", [0.05, 0.2, 0.6])
def test_fgsm_and_pgd_reach_the_closed_form_worst_case_of_a_linear_classifier(eps: float) -> None:
    # logit margin m = (w_y − w_ȳ)·x + (b_y − b_ȳ); the worst L∞ perturbation lowers it by ε‖w_y − w_ȳ‖₁
    g = torch.Generator().manual_seed(0)
    model, (x, y) = _linear(g), _data(g)
    w, b = model.weight.detach(), model.bias.detach()
    sign = 1 - 2 * y.double()  # +1 for class 0, −1 for class 1
    margin = sign * ((w[0] - w[1]) @ x.T + (b[0] - b[1]))
    expected = float(((margin - eps * (w[0] - w[1]).abs().sum()) > 0).double().mean())
    assert robust_accuracy(model, x, y, eps, attack="fgsm") == pytest.approx(expected)
    assert robust_accuracy(model, x, y, eps, attack="pgd", steps=10, generator=g) == pytest.approx(expected)
    assert expected < accuracy(model, x, y)


def test_random_corners_and_pgd_use_the_generator_as_documented() -> None:
    g = torch.Generator().manual_seed(1)
    model, (x, y) = _linear(g), _data(g)
    signs = torch.randint(0, 2, x.shape, generator=torch.Generator().manual_seed(5)) * 2.0 - 1.0
    expected = accuracy(model, x + 0.3 * signs, y)
    assert (
        robust_accuracy(model, x, y, 0.3, attack="random", generator=torch.Generator().manual_seed(5))
        == expected
    )
    x_adv = pgd(model, x, y, 0.3, 2.5 * 0.3 / 4, 4, generator=torch.Generator().manual_seed(6))
    got = robust_accuracy(model, x, y, 0.3, steps=4, generator=torch.Generator().manual_seed(6))
    assert got == accuracy(model, x_adv, y)
    assert robust_accuracy(model, x, y, 0.0, attack="random") == accuracy(model, x, y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"eps": -0.1}, "eps"), ({"eps": 0.1, "steps": 0}, "steps"), ({"eps": 0.1, "attack": "cw"}, "attack")],
)
def test_bad_arguments_raise(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        robust_accuracy(nn.Identity(), torch.zeros(2, 2), torch.zeros(2, dtype=torch.int64), **kwargs)
