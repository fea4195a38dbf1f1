r"""The normalizing-flow interface (UDL sections 16.1-16.2): an invertible map with its log-Jacobian both ways,
composition, and the density it induces from a base density.

The book writes the generative direction x = f[z, φ] and the likelihood Pr(x | φ) = |∂f[z, φ]/∂z|^{-1} Pr(z)
with z = f^{-1}[x, φ] (the change of variables, section 16.1; in D dimensions section 16.2). udl's
:meth:`Flow.forward` is the *normalizing* direction f^{-1}: data → latent, the one training evaluates. It returns
z and log|det ∂z/∂x|, so

    log Pr(x) = log Pr(z) + log|det ∂f^{-1}/∂x| = log Pr(z) − log|det ∂f/∂z|,

and :meth:`Flow.inverse` is the generative direction f: latent → data with log|det ∂x/∂z| (the negative of the
forward one at the matching point). A composition f = f_K ∘ … ∘ f_1 has Jacobian the product of the layers'
Jacobians, so its log-determinant is the sum of theirs (section 16.2.1); :class:`SequentialFlow` runs them in
order on the way to z and in reverse on the way back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["Flow", "FlowDensity", "SequentialFlow", "StandardNormal"]


class Flow(nn.Module):
    """An invertible, differentiable map of a batch with tractable log|det J|.

    Subclasses implement ``forward(x) -> (z, log|det ∂z/∂x|)`` (data → latent) and
    ``inverse(z) -> (x, log|det ∂x/∂z|)`` (latent → data); the first dimension is the batch and the log-
    determinants have shape (N,).
    """

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


class SequentialFlow(Flow):
    """The composition of flows: ``forward`` applies them in order (summing log-determinants, UDL section
    16.2.1), ``inverse`` undoes them in reverse order."""

    def __init__(self, *flows: Flow) -> None:
        super().__init__()
        for f in flows:
            if not isinstance(f, Flow):
                raise TypeError(f"SequentialFlow takes Flow modules, got {type(f).__name__}")
        self.flows = nn.ModuleList(flows)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[0])
        for f in self.flows:
            x, log_det = f(x)
            total = total + log_det
        return x, total

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        total = z.new_zeros(z.shape[0])
        for f in reversed(self.flows):
            assert isinstance(f, Flow)
            z, log_det = f.inverse(z)
            total = total + log_det
        return z, total


class StandardNormal(nn.Module):
    """The base density Pr(z) = Norm_z[0, I] over an event of shape ``shape`` (per sample)."""

    def __init__(self, shape: int | Sequence[int]) -> None:
        super().__init__()
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if not self.shape or min(self.shape) < 1:
            raise ValueError(f"shape must be positive sizes, got {shape!r}")

    @property
    def dim(self) -> int:
        """D, the number of variables of one event."""
        return math.prod(self.shape)

    def log_prob(self, z: Tensor) -> Tensor:
        """(N,): Σ_d log Norm_{z_d}[0, 1] = −½‖z‖² − (D/2) log 2π."""
        if tuple(z.shape[1:]) != self.shape:
            raise ValueError(
                f"z must have shape (N, {', '.join(map(str, self.shape))}), got {tuple(z.shape)}"
            )
        return -0.5 * z.pow(2).flatten(1).sum(1) - 0.5 * self.dim * math.log(2 * math.pi)

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """n draws (n, *shape) from ``generator``."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        return torch.randn((n, *self.shape), generator=generator, dtype=dtype, device=device)


class FlowDensity(nn.Module):
    """The density a flow induces from a standard-normal base: log_prob by the change of variables, sampling by
    pushing base draws through the generative direction (UDL sections 16.1-16.2).

    Args:
        flow: the normalizing map x → z.
        shape: the event shape of x (and of z: flows keep the number of variables).

    Example:
        >>> density = FlowDensity(SequentialFlow(LinearLU(2)), 2)   # doctest: +SKIP
        >>> loss = -density.log_prob(x).mean()                      # maximum likelihood (UDL section 16.2.2)
    """

    def __init__(self, flow: Flow, shape: int | Sequence[int]) -> None:
        super().__init__()
        self.flow = flow
        self.base = StandardNormal(shape)

    def log_prob(self, x: Tensor) -> Tensor:
        """(N,): log Pr(x) = log Pr(f^{-1}[x]) + log|det ∂f^{-1}/∂x|."""
        z, log_det = self.flow(x)
        return self.base.log_prob(z) + log_det

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n samples x = f[z], z ~ Norm[0, I], in the flow's dtype and device."""
        p = next(self.parameters(), None)
        dtype = p.dtype if p is not None else torch.get_default_dtype()
        device = p.device if p is not None else None
        cpu = self.base.sample(n, generator=generator, dtype=dtype)  # CPU generator: same draws on any device
        x, _ = self.flow.inverse(cpu.to(device) if device is not None else cpu)
        return x
