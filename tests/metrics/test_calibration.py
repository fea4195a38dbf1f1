"""Expected calibration error and reliability bins against a brute-force per-bin loop in plain Python and
hand-computed cases (a bin edge included)."""

from __future__ import annotations

import pytest
import torch

from reference import F64, gen
from udl.metrics import expected_calibration_error, reliability_bins


def _logits_and_labels(seed: int, n: int = 64, k: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    g = gen(seed)
    logits = 4.0 * torch.randn(n, k, generator=g, dtype=F64)
    return logits, torch.randint(0, k, (n,), generator=g)


# -- expected calibration error ----------------------------------------------------------------------------------
def _brute_force_ece(probs: torch.Tensor, y: torch.Tensor, n_bins: int) -> float:
    conf = probs.max(1).values.tolist()
    pred = probs.argmax(1).tolist()
    labels = y.tolist()
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = [i for i, c in enumerate(conf) if (lo < c <= hi) or (b == 0 and c == 0.0)]
        if not members:
            continue
        acc = sum(pred[i] == labels[i] for i in members) / len(members)
        mean_conf = sum(conf[i] for i in members) / len(members)
        total += len(members) / len(conf) * abs(acc - mean_conf)
    return total


@pytest.mark.parametrize("n_bins", [1, 5, 15, 40])
@pytest.mark.parametrize("seed", range(4))
def test_ece_matches_brute_force(n_bins: int, seed: int) -> None:
    logits, y = _logits_and_labels(seed, n=300, k=6)
    probs = torch.softmax(logits * (0.2 + seed), dim=1)  # from near-uniform to very confident
    ours = float(expected_calibration_error(probs, y, n_bins))
    assert ours == pytest.approx(_brute_force_ece(probs, y, n_bins), abs=1e-14)


def test_ece_hand_cases() -> None:
    # four examples, confidence 0.9 each, three right: one bin, |0.75 − 0.9| = 0.15
    probs = torch.tensor([[0.9, 0.1]] * 4, dtype=F64)
    y = torch.tensor([0, 0, 0, 1])
    assert float(expected_calibration_error(probs, y, 10)) == pytest.approx(0.15, abs=1e-15)
    # perfectly calibrated: confidence 0.5 (a tie, argmax picks class 0) and half right
    probs = torch.tensor([[0.5, 0.5]] * 4, dtype=F64)
    assert float(expected_calibration_error(probs, torch.tensor([0, 1, 0, 1]), 10)) == pytest.approx(
        0, abs=1e-15
    )
    # two bins: 0.6 (right) → |1 − 0.6| and 1.0 (wrong) → |0 − 1|, weights 1/2 each
    probs = torch.tensor([[0.6, 0.4], [0.0, 1.0]], dtype=F64)
    assert float(expected_calibration_error(probs, torch.tensor([0, 0]), 5)) == pytest.approx(0.7, abs=1e-15)
    # a confidence on an edge (0.6 = 3/5) falls in the bin (2/5, 3/5], as in (lo, hi]
    bins = reliability_bins(torch.tensor([[0.6, 0.4]], dtype=F64), torch.tensor([0]), 5)
    assert bins.counts.tolist() == [0, 0, 1, 0, 0]
    assert bins.confidence[2] == 0.6 and bins.accuracy[2] == 1.0


def test_reliability_bins_partition_the_examples() -> None:
    logits, y = _logits_and_labels(9, n=200, k=3)
    probs = torch.softmax(logits, 1)
    bins = reliability_bins(probs, y, 10)
    assert int(bins.counts.sum()) == 200
    overall = float((bins.counts * bins.accuracy).sum() / 200)
    assert overall == pytest.approx(float((probs.argmax(1) == y).double().mean()), abs=1e-14)
    assert torch.all(bins.confidence[bins.counts > 0] > bins.edges[:-1][bins.counts > 0])
    assert torch.all(bins.confidence <= bins.edges[1:])


def test_ece_bad_input() -> None:
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(torch.ones(2, 2) / 2, torch.tensor([0, 1]), 0)
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        expected_calibration_error(torch.ones(2, 2) / 2, torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error(torch.tensor([[2.0, -1.0]]), torch.tensor([0]))
