r"""Batch normalization (UDL section 11.4), written from the book's equations.

For a batch :math:`\mathcal{B}` of pre-activations, every hidden unit (channel) h is shifted and scaled by its own
statistics over the batch (and, for convolutional activations, over all positions):

.. math::
    m_h = \frac{1}{|\mathcal{B}|}\sum_{i\in\mathcal{B}} h_i, \qquad
    s_h^2 = \frac{1}{|\mathcal{B}|}\sum_{i\in\mathcal{B}} (h_i - m_h)^2, \qquad
    \hat h_i = \frac{h_i - m_h}{\sqrt{s_h^2 + \epsilon}}, \qquad
    h_i \leftarrow \gamma\,\hat h_i + \delta .

The book writes the denominator as :math:`s_h + \epsilon`; here it is :math:`\sqrt{s_h^2 + \epsilon}`, the form of
Ioffe & Szegedy (2015) and ``torch.nn.BatchNorm*d`` (the two differ only in how the small constant keeps the
division finite). γ (``weight``) starts at 1 and δ (``bias``) at 0, so at initialization every unit of the batch has
mean 0 and variance 1 (up to ε).

At test time there may be one example, so the statistics are replaced by running averages collected in training:
after each training batch,

.. math::
    \bar m_h \leftarrow (1-\alpha)\,\bar m_h + \alpha\, m_h, \qquad
    \bar s^2_h \leftarrow (1-\alpha)\,\bar s^2_h + \alpha\, \tfrac{n}{n-1}\, s_h^2

with α = ``momentum`` (n values per channel; the running variance uses the unbiased estimate, as torch does).
``momentum=None`` gives the plain cumulative average :math:`\alpha = 1/t` after t batches.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["BatchNorm"]


class BatchNorm(nn.Module):
    r"""Batch normalization over the channel dimension 1 of (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W).

    One module covers ``torch.nn.BatchNorm1d``, ``BatchNorm2d`` and ``BatchNorm3d``: same arguments, defaults,
    parameters (``weight`` = γ, ``bias`` = δ), buffers (``running_mean``, ``running_var``,
    ``num_batches_tracked``) and state-dict keys, so either state dict loads into the other.

    - training mode: normalize with the batch statistics :math:`m_h, s_h^2` (UDL section 11.4; biased variance)
      and update the running statistics;
    - eval mode: normalize with the running statistics (the batch has no influence);
    - ``track_running_stats=False``: always use the batch statistics and keep no buffers.

    Example:
        >>> bn = BatchNorm(3)
        >>> y = bn(torch.randn(16, 3) * 5 + 2)
        >>> bool(y.mean(0).abs().max() < 1e-6), bool((y.var(0, unbiased=False) - 1).abs().max() < 1e-3)
        (True, True)

    Args:
        num_features: C, the number of channels (hidden units).
        eps: ε added to the variance.
        momentum: α of the running averages; ``None`` for the cumulative average.
        affine: learn γ and δ (otherwise γ = 1, δ = 0 fixed).
        track_running_stats: keep running statistics for eval mode.
        device: where to allocate parameters and buffers.
        dtype: their dtype.

    Raises:
        ValueError: ``num_features < 1``, ``eps <= 0``, a momentum outside [0, 1]; at call time, an input whose
            dimension 1 is not C or that has fewer than 2 dimensions, or (training) a single value per channel.
    """

    running_mean: Tensor | None
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if int(num_features) != num_features or num_features < 1:
            raise ValueError(f"num_features must be a positive integer, got {num_features}")
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1] or None, got {momentum}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(self.num_features, device=device, dtype=dtype))  # γ
            self.bias = nn.Parameter(torch.zeros(self.num_features, device=device, dtype=dtype))  # δ
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(self.num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", torch.ones(self.num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    @property
    def gamma(self) -> Tensor | None:
        """γ, the learned scale (``weight``); None without ``affine``."""
        return self.weight

    @property
    def delta(self) -> Tensor | None:
        """δ, the learned offset (``bias``); None without ``affine``."""
        return self.bias

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if (
            self.running_mean is not None
            and self.running_var is not None
            and self.num_batches_tracked is not None
        ):
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm({self.num_features}) expects input (N, {self.num_features}, ...), got {tuple(x.shape)}"
            )
        dims = [0, *range(2, x.dim())]  # statistics over the batch and every position, per channel
        n = x.numel() // self.num_features  # values per channel
        shape = (1, self.num_features) + (1,) * (x.dim() - 2)  # broadcast (C,) over (N, C, ...)
        use_batch = self.training or self.running_mean is None
        if use_batch:
            if self.training and n <= 1:
                raise ValueError(
                    f"batch norm needs more than 1 value per channel in training, got input {tuple(x.shape)}"
                )
            mean = x.mean(dim=dims)  # m_h
            var = (x - mean.view(shape)).square().mean(dim=dims)  # s_h², the biased batch variance
            if self.training and self.running_mean is not None:
                self._update_running_stats(mean.detach(), var.detach(), n)
        else:
            assert self.running_mean is not None and self.running_var is not None
            mean, var = self.running_mean, self.running_var
        h_hat = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)  # (h − m_h) / √(s_h² + ε)
        if self.weight is not None and self.bias is not None:
            return h_hat * self.weight.view(shape) + self.bias.view(shape)  # γ ĥ + δ
        return h_hat

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, var: Tensor, n: int) -> None:
        assert self.running_mean is not None and self.running_var is not None
        assert self.num_batches_tracked is not None
        self.num_batches_tracked.add_(1)
        alpha = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = var * (n / (n - 1)) if n > 1 else var
        self.running_mean.mul_(1.0 - alpha).add_(mean, alpha=alpha)
        self.running_var.mul_(1.0 - alpha).add_(unbiased, alpha=alpha)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )
