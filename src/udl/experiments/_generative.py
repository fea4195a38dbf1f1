"""Shared parts of the generative-model experiments (chapters 14-15): image mosaics, 2-D sample plots, the
digits as GAN training data in [-1, 1], DCGAN's optimizers and the GAN training run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from matplotlib.axes import Axes
from torch import Tensor, nn

from udl.data import GaussianMixture
from udl.optim import Adam
from udl.report import Run
from udl.train import OptimizerStep, TrainResult, minibatches, train


def mosaic(images: Tensor, columns: int = 8, pad: int = 1) -> Tensor:
    """(N, 1, H, W) images in [0, 1] tiled row by row into one (rows·(H+pad), columns·(W+pad)) picture."""
    n, _, h, w = images.shape
    rows = -(-n // columns)
    canvas = torch.zeros(rows * (h + pad) + pad, columns * (w + pad) + pad)
    for i, image in enumerate(images.detach().cpu().clamp(0, 1)):
        r, c = divmod(i, columns)
        canvas[
            pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w
        ] = image[0]
    return canvas


def show_images(ax: Axes, images: Tensor, title: str, columns: int = 8) -> None:
    """Draw a mosaic of (N, 1, 8, 8) images in [0, 1] on ``ax`` (black digits on white)."""
    ax.imshow(1 - mosaic(images, columns).numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set(xticks=[], yticks=[], title=title)
    ax.grid(False)
    ax.spines[:].set_visible(False)


def scatter_2d(ax: Axes, real: Tensor, fake: Tensor, title: str, limit: float = 3.0) -> None:
    """Real (grey) and generated (coloured) 2-D samples."""
    r, f = real.detach().cpu(), fake.detach().cpu()
    ax.scatter(r[:, 0], r[:, 1], s=2, color="#9ca3af", alpha=0.5, label="data")
    ax.scatter(f[:, 0], f[:, 1], s=2, color="#b3261e", alpha=0.5, label="samples")
    ax.set(xlim=(-limit, limit), ylim=(-limit, limit), aspect="equal", title=title)


def draw(mixture: GaussianMixture, n: int, g: torch.Generator) -> Tensor:
    """n samples (n, D) of ``mixture`` (float64)."""
    x = mixture.sample(n, generator=g)
    assert isinstance(x, Tensor)
    return x


def to_unit(x: Tensor) -> Tensor:
    """Generator outputs in [-1, 1] (tanh) back to pixels in [0, 1]."""
    return ((x + 1) / 2).clamp(0, 1)


def gan_adams(gen: nn.Module, disc: nn.Module, lr: float) -> tuple[Adam, Adam]:
    """Adam for the generator and for the discriminator with DCGAN's β = (0.5, 0.999) (Radford et al. 2016)."""
    betas = (0.5, 0.999)
    return Adam(gen.parameters(), lr=lr, betas=betas), Adam(disc.parameters(), lr=lr, betas=betas)


def train_gan(
    make_step: Callable[[nn.Module, nn.Module, OptimizerStep, OptimizerStep], Any],
    data: tuple[Tensor, ...],
    gen: nn.Module,
    disc: nn.Module,
    cfg: Any,
    noise: torch.Generator,
    *,
    run: Run | None,
    name: str,
    log_every: int,
    evaluate: Callable[[], Mapping[str, float]] | None = None,
) -> TrainResult:
    """Train a GAN for ``cfg.steps`` steps with :func:`gan_adams` (``cfg.lr``) on mini-batches of
    ``cfg.batch_size`` rows of ``data``, shuffled by ``noise``. ``make_step(gen, disc, g_update, d_update)``
    gives the step (``udl.generative.gan_step`` and its kin, with their other arguments bound); a checkpoint holds
    both networks, both optimizers and ``noise``."""
    g_opt, d_opt = gan_adams(gen, disc, cfg.lr)
    step = make_step(gen, disc, OptimizerStep(g_opt), OptimizerStep(d_opt))
    return train(
        step,
        lambda epoch: minibatches(*data, batch_size=cfg.batch_size, generator=noise),
        steps=cfg.steps,
        state={"gen": gen, "disc": disc, "g_opt": g_opt, "d_opt": d_opt, "noise": noise},
        run=run,
        name=name,
        log_every=log_every,
        evaluate=evaluate,
    )
