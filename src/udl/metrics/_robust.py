r"""Accuracy of a classifier, clean and under attack in the L∞ ball of radius ε (UDL section 9.3.4).

:func:`robust_accuracy` perturbs every input within :math:`\|\boldsymbol\delta\|_\infty \le \epsilon` and reports
the fraction still classified correctly:

- ``"pgd"``: the worst case as found by projected gradient ascent (:func:`udl.attacks.pgd`, ``steps`` steps of
  size α = 2.5·ε/steps from a uniform random start, Madry et al., 2018) — the usual robust accuracy;
- ``"fgsm"``: one signed-gradient step to a corner of the ball (:func:`udl.attacks.fgsm`);
- ``"random"``: a random corner of the ball (each coordinate ±ε with a fair coin) — noise of the same L∞ size
  that is not worst-case, the contrast that shows the damage comes from the direction.

Example:
    >>> import torch
    >>> from udl.nn import MLP
    >>> net = MLP(4, (8,), 3, generator=torch.Generator().manual_seed(0)).eval()
    >>> x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    >>> robust_accuracy(net, x, y, 0.0) == accuracy(net, x, y)
    True
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from udl.attacks import fgsm, pgd

__all__ = ["accuracy", "robust_accuracy"]

Attack = Literal["pgd", "fgsm", "random"]


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` whose arg-max class is ``y`` (the model is used as is: call ``eval()`` first)."""
    return float((model(x).argmax(1) == y).double().mean())


def robust_accuracy(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    *,
    attack: Attack = "pgd",
    steps: int = 20,
    generator: torch.Generator | None = None,
) -> float:
    """Accuracy on inputs perturbed by ``attack`` within the L∞ ball of radius ``eps`` (cross-entropy loss).

    Args:
        model: the classifier (used as is: call ``eval()`` first for the deterministic network).
        x: (N, ...) inputs.
        y: (N,) class labels.
        eps: ε >= 0; 0 gives the clean accuracy (no attack, no random draw).
        attack: ``"pgd"``, ``"fgsm"`` or ``"random"`` (see the module docstring).
        steps: PGD steps (step size 2.5·ε/steps); ignored by the other attacks.
        generator: source of PGD's random start and of the random corners (a CPU generator; ``None``: the
            global one).

    Raises:
        ValueError: ``eps < 0``, ``steps < 1`` or an unknown attack.
    """
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if attack not in ("pgd", "fgsm", "random"):
        raise ValueError(f"attack must be 'pgd', 'fgsm' or 'random', got {attack!r}")
    if eps == 0:
        return accuracy(model, x, y)
    if attack == "pgd":
        x_adv = pgd(model, x, y, eps, 2.5 * eps / steps, steps, generator=generator)
    elif attack == "fgsm":
        x_adv = fgsm(model, x, y, eps)
    else:
        signs = torch.randint(0, 2, x.shape, generator=generator).to(x.device) * 2.0 - 1.0
        x_adv = x + eps * signs
    return accuracy(model, x_adv, y)
