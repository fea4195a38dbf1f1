"""The statistics every claim is judged by: one standard for comparisons across seeds, and rank correlation.

A book claim is judged from repeated runs (seeds), never from one number. The standard, used by every
comparative claim in udl:

- each seed gives one measurement per arm; the claim's arms are **paired by seed** (same data, same
  initialization stream) whenever the protocol allows, so the per-seed difference d_s = a_s − b_s carries the
  evidence and the seed-to-seed noise common to both arms cancels;
- the estimate is the mean difference d̄ with its **standard error** SE = sd(d) / √n (sample s.d., n − 1);
- the **bar** is stated in the claim: d̄ > ``bar`` · SE with ``bar = 2`` by default (about a one-sided 2.3%
  level for a normal mean), and the number of seeds is in the claim's text (:meth:`Comparison.describe`).

A verdict has three states (:class:`Verdict`): the claim **holds** (d̄ clears the bar), **fails** (d̄ ≤ 0: the
measurement goes against the book, or there is no difference at all), or is **not established** (0 < d̄ ≤ bar·SE,
or too few seeds to estimate a spread: the direction agrees, the evidence does not reach the bar — typical of a
quick preset with few seeds). Every helper here is a pure function of the measurements, so each claim's verdict
can be unit-tested on inputs where it must be False.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "Comparison",
    "Spread",
    "Verdict",
    "all_of",
    "average_ranks",
    "mean_se",
    "paired_difference",
    "spearman",
    "unpaired_difference",
    "within_spread",
]

DEFAULT_BAR = 2.0
"""Standard errors the mean difference must exceed for a comparison to hold."""


class Verdict(enum.Enum):
    """The three outcomes of a claim."""

    HOLDS = "holds"
    FAILS = "fails"
    NOT_ESTABLISHED = "not established"

    @classmethod
    def of(cls, value: bool | Verdict) -> Verdict:
        """A plain bool (True holds, False fails) or a Verdict, as a Verdict."""
        if isinstance(value, Verdict):
            return value
        if isinstance(value, bool):
            return cls.HOLDS if value else cls.FAILS
        raise TypeError(f"a verdict is a bool or a Verdict, got {type(value).__name__}")

    def __bool__(self) -> bool:  # a guard against `if verdict:` and `holds=a and b` mistakes
        raise TypeError("a Verdict has three states; compare it with Verdict.HOLDS instead of using bool()")


def all_of(*verdicts: bool | Verdict) -> Verdict:
    """The verdict of a conjunction: fails if any part fails, holds if all hold, else not established."""
    parts = [Verdict.of(v) for v in verdicts]
    if any(v is Verdict.FAILS for v in parts):
        return Verdict.FAILS
    if all(v is Verdict.HOLDS for v in parts):
        return Verdict.HOLDS
    return Verdict.NOT_ESTABLISHED


def _values(values: Sequence[float] | Tensor, what: str) -> list[float]:
    out = [float(v) for v in torch.as_tensor(values, dtype=torch.float64).reshape(-1).tolist()]
    if not out:
        raise ValueError(f"{what} needs at least one measurement")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{what} got a non-finite measurement: {out}")
    return out


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation and standard error of n measurements (sd and SE are nan for n = 1)."""

    n: int
    mean: float
    sd: float
    se: float

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "sd": self.sd, "se": self.se}


def mean_se(values: Sequence[float] | Tensor) -> Spread:
    """Mean ± standard error of ``values`` (one per seed): SE = sd / √n with the n − 1 sample s.d."""
    v = _values(values, "mean_se")
    n = len(v)
    mean = sum(v) / n
    if n < 2:
        return Spread(n, mean, math.nan, math.nan)
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1))
    return Spread(n, mean, sd, sd / math.sqrt(n))


@dataclass(frozen=True)
class Comparison:
    """The evidence that arm a exceeds arm b: mean difference, its standard error, the bar and the verdict."""

    n: int
    mean_a: float
    mean_b: float
    diff: float
    se: float
    bar: float
    paired: bool
    wins: int | None
    """seeds where a > b (paired comparisons only)"""

    @property
    def verdict(self) -> Verdict:
        if self.diff <= 0:
            return Verdict.FAILS
        if not math.isfinite(self.se):
            return Verdict.NOT_ESTABLISHED  # one seed: no spread to judge the difference by
        return Verdict.HOLDS if self.diff > self.bar * self.se else Verdict.NOT_ESTABLISHED

    def describe(self, unit: str = "", digits: int = 2) -> str:
        """``"+1.44 ± 0.72 points (paired, 5 seeds, 4 of 5 favour a; bar 2 SE)"``."""
        se = "n/a" if not math.isfinite(self.se) else f"{self.se:.{digits}f}"
        wins = f", {self.wins} of {self.n} favour a" if self.wins is not None else ""
        kind = "paired" if self.paired else "unpaired"
        unit = f" {unit}" if unit else ""
        return f"{self.diff:+.{digits}f} ± {se}{unit} ({kind}, {self.n} seeds{wins}; bar {self.bar:g} SE)"

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean_a": self.mean_a,
            "mean_b": self.mean_b,
            "diff": self.diff,
            "se": self.se,
            "bar_se": self.bar,
            "paired": self.paired,
            **({"wins": self.wins} if self.wins is not None else {}),
        }


def paired_difference(
    a: Sequence[float] | Tensor, b: Sequence[float] | Tensor, *, bar: float = DEFAULT_BAR
) -> Comparison:
    """Does a exceed b? Runs paired by seed (``a[s]``, ``b[s]`` share seed s): d̄ = mean(a − b) > bar · SE(d).

    To claim "a is lower than b" (an error rate), pass ``(b, a)``.
    """
    va, vb = _values(a, "paired_difference"), _values(b, "paired_difference")
    if len(va) != len(vb):
        raise ValueError(
            f"paired_difference needs one value per seed in each arm, got {len(va)} and {len(vb)}"
        )
    if bar < 0:
        raise ValueError(f"bar must be >= 0 standard errors, got {bar}")
    d = mean_se([x - y for x, y in zip(va, vb, strict=True)])
    return Comparison(
        n=d.n,
        mean_a=sum(va) / len(va),
        mean_b=sum(vb) / len(vb),
        diff=d.mean,
        se=d.se,
        bar=bar,
        paired=True,
        wins=sum(x > y for x, y in zip(va, vb, strict=True)),
    )


def unpaired_difference(
    a: Sequence[float] | Tensor, b: Sequence[float] | Tensor, *, bar: float = DEFAULT_BAR
) -> Comparison:
    """Does a exceed b, for arms not paired by seed? d̄ = mean(a) − mean(b) > bar · √(SE_a² + SE_b²)."""
    sa, sb = mean_se(_values(a, "unpaired_difference")), mean_se(_values(b, "unpaired_difference"))
    if bar < 0:
        raise ValueError(f"bar must be >= 0 standard errors, got {bar}")
    se = math.sqrt(sa.se**2 + sb.se**2) if sa.n > 1 and sb.n > 1 else math.nan
    return Comparison(
        n=min(sa.n, sb.n),
        mean_a=sa.mean,
        mean_b=sb.mean,
        diff=sa.mean - sb.mean,
        se=se,
        bar=bar,
        paired=False,
        wins=None,
    )


def within_spread(values: Sequence[float] | Tensor, target: float, *, k: float = 2.0) -> Verdict:
    """Is the seed mean of ``values`` within ``k`` seed standard deviations of a published ``target``?

    |mean − target| ≤ k · sd holds; otherwise fails. With one seed (no spread) it is not established. The margin
    comes from the measured seed spread, never from the result.
    """
    s = mean_se(values)
    if s.n < 2:
        return Verdict.NOT_ESTABLISHED
    return Verdict.HOLDS if abs(s.mean - target) <= k * s.sd else Verdict.FAILS


def average_ranks(values: Sequence[float] | Tensor) -> Tensor:
    """Ranks 0..n−1 of ``values`` (float64), tied values sharing the mean of their ranks."""
    t = torch.as_tensor(values, dtype=torch.float64)
    below = (t.unsqueeze(0) < t.unsqueeze(1)).sum(1)
    ties = (t.unsqueeze(0) == t.unsqueeze(1)).sum(1)
    return below.to(torch.float64) + 0.5 * (ties.to(torch.float64) - 1)


def spearman(a: Sequence[float] | Tensor, b: Sequence[float] | Tensor) -> float:
    """Spearman's rank correlation: the Pearson correlation of the (average) ranks; 0 if either is constant."""
    ra, rb = average_ranks(a), average_ranks(b)
    if ra.shape != rb.shape:
        raise ValueError(
            f"spearman needs two sequences of one length, got {tuple(ra.shape)} and {tuple(rb.shape)}"
        )
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = float(ra.norm() * rb.norm())
    return float((ra * rb).sum()) / denominator if denominator > 0 else 0.0
