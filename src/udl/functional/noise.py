r"""Applying noise (UDL section 9.3.4): input noise and weight noise.

Section 9.3.4 lists three places to add noise during training:

- **the inputs** — training on :math:`\mathbf{x} + \boldsymbol\epsilon`, :math:`\boldsymbol\epsilon \sim
  \mathcal{N}(\mathbf{0}, \sigma^2\mathbf{I})`, smooths the learned function (UDL fig. 9.10); see
  :func:`add_input_noise`;
- **the weights** — evaluating the loss at :math:`\boldsymbol\phi + \boldsymbol\epsilon` pushes training towards
  wide, flat minima where small weight changes do not matter; see :func:`forward_with_weight_noise`;
- **the labels** — *label smoothing*: :func:`udl.losses.label_smoothing_targets` and
  :func:`udl.losses.smoothed_cross_entropy`.

The overconfidence that label smoothing counters is measured by :func:`udl.metrics.expected_calibration_error`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn
from torch.func import functional_call

__all__ = [
    "add_input_noise",
    "forward_with_weight_noise",
    "perturbed_parameters",
]


def _gaussian_like(t: Tensor, std: float, generator: torch.Generator | None) -> Tensor:
    """std · N(0, 1) of t's shape and dtype, drawn on the generator's device and moved to t's."""
    device = generator.device if generator is not None else t.device
    return std * torch.randn(t.shape, generator=generator, dtype=t.dtype, device=device).to(t.device)


def add_input_noise(x: Tensor, std: float, *, generator: torch.Generator | None = None) -> Tensor:
    r""":math:`\mathbf{x} + \boldsymbol\epsilon`, :math:`\boldsymbol\epsilon \sim \mathcal{N}(\mathbf{0},
    \sigma^2\mathbf{I})` with σ = ``std`` (section 9.3.4, fig. 9.10: input noise smooths the learned function).

    A fresh draw per call (per mini-batch in training). ``std=0`` returns ``x`` unchanged (no draw is made).

    Args:
        x: any floating tensor.
        std: σ >= 0.
        generator: source of the noise (``None``: torch's global generator); the draw is made on the
            generator's device and moved to ``x``'s, so a CPU generator gives the same noise on any device.
    """
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    if std == 0:
        return x
    return x + _gaussian_like(x, std, generator)


def _noisy_parameters(model: nn.Module, std: float, generator: torch.Generator | None) -> dict[str, Tensor]:
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    return {
        name: p + _gaussian_like(p, std, generator) if std > 0 else p for name, p in model.named_parameters()
    }


def forward_with_weight_noise(
    model: nn.Module, x: Tensor, std: float, *, generator: torch.Generator | None = None
) -> Tensor:
    r"""One forward pass of ``model`` with every parameter perturbed: :math:`\mathbf{f}[\mathbf{x},
    \boldsymbol\phi + \boldsymbol\epsilon]`, :math:`\boldsymbol\epsilon \sim \mathcal{N}(\mathbf{0},
    \sigma^2\mathbf{I})` (section 9.3.4: weight noise favours wide, flat minima).

    The model's parameters are not modified: the perturbed values are passed through
    ``torch.func.functional_call``. Since :math:`\partial(\boldsymbol\phi + \boldsymbol\epsilon)/\partial
    \boldsymbol\phi = \mathbf{I}`, back-propagating a loss of the output gives the gradient evaluated at the
    perturbed weights, accumulated into the clean parameters' ``.grad`` — one step of SGD on
    :math:`\mathbb{E}_{\boldsymbol\epsilon}[L(\boldsymbol\phi + \boldsymbol\epsilon)]`. Every parameter (weights
    and biases) gets an independent draw, in ``named_parameters()`` order; buffers are untouched.

    Args:
        model: any module.
        x: its input.
        std: σ >= 0 (0 is a plain forward pass).
        generator: source of the noise (``None``: torch's global generator), used on its own device.
    """
    return functional_call(model, _noisy_parameters(model, std, generator), (x,))


@contextlib.contextmanager
def perturbed_parameters(
    model: nn.Module, std: float, *, generator: torch.Generator | None = None
) -> Iterator[nn.Module]:
    r"""Within the block, ``model``'s parameters hold :math:`\boldsymbol\phi + \boldsymbol\epsilon`; on exit the
    exact original values are copied back (not re-computed by subtraction, so nothing drifts).

    Use it to evaluate a trained model at randomly perturbed weights (e.g. how flat its minimum is). For
    training with weight noise prefer :func:`forward_with_weight_noise`, whose gradients reach the clean
    parameters without an in-place update.
    """
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    params = list(model.parameters())
    saved = [p.detach().clone() for p in params]
    try:
        with torch.no_grad():
            for p in params:
                p.add_(_gaussian_like(p, std, generator))
        yield model
    finally:
        with torch.no_grad():
            for p, original in zip(params, saved, strict=True):
                p.copy_(original)
