"""Tests of the margin losses udl.losses.hinge_loss and udl.losses.exponential_loss (float64)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from udl.losses import bernoulli_nll, exponential_loss, hinge_loss

F64 = torch.float64
SCORE = torch.tensor([2.0, 0.5, -1.0, 0.0, 1.0, -3.0], dtype=F64)
TARGET = torch.tensor([1.0, 1.0, 1.0, -1.0, 1.0, -1.0], dtype=F64)


def test_hinge_closed_form() -> None:
    expected = torch.tensor([0.0, 0.5, 2.0, 1.0, 0.0, 0.0], dtype=F64)
    torch.testing.assert_close(hinge_loss(SCORE, TARGET, reduction="none"), expected)
    torch.testing.assert_close(hinge_loss(SCORE, TARGET, reduction="sum"), expected.sum())
    torch.testing.assert_close(hinge_loss(SCORE, TARGET), expected.mean())
    # torch's multi-margin loss with two classes and scores (-f/2, f/2) is the same hinge
    two_class = torch.stack([-SCORE / 2, SCORE / 2], dim=-1)
    labels = ((TARGET + 1) / 2).long()
    torch.testing.assert_close(
        hinge_loss(SCORE, TARGET, reduction="none"),
        F.multi_margin_loss(two_class, labels, reduction="none") * 2,
    )


def test_exponential_closed_form() -> None:
    expected = torch.tensor(
        [math.exp(-2), math.exp(-0.5), math.e, 1.0, math.exp(-1), math.exp(-3)], dtype=F64
    )
    torch.testing.assert_close(exponential_loss(SCORE, TARGET, reduction="none"), expected)
    torch.testing.assert_close(exponential_loss(SCORE, TARGET, reduction="sum"), expected.sum())
    torch.testing.assert_close(exponential_loss(SCORE, TARGET), expected.mean())


def test_margin_losses_bound_the_zero_one_loss_and_depend_on_margin_only() -> None:
    g = torch.Generator().manual_seed(0)
    score = 3 * torch.randn(500, generator=g, dtype=F64)
    target = 2.0 * torch.randint(0, 2, (500,), generator=g).to(F64) - 1.0
    errors = (target * score <= 0).to(F64)
    hinge = hinge_loss(score, target, reduction="none")
    expo = exponential_loss(score, target, reduction="none")
    assert (hinge >= errors).all() and (expo >= errors).all()
    assert ((hinge == 0) == (target * score >= 1)).all()
    # flipping both the label and the score leaves the margin, and so the loss, unchanged
    torch.testing.assert_close(hinge_loss(-score, -target, reduction="none"), hinge)
    torch.testing.assert_close(exponential_loss(-score, -target, reduction="none"), expo)
    # the ±1 form of the binary cross-entropy, log(1 + exp(-y f)), lies below the exponential loss
    bce = bernoulli_nll(score, (target + 1) / 2, reduction="none")
    torch.testing.assert_close(bce, F.softplus(-target * score))
    assert (bce <= expo).all()


def test_broadcasting_and_integer_targets() -> None:
    score = torch.linspace(-2, 2, 5, dtype=F64).unsqueeze(-1)  # (5, 1)
    target = torch.tensor([-1, 1, 1])  # (3,) integers
    for fn in (hinge_loss, exponential_loss):
        loss = fn(score, target, reduction="none")
        assert loss.shape == (5, 3)
        torch.testing.assert_close(
            loss, fn(score.expand(5, 3), target.to(F64).expand(5, 3), reduction="none")
        )


@pytest.mark.parametrize("fn", [hinge_loss, exponential_loss])
def test_bad_targets_and_reduction_raise(fn) -> None:
    score = torch.zeros(3, dtype=F64)
    with pytest.raises(ValueError, match=r"values must be in \{-1, 1\}; got 0 .* 2\*y - 1"):
        fn(score, torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"got 0.5"):
        fn(score, torch.tensor([1.0, 0.5, -1.0]))
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none'; got 'max'"):
        fn(score, torch.ones(3), reduction="max")
