"""Self-supervised learning on unlabelled MNIST-1D: masked inpainting and contrastive (InfoNCE) pre-training,
judged by linear probes (UDL section 9.3.8).

Section 9.3.8: when labels are scarce but unlabelled data plentiful, a network can be trained on a pretext task
whose targets come from the data themselves — generative (e.g. fill in a masked part of the input) or contrastive
(make two transformed versions of the same example map to similar outputs and different examples to different
ones) — and its representation then reused for the labelled task.

Protocol.
- Unlabelled data: ``unlabelled_samples`` MNIST-1D signals generated with another seed (labels discarded).
  Labelled data: the book's MNIST-1D (seed 42); the first ``probe_labels`` training examples fit each probe and
  the 1000 test examples measure it.
- Encoder (both pretexts and the random baseline start from the same seeded initialization): a small 1-D CNN
  (``udl.models.SignalCNN``: conv 5 → ReLU → conv 3 stride 2 → ReLU → conv 3 stride 2 → ReLU → flatten,
  ``channels`` channels, He initialization) or, with ``encoder="mlp"``, the trunk of an MLP 40-256-256.
- Generative pretext: one contiguous span of ``mask_span`` of the 40 points is set to 0; the encoder plus a
  decoder MLP (D-256-40) predict the signal; loss = MSE on the masked points only
  (``udl.losses.masked_inpainting_loss``).
- Contrastive pretext (SimCLR): two random views of each signal — circular shift by up to ``max_shift`` points,
  amplitude scale 1 ± ``scale_jitter``, Gaussian noise of std ``noise_std``, imitating the generator's own
  nuisance transformations — pass through the encoder and a projection MLP (D-256-``projection_dim``); loss =
  NT-Xent at temperature ``temperature`` (``udl.losses.nt_xent``: the (2N−1)-way variant of InfoNCE).
- Both pretexts (``udl.models.InpaintingPretext``, ``udl.models.ContrastivePretext`` with
  ``udl.models.random_signal_view``): Adam, ``epochs`` passes in mini-batches of ``batch_size`` through
  ``udl.train.fit`` (the random draws of masks and views come from the same checkpointed generator as the batch
  order, so a resumed run is bitwise identical).
- Probe: the encoder is frozen, its features computed, and an L2-regularized multinomial logistic regression
  fitted to convergence (``udl.train.linear_probe``, L-BFGS). The same probe on the raw 40 inputs and on the
  untrained encoder's features are the baselines.

Finding (quick preset, probe test accuracy): raw inputs 32.8%, random CNN encoder 57.0%, inpainting 47.9%,
contrastive 62.7%; full preset (3 seeds, 20000 signals, 50 epochs): 32.8 / 56.5 / 52.6 / 63.4%. Contrastive
features beat both baselines. Masked-inpainting features beat the raw inputs but not the random CNN features (no
seed does): a random ReLU CNN is already a strong feature map on MNIST-1D, and the inpainter learns a smooth
local interpolation of the hidden span (see the inpainting figure; much of each signal is the generator's
correlated noise), which needs no digit identity. The claim reports it as it is (it fails).

Claims are paired by seed (each seed fixes the encoder initialization of all three encoders; the raw-input probe
is the same for every seed), bar 2 SE. The quick preset trains one seed (its time budget: two pre-trainings of
20 epochs on 10 000 signals), so a comparison there has no spread and is not established; the full preset's 3
seeds can decide it. The probe's L2 penalty is fixed, not chosen on the test set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from udl.data import MNIST1DConfig, load_mnist1d, random_span_mask
from udl.experiments._recipes import AdamRecipe, seed_range, train_adam
from udl.losses import masked_inpainting_loss, nt_xent
from udl.models import ContrastivePretext, InpaintingPretext, SignalCNN, random_signal_view
from udl.nn import MLP, mlp_trunk
from udl.report import Run
from udl.report.figures import PALETTE, subplots
from udl.stats import Verdict, all_of, paired_difference
from udl.train import linear_probe

CHAPTER = 9
SECTION = "9.3.6.2"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "Self-supervised learning (9.3.8): inpainting and contrastive pre-training vs random/raw features, probed"
)
CONTEXT = (
    "Section 9.3.8: self-supervised learning trains on a pretext task made from unlabelled data — generative "
    "(e.g. inpainting a masked part of the input) or contrastive (two transformed versions of one example should "
    "map close together, different examples far apart) — and reuses the learned representation for the labelled "
    "task. The test here: a linear classifier on the learned features beats one on random features and one on "
    "the raw inputs."
)

PROBES = ("raw input", "random encoder", "inpainting", "contrastive")


@dataclass(frozen=True)
class Config(AdamRecipe):
    unlabelled_samples: int = 10_000
    """unlabelled MNIST-1D signals for pre-training (generated with unlabelled_seed; labels never used)"""
    unlabelled_seed: int = 1
    """generation seed of the unlabelled pool (the labelled set uses the book's 42)"""
    probe_labels: int = 4000
    """labelled training examples for the linear probes (the first ones of the book's 4000)"""
    encoder: str = "cnn"
    """encoder architecture: 'cnn' (three 1-D convolutions) or 'mlp' (MLP trunk 40-256-256)"""
    channels: int = 32
    """CNN channels per layer (features: channels x 10)"""
    projection_dim: int = 64
    """output size of the contrastive projection head"""
    temperature: float = 0.2
    """NT-Xent temperature τ"""
    max_shift: int = 20
    """contrastive views: circular shift drawn uniformly from -max_shift..max_shift points"""
    scale_jitter: float = 0.2
    """contrastive views: amplitude multiplied by 1 + U(-scale_jitter, scale_jitter)"""
    noise_std: float = 0.1
    """contrastive views: std of added Gaussian noise"""
    mask_span: int = 10
    """inpainting: length of the masked contiguous span (of 40 points)"""
    epochs: int = 20
    """pre-training passes over the unlabelled pool (each pretext)"""
    batch_size: int = 256
    """pre-training mini-batch size (also the number of examples contrasted at once)"""
    probe_l2: float = 1e-3
    """L2 penalty of the logistic-regression probe"""
    seeds: int = 1
    """pre-training runs (seeds seed, seed+1, ...); the claims use mean probe accuracies"""
    checkpoint_every: int = 5
    seed: int = 0
    """first seed (encoder initialization, batch order, masks and views)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.encoder not in ("cnn", "mlp"):
            raise ValueError(f"encoder must be 'cnn' or 'mlp', got {self.encoder!r}")
        if self.unlabelled_samples < 20 or not 10 <= self.probe_labels <= 4000:
            raise ValueError("need unlabelled_samples >= 20 and 10 <= probe_labels <= 4000")
        if min(self.channels, self.projection_dim, self.seeds) < 1:
            raise ValueError("channels, projection_dim and seeds must be >= 1")
        if self.probe_l2 <= 0 or self.temperature <= 0:
            raise ValueError("need probe_l2 > 0 and temperature > 0")
        if not 0 <= self.max_shift < 40 or not 0 <= self.scale_jitter < 1 or self.noise_std < 0:
            raise ValueError("need 0 <= max_shift < 40, 0 <= scale_jitter < 1 and noise_std >= 0")
        if not 1 <= self.mask_span < 40:
            raise ValueError(f"mask_span must be in [1, 39], got {self.mask_span}")
        if self.batch_size < 2:
            raise ValueError("batch_size must be >= 2 (contrastive learning needs negatives)")


PRESETS = {
    "smoke": Config(unlabelled_samples=600, probe_labels=500, channels=8, epochs=1, batch_size=128),
    "quick": Config(),
    "full": Config(unlabelled_samples=20_000, epochs=50, seeds=3),
}


def make_encoder(cfg: Config, seed: int) -> nn.Module:
    """The encoder of ``cfg``, initialized from ``seed`` (the same seed gives the same weights)."""
    generator = torch.Generator().manual_seed(seed)
    if cfg.encoder == "cnn":
        return SignalCNN(cfg.channels, generator=generator)
    return mlp_trunk(MLP(40, (256, 256), 10, generator=generator))


def beats_baselines(method: list[float], random: list[float], raw: list[float]) -> Verdict:
    """A pretext's probe accuracy beats both the random encoder's and the raw inputs' (per seed, paired, bar 2 SE
    for each)."""
    return all_of(paired_difference(method, random).verdict, paired_difference(method, raw).verdict)


def run(cfg: Config, run: Run) -> None:
    # -- data: an unlabelled pool, and the labelled set the probes use ---------------------------------------
    dev = run.device
    pool = load_mnist1d(MNIST1DConfig(num_samples=cfg.unlabelled_samples, seed=cfg.unlabelled_seed))
    x_pool = torch.cat([pool.x_train, pool.x_test]).to(dev)  # every signal, no label
    no_labels = torch.zeros(len(x_pool), device=dev)  # fit wants targets; the pretext losses ignore them
    labelled = load_mnist1d(MNIST1DConfig())
    x_probe, y_probe = labelled.x_train[: cfg.probe_labels].to(dev), labelled.y_train[: cfg.probe_labels]
    x_test, y_test = labelled.x_test.to(dev), labelled.y_test

    def probe(features: Callable[[Tensor], Tensor]) -> float:
        with torch.no_grad():
            f_train, f_test = features(x_probe).cpu(), features(x_test).cpu()
        return 100 * linear_probe(f_train, y_probe, f_test, y_test, l2=cfg.probe_l2).test_accuracy

    accuracy: dict[str, list[float]] = {name: [] for name in PROBES}

    def pretrain(
        name: str,
        model: InpaintingPretext | ContrastivePretext,
        loss_fn: Callable[[Any, Tensor], Tensor],
        seed: int,
        generator: torch.Generator,
    ) -> None:
        """Train a pretext model on the unlabelled pool (batch order and random views or masks from
        ``generator``), then probe its encoder."""
        train_adam(
            model, loss_fn, cfg, (x_pool, no_labels), run=run, name=f"{name}_seed{seed}", generator=generator
        )
        model.eval()
        accuracy[name].append(probe(model.encoder))

    accuracy["raw input"].append(probe(lambda x: x))
    examples: dict[str, Tensor] = {}
    for seed in seed_range(cfg):
        random_encoder = make_encoder(cfg, seed).to(dev).eval()
        accuracy["random encoder"].append(probe(random_encoder))
        d = random_encoder.out_features
        assert isinstance(d, int)

        # -- generative pretext: masked inpainting ----------------------------------------------------------
        generator = torch.Generator().manual_seed(seed)
        decoder = MLP(d, (256,), 40, generator=torch.Generator().manual_seed(10_000 + seed))
        inpainter = InpaintingPretext(make_encoder(cfg, seed), decoder, cfg.mask_span, generator).to(dev)
        pretrain("inpainting", inpainter, lambda out, _: masked_inpainting_loss(*out), seed, generator)

        # -- contrastive pretext: NT-Xent over two augmented views ------------------------------------------
        generator = torch.Generator().manual_seed(seed)
        projector = MLP(d, (256,), cfg.projection_dim, generator=torch.Generator().manual_seed(20_000 + seed))
        views = partial(  # draws from fit's checkpointed generator
            random_signal_view,
            max_shift=cfg.max_shift,
            scale_jitter=cfg.scale_jitter,
            noise_std=cfg.noise_std,
            generator=generator,
        )
        contrastive = ContrastivePretext(make_encoder(cfg, seed), projector, views).to(dev)
        pretrain(
            "contrastive",
            contrastive,
            lambda out, _: nt_xent(out[0], out[1], cfg.temperature),
            seed,
            generator,
        )

        if seed == cfg.seed:  # an inpainting example for the figure: test signals, fixed masks
            mask = random_span_mask(
                4, 40, cfg.mask_span, generator=torch.Generator().manual_seed(1), device=dev
            )
            with torch.no_grad():
                guess = inpainter.decoder(inpainter.encoder(x_test[:4].masked_fill(mask, 0.0)))
            examples = {"signal": x_test[:4].cpu(), "mask": mask.cpu(), "prediction": guess.cpu()}
        run.log(seed, **{f"probe_{k.replace(' ', '_')}": v[-1] for k, v in accuracy.items()})

    # -- claims ---------------------------------------------------------------------------------------------
    mean = {k: float(np.mean(v)) for k, v in accuracy.items()}
    raw = accuracy["raw input"] * cfg.seeds  # one deterministic probe, the same for every seed
    for method, description in (
        ("contrastive", "contrastive pre-training (NT-Xent over two augmented views)"),
        ("inpainting", "generative pre-training (inpainting a masked span)"),
    ):
        vs_random = paired_difference(accuracy[method], accuracy["random encoder"])
        vs_raw = paired_difference(accuracy[method], raw)
        run.claim(
            f"{method}-features-beat-baselines",
            f"A linear probe on features learned without labels by {description} is more accurate than one on "
            f"the untrained encoder's features and one on the raw inputs (paired, {cfg.seeds} seed(s), mean "
            "diff > 2 SE for each)",
            holds=beats_baselines(accuracy[method], accuracy["random encoder"], raw),
            measured={
                "vs_random_encoder": {**vs_random.to_json(), "gain": vs_random.describe("points")},
                "vs_raw_input": {**vs_raw.to_json(), "gain": vs_raw.describe("points")},
                "mean_probe_accuracy": {k: round(v, 2) for k, v in mean.items()},
            },
            expected=f"{method} − random encoder > 2 SE and {method} − raw input > 2 SE",
        )
    run.summary(**{f"probe_accuracy_{k.replace(' ', '_')}": v for k, v in mean.items()})

    # -- figures: probe accuracies; an inpainting example ---------------------------------------------------
    fig, axes = subplots(1, 1, width=6.0)
    ax = axes[0, 0]
    positions = np.arange(len(PROBES))
    ax.bar(positions, [mean[k] for k in PROBES], color=PALETTE[: len(PROBES)])
    for i, k in enumerate(PROBES):
        ax.scatter([i] * len(accuracy[k]), accuracy[k], color="black", s=10, zorder=3)
        ax.text(i, mean[k] + 1, f"{mean[k]:.1f}", ha="center", fontsize=9)
    ax.set(
        xticks=positions,
        xticklabels=list(PROBES),
        ylabel="linear-probe test accuracy (%)",
        ylim=(0, 100),
        title=f"Linear probes on MNIST-1D ({cfg.probe_labels} labels, {cfg.encoder} encoder)",
    )
    run.figure("probe-accuracy", fig)

    fig, axes = subplots(1, 4, width=3.2, height=2.8)
    t = np.arange(40)
    for i, ax in enumerate(axes[0]):
        signal, m, guess = examples["signal"][i], examples["mask"][i], examples["prediction"][i]
        ax.axvspan(
            int(m.float().argmax()) - 0.5, int(m.float().argmax()) + cfg.mask_span - 0.5, color="#e5e7eb"
        )
        ax.plot(t, signal, color=PALETTE[0], label="signal")
        ax.plot(t[m], guess[m], color=PALETTE[1], lw=2, label="inpainted")
        ax.set(title=f"test signal {i} (digit {int(y_test[i])})", xlabel="t")
    axes[0, 0].legend(fontsize=8)
    run.figure("inpainting-example", fig)
