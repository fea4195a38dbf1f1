"""High-dimensional spaces (UDL chapter 8, the curse of dimensionality, fig. 8.13, notebook 8.4): distances
concentrate, the ball vanishes inside its cube, and a Gaussian's samples live in a thin shell.

Protocol (float64, seeded, vectorized over samples):

- *Distances*: for each D in ``dims`` and each distribution (standard normal, as in notebook 8.4, and uniform in
  the unit cube [0, 1]^D), ``points`` random points and all their N(N−1)/2 pairwise Euclidean distances
  (``torch.cdist``; exact differences for D ≤ ``EXACT_CDIST_MAX_DIM``, where the Gram-matrix shortcut would lose
  digits of the smallest distance). The ratio of the largest to the smallest distance is averaged (geometric
  mean) over ``trials`` independent sets. A squared distance is a sum of D i.i.d. terms, so its relative spread
  shrinks like 1/√D: for fixed N the largest and smallest distances are (1 + a/√D) and (1 − b/√D) times the
  typical one, with a ≈ b set by the extremes of ~N²/2 nearly Gaussian values. So log(ratio) ≈ (a + b)/√D, its
  1/D terms cancelling, while ratio − 1 ≈ (a + b)/√D + b(a + b)/D. The exponent of log(ratio) ∝ D^slope is fitted
  (least squares in log-log) over D ≥ ``rate_min_dim``; that of ratio − 1 is reported beside it.
- *Volume*: the unit ball's volume π^(D/2)/Γ(D/2 + 1) over the cube [−1, 1]^D's 2^D (equivalently a ball of
  diameter 1 in the unit cube, the notebook's version), exactly (lgamma) for D = 1..``volume_max_dim``, and by
  Monte Carlo, the fraction of ``mc_samples`` uniform points of the cube that fall in the ball, for
  D = 1..``mc_max_dim``. The points inside also check that a fraction 1 − (1 − ε)^D of the ball's volume lies
  in its outer shell of thickness ε (the notebook's "outer 1%").
- *Gaussian shell*: ``gauss_samples`` draws from a D-dimensional standard normal. Their norms are
  chi-distributed, P(‖x‖ ≤ r) = P(D/2, r²/2) with P the regularized lower incomplete gamma function
  (``torch.special.gammainc``). We compare the samples' empirical CDF with it (Kolmogorov-Smirnov statistic),
  and measure the mass in the shell (1 ± ``shell_width``)·√D and in the ball of radius ``central_radius``
  around the mean, the single most likely point.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

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

F64 = torch.float64
DISTRIBUTIONS = ("normal", "uniform")
EXACT_CDIST_MAX_DIM = 64
"""Up to this dimension pairwise distances are computed from exact differences; above it by the Gram-matrix
identity ‖x − y‖² = ‖x‖² + ‖y‖² − 2x·y, whose rounding error is then far below the smallest distance."""
CHUNK_ELEMENTS = 1 << 22
"""Random samples are drawn in blocks of at most this many numbers (32 MiB of float64)."""


@dataclass(frozen=True)
class Config:
    dims: tuple[int, ...] = (1, 2, 5, 10, 100, 1000, 10000)
    """dimensions D of the pairwise-distance sweep (strictly increasing)"""
    points: int = 1000
    """random points N per set (notebook 8.4 uses 1000): N(N−1)/2 pairwise distances"""
    trials: int = 2
    """independent point sets per D and distribution; the ratio reported is their geometric mean"""
    distributions: tuple[str, ...] = DISTRIBUTIONS
    """where the points come from: 'normal' (standard normal, as the notebook) and 'uniform' ([0, 1]^D)"""
    ratio_limit: float = 1.2
    """the largest/smallest distance ratio at the largest D must be below this"""
    rate_min_dim: int = 100
    """the exponent of log(ratio) ∝ D^slope is fitted over D ≥ this (the 1/√D law is an asymptotic one)"""
    rate_tolerance: float = 0.1
    """largest accepted |slope + 1/2|"""
    volume_max_dim: int = 100
    """the exact ball/cube volume ratio is computed for D = 1..this"""
    volume_check_dim: int = 40
    """dimension at which the ball/cube volume ratio must be below ``volume_limit``"""
    volume_limit: float = 1e-10
    """'negligible': the bound the ball/cube volume ratio must be under at ``volume_check_dim``"""
    mc_max_dim: int = 10
    """Monte Carlo volume estimates for D = 1..this (beyond ~12 too few points would land in the ball)"""
    mc_samples: int = 1_000_000
    """uniform points of the cube per Monte Carlo dimension"""
    shell_epsilon: float = 0.01
    """thickness of the ball's outer shell as a fraction of its radius (the notebook's outer 1%)"""
    shell_check_dim: int = 300
    """dimension by which most (over half) of the ball's volume must lie in its outer shell (the notebook's 300)"""
    gauss_dims: tuple[int, ...] = (1, 2, 5, 10, 100, 1000)
    """dimensions D of the standard normals whose norms are sampled (strictly increasing)"""
    gauss_samples: int = 20_000
    """samples M of each D-dimensional standard normal"""
    shell_width: float = 0.1
    """relative half-width w of the shell around √D: (1 − w)√D ≤ ‖x‖ ≤ (1 + w)√D"""
    shell_mass: float = 0.99
    """the sampled mass in that shell at the largest D must reach this"""
    central_radius: float = 1.0
    """radius of the ball around the mean (the most likely point) whose mass should vanish"""
    central_limit: float = 1e-6
    """the mass of that central ball at the largest D must be below this (exact, from the chi CDF)"""
    z_tolerance: float = 4.0
    """Monte Carlo fractions must lie within this many binomial standard errors of the exact value"""
    ks_coefficient: float = 1.95
    """Kolmogorov-Smirnov: max |empirical − exact CDF| must be ≤ this/√M (1.95 is the 0.1% critical value)"""
    seed: int = 0
    """seed for every random point"""

    def __post_init__(self) -> None:
        for name, dims in (("dims", self.dims), ("gauss_dims", self.gauss_dims)):
            if len(dims) < 2 or min(dims) < 1 or any(b <= a for a, b in itertools.pairwise(dims)):
                raise ValueError(f"{name} must be >= 2 strictly increasing integers >= 1, got {dims}")
        if sum(d >= self.rate_min_dim for d in self.dims) < 2:
            raise ValueError(f"need at least two dims >= rate_min_dim = {self.rate_min_dim} to fit the rate")
        if not self.distributions or set(self.distributions) - set(DISTRIBUTIONS):
            raise ValueError(
                f"distributions must be a non-empty subset of {DISTRIBUTIONS}, got {self.distributions}"
            )
        if self.points < 3 or self.trials < 1:
            raise ValueError("need points >= 3 and trials >= 1")
        if (
            not 1 <= self.mc_max_dim <= self.volume_max_dim
            or not 1 <= self.volume_check_dim <= self.volume_max_dim
        ):
            raise ValueError("need 1 <= mc_max_dim, volume_check_dim <= volume_max_dim")
        if min(self.mc_samples, self.gauss_samples) < 100 or self.shell_check_dim < 1:
            raise ValueError("need mc_samples, gauss_samples >= 100 and shell_check_dim >= 1")
        if not (0 < self.shell_epsilon < 1 and 0 < self.shell_width < 1 and 0 < self.shell_mass < 1):
            raise ValueError("shell_epsilon, shell_width and shell_mass must lie in (0, 1)")
        if min(self.ratio_limit - 1, self.rate_tolerance, self.volume_limit, self.central_radius) <= 0:
            raise ValueError("need ratio_limit > 1 and rate_tolerance, volume_limit, central_radius > 0")
        if min(self.central_limit, self.z_tolerance, self.ks_coefficient) <= 0:
            raise ValueError("need central_limit, z_tolerance and ks_coefficient > 0")


PRESETS = {
    "smoke": Config(
        dims=(1, 10, 100, 1000),
        points=100,
        trials=1,
        volume_max_dim=50,
        mc_max_dim=4,
        mc_samples=20_000,
        gauss_dims=(1, 10, 1000),
        gauss_samples=2000,
    ),
    "quick": Config(),
    "full": Config(
        dims=(1, 2, 3, 5, 10, 30, 100, 300, 1000, 3000, 10000, 30000),
        trials=4,
        volume_max_dim=200,
        mc_max_dim=12,
        mc_samples=10_000_000,
        gauss_dims=(1, 2, 3, 5, 10, 30, 100, 300, 1000, 3000, 10000),
        gauss_samples=100_000,
    ),
}


# -- pairwise distances ---------------------------------------------------------------------------------------
def sample_points(distribution: str, n: int, d: int, generator: torch.Generator) -> torch.Tensor:
    """(n, d) float64 points: standard normal, or uniform in the unit cube [0, 1]^d."""
    if distribution == "normal":
        return torch.randn(n, d, generator=generator, dtype=F64)
    if distribution == "uniform":
        return torch.rand(n, d, generator=generator, dtype=F64)
    raise ValueError(f"unknown distribution {distribution!r}; valid: {DISTRIBUTIONS}")


def pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    """The N(N−1)/2 Euclidean distances between the rows of ``x`` (N, D), each pair once, self-pairs left out."""
    n, d = x.shape
    mode = "donot_use_mm_for_euclid_dist" if d <= EXACT_CDIST_MAX_DIM else "use_mm_for_euclid_dist"
    dist = torch.cdist(x, x, compute_mode=mode)
    i, j = torch.triu_indices(n, n, offset=1, device=x.device)
    return dist[i, j]


def distance_ratio(x: torch.Tensor) -> float:
    """Largest over smallest distance between distinct rows of ``x`` (notebook 8.4's ``distance_ratio``)."""
    dist = pairwise_distances(x)
    return float(dist.max() / dist.min())


def expected_squared_distance(distribution: str, d: int) -> float:
    """E‖x − y‖² for two independent points: 2D for standard normals, D/6 for uniform points of [0, 1]^D."""
    return 2.0 * d if distribution == "normal" else d / 6.0


def power_law_exponent(x: list[float], y: list[float]) -> float:
    """The least-squares slope of log y against log x (the exponent b of y ∝ x^b)."""
    lx = torch.log(torch.tensor(x, dtype=F64))
    ly = torch.log(torch.tensor(y, dtype=F64))
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return float((lx * ly).sum() / (lx**2).sum())


# -- volumes --------------------------------------------------------------------------------------------------
def log_ball_volume(d: int, radius: float = 1.0) -> float:
    """log of the volume of a D-ball: π^(D/2) r^D / Γ(D/2 + 1) (UDL problem 8.7)."""
    return 0.5 * d * math.log(math.pi) + d * math.log(radius) - math.lgamma(0.5 * d + 1)


def ball_volume(d: int, radius: float = 1.0) -> float:
    return math.exp(log_ball_volume(d, radius))


def ball_to_cube_volume(d: int) -> float:
    """Volume of the unit D-ball over that of the cube [−1, 1]^D around it (= a diameter-1 ball in [0, 1]^D).

    Clamped to 1: at D = 1 (ball = cube) lgamma's rounding would otherwise give 1 + 2e-16."""
    return min(1.0, math.exp(log_ball_volume(d) - d * math.log(2.0)))


def outer_shell_fraction(d: int, epsilon: float) -> float:
    """Fraction of a D-ball's volume within ε·radius of its surface: 1 − (1 − ε)^D."""
    return -math.expm1(d * math.log1p(-epsilon))


def _blocks(total: int, d: int) -> list[int]:
    """Row counts of the blocks ``total`` samples of dimension ``d`` are drawn in (≤ CHUNK_ELEMENTS numbers)."""
    rows = max(1, CHUNK_ELEMENTS // d)
    return [min(rows, total - start) for start in range(0, total, rows)]


def ball_monte_carlo(d: int, samples: int, epsilon: float, generator: torch.Generator) -> tuple[int, int]:
    """Of ``samples`` uniform points of [−1, 1]^D: how many lie in the unit ball, and how many of those in its
    outer shell 1 − ε < ‖x‖ ≤ 1."""
    inside = shell = 0
    for rows in _blocks(samples, d):
        sq = ((torch.rand(rows, d, generator=generator, dtype=F64) * 2 - 1) ** 2).sum(dim=1)
        inside += int((sq <= 1).sum())
        shell += int(((sq <= 1) & (sq > (1 - epsilon) ** 2)).sum())
    return inside, shell


# -- the Gaussian's norm --------------------------------------------------------------------------------------
def gaussian_norms(d: int, samples: int, generator: torch.Generator) -> torch.Tensor:
    """Norms ‖x‖ of ``samples`` draws from a D-dimensional standard normal, (samples,) float64."""
    return torch.cat(
        [torch.randn(rows, d, generator=generator, dtype=F64).norm(dim=1) for rows in _blocks(samples, d)]
    )


def chi_cdf(r: torch.Tensor, d: int) -> torch.Tensor:
    """P(‖x‖ ≤ r) for x a D-dimensional standard normal: the regularized lower incomplete gamma P(D/2, r²/2)."""
    r = torch.as_tensor(r, dtype=F64)
    return torch.special.gammainc(torch.full_like(r, d / 2), r.clamp(min=0) ** 2 / 2)


def chi_pdf(r: torch.Tensor, d: int) -> torch.Tensor:
    """Density of ‖x‖: r^(D−1) e^(−r²/2) / (2^(D/2−1) Γ(D/2)), for r > 0."""
    r = torch.as_tensor(r, dtype=F64)
    log = (d - 1) * torch.log(r) - r**2 / 2 - (d / 2 - 1) * math.log(2.0) - math.lgamma(d / 2)
    return torch.exp(log)


def log10_chi_cdf(r: float, d: int, terms: int = 400) -> float:
    """log10 P(‖x‖ ≤ r) for a D-dimensional standard normal, finite where P itself underflows: the series
    P(a, x) = x^a e^(−x) / Γ(a + 1) · Σ_k x^k / ((a + 1)···(a + k)), a = D/2, x = r²/2 (accurate when x ≲ a)."""
    a, x = d / 2, r * r / 2
    if x == 0:
        return -math.inf
    k = torch.arange(1, terms + 1, dtype=F64)
    series = 1 + float(torch.cumprod(x / (a + k), dim=0).sum())
    return (a * math.log(x) - x - math.lgamma(a + 1) + math.log(series)) / math.log(10)


def ks_statistic(samples: torch.Tensor, cdf: torch.Tensor) -> float:
    """Kolmogorov-Smirnov distance sup |F_M − F| between the samples' empirical CDF and ``cdf`` (F at each
    sample, in the samples' order)."""
    m = samples.numel()
    order = torch.argsort(samples)
    f = cdf[order]
    k = torch.arange(1, m + 1, dtype=F64)
    return float(torch.maximum(k / m - f, f - (k - 1) / m).max())


def binomial_z(count: int, total: int, p: float) -> float:
    """|count/total − p| in binomial standard errors sqrt(p(1 − p)/total) (0 if both are exactly equal)."""
    p = min(max(p, 0.0), 1.0)
    diff = abs(count / total - p)
    se = math.sqrt(p * (1 - p) / total)
    if diff == 0:
        return 0.0
    return diff / se if se > 0 else math.inf


def run(cfg: Config, run: Run) -> None:
    generator = torch.Generator().manual_seed(cfg.seed)
    dev = run.device
    step = 0
    total = len(cfg.distributions) * len(cfg.dims) + cfg.mc_max_dim + len(cfg.gauss_dims)

    # -- phase 1: pairwise distances ------------------------------------------------------------------------
    ratio: dict[str, list[float]] = {dist: [] for dist in cfg.distributions}
    spread: dict[str, list[tuple[float, float, float]]] = {dist: [] for dist in cfg.distributions}
    with run.progress(total, "high-dimensional spaces") as bar:
        for dist in cfg.distributions:
            for d in cfg.dims:
                logs, extremes = [], []
                for _ in range(cfg.trials):
                    x = sample_points(dist, cfg.points, d, generator).to(dev)
                    dd = pairwise_distances(x)
                    logs.append(math.log(float(dd.max() / dd.min())))
                    extremes.append((float(dd.min()), float(dd.mean()), float(dd.max())))
                r = math.exp(sum(logs) / len(logs))
                scale = math.sqrt(expected_squared_distance(dist, d))
                lo, mean, hi = (sum(e[k] for e in extremes) / len(extremes) / scale for k in range(3))
                ratio[dist].append(r)
                spread[dist].append((lo, mean, hi))
                step += 1
                run.log(step, dim=d, **{f"distance_ratio_{dist}": r, f"relative_spread_{dist}": hi - lo})
                bar.update(step, D=d, ratio=r)

        # -- phase 2: ball volume by Monte Carlo ------------------------------------------------------------
        vol_dims = list(range(1, cfg.volume_max_dim + 1))
        vol_ratio = [ball_to_cube_volume(d) for d in vol_dims]
        mc_rows = []
        for d in range(1, cfg.mc_max_dim + 1):
            inside, shell = ball_monte_carlo(d, cfg.mc_samples, cfg.shell_epsilon, generator)
            exact, shell_exact = ball_to_cube_volume(d), outer_shell_fraction(d, cfg.shell_epsilon)
            row = {
                "dim": d,
                "ball_fraction_mc": inside / cfg.mc_samples,
                "ball_fraction_exact": exact,
                "ball_z": binomial_z(inside, cfg.mc_samples, exact),
                "shell_fraction_mc": shell / inside if inside else math.nan,
                "shell_fraction_exact": shell_exact,
                "shell_z": binomial_z(shell, inside, shell_exact) if inside else math.inf,
                "inside": inside,
            }
            mc_rows.append(row)
            step += 1
            run.log(step, **{f"volume_{k}": v for k, v in row.items()})
            bar.update(step, D=d, ball=row["ball_fraction_mc"])

        # -- phase 3: norms of standard normals --------------------------------------------------------------
        w, m = cfg.shell_width, cfg.gauss_samples
        gauss_rows, norms_kept = [], {}
        for d in cfg.gauss_dims:
            norms = gaussian_norms(d, m, generator)
            root = math.sqrt(d)
            in_shell = (norms >= (1 - w) * root) & (norms <= (1 + w) * root)
            in_center = norms <= cfg.central_radius
            bounds = torch.tensor([(1 - w) * root, (1 + w) * root, cfg.central_radius], dtype=F64)
            lo_cdf, hi_cdf, center_cdf = chi_cdf(bounds, d).tolist()
            row = {
                "dim": d,
                "shell_mc": float(in_shell.double().mean()),
                "shell_exact": hi_cdf - lo_cdf,
                "center_mc": float(in_center.double().mean()),
                "center_exact": center_cdf,
                "ks": ks_statistic(norms, chi_cdf(norms, d)),
                "mean_norm_over_root_d": float(norms.mean()) / root,
                "std_norm": float(norms.std()),
            }
            row["shell_z"] = binomial_z(int(in_shell.sum()), m, row["shell_exact"])
            row["center_z"] = binomial_z(int(in_center.sum()), m, row["center_exact"])
            gauss_rows.append(row)
            norms_kept[d] = norms
            step += 1
            run.log(step, **{f"gauss_{k}": v for k, v in row.items()})
            bar.update(step, D=d, shell=row["shell_mc"])

    # -- claims -----------------------------------------------------------------------------------------------
    max_d = cfg.dims[-1]
    not_falling = {
        dist: [
            f"{a}->{b}" for a, b, ra, rb in zip(cfg.dims, cfg.dims[1:], r, r[1:], strict=False) if rb >= ra
        ]
        for dist, r in ratio.items()
    }
    run.claim(
        "distances-concentrate",
        f"Distances concentrate: for {cfg.points} random points the ratio of the largest to the smallest "
        f"pairwise distance falls with every increase of D and approaches 1 (below {cfg.ratio_limit:g} at "
        f"D = {max_d})",
        holds=all(not v for v in not_falling.values())
        and all(r[-1] < cfg.ratio_limit for r in ratio.values()),
        measured={
            "ratio": {
                dist: {str(d): round(v, 4) for d, v in zip(cfg.dims, r, strict=True)}
                for dist, r in ratio.items()
            },
            "not_falling": not_falling,
        },
        expected=f"strictly falling in D; < {cfg.ratio_limit:g} at D = {max_d}",
    )
    fit_dims = [d for d in cfg.dims if d >= cfg.rate_min_dim]
    fit_x = [float(d) for d in fit_dims]
    slopes = {
        dist: power_law_exponent(fit_x, [math.log(r[cfg.dims.index(d)]) for d in fit_dims])
        for dist, r in ratio.items()
    }
    excess_slopes = {
        dist: power_law_exponent(fit_x, [r[cfg.dims.index(d)] - 1 for d in fit_dims])
        for dist, r in ratio.items()
    }
    run.claim(
        "distance-spread-rate",
        f"The distances' spread shrinks like 1/√D: a squared distance sums D independent terms, so "
        f"log(largest/smallest) ≈ ratio − 1 falls like D^(−1/2) (exponent of log ratio fitted over "
        f"D = {fit_dims[0]}..{fit_dims[-1]})",
        holds=all(abs(s + 0.5) <= cfg.rate_tolerance for s in slopes.values()),
        measured={
            "exponent_log_ratio": {dist: round(s, 4) for dist, s in slopes.items()},
            "exponent_ratio_minus_1": {dist: round(s, 4) for dist, s in excess_slopes.items()},
        },
        expected=f"−0.5 ± {cfg.rate_tolerance:g}",
    )

    falling = all(b < a for a, b in itertools.pairwise(vol_ratio))
    at_check = vol_ratio[cfg.volume_check_dim - 1]
    first_below = next((d for d, v in zip(vol_dims, vol_ratio, strict=True) if v < cfg.volume_limit), None)
    volumes = [ball_volume(d) for d in vol_dims]
    run.claim(
        "ball-volume-vanishes",
        f"The volume of a hypersphere becomes negligible next to the hypercube around it: the unit ball fills a "
        f"fraction π^(D/2)/(Γ(D/2+1)·2^D) of [−1, 1]^D that falls with every added dimension and is below "
        f"{cfg.volume_limit:g} at D = {cfg.volume_check_dim}",
        holds=falling and at_check < cfg.volume_limit,
        measured={
            "fraction": {
                str(d): vol_ratio[d - 1]
                for d in (1, 2, 3, 5, 10, 20, cfg.volume_check_dim)
                if d <= cfg.volume_max_dim
            },
            "first_dim_below_limit": first_below,
            "falls_every_dimension": falling,
            "unit_ball_volume_peak_dim": vol_dims[max(range(len(volumes)), key=volumes.__getitem__)],
            f"unit_ball_volume_at_{cfg.volume_max_dim}": volumes[-1],
        },
        expected=f"strictly falling; < {cfg.volume_limit:g} at D = {cfg.volume_check_dim}",
    )
    worst_ball = max(r["ball_z"] for r in mc_rows)
    worst_shell = max(r["shell_z"] for r in mc_rows)
    run.claim(
        "ball-volume-monte-carlo",
        f"Monte Carlo agrees with the formulas: of {cfg.mc_samples} uniform points of [−1, 1]^D the fraction in the "
        f"unit ball matches π^(D/2)/(Γ(D/2+1)·2^D), and the fraction of those within {cfg.shell_epsilon:g} of "
        f"its surface matches 1 − (1 − ε)^D, for D = 1..{cfg.mc_max_dim}",
        holds=worst_ball <= cfg.z_tolerance and worst_shell <= cfg.z_tolerance,
        measured={
            "worst_ball_z": worst_ball,
            "worst_shell_z": worst_shell,
            "ball_fraction_mc": {str(r["dim"]): r["ball_fraction_mc"] for r in mc_rows},
        },
        expected=f"every |MC − exact| ≤ {cfg.z_tolerance:g} standard errors",
    )
    shell_at = outer_shell_fraction(cfg.shell_check_dim, cfg.shell_epsilon)
    half_dim = math.ceil(math.log(0.5) / math.log1p(-cfg.shell_epsilon))
    run.claim(
        "volume-in-outer-shell",
        f"Most of a hypersphere's volume is in its outer shell: by D = {cfg.shell_check_dim} more than half of it "
        f"lies within {cfg.shell_epsilon:.0%} of the radius from the surface, 1 − (1 − ε)^D → 1",
        holds=shell_at > 0.5,
        measured={
            "fraction": {
                str(d): round(outer_shell_fraction(d, cfg.shell_epsilon), 6)
                for d in (1, 2, 10, 100, cfg.shell_check_dim, 1000)
            },
            "first_dim_over_half": half_dim,
        },
        expected=f"> 0.5 at D = {cfg.shell_check_dim}",
    )
    g_last = gauss_rows[-1]
    shell_mc = [r["shell_mc"] for r in gauss_rows]
    # rising with D until it saturates: a sampled fraction can reach 1 exactly and then stays there
    shell_rising = all(b > a or a == b == 1.0 for a, b in itertools.pairwise(shell_mc))
    run.claim(
        "gaussian-mass-in-shell",
        f"A standard normal's samples lie in a thin shell of radius √D, not near the mean: the fraction with "
        f"‖x‖ within ±{cfg.shell_width:.0%} of √D rises with D to at least {cfg.shell_mass:g} at "
        f"D = {g_last['dim']}, while the mass within radius {cfg.central_radius:g} of the mean falls below "
        f"{cfg.central_limit:g}",
        holds=shell_rising
        and g_last["shell_mc"] >= cfg.shell_mass
        and log10_chi_cdf(cfg.central_radius, int(g_last["dim"])) < math.log10(cfg.central_limit),
        measured={
            "shell_fraction": {str(r["dim"]): round(r["shell_mc"], 5) for r in gauss_rows},
            "central_fraction": {str(r["dim"]): r["center_mc"] for r in gauss_rows},
            "central_exact_log10": {
                str(r["dim"]): round(log10_chi_cdf(cfg.central_radius, int(r["dim"])), 2) for r in gauss_rows
            },
            "mean_norm_over_root_d": {
                str(r["dim"]): round(r["mean_norm_over_root_d"], 5) for r in gauss_rows
            },
            "std_norm": {str(r["dim"]): round(r["std_norm"], 4) for r in gauss_rows},
        },
        expected=(
            f"shell fraction strictly rising (or staying at 1), ≥ {cfg.shell_mass:g} at D = {g_last['dim']}; "
            f"central mass < {cfg.central_limit:g}"
        ),
    )
    ks_limit = cfg.ks_coefficient / math.sqrt(m)
    worst_ks = max(r["ks"] for r in gauss_rows)
    worst_z = max(max(r["shell_z"], r["center_z"]) for r in gauss_rows)
    run.claim(
        "gaussian-norm-is-chi",
        "The sampled norms follow the exact chi distribution P(‖x‖ ≤ r) = P(D/2, r²/2): the empirical CDF is "
        "within the Kolmogorov-Smirnov bound and the shell and central fractions within their standard errors",
        holds=worst_ks <= ks_limit and worst_z <= cfg.z_tolerance,
        measured={
            "worst_ks": worst_ks,
            "ks_bound": ks_limit,
            "worst_z": worst_z,
            "shell_fraction_exact": {str(r["dim"]): round(r["shell_exact"], 5) for r in gauss_rows},
        },
        expected=f"KS ≤ {ks_limit:.4g}; |MC − exact| ≤ {cfg.z_tolerance:g} standard errors",
    )
    run.summary(
        **{f"distance_ratio_{dist}_D{max_d}": r[-1] for dist, r in ratio.items()},
        **{f"distance_exponent_{dist}": s for dist, s in slopes.items()},
        **{f"ball_cube_ratio_D{cfg.volume_check_dim}": at_check},
        **{f"outer_shell_fraction_D{cfg.shell_check_dim}": shell_at},
        **{f"gaussian_shell_fraction_D{g_last['dim']}": g_last["shell_mc"]},
    )

    # -- figures ----------------------------------------------------------------------------------------------
    fig, axes = subplots(2, 2, width=5.0, height=3.6)
    ax = axes[0, 0]
    for i, (dist, ratios) in enumerate(ratio.items()):
        color = PALETTE[i]
        ax.loglog(
            cfg.dims,
            [math.log(v) for v in ratios],
            "o-",
            color=color,
            label=f"{dist} (slope {slopes[dist]:.2f})",
        )
        anchor = math.log(ratios[-1])
        ax.loglog(
            fit_dims,
            [anchor * math.sqrt(max_d / d) for d in fit_dims],
            ":",
            color=color,
            alpha=0.8,
        )
    ax.plot([], [], ":", color="gray", label="∝ 1/√D")
    ax.set(
        xlabel="dimension D",
        ylabel="ln(largest / smallest distance)",
        title=f"Distance ratio, N = {cfg.points}",
    )
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    for i, (dist, rows) in enumerate(spread.items()):
        color, style = PALETTE[i], "-" if i == 0 else "--"
        rms = "√(2D)" if dist == "normal" else "√(D/6)"
        for k in (2, 1, 0):  # largest, mean, smallest
            ax.semilogx(
                cfg.dims,
                [row[k] for row in rows],
                style,
                marker="o",
                markersize=3,
                color=color,
                alpha=1.0 if k != 1 else 0.5,
                label=f"{dist}: / {rms}" if k == 2 else None,
            )
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set(
        xlabel="dimension D",
        ylabel="distance / its rms value",
        title="Smallest, mean and largest distance",
    )
    ax.legend(fontsize=7)
    ax = axes[1, 0]
    ax.semilogy(vol_dims, vol_ratio, "-", color=PALETTE[0], label="ball / cube, exact")
    ax.semilogy(vol_dims, volumes, "--", color=PALETTE[1], label="unit-ball volume")
    mc_dims = [r["dim"] for r in mc_rows if r["inside"] > 0]
    ax.errorbar(
        mc_dims,
        [r["ball_fraction_mc"] for r in mc_rows if r["inside"] > 0],
        yerr=[
            math.sqrt(r["ball_fraction_exact"] * (1 - r["ball_fraction_exact"]) / cfg.mc_samples)
            for r in mc_rows
            if r["inside"] > 0
        ],
        fmt="o",
        color="black",
        markersize=3,
        label=f"Monte Carlo ({cfg.mc_samples:,} points)",
    )
    ax.axhline(cfg.volume_limit, color="gray", linestyle=":", linewidth=0.8, label=f"{cfg.volume_limit:g}")
    ax.set(xlabel="dimension D", ylabel="volume", title="Unit ball inside the cube [−1, 1]^D")
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    shell_dims = list(range(1, max(1000, 2 * cfg.shell_check_dim) + 1))
    ax.semilogx(
        shell_dims,
        [outer_shell_fraction(d, cfg.shell_epsilon) for d in shell_dims],
        "-",
        color=PALETTE[0],
        label="1 − (1 − ε)^D",
    )
    ax.semilogx(
        [r["dim"] for r in mc_rows if r["inside"] > 0],
        [r["shell_fraction_mc"] for r in mc_rows if r["inside"] > 0],
        "o",
        color="black",
        markersize=3,
        label="Monte Carlo",
    )
    ax.axvline(cfg.shell_check_dim, color="gray", linestyle=":", linewidth=0.8)
    ax.set(
        xlabel="dimension D",
        ylabel="fraction of the ball's volume",
        title=f"Volume in the outer {cfg.shell_epsilon:.0%} shell",
    )
    ax.legend(fontsize=7)
    run.figure("distances-and-volumes", fig)

    fig, axes = subplots(1, 2, width=5.2, height=3.8)
    ax = axes[0, 0]
    shown = sorted({round(k * (len(cfg.gauss_dims) - 1) / 5) for k in range(6)})  # at most 6, spread out
    for i, d in enumerate(cfg.gauss_dims[k] for k in shown):
        norms, color = norms_kept[d], PALETTE[i % len(PALETTE)]
        root = math.sqrt(d)
        edges = torch.linspace(max(0.0, root - 4.5), root + 4.5, 61, dtype=F64)
        ax.hist(norms.numpy(), bins=edges.numpy(), density=True, color=color, alpha=0.35)
        grid = torch.linspace(max(1e-3, root - 4.5), root + 4.5, 300, dtype=F64)
        ax.plot(grid, chi_pdf(grid, d), color=color, linewidth=1.2, label=f"D = {d}")
        ax.axvline(root, color=color, linestyle=":", linewidth=1)
    ax.set(
        xlabel="distance from the mean ‖x‖ (dotted: √D)",
        ylabel="density",
        title="Norms of standard-normal samples vs chi density",
    )
    ax.legend(fontsize=7, loc="upper center")
    ax = axes[0, 1]
    g_dims = [r["dim"] for r in gauss_rows]
    dense = torch.unique(torch.logspace(0, math.log10(g_dims[-1]), 200, dtype=F64).round()).tolist()
    shell_curve, center_curve = [], []
    for d in dense:
        bounds = torch.tensor([(1 - w) * math.sqrt(d), (1 + w) * math.sqrt(d), cfg.central_radius], dtype=F64)
        lo_cdf, hi_cdf, center_cdf = chi_cdf(bounds, int(d)).tolist()
        shell_curve.append(hi_cdf - lo_cdf)
        center_curve.append(center_cdf)
    ax.semilogx(
        dense,
        shell_curve,
        "-",
        color=PALETTE[0],
        label=f"in ‖x‖ = (1 ± {w:g})√D, exact",
    )
    ax.semilogx(g_dims, [r["shell_mc"] for r in gauss_rows], "o", color=PALETTE[0], label="sampled")
    ax.semilogx(
        dense,
        center_curve,
        "-",
        color=PALETTE[1],
        label=f"in ‖x‖ ≤ {cfg.central_radius:g}, exact",
    )
    ax.semilogx(g_dims, [r["center_mc"] for r in gauss_rows], "o", color=PALETTE[1], label="sampled")
    ax.set(xlabel="dimension D", ylabel="probability mass", title="Typical set: a thin shell (cf. fig. 8.13)")
    ax.legend(fontsize=7)
    run.figure("gaussian-shell", fig)
