"""The Goldilocks zone: curvature at initialization against the weights' scale (UDL section 20.3.4; Fort &
Scherlis, 2019).

Protocol: an MLP 40-``hidden``-10 (ReLU, zero biases) is initialized with He weights (UDL eq. 7.32) and all weights
multiplied by a factor s from the log-spaced grid ``scales`` (s = 1 is He; the norm of a Xavier initialization is
s = √(Σ 2n_l/(D_in+D_out) / Σ 2n_l/D_in) over the layers' n_l = D_in·D_out weights). At each scale the
cross-entropy on ``examples`` MNIST-1D training examples is viewed through a random ``subspace``-dimensional
orthonormal subspace P (``udl.functional.random_subspace``): the projected Hessian PᵀHP
(``udl.functional.projected_hessian``, ``subspace`` Hessian-vector products with ``torch.func``) gives the
fraction of positive eigenvalues and Fort & Scherlis' Tr(PᵀHP)/‖PᵀHP‖_F; ``seeds`` initializations and subspaces.

The zone is the range of scales where the seed-mean fraction of positive eigenvalues is at least halfway from
its minimum to its maximum over the grid. Claim: He's and Xavier's scales lie in the zone, and the peak is inside
the grid (a peak at the grid's edge is not established: the zone may continue beyond it). Check: vᵀHv from the
Hessian-vector product equals the second derivative of the loss along v by forward-over-forward differentiation.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import jvp
from torch.nn.utils import parameters_to_vector

from udl.checks import in_range
from udl.data import MNIST1DConfig, load_mnist1d
from udl.functional import flat_loss, hessian_vector_product, projected_hessian, random_subspace
from udl.nn import MLP
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict

CHAPTER = 20
SECTION = "20.3.4"
SUMMARY = "Curvature at initialization peaks at the weight scale of He and Xavier initialization"
CONTEXT = (
    "Section 20.3.4: Fort & Scherlis (2019) found that the loss surface at initialization is most convex "
    "(most positive Hessian eigenvalues in a random subspace, largest Tr(H)/‖H‖) in a shell of weight norms — the "
    "Goldilocks zone — which is where the standard He and Xavier initializations put the weights, and that "
    "training succeeds from there."
)


@dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...] = (100, 100)
    """hidden-layer widths"""
    scales: tuple[float, ...] = tuple(round(10 ** (k / 4), 4) for k in range(-6, 7))
    """weight scale factors s (s = 1: He), increasing"""
    subspace: int = 40
    """dimension of the random subspace"""
    examples: int = 1000
    """MNIST-1D training examples in the loss"""
    seeds: int = 3
    """initializations (and subspaces) per scale"""
    seed: int = 0
    """first seed"""

    def __post_init__(self) -> None:
        in_range(self, scales=(0, 1e3))
        if len(self.scales) < 3 or any(b <= a for a, b in zip(self.scales, self.scales[1:], strict=False)):
            raise ValueError(f"scales must be >= 3 increasing positive factors, got {self.scales}")
        if min(self.scales) <= 0 or self.subspace < 2 or self.examples < 10 or self.seeds < 1:
            raise ValueError("need scales > 0, subspace >= 2, examples >= 10 and seeds >= 1")
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be >= 1, got {self.hidden}")


PRESETS = {
    "smoke": Config(hidden=(32,), scales=(0.3, 1.0, 3.0), subspace=6, examples=200, seeds=1),
    "quick": Config(),
    "full": Config(
        hidden=(200, 200), scales=tuple(round(10 ** (k / 8), 4) for k in range(-12, 13)), seeds=10
    ),
}


def goldilocks_verdict(
    scales: Sequence[float], measure: Sequence[float], targets: Sequence[float]
) -> Verdict:
    """The ``targets`` (He and Xavier scales) lie in the zone where ``measure`` is at least halfway from its minimum
    to its maximum over the increasing ``scales``; not established if the maximum is at the grid's edge."""
    if len(scales) != len(measure) or len(scales) < 3:
        raise ValueError("need one measurement per scale, at least three")
    lo, hi = min(measure), max(measure)
    zone = [s for s, m in zip(scales, measure, strict=True) if m >= lo + 0.5 * (hi - lo)]
    peak = max(range(len(measure)), key=measure.__getitem__)
    if not all(min(zone) <= t <= max(zone) for t in targets) or hi == lo:
        return Verdict.FAILS
    return Verdict.NOT_ESTABLISHED if peak in (0, len(measure) - 1) else Verdict.HOLDS


def xavier_scale(widths: Sequence[int]) -> float:
    """‖θ_Xavier‖ / ‖θ_He‖ in expectation for the weight matrices of an MLP with ``widths`` (D_i, ..., D_o)."""
    pairs = list(itertools.pairwise(widths))
    return math.sqrt(sum(2 * a * b / (a + b) for a, b in pairs) / sum(2 * b for _, b in pairs))


def run(cfg: Config, run: Run) -> None:
    data = load_mnist1d(MNIST1DConfig())
    x, y = data.x_train[: cfg.examples].double(), data.y_train[: cfg.examples]
    widths = (40, *cfg.hidden, 10)
    positive = torch.zeros(len(cfg.scales), cfg.seeds, dtype=torch.float64)
    trace_ratio = torch.zeros_like(positive)
    check_error = 0.0
    with run.progress(len(cfg.scales) * cfg.seeds, "scales × seeds") as bar:
        for j in range(cfg.seeds):
            g = torch.Generator().manual_seed(cfg.seed + j)
            model = MLP(40, cfg.hidden, 10, init="he", generator=g, dtype=torch.float64)
            he = parameters_to_vector(model.parameters()).detach()
            basis = random_subspace(he.numel(), cfg.subspace, generator=g, dtype=torch.float64)
            f = flat_loss(model, nn.functional.cross_entropy, x, y)
            for i, s in enumerate(cfg.scales):
                theta = he * s  # the biases are zero: scaling θ scales the weights
                hp = projected_hessian(f, theta, basis)
                ev = torch.linalg.eigvalsh(hp)
                positive[i, j] = float((ev > 0).double().mean())
                trace_ratio[i, j] = float(torch.trace(hp) / torch.linalg.matrix_norm(hp))
                if i == len(cfg.scales) // 2:
                    v = basis[:, 0]
                    vhv = float(v @ hessian_vector_product(f, theta, v))
                    second = float(jvp(lambda t: jvp(f, (t,), (v,))[1], (theta,), (v,))[1])  # noqa: B023
                    check_error = max(check_error, abs(vhv - second) / max(1.0, abs(second)))
                run.log(
                    j * len(cfg.scales) + i + 1,
                    scale=s,
                    positive_fraction=float(positive[i, j]),
                    trace_over_norm=float(trace_ratio[i, j]),
                )
                bar.update(j * len(cfg.scales) + i + 1)
    run.check(
        "hvp-equals-second-directional-derivative",
        "vᵀ(Hv) from the Hessian-vector product equals d²L(θ + tv)/dt² by forward-over-forward differentiation "
        "(relative error)",
        error=check_error,
        tolerance=1e-8,
    )
    mean_positive = positive.mean(1).tolist()
    mean_ratio = trace_ratio.mean(1).tolist()
    targets = {"He": 1.0, "Xavier": xavier_scale(widths)}
    run.claim(
        "init-scales-in-goldilocks-zone",
        f"He (s = 1) and Xavier (s = {targets['Xavier']:.3f}) scales lie in the zone where the fraction of positive "
        f"eigenvalues of a {cfg.subspace}-dimensional random projection of the Hessian is at least halfway to its "
        f"peak, and the peak is inside the grid ({cfg.seeds} seeds)",
        holds=goldilocks_verdict(list(cfg.scales), mean_positive, list(targets.values())),
        measured={
            "positive_fraction": dict(
                zip(map(str, cfg.scales), [round(m, 4) for m in mean_positive], strict=True)
            ),
            "trace_over_norm": dict(
                zip(map(str, cfg.scales), [round(m, 4) for m in mean_ratio], strict=True)
            ),
        },
        expected="He and Xavier inside the zone; an interior peak",
    )
    run.summary(
        scales=list(cfg.scales), positive_fraction=mean_positive, trace_over_norm=mean_ratio, **targets
    )

    fig, axes = subplots(1, 2, width=4.5)
    for ax, values, label in (
        (axes[0, 0], positive, "fraction of positive eigenvalues"),
        (axes[0, 1], trace_ratio, "Tr(PᵀHP) / ‖PᵀHP‖_F"),
    ):
        spread = (
            values.std(1).nan_to_num() if cfg.seeds > 1 else torch.zeros(len(cfg.scales), dtype=torch.float64)
        )
        ax.errorbar(cfg.scales, values.mean(1), yerr=spread, fmt="o-", capsize=3)
        for name, s in targets.items():
            ax.axvline(s, ls=":", color="C3" if name == "He" else "C2", label=name)
        ax.set(xscale="log", xlabel="weight scale s (× He)", ylabel=label)
        ax.legend(fontsize=8)
    run.figure("goldilocks-zone", fig)
