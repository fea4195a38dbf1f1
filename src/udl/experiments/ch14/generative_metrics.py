"""Sample-based metrics for generative models rank deliberately degraded sample sets (UDL section 14.3).

Protocol (ours: the book describes the metrics, not an experiment). Two test beds where the truth is known:

1. *2-D*: a ring of ``modes`` Gaussians (``udl.data.ring_of_gaussians``, σ = ``std``). The reference is
   ``n_samples`` draws; four "generated" sets of the same size are: fresh draws (the ideal), fresh draws plus
   Gaussian noise of s.d. ``noise_std`` (low *quality*: samples off the data manifold), draws from half of the
   modes (low *coverage*) and from one mode (mode collapse). Each gets k-NN precision and recall
   (Kynkäänniemi et al., 2019), mode coverage (modes hit, fraction within ``k_sigma`` σ of a mode) and the
   Fréchet distance of Gaussians fitted to the coordinates.
2. *Digits*: the 8 x 8 digits' training half is the reference; the held-out half is the ideal set, and its
   degraded copies are pixel noise of each s.d. in ``noise_levels`` (clamped to [0, 1]), Gaussian blur of each
   width in ``blur_levels``, the held-out digits of the first ``kept_classes`` classes only (dropped modes) and
   shuffled pixels (one fixed permutation). The Fréchet digits distance (the Fréchet distance in the feature
   space of the cached digits classifier, ``udl.metrics.frechet_digits_distance``) scores each; precision and
   recall are computed in the same feature space.

Noise is drawn afresh per seed (``seeds`` seeds). Claims: the Fréchet distance grows with every degradation's
strength and is smallest for the held-out set, in every seed; precision and recall separate low quality from
low coverage (the dropped-modes set has the higher precision and the noisy set the higher recall, paired by
seed, > 2 SE), in 2-D and in digit feature space; mode coverage counts the modes a set covers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor

from udl.checks import at_least, in_range
from udl.data import GaussianMixture, load_digits_split, ring_of_gaussians
from udl.experiments._generative import draw, scatter_2d, show_images
from udl.experiments._recipes import seed_range
from udl.metrics import (
    digits_features,
    discrete_wasserstein,
    frechet_distance_from_features,
    mode_coverage,
    precision_recall,
    wasserstein_1d,
)
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict, all_of, paired_difference

CHAPTER = 14
SECTION = "14.3"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Fréchet distance, precision/recall and mode coverage rank degraded sample sets correctly"
CONTEXT = (
    "Section 14.3 explains how generative models that only give samples are compared: the Fréchet inception "
    "distance fits Gaussians to features of real and generated samples, while precision (the share of samples "
    "that look real) and recall (the share of the data the samples cover) tell low quality from low coverage."
)


@dataclass(frozen=True)
class Config:
    modes: int = 8
    """modes of the 2-D ring (>= 2, even: half of them are dropped)"""
    std: float = 0.05
    """standard deviation of each 2-D mode"""
    n_samples: int = 1000
    """samples per 2-D set"""
    noise_std: float = 0.2
    """s.d. of the noise that lowers the 2-D samples' quality"""
    noise_levels: tuple[float, ...] = (0.1, 0.2, 0.4)
    """pixel-noise s.d.s of the degraded digit sets, increasing"""
    blur_levels: tuple[float, ...] = (0.5, 1.0, 1.5)
    """Gaussian-blur widths (pixels) of the degraded digit sets, increasing"""
    kept_classes: int = 5
    """the dropped-modes digit set keeps the digits 0 .. kept_classes-1"""
    k: int = 3
    """the k of k-NN precision and recall"""
    k_sigma: float = 3.0
    """a 2-D sample within this many σ of a mode is of high quality"""
    seeds: int = 5
    """noise draws (seeds seed, seed+1, ...); the precision/recall claims compare them paired"""
    seed: int = 0
    """first seed"""

    def __post_init__(self) -> None:
        in_range(
            self, std=(0, 1), noise_std=(0, 10), noise_levels=(0, 1), blur_levels=(0, 4), k_sigma=(0, 10)
        )
        if self.modes < 2 or self.modes % 2:
            raise ValueError(f"modes must be an even number >= 2, got {self.modes}")
        at_least(self, 50, "n_samples")
        for name in ("noise_levels", "blur_levels"):
            values = getattr(self, name)
            if not values or list(values) != sorted(set(values)):
                raise ValueError(f"{name} must be strictly increasing and non-empty, got {values}")
        if not 1 <= self.kept_classes <= 9:
            raise ValueError(f"kept_classes must be in [1, 9], got {self.kept_classes}")
        if not 1 <= self.k <= 20 or self.seeds < 1:
            raise ValueError(f"k must be in [1, 20] and seeds >= 1, got k={self.k}, seeds={self.seeds}")


PRESETS = {
    "smoke": Config(n_samples=200, seeds=2),
    "quick": Config(),
    "full": Config(n_samples=4000, seeds=10),
}


def ranked_verdict(sequences: list[list[float]]) -> bool:
    """Every sequence (ideal first, then a degradation of growing strength) is strictly increasing."""
    return all(all(a < b for a, b in itertools.pairwise(s)) for s in sequences)


def separation_verdict(
    quality_precision: list[float],
    quality_recall: list[float],
    coverage_precision: list[float],
    coverage_recall: list[float],
) -> Verdict:
    """Low coverage keeps precision above the noisy (low-quality) set's, low quality keeps recall above the
    dropped-modes set's: both paired by seed, mean difference > 2 SE."""
    return all_of(
        paired_difference(coverage_precision, quality_precision).verdict,
        paired_difference(quality_recall, coverage_recall).verdict,
    )


def coverage_verdict(modes: int, hits: dict[str, list[int]], quality: dict[str, list[float]]) -> bool:
    """Fresh samples hit every mode, half the modes give modes/2, one mode gives 1, and noise lowers the
    high-quality fraction below the fresh samples' in every seed."""
    return (
        all(h == modes for h in hits["fresh"])
        and all(h == modes // 2 for h in hits["dropped"])
        and all(h == 1 for h in hits["collapsed"])
        and all(n < f for n, f in zip(quality["noisy"], quality["fresh"], strict=True))
    )


def gaussian_blur(images: Tensor, width: float) -> Tensor:
    """Blur (N, 1, H, W) images with a normalized Gaussian kernel of s.d. ``width`` pixels (zero padding)."""
    radius = max(1, int(3 * width + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (t / width) ** 2)
    kernel = (kernel / kernel.sum())[:, None] * (kernel / kernel.sum())[None, :]  # separable, sums to 1
    return torch.nn.functional.conv2d(images, kernel[None, None], padding=radius)


def two_d_sets(mixture: GaussianMixture, cfg: Config, g: torch.Generator) -> dict[str, Tensor]:
    """The 2-D 'generated' sets of one seed."""
    half = GaussianMixture(mixture.means[: cfg.modes // 2], cfg.std)
    one = GaussianMixture(mixture.means[:1], cfg.std)
    n = cfg.n_samples
    noisy = draw(mixture, n, g) + cfg.noise_std * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return {
        "fresh": draw(mixture, n, g),
        "noisy": noisy,
        "dropped": draw(half, n, g),
        "collapsed": draw(one, n, g),
    }


def run(cfg: Config, run: Run) -> None:
    mixture = ring_of_gaussians(cfg.modes, radius=2.0, std=cfg.std)
    data = load_digits_split()
    features = digits_features()
    reference_features = features.features(data.x_train)
    kept = data.x_test[data.y_test < cfg.kept_classes]
    permutation = torch.randperm(64, generator=torch.Generator().manual_seed(cfg.seed))
    shuffled = data.x_test.flatten(1)[:, permutation].reshape(-1, 1, 8, 8)
    blurred = [gaussian_blur(data.x_test, w) for w in cfg.blur_levels]

    names = ("fresh", "noisy", "dropped", "collapsed")
    pr2: dict[str, dict[str, list[float]]] = {k: {"precision": [], "recall": []} for k in names}
    hits: dict[str, list[int]] = {k: [] for k in names}
    quality: dict[str, list[float]] = {k: [] for k in names}
    fd2: dict[str, list[float]] = {k: [] for k in names}
    fdd_noise: list[list[float]] = []
    fdd_blur: list[list[float]] = []
    fdd_other: list[list[float]] = []
    pr_digits: dict[str, dict[str, list[float]]] = {"noisy": {}, "dropped": {}}
    lp_error = 0.0
    example: dict[str, Tensor] = {}
    for seed in seed_range(cfg):
        g = torch.Generator().manual_seed(seed)
        real = draw(mixture, cfg.n_samples, g)
        sets = two_d_sets(mixture, cfg, g)
        for name, fake in sets.items():
            pr = precision_recall(real, fake, k=cfg.k)
            cover = mode_coverage(fake, mixture, k_sigma=cfg.k_sigma)
            pr2[name]["precision"].append(pr.precision)
            pr2[name]["recall"].append(pr.recall)
            hits[name].append(cover.modes_hit)
            quality[name].append(cover.high_quality)
            fd2[name].append(frechet_distance_from_features(real, fake))
        example = example or sets

        # the LP of section 15.2.4 on histograms of the first coordinate equals the exact 1-D distance
        edges = torch.linspace(-3, 3, 21, dtype=torch.float64)
        p = torch.histogram(sets["fresh"][:, 0].clamp(-3, 3), edges).hist + 1e-3
        q = torch.histogram(sets["noisy"][:, 0].clamp(-3, 3), edges).hist + 1e-3
        bins = torch.arange(20, dtype=torch.float64)
        lp_error = max(lp_error, abs(discrete_wasserstein(p, q).distance - wasserstein_1d(bins, bins, p, q)))

        def fdd(images: Tensor) -> float:
            return frechet_distance_from_features(reference_features, features.features(images))

        held_out = fdd(data.x_test)
        noisy_digits = [
            (data.x_test + s * torch.randn(data.x_test.shape, generator=g)).clamp(0, 1)
            for s in cfg.noise_levels
        ]
        fdd_noise.append([held_out, *(fdd(x) for x in noisy_digits)])
        fdd_blur.append([held_out, *(fdd(x) for x in blurred)])
        fdd_other.append([held_out, fdd(kept), fdd(shuffled)])
        for name, images in (("noisy", noisy_digits[-1]), ("dropped", kept)):
            pr = precision_recall(reference_features, features.features(images), k=cfg.k)
            pr_digits[name].setdefault("precision", []).append(pr.precision)
            pr_digits[name].setdefault("recall", []).append(pr.recall)
        example.setdefault("noisy_digits", noisy_digits[-1])
        run.log(seed, fdd_held_out=held_out, fdd_noise_max=fdd_noise[-1][-1], fdd_blur_max=fdd_blur[-1][-1])

    # -- checks --------------------------------------------------------------------------------------------
    run.check(
        "lp-equals-exact-1d",
        "The discrete Wasserstein distance as a linear program (section 15.2.4, cost |i − j|) equals the exact "
        "1-D quantile formula on the same histograms (largest gap over seeds)",
        error=lp_error,
        tolerance=1e-8,
    )
    identical = precision_recall(example["fresh"], example["fresh"], k=cfg.k)
    run.check(
        "identical-sets",
        "A set compared with itself: precision = recall = 1 and Fréchet distance 0",
        error=(2 - identical.precision - identical.recall)
        + frechet_distance_from_features(reference_features, reference_features),
        tolerance=1e-8,
    )

    # -- claims --------------------------------------------------------------------------------------------
    sequences = (
        [*fdd_noise, *fdd_blur] + [[o[0], o[1]] for o in fdd_other] + [[o[0], o[2]] for o in fdd_other]
    )
    mean = [sum(col) / len(col) for col in zip(*fdd_noise, strict=True)]
    run.claim(
        "fd-ranks-degradations",
        f"The Fréchet digits distance to the training digits is smallest for held-out digits and grows with the "
        f"strength of pixel noise {cfg.noise_levels} and of blur {cfg.blur_levels}; dropping classes and "
        f"shuffling pixels also raise it (every one of {cfg.seeds} seeds)",
        holds=ranked_verdict(sequences),
        measured={
            "held_out": mean[0],
            "noise": mean[1:],
            "blur": [sum(col) / len(col) for col in zip(*fdd_blur, strict=True)][1:],
            "dropped_classes": sum(o[1] for o in fdd_other) / cfg.seeds,
            "shuffled_pixels": sum(o[2] for o in fdd_other) / cfg.seeds,
        },
        expected="strictly increasing with every degradation, in every seed",
    )
    for where, quality_set, coverage_set in (
        ("2d", pr2["noisy"], pr2["dropped"]),
        ("digits", pr_digits["noisy"], pr_digits["dropped"]),
    ):
        verdict = separation_verdict(
            quality_set["precision"], quality_set["recall"], coverage_set["precision"], coverage_set["recall"]
        )
        run.claim(
            f"precision-recall-separate-{where}",
            f"Precision and recall ({'2-D ring' if where == '2d' else 'digit feature space'}) tell low quality "
            f"from low coverage: the dropped-modes set keeps the higher precision and the noisy set the higher "
            f"recall (paired, {cfg.seeds} seeds, > 2 SE)",
            holds=verdict,
            measured={
                "noisy": {k: sum(v) / len(v) for k, v in quality_set.items()},
                "dropped": {k: sum(v) / len(v) for k, v in coverage_set.items()},
            },
            expected="precision(dropped) > precision(noisy) and recall(noisy) > recall(dropped)",
        )
    run.claim(
        "mode-coverage-counts",
        f"Mode coverage counts what a set covers: fresh samples hit all {cfg.modes} modes, half the modes "
        f"{cfg.modes // 2}, a collapsed set 1, and noise lowers the fraction of high-quality samples (every seed)",
        holds=coverage_verdict(cfg.modes, hits, quality),
        measured={k: {"modes_hit": hits[k], "high_quality": sum(quality[k]) / cfg.seeds} for k in names},
        expected=f"{cfg.modes}, {cfg.modes // 2}, 1 modes; noisy high-quality fraction < fresh",
    )
    run.summary(
        fdd_held_out=mean[0],
        fdd_noise_strongest=mean[-1],
        **{f"precision_2d_{k}": sum(v["precision"]) / cfg.seeds for k, v in pr2.items()},
        **{f"recall_2d_{k}": sum(v["recall"]) / cfg.seeds for k, v in pr2.items()},
    )

    # -- figures -------------------------------------------------------------------------------------------
    fig, axes = subplots(1, 4, width=3.0, height=3.2)
    for ax, name in zip(axes[0], names, strict=True):
        title = f"{name}: P {pr2[name]['precision'][0]:.2f}, R {pr2[name]['recall'][0]:.2f}, modes {hits[name][0]}"
        scatter_2d(ax, real, example[name], title)
        ax.title.set_fontsize(8)
    run.figure("samples-2d", fig)

    digit_sets = {
        "held-out": data.x_test,
        f"noise σ={cfg.noise_levels[-1]:g}": example["noisy_digits"],
        f"blur {cfg.blur_levels[-1]:g}": blurred[-1],
        f"digits 0-{cfg.kept_classes - 1}": kept,
        "shuffled pixels": shuffled,
    }
    scores = [fdd_other[0][0], fdd_noise[0][-1], fdd_blur[0][-1], fdd_other[0][1], fdd_other[0][2]]
    fig, axes = subplots(1, 5, width=2.4, height=2.8)
    for ax, (name, images), score in zip(axes[0], digit_sets.items(), scores, strict=True):
        show_images(ax, images[:32], f"{name}\nFDD {score:.1f}", columns=8)
    run.figure("samples-digits", fig)

    fig, axes = subplots(1, 2, width=4.0)
    axes[0, 0].plot([0, *cfg.noise_levels], mean, "o-")
    axes[0, 0].set(xlabel="pixel noise s.d.", ylabel="Fréchet digits distance", title="Noise")
    axes[0, 1].plot([0, *cfg.blur_levels], [sum(c) / len(c) for c in zip(*fdd_blur, strict=True)], "o-")
    axes[0, 1].set(xlabel="blur width (pixels)", ylabel="Fréchet digits distance", title="Blur")
    run.figure("fd-vs-degradation", fig)
