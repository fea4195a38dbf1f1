"""Variance through residual blocks, with and without batch norm (UDL chapter 11, section 11.4, fig. 11.6;
notebook 11.3).

Protocol (notebook 11.3's setting, deeper). A batch of ``batch`` = 200 MNIST-1D training examples (40 inputs)
goes through a residual network at He initialization (``udl.models.ResidualMLP``, width 100, biases 0): a
linear layer h_0 = Ω_0 x, then ``blocks`` residual blocks h_k = h_{k−1} + f_k[h_{k−1}] with the book's order of
operations (fig. 11.5b), in three variants:

- ``none``: f = ReLU → Linear (notebook 11.3's ``ResidualNetwork``);
- ``batchnorm``: f = BN → ReLU → Linear, batch norm (training mode, batch statistics, γ = 1, δ = 0) first in
  every block (notebook 11.3's ``ResidualNetworkWithBatchNorm``, fig. 11.6);
- ``rescale``: f = ReLU → Linear and h_k = (h_{k−1} + f_k[h_{k−1}])/√2, the other remedy of fig. 11.6.

After every block we record σ²_k = the mean of h_k² over the batch and the units, float64, averaged over
``networks`` random networks. With zero-mean weights E[h] = 0 over the initialization, so this is the variance
the book's argument is about (section 7.5: He initialization keeps it unchanged through Linear + ReLU). The
notebook's own measure, the variance over the batch of each unit averaged over units, is recorded as well
(``centered``): it also grows exponentially without and linearly with batch norm, but by smaller factors, because
a unit's spread over one batch leaves out its offset (for BN → ReLU → Linear the added batch variance is
1 − 1/π ≈ 0.68 instead of 1).

Why. With He initialization the branch f_k[h] has the variance of its input, and it is uncorrelated with h, so
σ²_k = 2 σ²_{k−1}: the variance doubles at every block and grows as 2^k. Batch norm makes the branch's input
unit-variance, so f_k adds a variance of 1 whatever σ²_{k−1} is: σ²_k = σ²_{k−1} + 1, linear growth, and late
blocks are close to the identity (h_k ≈ h_{k−1}, their cosine similarity √(σ²_{k−1}/σ²_k) → 1). Rescaling by
1/√2 keeps σ²_k constant.

Claims: without batch norm the per-block ratio σ²_k/σ²_{k−1} (the geometric mean over the blocks, i.e.
(σ²_K/σ²_0)^(1/K)) is 2 within ``ratio_tolerance``, and an exponential fits better than a line; with batch norm a
line fits (R² ≥ ``r2_min``, better than the exponential) with a slope of 1 within ``slope_tolerance``; the last
block is then close to the identity (cosine ≥ ``identity_cosine``, against 1/√2 without batch norm); rescaling
keeps the ratio 1 within ``ratio_tolerance``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from udl.data import MNIST1DConfig, load_mnist1d
from udl.models import ResidualMLP, ResidualMLPConfig
from udl.nn import BatchNorm
from udl.report import Run
from udl.report.figures import PALETTE, subplots

CHAPTER = 11
SECTION = "11.4"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "Activation variance doubles per residual block at He init; with batch norm it grows linearly (fig. 11.6)"
)
CONTEXT = (
    "Section 11.4: with He initialization each residual block adds a branch whose output has the variance of its "
    "input, so the variance doubles at every block and grows exponentially with depth (fig. 11.6); rescaling each "
    "block by 1/√2 keeps it constant, and batch normalization at the start of each branch makes it grow only "
    "linearly, with later blocks close to computing the identity."
)

VARIANTS = ("none", "batchnorm", "rescale")


@dataclass(frozen=True)
class Config:
    blocks: int = 50
    """residual blocks K after the first linear layer"""
    width: int = 100
    """hidden units per layer (notebook 11.3: 100)"""
    batch: int = 200
    """MNIST-1D examples pushed through together (notebook 11.3: 200); batch norm uses their statistics"""
    networks: int = 50
    """random networks per variant; the variances are averaged over them"""
    ratio_tolerance: float = 0.1
    """largest relative deviation of the per-block variance ratio from 2 (no BN) or 1 (rescaled)"""
    r2_min: float = 0.99
    """smallest R² of the straight-line fit of σ²_k against k that counts as linear growth"""
    slope_tolerance: float = 0.2
    """largest relative deviation of the batch-norm slope from 1 (each branch adds unit variance)"""
    identity_cosine: float = 0.95
    """smallest cosine similarity between the last block's input and output for 'close to the identity'"""
    data_seed: int = 42
    """MNIST-1D generation seed (42 is the published dataset)"""
    seed: int = 0
    """network r of every variant uses generator seed seed + r (the variants share their weights)"""

    def __post_init__(self) -> None:
        if self.blocks < 3 or self.width < 2 or self.batch < 2 or self.networks < 1:
            raise ValueError("need blocks >= 3, width >= 2, batch >= 2 and networks >= 1")
        if self.batch > 4000:
            raise ValueError(f"batch must be <= 4000 (the MNIST-1D training set), got {self.batch}")
        if not (0 < self.ratio_tolerance < 1 and 0 < self.r2_min <= 1 and 0 < self.slope_tolerance < 1):
            raise ValueError("need 0 < ratio_tolerance < 1, 0 < r2_min <= 1 and 0 < slope_tolerance < 1")
        if not 0 < self.identity_cosine < 1:
            raise ValueError(f"identity_cosine must be in (0, 1), got {self.identity_cosine}")


PRESETS = {
    "smoke": Config(blocks=6, width=16, batch=32, networks=2),
    "quick": Config(blocks=20),
    "full": Config(blocks=50, networks=100),
}


def line_fit(k: Tensor, y: Tensor) -> tuple[float, float, float]:
    """Least-squares y ≈ a + b k: returns (intercept a, slope b, R²)."""
    kc, yc = k - k.mean(), y - y.mean()
    slope = float((kc * yc).sum() / (kc * kc).sum())
    intercept = float(y.mean()) - slope * float(k.mean())
    residual = y - (intercept + slope * k)
    r2 = 1.0 - float((residual * residual).sum() / (yc * yc).sum())
    return intercept, slope, r2


def per_block_ratio(series: Tensor) -> float:
    """Geometric mean of σ²_k / σ²_{k−1} over the K blocks: (σ²_K / σ²_0)^(1/K)."""
    return float((series[-1] / series[0]) ** (1.0 / (len(series) - 1)))


def doubling_verdict(series: Tensor, tolerance: float) -> bool:
    """σ²_k doubles per block: the per-block ratio is 2 within ``tolerance`` (relative) and an exponential fits
    σ²_k better than a straight line."""
    k = torch.arange(len(series), dtype=torch.float64)
    exponential, linear = line_fit(k, series.log())[2], line_fit(k, series)[2]
    return abs(per_block_ratio(series) / 2.0 - 1.0) <= tolerance and exponential > linear


def linear_growth_verdict(series: Tensor, r2_min: float, slope_tolerance: float) -> bool:
    """σ²_k grows linearly by one unit per block: line R² >= ``r2_min`` and above the exponential's, slope 1
    within ``slope_tolerance``."""
    k = torch.arange(len(series), dtype=torch.float64)
    _, slope, r2_line = line_fit(k, series)
    return (
        r2_line >= r2_min and r2_line > line_fit(k, series.log())[2] and abs(slope - 1.0) <= slope_tolerance
    )


def near_identity_verdict(cosine_bn: float, cosine_plain: float, threshold: float) -> bool:
    """With BN the last block is close to the identity (cosine >= ``threshold``), without BN it is not."""
    return cosine_bn >= threshold > cosine_plain


def constant_variance_verdict(series: Tensor, tolerance: float) -> bool:
    """Rescaled blocks keep σ²_k constant: the per-block ratio is 1 within ``tolerance``."""
    return abs(per_block_ratio(series) - 1.0) <= tolerance


def run(cfg: Config, run: Run) -> None:
    # -- data: one MNIST-1D batch (notebook 11.3) ---------------------------------------------------------------
    data = load_mnist1d(MNIST1DConfig(seed=cfg.data_seed))
    x = data.x_train[: cfg.batch].to(run.device, torch.float64)  # (batch, 40)

    # -- variance after every block, averaged over random networks ----------------------------------------------
    second: dict[str, Tensor] = {}  # σ²_k = mean h_k², (blocks + 1,)
    centered: dict[str, Tensor] = {}  # the notebook's: per-unit variance over the batch, averaged over units
    cosine: dict[str, Tensor] = {}  # cos(h_{k−1}, h_k), (blocks,)
    bn_error = 0.0  # worst deviation of a batch-normalized unit from mean 0, variance 1 (the check)
    with run.progress(len(VARIANTS), "variants") as bar:
        for i, variant in enumerate(VARIANTS):
            net_cfg = ResidualMLPConfig(
                x.shape[1],
                10,
                width=cfg.width,
                depth=cfg.blocks,
                batchnorm=variant == "batchnorm",
                rescale=variant == "rescale",
            )
            s, c, cos = [], [], []
            for r in range(cfg.networks):
                generator = torch.Generator().manual_seed(cfg.seed + r)
                net = ResidualMLP(net_cfg, generator=generator, dtype=torch.float64).to(run.device).train()
                normalized: list[Tensor] = []
                record = normalized.append  # every batch norm's output, for the check
                norms = [m for m in net.modules() if isinstance(m, BatchNorm)]
                hooks = [m.register_forward_hook(lambda _m, _i, out, keep=record: keep(out)) for m in norms]
                with torch.no_grad():
                    states = torch.stack(net.hidden_states(x))  # (blocks + 1, batch, width)
                for hook in hooks:
                    hook.remove()
                for z in normalized:  # (batch, width): per-unit batch mean 0, variance σ²/(σ² + eps) ≈ 1
                    deviation = z.mean(0).abs().max() + (z.var(0, unbiased=False) - 1).abs().max()
                    bn_error = max(bn_error, float(deviation))
                s.append(states.square().mean(dim=(1, 2)))
                c.append(states.var(dim=1, unbiased=False).mean(dim=1))
                flat = states.flatten(1)  # (blocks + 1, batch · width)
                cos.append(torch.nn.functional.cosine_similarity(flat[:-1], flat[1:], dim=1))
            second[variant] = torch.stack(s).mean(0).cpu()
            centered[variant] = torch.stack(c).mean(0).cpu()
            cosine[variant] = torch.stack(cos).mean(0).cpu()
            for b in range(cfg.blocks + 1):
                run.log(
                    b,
                    **{
                        f"{variant}/variance": second[variant][b],
                        f"{variant}/centered": centered[variant][b],
                    },
                )
            bar.update(i + 1)

    # -- checks and claims --------------------------------------------------------------------------------------
    k = torch.arange(cfg.blocks + 1, dtype=torch.float64)
    ratio = {v: per_block_ratio(second[v]) for v in VARIANTS}
    fits = {v: {"line": line_fit(k, second[v]), "exp": line_fit(k, second[v].log())} for v in VARIANTS}
    r2 = {v: {"line": fits[v]["line"][2], "exp": fits[v]["exp"][2]} for v in VARIANTS}
    run.check(
        "batchnorm-normalizes-the-branch",
        "Batch norm in training mode gives every unit of the branch's input zero mean and unit variance over the "
        "batch (γ = 1, δ = 0; max deviation, eps of 1e-5 included), whatever the variance coming in",
        error=bn_error,
        tolerance=1e-4,
    )
    run.claim(
        "variance-doubles-without-bn",
        f"Without batch norm the activations' variance doubles at every residual block at He initialization, "
        f"growing exponentially ({cfg.blocks} blocks, mean of {cfg.networks} networks)",
        holds=doubling_verdict(second["none"], cfg.ratio_tolerance),
        measured={
            "ratio_per_block": round(ratio["none"], 4),
            "first_ratios": [round(float(v), 3) for v in (second["none"][1:6] / second["none"][:5])],
            "r2_exponential": round(r2["none"]["exp"], 5),
            "r2_linear": round(r2["none"]["line"], 5),
            "variance_last": float(second["none"][-1]),
        },
        expected=f"ratio 2 ± {2 * cfg.ratio_tolerance:g}, exponential fit better than linear",
    )
    _, slope, _ = fits["batchnorm"]["line"]
    run.claim(
        "variance-linear-with-bn",
        "With batch norm at the start of every residual branch the variance grows linearly: each block adds the "
        "unit variance of its branch",
        holds=linear_growth_verdict(second["batchnorm"], cfg.r2_min, cfg.slope_tolerance),
        measured={
            "slope": round(slope, 4),
            "r2_linear": round(r2["batchnorm"]["line"], 5),
            "r2_exponential": round(r2["batchnorm"]["exp"], 5),
            "variance_last": round(float(second["batchnorm"][-1]), 3),
        },
        expected=f"R² ≥ {cfg.r2_min:g} (above the exponential's), slope 1 ± {cfg.slope_tolerance:g}",
    )
    last_cos = {v: float(cosine[v][-1]) for v in VARIANTS}
    run.claim(
        "late-blocks-near-identity-with-bn",
        "With batch norm the later blocks are dominated by the skip connection: each computes nearly the identity",
        holds=near_identity_verdict(last_cos["batchnorm"], last_cos["none"], cfg.identity_cosine),
        measured={
            "cosine_last_block_bn": round(last_cos["batchnorm"], 4),
            "theory_bn": round(math.sqrt(float(second["batchnorm"][-2] / second["batchnorm"][-1])), 4),
            "cosine_last_block_no_bn": round(last_cos["none"], 4),
        },
        expected=f"≥ {cfg.identity_cosine:g} with BN (1/√2 ≈ 0.707 without)",
    )
    run.claim(
        "rescaling-keeps-variance",
        "Rescaling every residual block's output by 1/√2 keeps the variance constant",
        holds=constant_variance_verdict(second["rescale"], cfg.ratio_tolerance),
        measured={
            "ratio_per_block": round(ratio["rescale"], 4),
            "variance_first_last": [
                round(float(second["rescale"][0]), 3),
                round(float(second["rescale"][-1]), 3),
            ],
        },
        expected=f"ratio 1 ± {cfg.ratio_tolerance:g}",
    )
    centered_slope = line_fit(k, centered["batchnorm"])[1]
    run.summary(
        ratio_per_block_no_bn=ratio["none"],
        ratio_per_block_rescale=ratio["rescale"],
        slope_bn=slope,
        r2_linear_bn=r2["batchnorm"]["line"],
        r2_exponential_bn=r2["batchnorm"]["exp"],
        centered_ratio_per_block_no_bn=per_block_ratio(centered["none"]),
        centered_slope_bn=centered_slope,
        centered_slope_bn_theory=1 - 1 / math.pi,
    )

    # -- figure: variance against block index (cf. fig. 11.6) ----------------------------------------------------
    fig, axes = subplots(1, 2, width=5.2)
    labels = {"none": "no BN: h + f[h]", "batchnorm": "BN first in f", "rescale": "(h + f[h]) / √2"}
    for j, v in enumerate(VARIANTS):
        axes[0, 0].semilogy(k, second[v], "o-", markersize=3, color=PALETTE[j], label=labels[v])
        axes[0, 0].semilogy(k, centered[v], ":", color=PALETTE[j], linewidth=1)
    axes[0, 0].semilogy(k, second["none"][0] * 2.0**k, "--", color="gray", linewidth=0.8, label="σ²₀ · 2^k")
    axes[0, 0].set(
        xlabel="residual block k", ylabel="variance σ²_k", title="Variance (log scale; dotted: notebook's)"
    )
    axes[0, 0].legend(fontsize=7)
    intercept = fits["batchnorm"]["line"][0]
    axes[0, 1].plot(k, second["batchnorm"], "o", markersize=3, color=PALETTE[1], label="BN first in f")
    fitted = intercept + slope * k
    axes[0, 1].plot(k, fitted, "-", color="gray", linewidth=1, label=f"fit {intercept:.2f} + {slope:.3f} k")
    axes[0, 1].plot(k, second["rescale"], "o", markersize=3, color=PALETTE[2], label="(h + f[h]) / √2")
    axes[0, 1].set(xlabel="residual block k", ylabel="variance σ²_k", title="Linear growth with batch norm")
    axes[0, 1].legend(fontsize=7)
    run.figure("variance-per-block", fig)
