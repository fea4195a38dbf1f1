"""High-dimensional spaces (UDL chapter 8, the curse of dimensionality, fig. 8.13, notebook 8.4): distances
concentrate, the ball vanishes inside its cube, and a Gaussian's samples live in a thin shell.

Protocol (float64, seeded; the math is ``udl.functional.geometry`` and ``udl.functional.distributions``):

- *Distances*: for each D in ``dims`` and each distribution (standard normal, as in notebook 8.4, and uniform in
  [0, 1]^D), ``points`` random points and their N(N−1)/2 pairwise distances; the largest/smallest ratio is
  averaged (geometrically) over ``trials`` sets. A squared distance sums D i.i.d. terms, so log(ratio) ≈ c/√D;
  its exponent in D is fitted (log-log least squares) over D ≥ ``rate_min_dim``.
- *Volume*: the fraction of ``mc_samples`` uniform points of [−1, 1]^D inside the unit ball, D = 1..``mc_max_dim``,
  against π^(D/2)/(Γ(D/2 + 1)·2^D); of the points inside, the fraction within ε of the surface against
  1 − (1 − ε)^D (the notebook's outer 1%).
- *Gaussian shell*: ``gauss_samples`` norms of a D-dimensional standard normal (chi-distributed,
  P(‖x‖ ≤ r) = P(D/2, r²/2)): the mass in the shell (1 ± ``shell_width``)·√D and within ``central_radius`` of
  the mean (the most likely point), and the Kolmogorov-Smirnov distance to the chi law.

Checks (Monte Carlo against closed forms, every preset): ball and outer-shell fractions within ``z_tolerance``
binomial SE; norms within the KS bound ``ks_coefficient``/√M; shell and central fractions within ``z_tolerance``
SE. Claims (the book's statements, measured by Monte Carlo): distances concentrate, at the rate D^(−1/2); the
ball's share of the cube falls with D to under ``mc_volume_limit``; the Gaussian's samples gather in the shell
and none stays near the mean. The exact-formula statements (volume < 1e-10 at D = 40, outer shell over half by
D = 300) were claims before this version; no run could make them false, so they are reported, not claimed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch

from udl.functional import (
    POINT_DISTRIBUTIONS,
    ball_estimate,
    ball_to_cube_volume,
    ball_volume,
    chi_pdf,
    distance_concentration,
    gaussian_shell_estimate,
    log10_chi_cdf,
    loglog_slope,
    outer_shell_fraction,
)
from udl.report import Run
from udl.report.figures import PALETTE, subplots

CHAPTER = 8
SECTION = "8.4.1"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "Curse of dimensionality: distances concentrate, the ball vanishes in its cube, Gaussian mass sits in a "
    "thin shell (fig. 8.13)"
)
CONTEXT = (
    "The notes on the curse of dimensionality in chapter 8 (fig. 8.13, notebook 8.4) warn that intuition from two "
    "and three dimensions fails in high dimensions: random points are all about the same distance apart, the "
    "volume of a hypersphere becomes negligible next to the hypercube around it and lies almost all in a thin "
    "outer shell, and samples of a standard normal are almost never near its mean but in a thin shell of "
    "radius about √D (the typical set)."
)
UNIT_FIELDS = ("mc_volume_limit", "shell_epsilon", "shell_width", "shell_mass")
POSITIVE_FIELDS = ("rate_tolerance", "central_radius", "z_tolerance", "ks_coefficient")


@dataclass(frozen=True)
class Config:
    dims: tuple[int, ...] = (1, 2, 5, 10, 100, 1000, 10000)
    """dimensions D of the pairwise-distance sweep (at least two, strictly increasing, >= 1)"""
    points: int = 1000
    """random points N per set (>= 3; notebook 8.4 uses 1000): N(N−1)/2 pairwise distances"""
    trials: int = 2
    """independent point sets per D and distribution (>= 1); the ratio reported is their geometric mean"""
    distributions: tuple[str, ...] = POINT_DISTRIBUTIONS
    """where the points come from: 'normal' (standard normal, as the notebook) and 'uniform' ([0, 1]^D)"""
    ratio_limit: float = 1.2
    """the largest/smallest distance ratio at the largest D must be below this (> 1)"""
    rate_min_dim: int = 100
    """the exponent of log(ratio) ∝ D^slope is fitted over D ≥ this (at least two dims; an asymptotic law)"""
    rate_tolerance: float = 0.1
    """largest accepted |slope + 1/2| (> 0)"""
    volume_max_dim: int = 100
    """the exact ball/cube volume ratio is drawn for D = 1..this (>= mc_max_dim)"""
    mc_max_dim: int = 10
    """Monte Carlo volume estimates for D = 1..this (>= 2; beyond ~12 too few points land in the ball)"""
    mc_samples: int = 1_000_000
    """uniform points of the cube per Monte Carlo dimension (>= 100)"""
    mc_volume_limit: float = 0.01
    """'negligible': the sampled ball/cube fraction at D = mc_max_dim must be under this, in (0, 1)"""
    shell_epsilon: float = 0.01
    """thickness of the ball's outer shell as a fraction of its radius, in (0, 1) (the notebook's outer 1%)"""
    shell_check_dim: int = 300
    """dimension at which the outer shell's exact share of the volume is reported (the notebook's 300)"""
    gauss_dims: tuple[int, ...] = (1, 2, 5, 10, 100, 1000)
    """dimensions D of the standard normals whose norms are sampled (at least two, strictly increasing)"""
    gauss_samples: int = 20_000
    """samples M of each D-dimensional standard normal (>= 100)"""
    shell_width: float = 0.1
    """relative half-width w of the shell around √D: (1 − w)√D ≤ ‖x‖ ≤ (1 + w)√D, w in (0, 1)"""
    shell_mass: float = 0.99
    """the sampled mass in that shell at the largest D must reach this, in (0, 1)"""
    central_radius: float = 1.0
    """radius (> 0) of the ball around the mean (the most likely point) no sample should reach at the largest D"""
    z_tolerance: float = 4.0
    """checks: Monte Carlo fractions within this many binomial standard errors of the exact value (> 0)"""
    ks_coefficient: float = 1.95
    """checks: max |empirical − exact CDF| ≤ this/√M (1.95 is the 0.1% critical value; > 0)"""
    seed: int = 0
    """seed for every random point"""

    def __post_init__(self) -> None:
        for name, dims in (("dims", self.dims), ("gauss_dims", self.gauss_dims)):
            if len(dims) < 2 or min(dims) < 1 or any(b <= a for a, b in itertools.pairwise(dims)):
                raise ValueError(f"{name} must be >= 2 strictly increasing integers >= 1, got {dims}")
        if sum(d >= self.rate_min_dim for d in self.dims) < 2:
            raise ValueError(f"need at least two dims >= rate_min_dim = {self.rate_min_dim} to fit the rate")
        if not self.distributions or set(self.distributions) - set(POINT_DISTRIBUTIONS):
            raise ValueError(
                f"distributions must be a non-empty subset of {POINT_DISTRIBUTIONS}, got {self.distributions}"
            )
        if not 2 <= self.mc_max_dim <= self.volume_max_dim:
            raise ValueError(
                f"need 2 <= mc_max_dim <= volume_max_dim, got {self.mc_max_dim}, {self.volume_max_dim}"
            )
        lows = {"points": 3, "trials": 1, "mc_samples": 100, "gauss_samples": 100, "shell_check_dim": 1}
        bounds = {**{k: (lo, math.inf) for k, lo in lows.items()}, **dict.fromkeys(UNIT_FIELDS, (0, 1))}
        bounds |= {"ratio_limit": (1, math.inf), **dict.fromkeys(POSITIVE_FIELDS, (0, math.inf))}
        for name, (lo, hi) in bounds.items():
            value, closed = getattr(self, name), name in lows
            if not ((lo <= value) if closed else (lo < value)) or not value < hi:
                raise ValueError(f"{name} must lie in {'[' if closed else '('}{lo}, {hi}), got {value}")


FULL_DIMS = (1, 2, 3, 5, 10, 30, 100, 300, 1000, 3000, 10000, 30000)
PRESETS = {
    "smoke": Config(dims=(1, 10, 100, 1000), points=100, trials=1, volume_max_dim=50, mc_max_dim=4,
                    mc_samples=20_000, gauss_dims=(1, 10, 1000), gauss_samples=2000),
    "quick": Config(),
    "full": Config(dims=FULL_DIMS, trials=4, volume_max_dim=200, mc_max_dim=12, mc_samples=10_000_000,
                   gauss_dims=FULL_DIMS[:-1], gauss_samples=100_000),
}  # fmt: skip


# -- verdicts (pure functions of the measurements) --------------------------------------------------------------
def falls_strictly(values: Sequence[float]) -> bool:
    return len(values) >= 2 and all(b < a for a, b in itertools.pairwise(values))


def concentration_verdict(ratios: Mapping[str, Sequence[float]], *, limit: float) -> bool:
    """Every distribution's largest/smallest distance ratio falls with every increase of D and ends below limit."""
    return bool(ratios) and all(falls_strictly(r) and r[-1] < limit for r in ratios.values())


def rate_verdict(slopes: Mapping[str, float], *, tolerance: float) -> bool:
    """Every fitted exponent of log(ratio) in D is −1/2 within tolerance."""
    return bool(slopes) and all(abs(s + 0.5) <= tolerance for s in slopes.values())


def volume_vanishes_verdict(fractions: Sequence[float], *, limit: float) -> bool:
    """The sampled ball/cube fraction falls with every added dimension and ends below limit."""
    return falls_strictly(fractions) and fractions[-1] < limit


def gaussian_shell_verdict(shell: Sequence[float], central: Sequence[float], *, shell_mass: float) -> bool:
    """Over increasing D the shell fraction rises (or stays at 1) to ≥ shell_mass; the central one never rises, to 0."""
    rising = all(b > a or a == b == 1.0 for a, b in itertools.pairwise(shell))
    falling = all(b <= a for a, b in itertools.pairwise(central))
    return len(shell) >= 2 and rising and shell[-1] >= shell_mass and falling and central[-1] == 0


def run(cfg: Config, run: Run) -> None:
    generator = torch.Generator().manual_seed(cfg.seed)
    step, total = 0, len(cfg.distributions) * len(cfg.dims) + cfg.mc_max_dim + len(cfg.gauss_dims)
    ratio: dict[str, list[float]] = {dist: [] for dist in cfg.distributions}
    with run.progress(total, "high-dimensional spaces") as bar:
        for dist in cfg.distributions:  # -- phase 1: pairwise distances
            for d in cfg.dims:
                s = distance_concentration(dist, cfg.points, d, cfg.trials, generator, run.device)
                ratio[dist].append(s.ratio)
                step += 1
                spread = s.largest - s.smallest
                run.log(step, dim=d, **{f"distance_ratio_{dist}": s.ratio, f"relative_spread_{dist}": spread})
                bar.update(step, D=d, ratio=s.ratio)
        vol_dims = list(range(1, cfg.volume_max_dim + 1))  # -- phase 2: ball volume by Monte Carlo
        vol_ratio = [ball_to_cube_volume(d) for d in vol_dims]
        mc_rows = []
        for d in range(1, cfg.mc_max_dim + 1):
            mc_rows.append(row := ball_estimate(d, cfg.mc_samples, cfg.shell_epsilon, generator)._asdict())
            step += 1
            run.log(step, **{f"volume_{k}": v for k, v in row.items()})
            bar.update(step, D=d, ball=row["ball_fraction_mc"])
        w, m = cfg.shell_width, cfg.gauss_samples  # -- phase 3: norms of standard normals
        gauss_rows, norms_kept = [], {}
        for d in cfg.gauss_dims:
            estimate, norms_kept[d] = gaussian_shell_estimate(d, m, w, cfg.central_radius, generator)
            gauss_rows.append(row := estimate._asdict())
            step += 1
            run.log(step, **{f"gauss_{k}": v for k, v in row.items()})
            bar.update(step, D=d, shell=row["shell_mc"])

    # -- checks: Monte Carlo against the closed forms ---------------------------------------------------------
    z, ks_limit = cfg.z_tolerance, cfg.ks_coefficient / math.sqrt(m)
    shell_at = outer_shell_fraction(cfg.shell_check_dim, cfg.shell_epsilon)

    def check_worst(check_id: str, statement: str, errors: Iterable[float], tolerance: float = z) -> None:
        run.check(check_id, statement, error=max(errors), tolerance=tolerance)  # the worst dimension

    check_worst(
        "ball-volume-monte-carlo",
        f"Of {cfg.mc_samples} uniform points of [−1, 1]^D the fraction in the unit ball matches "
        f"π^(D/2)/(Γ(D/2+1)·2^D) within {z:g} binomial SE, D = 1..{cfg.mc_max_dim}",
        (r["ball_z"] for r in mc_rows),
    )
    check_worst(
        "outer-shell-monte-carlo",
        f"The fraction of the ball's sampled points within {cfg.shell_epsilon:g} of its surface matches "
        f"1 − (1 − ε)^D within {z:g} binomial SE, D = 1..{cfg.mc_max_dim} (so by D = {cfg.shell_check_dim} "
        f"{shell_at:.1%} of the volume lies in the outer {cfg.shell_epsilon:.0%})",
        (r["shell_z"] for r in mc_rows),
    )
    check_worst(
        "gaussian-norm-ks",
        "The sampled norms follow the chi law P(‖x‖ ≤ r) = P(D/2, r²/2): Kolmogorov-Smirnov distance within "
        f"{cfg.ks_coefficient:g}/√M at every D",
        (r["ks"] for r in gauss_rows),
        ks_limit,
    )
    check_worst(
        "gaussian-fractions-match-chi",
        f"The sampled shell and central fractions match the chi law within {z:g} binomial SE at every D",
        (max(r["shell_z"], r["center_z"]) for r in gauss_rows),
    )

    # -- claims -----------------------------------------------------------------------------------------------
    max_d = cfg.dims[-1]
    run.claim(
        "distances-concentrate",
        f"Distances concentrate: for {cfg.points} random points the ratio of the largest to the smallest "
        f"pairwise distance falls with every increase of D and approaches 1 (below {cfg.ratio_limit:g} at "
        f"D = {max_d})",
        holds=concentration_verdict(ratio, limit=cfg.ratio_limit),
        measured={dist: dict(zip(map(str, cfg.dims), r, strict=True)) for dist, r in ratio.items()},
        expected=f"strictly falling in D; < {cfg.ratio_limit:g} at D = {max_d}",
    )
    fit_dims = [d for d in cfg.dims if d >= cfg.rate_min_dim]
    at = [cfg.dims.index(d) for d in fit_dims]
    slopes = {dist: loglog_slope(fit_dims, [math.log(r[i]) for i in at]) for dist, r in ratio.items()}
    excess = {dist: loglog_slope(fit_dims, [r[i] - 1 for i in at]) for dist, r in ratio.items()}
    run.claim(
        "distance-spread-rate",
        "The distances' spread shrinks like 1/√D: a squared distance sums D independent terms, so "
        f"log(largest/smallest) falls like D^(−1/2) (exponent fitted over D = {fit_dims[0]}..{fit_dims[-1]})",
        holds=rate_verdict(slopes, tolerance=cfg.rate_tolerance),
        measured={"exponent_log_ratio": slopes, "exponent_ratio_minus_1": excess},
        expected=f"−0.5 ± {cfg.rate_tolerance:g}",
    )
    ball_mc = [r["ball_fraction_mc"] for r in mc_rows]
    run.claim(
        "ball-volume-vanishes",
        "The volume of a hypersphere becomes negligible next to the hypercube around it: the sampled fraction of "
        f"[−1, 1]^D inside the unit ball falls with every added dimension, to under {cfg.mc_volume_limit:g} at "
        f"D = {cfg.mc_max_dim}",
        holds=volume_vanishes_verdict(ball_mc, limit=cfg.mc_volume_limit),
        measured={
            "fraction_mc": dict(zip(map(str, range(1, cfg.mc_max_dim + 1)), ball_mc, strict=True)),
            "exact_D40": ball_to_cube_volume(40),
        },
        expected=f"strictly falling; < {cfg.mc_volume_limit:g} at D = {cfg.mc_max_dim}",
    )
    g_last, shell_mc = gauss_rows[-1], [r["shell_mc"] for r in gauss_rows]
    run.claim(
        "gaussian-mass-in-shell",
        f"A standard normal's samples lie in a thin shell of radius √D, not near the mean: the fraction with "
        f"‖x‖ within ±{cfg.shell_width:.0%} of √D rises with D to at least {cfg.shell_mass:g} at "
        f"D = {g_last['dim']}, while the fraction within radius {cfg.central_radius:g} of the mean falls to none "
        f"of the {m} samples",
        holds=gaussian_shell_verdict(
            shell_mc, [r["center_mc"] for r in gauss_rows], shell_mass=cfg.shell_mass
        ),
        measured={
            f"{k}_{dim}": r[k] if k != "central_exact_log10" else log10_chi_cdf(cfg.central_radius, dim)
            for dim, r in zip(cfg.gauss_dims, gauss_rows, strict=True)
            for k in ("shell_mc", "center_mc", "central_exact_log10")
        },
        expected=f"shell fraction rising (or staying at 1), ≥ {cfg.shell_mass:g} at the largest D; "
        "central fraction never rising, 0 at the largest D",
    )
    run.summary(
        **{f"distance_ratio_{dist}_D{max_d}": r[-1] for dist, r in ratio.items()},
        **{f"distance_exponent_{dist}": s for dist, s in slopes.items()},
        **{
            f"ball_cube_ratio_D{cfg.mc_max_dim}_mc": ball_mc[-1],
            f"gaussian_shell_D{g_last['dim']}": shell_mc[-1],
        },
    )

    # fmt: off
    # -- figures (dimension axes are logarithmic, so no integer_ticks) ------------------------------------------
    fig, axes = subplots(1, 3, width=4.6, height=3.6)
    ax = axes[0, 0]
    for i, (dist, r) in enumerate(ratio.items()):
        ax.loglog(cfg.dims, [math.log(v) for v in r], "o-", color=PALETTE[i], label=f"{dist} ({slopes[dist]:.2f})")
        anchor = math.log(r[-1])
        ax.loglog(fit_dims, [anchor * math.sqrt(max_d / d) for d in fit_dims], ":", color=PALETTE[i], alpha=0.8)
    ax.plot([], [], ":", color="gray", label="∝ 1/√D")
    ax.set(xlabel="dimension D", ylabel="ln(largest / smallest distance)", title=f"Distance ratio, N = {cfg.points}")
    ax = axes[0, 1]
    ax.semilogy(vol_dims, vol_ratio, "-", color=PALETTE[0], label="ball / cube, exact")
    ax.semilogy(vol_dims, [ball_volume(d) for d in vol_dims], "--", color=PALETTE[1], label="unit-ball volume")
    hit = [r for r in mc_rows if r["inside"] > 0]
    se = [math.sqrt(r["ball_fraction_exact"] * (1 - r["ball_fraction_exact"]) / cfg.mc_samples) for r in hit]
    ax.errorbar([r["dim"] for r in hit], [r["ball_fraction_mc"] for r in hit], yerr=se, fmt="o", color="black",
                markersize=3, label=f"Monte Carlo ({cfg.mc_samples:,} points)")
    ax.axhline(cfg.mc_volume_limit, color="gray", linestyle=":", linewidth=0.8, label=f"{cfg.mc_volume_limit:g}")
    ax.set(xlabel="dimension D", ylabel="volume", title="Unit ball inside the cube [−1, 1]^D")
    ax = axes[0, 2]
    shell_dims = list(range(1, max(1000, 2 * cfg.shell_check_dim) + 1))
    shell_curve = [outer_shell_fraction(d, cfg.shell_epsilon) for d in shell_dims]
    ax.semilogx(shell_dims, shell_curve, "-", color=PALETTE[0], label="1 − (1 − ε)^D")
    ax.semilogx([r["dim"] for r in hit], [r["shell_fraction_mc"] for r in hit], "o", color="black", markersize=3,
                label="Monte Carlo")
    ax.axvline(cfg.shell_check_dim, color="gray", linestyle=":", linewidth=0.8)
    ax.set(xlabel="dimension D", ylabel="fraction of the ball's volume",
           title=f"Volume in the outer {cfg.shell_epsilon:.0%} shell")
    for ax in axes[0]:
        ax.legend(fontsize=7)
    run.figure("distances-and-volumes", fig)

    fig, axes = subplots(1, 2, width=5.2, height=3.8)
    ax = axes[0, 0]
    shown = sorted({round(k * (len(cfg.gauss_dims) - 1) / 5) for k in range(6)})  # at most 6, spread out
    for i, d in enumerate(cfg.gauss_dims[k] for k in shown):
        color, root = PALETTE[i % len(PALETTE)], math.sqrt(d)
        edges = torch.linspace(max(0.0, root - 4.5), root + 4.5, 61, dtype=torch.float64)
        ax.hist(norms_kept[d].numpy(), bins=edges.numpy(), density=True, color=color, alpha=0.35)
        grid = torch.linspace(max(1e-3, root - 4.5), root + 4.5, 300, dtype=torch.float64)
        ax.plot(grid, chi_pdf(grid, d), color=color, linewidth=1.2, label=f"D = {d}")
        ax.axvline(root, color=color, linestyle=":", linewidth=1)
    ax.set(xlabel="distance from the mean ‖x‖ (dotted: √D)", ylabel="density",
           title="Norms of standard-normal samples vs chi density")
    ax.legend(fontsize=7, loc="upper center")
    ax = axes[0, 1]
    g_dims = [r["dim"] for r in gauss_rows]
    for key, i, label in (("shell", 0, f"‖x‖ = (1 ± {w:g})√D"), ("center", 1, f"‖x‖ ≤ {cfg.central_radius:g}")):
        ax.semilogx(g_dims, [r[f"{key}_exact"] for r in gauss_rows], "-", color=PALETTE[i], label=f"{label}, exact")
        ax.semilogx(g_dims, [r[f"{key}_mc"] for r in gauss_rows], "o", color=PALETTE[i], label="sampled")
    ax.set(xlabel="dimension D", ylabel="probability mass", title="Typical set: a thin shell (cf. fig. 8.13)")
    ax.legend(fontsize=7)
    run.figure("gaussian-shell", fig)
    # fmt: on
