"""Winning lottery tickets by iterative magnitude pruning with rewind (UDL section 20.4.3, notebook 20.3; Frankle &
Carbin, 2019).

Protocol: an MLP 40-``hidden``-10 (ReLU, He init) is trained on MNIST-1D with notebook 8.1's recipe
(``udl.experiments._mnist1d``). Then, for ``rounds`` rounds, the fraction ``amount`` of each layer's remaining
weights with the smallest trained magnitude is pruned (``udl.nn.magnitude_masks``; every layer at the same rate,
biases kept), the survivors are **rewound** to their initial values (``udl.nn.rewind``) and trained again with the
same recipe and batch order: the masked network at round r keeps (1 − amount)^r of the weights. The control: the
same masks on a **fresh** random initialization (seed + ``control_offset``), trained alike. ``seeds`` runs.

Claims at the moderate sparsity of round ``moderate_round``: the winning ticket's test error matches the dense
network's (it is not worse by more than 2 SE, paired by seed; with one seed: not established), and the fresh-init
control does worse than the ticket (mean difference > 2 SE) — the control is what makes it a claim about the
initialization and not only about the mask. Nothing is selected: the rounds, rates and epochs are fixed in
advance and the test set only reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from udl.checks import in_range
from udl.experiments._mnist1d import (
    MNIST1DRecipe,
    classifier_evaluator,
    load_split,
    seed_range,
    train_classifier,
)
from udl.nn import MLP, magnitude_masks, mask_sparsity, rewind
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Comparison, Verdict, paired_difference

CHAPTER = 20
SECTION = "20.4.3"
SUMMARY = "Pruned sub-networks rewound to their initial weights train as well as the dense net; re-initialized, worse"
CONTEXT = (
    "Section 20.4.3: a trained network can be pruned heavily; the lottery ticket hypothesis (Frankle & Carbin, "
    "2019) says that a sub-network found by iterative magnitude pruning, reset to its original initial weights, "
    "trains to the dense network's accuracy, while the same sub-network with a new random initialization does not. "
    "Notebook 20.3 reproduces this on MNIST-1D."
)


@dataclass(frozen=True)
class Config(MNIST1DRecipe):
    hidden: tuple[int, ...] = (100, 100)
    """hidden-layer widths"""
    rounds: int = 8
    """pruning rounds after the dense run"""
    amount: float = 0.2
    """fraction of each layer's remaining weights pruned per round (Frankle & Carbin: 0.2)"""
    moderate_round: int = 5
    """the round whose sparsity the claims judge, 1 <= moderate_round <= rounds (0.8^5: 33% of the weights left)"""
    control_offset: int = 1000
    """the control's fresh initialization uses seed + control_offset"""
    checkpoint_every: int = 50
    """epochs between checkpoints"""

    def __post_init__(self) -> None:
        super().__post_init__()
        in_range(self, amount=(0, 1))
        if not 0 < self.amount < 1 or self.rounds < 1 or not 1 <= self.moderate_round <= self.rounds:
            raise ValueError("need 0 < amount < 1, rounds >= 1 and 1 <= moderate_round <= rounds")
        if self.control_offset < self.seeds or any(h < 1 for h in self.hidden):
            raise ValueError("control_offset must be >= seeds (fresh seeds) and hidden widths >= 1")


PRESETS = {
    "smoke": Config(hidden=(32,), epochs=2, num_samples=600, rounds=2, moderate_round=1, seeds=1),
    "quick": Config(epochs=15, step_size=5, rounds=5, amount=0.3, moderate_round=4, seeds=3),
    "full": Config(seeds=5),
}


def ticket_verdict(ticket_error: Sequence[float], dense_error: Sequence[float]) -> tuple[Verdict, Comparison]:
    """The ticket matches the dense net: fails if its test error exceeds the dense one's by more than 2 SE
    (paired by seed), not established with one seed, holds otherwise."""
    c = paired_difference(ticket_error, dense_error)
    if c.verdict is Verdict.HOLDS:
        return Verdict.FAILS, c
    if c.n < 2:
        return Verdict.NOT_ESTABLISHED, c
    return Verdict.HOLDS, c


def control_verdict(
    control_error: Sequence[float], ticket_error: Sequence[float]
) -> tuple[Verdict, Comparison]:
    """The fresh-init control's test error exceeds the ticket's (paired by seed, > 2 SE)."""
    c = paired_difference(control_error, ticket_error)
    return c.verdict, c


def run(cfg: Config, run: Run) -> None:
    split = load_split(cfg, run.device)
    train = (split.x_train, split.y_train)
    evaluate = classifier_evaluator(train, (split.x_test, split.y_test))
    seeds = list(seed_range(cfg))
    errors = {arm: torch.zeros(cfg.rounds + 1, cfg.seeds) for arm in ("ticket", "control")}
    kept = [1.0]
    leak = 0.0  # largest |weight| at a pruned position after training (must stay 0)

    def trained(seed: int, init_seed: int, masks: list[Tensor] | None, name: str) -> tuple[MLP, float]:
        model = MLP(40, cfg.hidden, 10, generator=torch.Generator().manual_seed(init_seed), device=run.device)
        if masks is not None:
            rewind(model, {k: v.clone() for k, v in model.state_dict().items()}, model.linears, masks)
        g = torch.Generator().manual_seed(seed)  # the batch order: the same for ticket, control and dense
        history = train_classifier(
            model, cfg, train, run=run, name=name, generator=g, evaluate=evaluate
        ).history
        return model, history[-1]["test_error"]

    masks: list[Tensor] | None = None
    with run.progress(cfg.seeds * (2 * cfg.rounds + 1), "trainings") as bar:
        for j, s in enumerate(seeds):
            model, errors["ticket"][0, j] = trained(s, s, None, f"seed{s}_dense")
            errors["control"][0, j] = errors["ticket"][0, j]
            masks = None
            for r in range(1, cfg.rounds + 1):
                masks = magnitude_masks([layer.weight.detach() for layer in model.linears], cfg.amount, masks)
                model, errors["ticket"][r, j] = trained(s, s, masks, f"seed{s}_round{r}_ticket")
                for layer, mask in zip(model.linears, masks, strict=True):
                    leak = max(leak, float(layer.weight.detach().abs().masked_fill(mask, 0).max()))
                _, errors["control"][r, j] = trained(
                    s, s + cfg.control_offset, masks, f"seed{s}_round{r}_control"
                )
                if j == 0:
                    kept.append(1 - mask_sparsity(masks))
                bar.update(j * (2 * cfg.rounds + 1) + 2 * r + 1)
    for r in range(cfg.rounds + 1):
        run.log(r, weights_kept=kept[r], **{f"{a}_test_error": float(e[r].mean()) for a, e in errors.items()})
    run.check(
        "pruned-weights-stay-zero",
        "Training a masked network leaves every pruned weight at exactly zero",
        error=leak,
        tolerance=0.0,
    )
    expected_kept = (1 - cfg.amount) ** cfg.rounds
    run.check(
        "sparsity-compounds",
        f"After {cfg.rounds} rounds of pruning {cfg.amount:g} of the rest, (1 − {cfg.amount:g})^{cfg.rounds} of the "
        "weights remain (up to rounding per layer)",
        error=abs(kept[-1] - expected_kept),
        tolerance=0.01,
    )

    m = cfg.moderate_round
    dense = errors["ticket"][0].tolist()
    verdict, c = ticket_verdict(errors["ticket"][m].tolist(), dense)
    run.claim(
        "ticket-matches-dense",
        f"With {100 * kept[m]:.1f}% of the weights (round {m}), the rewound ticket's test error is not worse than the "
        f"dense network's (paired over {cfg.seeds} seeds; worse by > 2 SE fails)",
        holds=verdict,
        measured={"ticket_minus_dense": c.to_json(), "described": c.describe(digits=4)},
        expected="ticket − dense ≤ 2 SE",
    )
    verdict, c = control_verdict(errors["control"][m].tolist(), errors["ticket"][m].tolist())
    run.claim(
        "fresh-init-control-worse",
        f"The same masks ({100 * kept[m]:.1f}% of the weights) with a fresh random initialization give a higher test "
        f"error than the ticket (paired over {cfg.seeds} seeds, > 2 SE)",
        holds=verdict,
        measured={"control_minus_ticket": c.to_json(), "described": c.describe(digits=4)},
        expected="control − ticket > 2 SE",
    )
    run.summary(weights_kept=kept, **{f"{a}_test_error": e.mean(1).tolist() for a, e in errors.items()})

    fig, axes = subplots(1, 1, width=5.0)
    ax = axes[0, 0]
    percent = [100 * k for k in kept]
    for arm, color in (("ticket", "C0"), ("control", "C3")):
        e = 100 * errors[arm].double()
        spread = e.std(1).nan_to_num() if cfg.seeds > 1 else torch.zeros(len(kept), dtype=torch.float64)
        label = "rewound to its initialization" if arm == "ticket" else "same mask, fresh initialization"
        ax.errorbar(percent, e.mean(1), yerr=spread, fmt="o-", color=color, capsize=3, label=label)
    ax.axhline(100 * float(errors["ticket"][0].mean()), color="k", ls=":", label="dense")
    ax.set(
        xscale="log",
        xlabel="weights remaining (%)",
        ylabel="test error (%)",
        title="Iterative magnitude pruning",
    )
    ax.invert_xaxis()
    ax.legend(fontsize=8)
    run.figure("lottery-ticket", fig)
