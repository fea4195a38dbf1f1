"""The experiment helpers shared within a chapter: _generative's GAN optimizers and training run, VAERecipe.presets,
ch12/_lm's language-model pre-training on text windows, ch13/_node's node-classification protocol."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace
from typing import Any

import torch
from torch import Tensor, nn

from udl.experiments._generative import gan_adams, train_gan
from udl.experiments._vae import VAERecipe
from udl.experiments.ch12._lm import train_on_windows
from udl.experiments.ch13._node import node_test_accuracy
from udl.experiments.ch17 import vae_digits, vae_mnist1d
from udl.graph import GCN, fit_node_classifier
from udl.graph.datasets import karate_club


def test_gan_adams_use_dcgan_betas_for_both_networks() -> None:
    gen, disc = nn.Linear(2, 3), nn.Linear(3, 1)
    g_opt, d_opt = gan_adams(gen, disc, 2e-4)
    for opt, net in ((g_opt, gen), (d_opt, disc)):
        (group,) = opt.param_groups
        assert group["lr"] == 2e-4 and group["betas"] == (0.5, 0.999)
        assert {id(p) for p in group["params"]} == {id(p) for p in net.parameters()}


def test_train_gan_steps_both_networks_on_shuffled_batches() -> None:
    gen, disc = nn.Linear(2, 3), nn.Linear(3, 1)
    seen: list[Tensor] = []

    def make_step(g: nn.Module, d: nn.Module, g_update: Any, d_update: Any, *, scale: float) -> Any:
        assert g is gen and d is disc

        def step(batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
            seen.append(batch[0])
            d_update(scale * d(g(batch[0])).pow(2).mean())
            g_update(-scale * d(g(batch[0])).mean())
            return {"loss": torch.tensor(float(len(seen)))}

        return step

    before = [p.detach().clone() for p in (*gen.parameters(), *disc.parameters())]
    x = torch.arange(16.0).reshape(8, 2)
    cfg = SimpleNamespace(steps=5, lr=1e-3, batch_size=4)
    noise = torch.Generator().manual_seed(0)
    result = train_gan(
        partial(make_step, scale=1.0), (x,), gen, disc, cfg, noise, run=None, name="gan", log_every=5
    )
    assert len(seen) == 5 and result.steps == 5
    assert result.history[-1]["loss"] == 3.0  # the mean of 1..5
    assert all(b.shape == (4, 2) for b in seen)
    assert sorted(torch.cat(seen[:2])[:, 0].tolist()) == x[:, 0].tolist()  # epoch 0: every row once
    after = [*gen.parameters(), *disc.parameters()]
    assert all(not torch.equal(b, a) for b, a in zip(before, after, strict=True))


def test_vae_presets_are_the_experiments_presets() -> None:
    presets = VAERecipe.presets()
    assert set(presets) == {"smoke", "quick", "full"}
    assert presets["quick"] == VAERecipe()
    assert presets["smoke"].seeds == 1 and presets["full"].iwae_k == 1000
    for module in (vae_digits, vae_mnist1d):
        assert all(type(c) is module.Config for c in module.PRESETS.values())
        assert module.PRESETS["smoke"].steps == presets["smoke"].steps


class _Bigram(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Embedding(256, 256)

    def forward(self, ids: Tensor) -> Tensor:
        return self.table(ids)


def test_train_on_windows_trains_on_shifted_windows() -> None:
    torch.manual_seed(0)
    model = _Bigram()
    before = model.table.weight.detach().clone()
    text = torch.randint(0, 256, (200,))
    shapes: list[tuple[int, ...]] = []

    def loss(windows: Tensor) -> Tensor:
        shapes.append(tuple(windows.shape))
        logits = model(windows[:, :-1])
        return nn.functional.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten())

    cfg = SimpleNamespace(steps=6, lr=1e-2, batch_size=4, context=8)
    result = train_on_windows(
        model,
        loss,
        text,
        cfg,
        window=9,
        shift=3,
        generator=torch.Generator().manual_seed(1),
        run=None,
        name="lm",
    )
    assert result.steps == 6 and len(shapes) == 6
    assert all(s == (4, 9) for s in shapes)
    assert model.training
    assert not torch.equal(before, model.table.weight)


def test_node_test_accuracy_is_the_protocols_fit() -> None:
    graph = karate_club(torch.Generator().manual_seed(0))
    cfg = SimpleNamespace(epochs=5, lr=0.01, patience=2)
    assert graph.x is not None
    accuracies = []
    for protocol in (True, False):
        torch.manual_seed(0)
        model = GCN(graph.x.shape[1], 4, 2)
        if protocol:
            accuracies.append(node_test_accuracy(model, graph, cfg, None, "gcn"))
        else:
            fitted = fit_node_classifier(model, graph, epochs=5, lr=0.01, patience=2, name="gcn")
            accuracies.append(fitted.test_accuracy)
    assert accuracies[0] == accuracies[1]
    assert 0.0 <= accuracies[0] <= 1.0
