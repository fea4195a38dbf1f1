r"""Self-supervised learning on 1-D signals (UDL section 9.3.8): an encoder and two pretext tasks.

When labels are scarce, a network can be trained on a pretext task whose targets come from the data themselves,
and its representation reused:

- **generative** (:class:`InpaintingPretext`): one contiguous span of each signal is hidden (set to 0) and an
  encoder + decoder predict the signal; the loss is :func:`udl.losses.masked_inpainting_loss` on the hidden
  positions only;
- **contrastive** (:class:`ContrastivePretext`, SimCLR): two random views of each signal (e.g.
  :func:`random_signal_view`: circular shift, amplitude scale, Gaussian noise) pass through the encoder and a
  projection head; the loss is :func:`udl.losses.nt_xent` on the two embeddings.

:class:`SignalCNN` is a small 1-D CNN encoder for (N, L) signals. Every random draw (initialization, masks, views)
comes from an explicit generator, so training through ``udl.train.fit`` with the generator that orders the
batches resumes bit for bit.

Example:
    >>> import torch
    >>> from udl.nn import MLP
    >>> g = torch.Generator().manual_seed(0)
    >>> encoder = SignalCNN(8, generator=g)
    >>> pretext = InpaintingPretext(encoder, MLP(encoder.out_features, (32,), 40, generator=g), 10, g)
    >>> prediction, signal, mask = pretext(torch.randn(4, 40))
    >>> prediction.shape, int(mask.sum(1)[0])
    (torch.Size([4, 40]), 10)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from udl.data import random_span_mask
from udl.nn.init import he_normal_

__all__ = ["ContrastivePretext", "InpaintingPretext", "SignalCNN", "random_signal_view"]


class SignalCNN(nn.Module):
    """A small 1-D CNN encoder for (N, L) signals: three convolutions with ReLU, flattened to (N, C·⌈L/4⌉).

    conv 5 (padding 2) → ReLU → conv 3 stride 2 → ReLU → conv 3 stride 2 → ReLU → flatten, ``channels`` channels
    throughout. Built with ``nn.utils.skip_init`` and He-initialized from ``generator`` (zero biases), so it never
    touches the global RNG and two encoders built from equal seeds are equal.

    Args:
        channels: C >= 1.
        length: L >= 1, the signal length (sets ``out_features``).
        generator: source of the initialization (``None``: the global RNG).
    """

    def __init__(self, channels: int, length: int = 40, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if channels < 1 or length < 1:
            raise ValueError(f"channels and length must be >= 1, got {channels} and {length}")
        convs = [
            nn.utils.skip_init(nn.Conv1d, 1, channels, 5, padding=2),  # (N, C, L)
            nn.utils.skip_init(nn.Conv1d, channels, channels, 3, stride=2, padding=1),  # (N, C, ⌈L/2⌉)
            nn.utils.skip_init(nn.Conv1d, channels, channels, 3, stride=2, padding=1),  # (N, C, ⌈L/4⌉)
        ]
        with torch.no_grad():
            for conv in convs:
                he_normal_(conv.weight, generator=generator)
                assert conv.bias is not None
                conv.bias.zero_()
        self.convs = nn.ModuleList(convs)
        self.out_features = channels * ((length + 3) // 4)

    def forward(self, x: Tensor) -> Tensor:
        h = x.unsqueeze(1)  # (N, 1, L)
        for conv in self.convs:
            h = torch.relu(conv(h))
        return h.flatten(1)  # (N, C·⌈L/4⌉)


def random_signal_view(
    x: Tensor,
    *,
    max_shift: int,
    scale_jitter: float,
    noise_std: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A random view of each (N, L) signal: ``view[i, t] = s_i · x[i, (t − k_i) mod L] + ε_it`` with
    k_i ~ U{−max_shift..max_shift}, s_i ~ 1 + U(−scale_jitter, scale_jitter), ε ~ N(0, noise_std²).

    The draws (shifts, then scales, then noise) are made on the CPU from ``generator`` and moved to x's device.
    """
    if max_shift < 0 or not 0 <= scale_jitter < 1 or noise_std < 0:
        raise ValueError(
            f"need max_shift >= 0, 0 <= scale_jitter < 1 and noise_std >= 0, got {max_shift}, {scale_jitter}, "
            f"{noise_std}"
        )
    n, length = x.shape
    shift = torch.randint(-max_shift, max_shift + 1, (n, 1), generator=generator)
    index = (torch.arange(length) - shift) % length  # (N, L): view[i, t] = x[i, t - shift_i]
    scale = 1 + scale_jitter * (2 * torch.rand(n, 1, generator=generator) - 1)
    noise = noise_std * torch.randn(n, length, generator=generator)
    return x.gather(1, index.to(x.device)) * scale.to(x.device) + noise.to(x.device)


class ContrastivePretext(nn.Module):
    """Encoder + projection head applied to two random views of x; returns the two (N, D_proj) embeddings (the
    first view is drawn, embedded, then the second)."""

    def __init__(self, encoder: nn.Module, projector: nn.Module, views: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.encoder, self.projector, self.views = encoder, projector, views

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.projector(self.encoder(self.views(x))), self.projector(self.encoder(self.views(x)))


class InpaintingPretext(nn.Module):
    """Encoder + decoder on (N, L) signals with one random span of ``span`` points hidden (set to 0); returns
    ``(prediction, signal, mask)`` for :func:`udl.losses.masked_inpainting_loss`."""

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, span: int, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        self.encoder, self.decoder, self.span, self.generator = encoder, decoder, span, generator

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mask = random_span_mask(len(x), x.shape[1], self.span, generator=self.generator, device=x.device)
        return self.decoder(self.encoder(x.masked_fill(mask, 0.0))), x, mask
