"""The book's 1D toy regression problems (UDL chapters 2, 3 and 8).

- :func:`linear_data`: noisy points around a line, the data of the 1D linear regression model of chapter 2
  (UDL eq. 2.4, figure 2.2).
- :func:`regression_1d`: noisy samples of a 1D function: the smooth target ``exp(sin(2 pi x))`` of the
  bias-variance study of section 8.2 (figures 8.5-8.9) and a few other targets, one with a kink, for fitting
  shallow networks and probing universal approximation (chapter 3).

All inputs and outputs are ``(n, 1)`` column tensors, ready for ``nn.Linear(1, ...)``. Randomness comes only
from the ``generator`` argument (a CPU ``torch.Generator``; ``None`` uses torch's global RNG).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

__all__ = ["FUNCTIONS", "linear_data", "regression_1d", "sine_exp_function"]

Sampling = Literal["uniform", "grid", "stratified"]
_SAMPLINGS: tuple[str, ...] = ("uniform", "grid", "stratified")


def sine_exp_function(x: Tensor) -> Tensor:
    """The true function of the bias-variance study, f(x) = exp(sin(2 pi x)) on [0, 1] (UDL section 8.2).

    It rises to e at x = 1/4, falls to 1/e at x = 3/4 and is periodic with period 1. (The book's companion
    notebook writes 2 * 3.1413 for 2 pi; here pi is exact.)
    """
    return torch.exp(torch.sin(2 * math.pi * x))


def _sine(x: Tensor) -> Tensor:
    """sin(2 pi x): one period on [0, 1]."""
    return torch.sin(2 * math.pi * x)


def _abs(x: Tensor) -> Tensor:
    """|2x - 1|: piecewise linear with a kink at x = 1/2; a ReLU network represents it exactly (UDL ch. 3)."""
    return torch.abs(2 * x - 1)


def _step(x: Tensor) -> Tensor:
    """1[x >= 1/2]: a jump at x = 1/2, which a finite ReLU network can only approximate (UDL section 3.2)."""
    return (x >= 0.5).to(x.dtype)


FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "sine_exp": sine_exp_function,
    "sine": _sine,
    "abs": _abs,
    "step": _step,
}
"""Named 1D targets for :func:`regression_1d`: ``sine_exp`` exp(sin 2 pi x) (UDL section 8.2), ``sine``
sin(2 pi x), ``abs`` |2x - 1| (a kink at 1/2), ``step`` 1[x >= 1/2] (a jump at 1/2)."""


def _check_common(n: int, noise_std: float, x_range: tuple[float, float], dtype: torch.dtype) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if (
        isinstance(noise_std, bool)
        or not isinstance(noise_std, (int, float))
        or not (math.isfinite(noise_std) and noise_std >= 0)
    ):
        raise ValueError(f"noise_std must be a finite number >= 0, got {noise_std!r}")
    try:
        low, high = (float(v) for v in x_range)
    except (TypeError, ValueError):
        raise ValueError(f"x_range must be a pair (low, high) with low < high, got {x_range!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(
            f"x_range must be a pair (low, high) of finite numbers with low < high, got {x_range!r}"
        )
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point dtype, got {dtype}")


def _sample_x(
    n: int, x_range: tuple[float, float], sampling: str, generator: torch.Generator | None, dtype: torch.dtype
) -> Tensor:
    low, high = float(x_range[0]), float(x_range[1])
    if sampling == "uniform":  # i.i.d. U(low, high)
        u = torch.rand(n, 1, generator=generator, dtype=dtype)
    elif sampling == "grid":  # evenly spaced, both ends included
        u = torch.linspace(0, 1, n, dtype=dtype).unsqueeze(1)
    else:  # stratified: one uniform draw in each of n equal bins, as in the book's notebook 8.2
        u = (
            torch.arange(n, dtype=dtype).unsqueeze(1) + torch.rand(n, 1, generator=generator, dtype=dtype)
        ) / n
    return low + (high - low) * u  # (n, 1)


def linear_data(
    n: int = 12,
    *,
    phi0: float = 0.8,
    phi1: float = 0.5,
    noise_std: float = 0.13,
    x_range: tuple[float, float] = (0.0, 2.0),
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Noisy data from the 1D linear regression model, y = phi0 + phi1 x + eps (UDL eq. 2.4, figure 2.2).

    x ~ U(x_range) i.i.d. and eps ~ N(0, noise_std^2). The defaults imitate figure 2.2: 12 points on [0, 2];
    the 12 points of the book's companion notebook 2.1 have least-squares fit phi0 = 0.83, phi1 = 0.52 and
    residual std 0.13, hence phi0 = 0.8, phi1 = 0.5, noise_std = 0.13.

    Args:
        n: number of points (>= 1).
        phi0: intercept.
        phi1: slope.
        noise_std: standard deviation of the additive Gaussian noise (>= 0; 0 gives points on the line).
        x_range: (low, high) interval of the inputs, low < high.
        generator: source of randomness; ``None`` uses torch's global RNG.
        dtype: floating-point dtype of the outputs.

    Returns:
        ``(x, y)``, each of shape ``(n, 1)``; x is not sorted.

    Example:
        >>> x, y = linear_data(generator=torch.Generator().manual_seed(0))
        >>> x.shape, y.shape
        (torch.Size([12, 1]), torch.Size([12, 1]))
    """
    _check_common(n, noise_std, x_range, dtype)
    x = _sample_x(n, x_range, "uniform", generator, dtype)  # (n, 1)
    eps = torch.randn(n, 1, generator=generator, dtype=dtype)
    y = phi0 + phi1 * x + noise_std * eps  # UDL eq. 2.4 plus Gaussian noise
    return x, y


def regression_1d(
    n: int = 15,
    *,
    function: str | Callable[[Tensor], Tensor] = "sine_exp",
    noise_std: float = 0.3,
    x_range: tuple[float, float] = (0.0, 1.0),
    sampling: Sampling = "uniform",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Noisy samples y = f(x) + eps, eps ~ N(0, noise_std^2), of a 1D function (UDL sections 3.2 and 8.2).

    The defaults are the bias-variance setting of UDL section 8.2 (figures 8.5-8.9): 15 points of
    exp(sin(2 pi x)) on [0, 1] with noise std 0.3.

    Args:
        n: number of points (>= 1).
        function: a name from :data:`FUNCTIONS` or any callable mapping an ``(n, 1)`` tensor to one.
        noise_std: standard deviation of the additive Gaussian noise (>= 0).
        x_range: (low, high) interval of the inputs, low < high.
        sampling: ``"uniform"`` i.i.d. U(x_range); ``"grid"`` n evenly spaced points including both ends
            (no randomness in x); ``"stratified"`` one uniform draw in each of n equal bins, the book's
            "quasi-uniform" sampling of notebook 8.2 (sorted by construction).
        generator: source of randomness; ``None`` uses torch's global RNG.
        dtype: floating-point dtype of the outputs.

    Returns:
        ``(x, y)``, each of shape ``(n, 1)``; with ``"uniform"`` sampling x is not sorted.

    Raises:
        ValueError: an unknown function name or sampling, n < 1, noise_std < 0, an empty x_range.

    Example:
        >>> x, y = regression_1d(100, function="abs", noise_std=0.0, sampling="grid")
        >>> bool(torch.allclose(y, torch.abs(2 * x - 1)))
        True
    """
    _check_common(n, noise_std, x_range, dtype)
    if isinstance(function, str):
        if function not in FUNCTIONS:
            raise ValueError(f"unknown function {function!r}; valid names: {', '.join(FUNCTIONS)}")
        f = FUNCTIONS[function]
    elif callable(function):
        f = function
    else:
        raise ValueError(
            f"function must be a name from {', '.join(FUNCTIONS)} or a callable, got {function!r}"
        )
    if sampling not in _SAMPLINGS:
        raise ValueError(f"unknown sampling {sampling!r}; valid choices: {', '.join(_SAMPLINGS)}")
    x = _sample_x(n, x_range, sampling, generator, dtype)  # (n, 1)
    eps = torch.randn(n, 1, generator=generator, dtype=dtype)
    y = f(x) + noise_std * eps  # (n, 1)
    return x, y
