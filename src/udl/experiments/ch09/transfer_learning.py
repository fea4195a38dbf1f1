"""Transfer learning on MNIST-1D: pre-train on a plentiful variant, replace the head, adapt to a few hundred
examples of another variant (UDL section 9.3.7).

Section 9.3.7: when labelled data for the primary task are scarce, a network is first trained on a related
secondary task with plentiful data; then its last layer is removed and a new output layer added, and either only
the new layer is trained (the pre-trained part fixed) or the whole model is fine-tuned. The pre-trained layers
act as a good initialization / representation, so the primary task needs fewer examples.

Protocol.
- Source task: an MNIST-1D variant with ``source_samples`` examples generated with other parameters (more scale
  variation, less correlated noise, more i.i.d. noise, less shear, another seed). Target task: the book's
  MNIST-1D (seed 42), of which only ``n`` training examples are used, for each n in ``target_sizes``; the 1000
  target test examples measure accuracy.
- Network: the book's MNIST-1D MLP 40-100-100-10 (notebook 8.1), ReLU, He initialization, Adam.
- Pre-training: ``pretrain_epochs`` epochs on the source training split (``udl.train.fit``, checkpointed).
- For each n and seed, on the same random n target examples:
  * scratch: a fresh MLP trained on the n examples;
  * fine-tune: the pre-trained MLP with its head replaced (``udl.nn.replace_head``, a fresh He-initialized
    Linear(100, 10)), all weights trained with the same recipe as scratch;
  * frozen trunk: the pre-trained trunk fixed, only a new linear head fitted — an L2-regularized multinomial
    logistic regression on the trunk's features (``udl.train.linear_probe``, L-BFGS to convergence).
  Scratch and fine-tune take the same number of Adam steps: whole epochs of mini-batches of ``batch_size``, at
  least ``finetune_steps`` steps and ``finetune_min_epochs`` epochs, with no early stopping (there is no
  validation set at these sizes).
  The step budget, the epochs and the probe's L2 penalty are fixed settings, not chosen on the test set.
- Also reported: the pre-trained network's accuracy on the target test set with its original head (zero-shot;
  source and target share the ten digit classes, only the generation parameters differ).
- Claims: fine-tuning, and the frozen trunk, each beat scratch at every size (paired by seed: the seed fixes the
  target subset and the batch order for every method; bar 2 SE at each size, ``udl.stats.paired_difference``).

Findings (quick preset, 5 seeds; target test accuracy at n = 100 / 800): scratch 22.7% / 34.5%, fine-tuned
28.7% / 47.8%, frozen trunk + new linear head 38.4% / 55.4%. Both ways of reusing the pre-trained network beat
scratch at every size, and the full preset (10 seeds, n up to 4000) shows the same ordering everywhere. Keeping
the trunk fixed does better than fine-tuning all weights here, and the pre-trained network with its own source
head (62.4% zero-shot, as source and target share the labels) is better than either at these sizes: re-training
from a fresh random head with the pre-training learning rate loses part of what was learned.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from udl.checks import at_least, in_range
from udl.data import MNIST1DConfig, load_mnist1d
from udl.experiments._recipes import seed_range, spread_sd
from udl.nn import MLP, mlp_trunk, replace_head
from udl.optim import Adam
from udl.report import Run
from udl.report.figures import integer_ticks, subplots
from udl.stats import Comparison, Verdict, all_of, mean_se, paired_difference
from udl.train import classification_metrics, fit, linear_probe

CHAPTER = 9
SECTION = "9.3.6"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "Transfer learning (9.3.7): pre-train on a big MNIST-1D variant, new head, fine-tune vs scratch vs frozen"
)
CONTEXT = (
    "Section 9.3.7: transfer learning pre-trains a network on a related task with plentiful data, removes the last "
    "layer, adds a new output layer and either trains only the new layer or fine-tunes the whole model; with "
    "limited data for the primary task this performs better than training from scratch."
)


@dataclass(frozen=True)
class Config:
    source_samples: int = 10_000
    """examples of the source variant (80% used for pre-training, 20% to report source accuracy)"""
    source_seed: int = 7
    """generation seed of the source variant"""
    source_scale_coeff: float = 0.8
    """source variant: scale variation (target: 0.4)"""
    source_corr_noise_scale: float = 0.1
    """source variant: correlated-noise std (target: 0.25)"""
    source_iid_noise_scale: float = 0.05
    """source variant: i.i.d.-noise std (target: 0.02)"""
    source_shear_scale: float = 0.3
    """source variant: shear scale (target: 0.75)"""
    target_sizes: tuple[int, ...] = (100, 200, 400, 800)
    """numbers of labelled target training examples (each <= 4000, the target training split)"""
    hidden: tuple[int, ...] = (100, 100)
    """hidden widths of the MLP (the book's: 100 100)"""
    pretrain_epochs: int = 20
    """epochs of pre-training on the source"""
    finetune_steps: int = 300
    """at least this many Adam steps for scratch and fine-tune training on the n examples (whole epochs)"""
    finetune_min_epochs: int = 20
    """and at least this many epochs (so large n are not under-trained by the step budget)"""
    batch_size: int = 50
    """mini-batch size on the target"""
    pretrain_batch_size: int = 100
    """mini-batch size on the source"""
    lr: float = 1e-3
    """Adam learning rate (pre-training, scratch and fine-tuning alike)"""
    probe_l2: float = 1e-3
    """L2 penalty of the frozen-trunk linear head (udl.train.linear_probe)"""
    seeds: int = 5
    """target subsets / initializations per size (seeds seed, seed+1, ...)"""
    checkpoint_every: int = 5
    """pre-training epochs between checkpoints"""
    seed: int = 0
    """seed of pre-training, and the first seed of the target runs"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1))
        at_least(self, 100, "source_samples")
        if not self.target_sizes or any(not 10 <= n <= 4000 for n in self.target_sizes):
            raise ValueError(f"target_sizes must be one or more sizes in [10, 4000], got {self.target_sizes}")
        if min(self.pretrain_epochs, self.finetune_steps, self.finetune_min_epochs) < 1:
            raise ValueError("pretrain_epochs, finetune_steps and finetune_min_epochs must be >= 1")
        if min(self.batch_size, self.pretrain_batch_size) < 1:
            raise ValueError("batch_size and pretrain_batch_size must be >= 1")
        if min(self.seeds, self.checkpoint_every) < 1 or self.lr <= 0 or self.probe_l2 <= 0:
            raise ValueError("seeds and checkpoint_every must be >= 1, lr and probe_l2 > 0")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be one or more positive widths, got {self.hidden}")
        # the source variant must itself be a valid MNIST-1D configuration
        self.source_config()

    def source_config(self) -> MNIST1DConfig:
        return MNIST1DConfig(
            num_samples=self.source_samples,
            seed=self.source_seed,
            scale_coeff=self.source_scale_coeff,
            corr_noise_scale=self.source_corr_noise_scale,
            iid_noise_scale=self.source_iid_noise_scale,
            shear_scale=self.source_shear_scale,
        )


PRESETS = {
    "smoke": Config(
        source_samples=1000,
        target_sizes=(50, 100),
        hidden=(32, 32),
        pretrain_epochs=2,
        finetune_steps=10,
        finetune_min_epochs=2,
        seeds=1,
    ),
    "quick": Config(),
    "full": Config(source_samples=40_000, target_sizes=(50, 100, 200, 400, 800, 1600, 4000), seeds=10),
}

METHODS = ("scratch", "fine-tune", "frozen")


def beats_at_every_size(
    a: dict[int, list[float]], b: dict[int, list[float]]
) -> tuple[Verdict, dict[int, Comparison]]:
    """Does method a beat method b at every size n? One paired comparison per n (seeds share the target subset
    and batch order), bar 2 SE each; the verdict is their conjunction."""
    comparisons = {n: paired_difference(a[n], b[n]) for n in a}
    return all_of(*(c.verdict for c in comparisons.values())), comparisons


def run(cfg: Config, run: Run) -> None:
    # -- data: a plentiful source variant and the book's MNIST-1D as the target ------------------------------
    dev = run.device
    source = load_mnist1d(cfg.source_config())
    target = load_mnist1d(MNIST1DConfig())
    xs_train, ys_train = source.x_train.to(dev), source.y_train.to(dev)
    xs_test, ys_test = source.x_test.to(dev), source.y_test.to(dev)
    xt_test, yt_test = target.x_test.to(dev), target.y_test.to(dev)
    d_in = source.x_train.shape[1]

    # -- pre-training on the source ---------------------------------------------------------------------------
    generator = torch.Generator().manual_seed(cfg.seed)
    pretrained = MLP(d_in, cfg.hidden, 10, generator=generator).to(dev)

    def evaluate_source(model: nn.Module) -> dict[str, float]:
        return {
            "source_test_error": classification_metrics(model, xs_test, ys_test)["error"],
            "target_test_error": classification_metrics(model, xt_test, yt_test)["error"],
        }

    pre = fit(
        pretrained,
        nn.functional.cross_entropy,
        Adam(pretrained.parameters(), lr=cfg.lr),
        (xs_train, ys_train),
        epochs=cfg.pretrain_epochs,
        batch_size=cfg.pretrain_batch_size,
        generator=generator,
        evaluate=evaluate_source,
        run=run,
        name="pretrain",
        checkpoint_every=cfg.checkpoint_every,
    )
    pretrained.eval()
    source_accuracy = 100 * (1 - pre.final["source_test_error"])
    zero_shot = 100 * (1 - pre.final["target_test_error"])
    with torch.no_grad():
        trunk = mlp_trunk(pretrained)
        features_test = trunk(xt_test)

    # -- adaptation to n target examples: scratch, fine-tune, frozen trunk -----------------------------------
    def train_on_target(model: MLP, x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> float:
        epochs = max(
            cfg.finetune_min_epochs, math.ceil(cfg.finetune_steps / math.ceil(len(x) / cfg.batch_size))
        )
        optimizer = Adam(model.parameters(), lr=cfg.lr)
        fit(
            model,
            nn.functional.cross_entropy,
            optimizer,
            (x, y),
            epochs=epochs,
            batch_size=cfg.batch_size,
            generator=g,
        )
        return 100 * (1 - classification_metrics(model, xt_test, yt_test)["error"])

    def cell(n: int, seed: int) -> dict[str, float]:
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(target.x_train), generator=g)[:n]
        x, y = target.x_train[idx].to(dev), target.y_train[idx].to(dev)
        scratch = MLP(d_in, cfg.hidden, 10, generator=g).to(dev)
        head = MLP(cfg.hidden[-1], (), 10, generator=g).layers[0]  # a fresh He-initialized Linear(D_K, 10)
        tuned = replace_head(copy.deepcopy(pretrained), head).to(dev)
        with torch.no_grad():
            probe = linear_probe(trunk(x), y, features_test, yt_test, l2=cfg.probe_l2)
        return {
            "scratch": train_on_target(scratch, x, y, torch.Generator().manual_seed(seed)),
            "fine-tune": train_on_target(tuned, x, y, torch.Generator().manual_seed(seed)),
            "frozen": 100 * probe.test_accuracy,
        }

    accuracy: dict[str, dict[int, list[float]]] = {m: {n: [] for n in cfg.target_sizes} for m in METHODS}
    cells = [(n, s) for n in cfg.target_sizes for s in seed_range(cfg)]
    with run.progress(len(cells), "target runs") as bar:
        for i, (n, seed) in enumerate(cells):
            key = f"target_n{n}_seed{seed}"
            saved = run.load_state(key)  # finished cells are kept, so a killed run resumes here
            if saved is None:
                saved = cell(n, seed)
                run.log(i + 1, n=n, seed=seed, **{f"{m}_test_accuracy": saved[m] for m in METHODS})
                run.save_state(key, saved)
            for m in METHODS:
                accuracy[m][n].append(float(saved[m]))
            bar.update(i + 1)

    # -- claims (paired by seed at each size) ----------------------------------------------------------------
    mean = {m: {n: mean_se(a).mean for n, a in by_n.items()} for m, by_n in accuracy.items()}
    std = {m: {n: spread_sd(a) for n, a in by_n.items()} for m, by_n in accuracy.items()}
    sizes = list(cfg.target_sizes)
    for claim_id, method, how in (
        (
            "fine-tune-beats-scratch",
            "fine-tune",
            "Pre-training on the plentiful source, replacing the head and fine-tuning all weights",
        ),
        (
            "frozen-trunk-beats-scratch",
            "frozen",
            "Keeping the pre-trained trunk fixed and training only a new linear head",
        ),
    ):
        verdict, comparisons = beats_at_every_size(accuracy[method], accuracy["scratch"])
        run.claim(
            claim_id,
            f"{how} beats training from scratch on the same few target examples, at every size {sizes} "
            f"(test accuracy, paired, {cfg.seeds} seeds, mean diff > 2 SE at each size)",
            holds=verdict,
            measured={str(n): {**c.to_json(), "gain": c.describe("points")} for n, c in comparisons.items()},
            expected=f"{method} − scratch > 2 SE at every size",
        )
    run.summary(
        source_test_accuracy=source_accuracy,
        zero_shot_target_accuracy=zero_shot,
        **{f"{m}_accuracy_n{n}": v for m, by_n in mean.items() for n, v in by_n.items()},
    )

    # -- figure: accuracy vs number of target examples -------------------------------------------------------
    fig, axes = subplots(1, 2)
    ax = axes[0, 0]
    for m, marker in zip(METHODS, ("o", "s", "^"), strict=True):
        label = {
            "scratch": "from scratch",
            "fine-tune": "pre-trained, fine-tuned",
            "frozen": "pre-trained trunk frozen, new linear head",
        }[m]
        ax.errorbar(
            sizes,
            [mean[m][n] for n in sizes],
            yerr=[std[m][n] for n in sizes],
            marker=marker,
            capsize=3,
            label=label,
        )
    ax.axhline(zero_shot, color="#6b7280", ls="--", lw=1, label="pre-trained, source head (zero-shot)")
    ax.set(
        xscale="log",
        xticks=sizes,
        xticklabels=[str(n) for n in sizes],
        xlabel="labelled target examples",
        ylabel="target test accuracy (%)",
        title=f"Transfer vs scratch (mean ± std, {cfg.seeds} seeds)",
    )
    ax.minorticks_off()
    ax.legend(fontsize=8, loc="lower right")
    ax = axes[0, 1]
    epochs = range(1, len(pre.history) + 1)
    ax.plot(epochs, [100 * (1 - h["source_test_error"]) for h in pre.history], label="source test")
    ax.plot(
        epochs, [100 * (1 - h["target_test_error"]) for h in pre.history], label="target test (source head)"
    )
    ax.set(
        xlabel="pre-training epoch",
        ylabel="accuracy (%)",
        title="Pre-training on the source variant",
        ylim=(0, 100),
    )
    integer_ticks(ax, "x")
    ax.legend(fontsize=8)
    run.figure("transfer-learning", fig)
