"""Monte Carlo dropout as a measure of uncertainty (UDL section 9.3.3; Gal & Ghahramani, 2016).

Protocol. 1D regression with a hole in the training inputs: ``num_train`` = 28 points of the book's
f(x) = exp(sin 2πx) with noise σ = ``noise_std``, half drawn stratified on [0, gap_low] and half on [gap_high, 1]
(``udl.data.regression_1d``), nothing in between. A ReLU network 1-128-128-1 with dropout p = ``p`` on both hidden
layers (``udl.nn.DropoutMLP``, He initialization) is trained on the mean squared error by full-batch Adam
(``udl.train.fit``, one step per epoch) for ``epochs`` steps; ``seeds`` networks (different initializations and
mask streams). Monte Carlo dropout (``udl.nn.mc_dropout_predict``): ``samples`` stochastic passes on a grid over
[−``extent``, 1 + ``extent``], giving a mean and a standard deviation (the spread) at each x.

Regions of the grid: *data*, inside the two training intervals; *gap*, the inside of the hole, farther than
``margin`` from both intervals; *beyond*, farther than ``margin`` outside [0, 1]. Claims: the spread is larger in
the gap and beyond the data than where the data are: the region's mean spread minus the data's, paired by network
over ``seeds`` networks (``udl.stats.paired_difference``, mean difference > 2 SE); the ratios are reported.

What we see besides: the spread is not a clean function of the distance to the data. It also scales with the
size of the hidden activations, so it is several times larger over the left interval (where f is large) than
over the right one, and in the gap it is largest next to the left interval and falls towards the right one.
The claims compare region means; the region extremes are reported with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from udl.checks import in_range
from udl.data import regression_1d, sine_exp_function
from udl.experiments._recipes import seed_range
from udl.nn import DropoutMLP, mc_dropout_predict
from udl.optim import Adam
from udl.report import Run
from udl.report.figures import PALETTE, subplots
from udl.stats import Comparison, paired_difference
from udl.train import fit

CHAPTER = 9
SECTION = "9.3.3.1"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Monte Carlo dropout's spread is larger in a gap between the training data and beyond them (9.3.3)"
CONTEXT = (
    "Section 9.3.3: instead of the weight scaling rule, predictions can be made by running the network many "
    "times with different random dropout masks and combining the results (Monte Carlo dropout). Gal & "
    "Ghahramani (2016) read the spread of these predictions as the model's uncertainty, which should grow away "
    "from the training data."
)


@dataclass(frozen=True)
class Config:
    num_train: int = 28
    """training points, half on each side of the gap"""
    gap: tuple[float, float] = (0.35, 0.65)
    """the interval of [0, 1] left without training inputs"""
    noise_std: float = 0.1
    """noise σ of the targets"""
    hidden: tuple[int, ...] = (128, 128)
    """hidden widths of the network"""
    p: float = 0.1
    """dropout probability of every hidden unit"""
    epochs: int = 2000
    """full-batch Adam steps"""
    lr: float = 0.01
    """Adam learning rate"""
    samples: int = 1000
    """Monte Carlo dropout passes"""
    grid_points: int = 601
    """evaluation points on [−extent, 1 + extent]"""
    extent: float = 0.25
    """how far beyond [0, 1] the grid reaches"""
    margin: float = 0.05
    """grid points this close to the data count as neither 'data' nor 'away' (the edges of the intervals)"""
    seeds: int = 3
    """networks trained (seeds seed, seed+1, ...); the claims pair the regions by network"""
    checkpoint_every: int = 500
    """epochs between checkpoints"""
    seed: int = 0
    """seed for the data, the initializations, the dropout masks and the Monte Carlo passes"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1), extent=(0, 100))
        in_range(self, closed_low=True, noise_std=(0, 10))
        low, high = self.gap
        if not 0 < low < high < 1:
            raise ValueError(f"gap must satisfy 0 < low < high < 1, got {self.gap}")
        if not (2 * self.margin < high - low and self.margin < self.extent):
            raise ValueError(
                "need 2 * margin < the gap's width and margin < extent, so every region is non-empty"
            )
        if not 0 < self.p < 1:
            raise ValueError(f"p must lie in (0, 1), got {self.p}")
        if self.num_train < 2 or not self.hidden or min(self.hidden) < 1:
            raise ValueError("need num_train >= 2 and hidden widths >= 1")
        if min(self.epochs, self.samples, self.seeds, self.checkpoint_every) < 1 or self.grid_points < 10:
            raise ValueError("epochs, samples, seeds, checkpoint_every must be >= 1 and grid_points >= 10")
        if self.noise_std < 0 or self.lr <= 0 or self.margin <= 0:
            raise ValueError("need noise_std >= 0, lr > 0 and margin > 0")


PRESETS = {
    "smoke": Config(hidden=(16, 16), epochs=20, samples=20, grid_points=61, seeds=1, checkpoint_every=10),
    "quick": Config(),
    "full": Config(epochs=4000, samples=5000, seeds=5),
}


def spread_larger(region_spread: list[float], data_spread: list[float]) -> Comparison:
    """The mean spread over a region exceeds that over the data, paired by network (one value per network)."""
    return paired_difference(region_spread, data_spread)


def run(cfg: Config, run: Run) -> None:
    # -- data: two intervals with a hole between them ---------------------------------------------------------
    generator = torch.Generator().manual_seed(cfg.seed)
    low, high = cfg.gap
    half = cfg.num_train // 2
    left = regression_1d(
        half, noise_std=cfg.noise_std, x_range=(0.0, low), sampling="stratified", generator=generator
    )
    right = regression_1d(
        cfg.num_train - half,
        noise_std=cfg.noise_std,
        x_range=(high, 1.0),
        sampling="stratified",
        generator=generator,
    )
    dev = run.device
    x = torch.cat([left[0], right[0]]).to(dev)  # (N, 1)
    y = torch.cat([left[1], right[1]]).to(dev)
    grid = torch.linspace(-cfg.extent, 1 + cfg.extent, cfg.grid_points, device=dev).unsqueeze(1)  # (G, 1)
    g = grid.squeeze(1).cpu()
    regions = {
        "data": ((g >= 0) & (g <= low)) | ((g >= high) & (g <= 1)),
        "gap": (g > low + cfg.margin) & (g < high - cfg.margin),
        "beyond": (g < -cfg.margin) | (g > 1 + cfg.margin),
    }

    # -- models, training and Monte Carlo dropout, one network per seed ---------------------------------------
    predictions = []
    for seed in seed_range(cfg):
        model = DropoutMLP(
            1,
            cfg.hidden,
            1,
            p=cfg.p,
            generator=torch.Generator().manual_seed(seed),
            dropout_generator=torch.Generator(device=dev).manual_seed(10_000 + seed),
        ).to(dev)
        history = fit(
            model,
            nn.functional.mse_loss,
            Adam(model.parameters(), lr=cfg.lr),
            (x, y),
            epochs=cfg.epochs,
            batch_size=len(x),
            generator=torch.Generator().manual_seed(seed),
            run=run,
            name=f"seed{seed}",
            checkpoint_every=cfg.checkpoint_every,
        ).history
        pred = mc_dropout_predict(
            model, grid, cfg.samples, torch.Generator(device=dev).manual_seed(20_000 + seed)
        )
        predictions.append((pred.mean.squeeze(1).cpu(), pred.std.squeeze(1).cpu(), history[-1]["loss"]))

    # -- claims -----------------------------------------------------------------------------------------------
    truth = sine_exp_function(grid).squeeze(1).cpu()
    spread = {name: [float(std[mask].mean()) for _, std, _ in predictions] for name, mask in regions.items()}
    ratio = {
        name: [a / d for a, d in zip(spread[name], spread["data"], strict=True)] for name in ("gap", "beyond")
    }
    for i, (mean, _, loss) in enumerate(predictions):
        run.log(
            i,
            final_train_loss=loss,
            mse_to_truth_on_data=float((mean - truth)[regions["data"]].pow(2).mean()),
            **{f"spread_{name}": spread[name][i] for name in regions},
        )
    for name, where in (
        ("gap", f"in the gap ({low:g}, {high:g}) between the training inputs"),
        ("beyond", "beyond the training inputs (outside [0, 1])"),
    ):
        larger = spread_larger(spread[name], spread["data"])
        run.claim(
            f"spread-larger-{name}",
            f"Monte Carlo dropout's predictive spread is larger {where} than where the data are "
            f"(mean standard deviation over the region minus over the data, paired by network over {cfg.seeds} "
            "networks, mean difference > 2 SE)",
            holds=larger.verdict,
            measured={
                **larger.to_json(),
                "described": larger.describe(digits=4),
                "ratio_per_network": [round(r, 3) for r in ratio[name]],
                f"spread_{name}": [round(s, 4) for s in spread[name]],
                "spread_data": [round(s, 4) for s in spread["data"]],
                "largest_spread_on_data": round(
                    max(float(std[regions["data"]].max()) for _, std, _ in predictions), 4
                ),
                f"smallest_spread_{name}": round(
                    min(float(std[regions[name]].min()) for _, std, _ in predictions), 4
                ),
            },
            expected="region − data > 2 SE (paired by network)",
        )
    run.summary(**{f"min_ratio_{name}": min(r) for name, r in ratio.items()}, noise_std=cfg.noise_std)

    # -- figure: mean ± 2 spreads with the data (first network), and the spread of every network ----------------
    fig, axes = subplots(1, 2, width=5.4)
    mean, std, _ = predictions[0]
    ax = axes[0, 0]
    ax.axvspan(low, high, color="#6b7280", alpha=0.12, label="gap (no data)")
    ax.fill_between(g, mean - 2 * std, mean + 2 * std, color=PALETTE[0], alpha=0.25, label="mean ± 2 std")
    ax.plot(g, truth, color="black", linewidth=1.5, label="true f(x)")
    ax.plot(g, mean, color=PALETTE[0], linewidth=2, label=f"MC dropout mean ({cfg.samples} passes)")
    ax.plot(
        x.squeeze(1).cpu(), y.squeeze(1).cpu(), "o", color=PALETTE[1], markersize=4, label="training data"
    )
    ax.set(xlabel="input x", ylabel="output y", title=f"Monte Carlo dropout, p = {cfg.p:g}")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    ax.axvspan(low, high, color="#6b7280", alpha=0.12)
    for i, (_, s, _) in enumerate(predictions):
        ax.plot(g, s, linewidth=1.2, label=f"network {i + 1}: gap / data {ratio['gap'][i]:.2f}")
    ax.plot(
        x.squeeze(1).cpu(), torch.zeros(len(x)), "|", color="black", markersize=10, label="training inputs"
    )
    ax.axhline(cfg.noise_std, color="black", linestyle=":", linewidth=1, label="noise σ")
    ax.set(xlabel="input x", ylabel="standard deviation of the passes", title="Spread of the predictions")
    ax.legend(fontsize=7)
    run.figure("mc-dropout", fig)
