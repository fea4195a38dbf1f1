"""Synthetic sequence tasks: each target checked against Python's own operation on the decoded symbols."""

from __future__ import annotations

import pytest
import torch

from udl.data import SEQUENCE_TASKS, exact_match, sequence_task, sequence_vocab_size
from udl.data.sequences import BOS, EOS, FIRST_SYMBOL, SEP


def _symbols(row: torch.Tensor) -> list[int]:
    return [t - FIRST_SYMBOL for t in row.tolist() if t >= FIRST_SYMBOL]


@pytest.mark.parametrize("name", SEQUENCE_TASKS)
def test_targets_are_the_operation(name):
    task = sequence_task(name, 50, 4, generator=torch.Generator().manual_seed(0))
    assert task.vocab_size == sequence_vocab_size(10) == 14
    assert torch.all(task.target[:, -1] == EOS) and task.source.max() < task.vocab_size
    for src, tgt in zip(task.source, task.target, strict=True):
        s, t = _symbols(src), _symbols(tgt)
        if name == "addition":
            a, b = src[:4] - FIRST_SYMBOL, src[5:] - FIRST_SYMBOL
            assert src[4] == SEP
            value = int("".join(map(str, a.tolist()))) + int("".join(map(str, b.tolist())))
            assert t == [int(c) for c in f"{value:05d}"]
        else:
            assert t == {"copy": s, "reverse": s[::-1], "sort": sorted(s)}[name]


def test_seeded_and_teacher_forcing_inputs():
    a = sequence_task("reverse", 20, 6, 5, generator=torch.Generator().manual_seed(1))
    b = sequence_task("reverse", 20, 6, 5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.source, b.source)
    dec = a.decoder_input()
    assert torch.all(dec[:, 0] == BOS) and torch.equal(dec[:, 1:], a.target[:, :-1])
    ids, labels = a.lm_sequence()
    assert ids.shape == (20, 6 + 1 + 7) and torch.all(ids[:, 6] == SEP)
    assert torch.equal(labels[:, 6:13], a.target) and torch.all(labels[:, :6] == -100)


def test_exact_match():
    target = torch.tensor([[5, 6, EOS], [5, 6, EOS], [7, EOS, 0]])
    predicted = torch.tensor([[5, 6, EOS, 9], [5, 7, EOS, 9], [7, EOS, 4, 4]])
    assert exact_match(predicted, target).tolist() == [True, False, True]
    assert exact_match(predicted[:, :1], target).tolist() == [False, False, False]


def test_bad_input():
    with pytest.raises(ValueError, match="task"):
        sequence_task("rotate", 4, 3)
    with pytest.raises(ValueError, match="num_symbols"):
        sequence_task("addition", 4, 3, num_symbols=5)
    with pytest.raises(ValueError, match="length"):
        sequence_task("copy", 4, 0)


def test_match_task_labels_are_the_question():
    from udl.data import match_task

    ids, labels = match_task(400, 20, 6, generator=torch.Generator().manual_seed(0))
    assert ids.shape == (400, 20) and set(labels.tolist()) == {0, 1}
    again = (ids[:, 1:] == ids[:, :1]).any(1).long()
    assert torch.equal(again, labels)
    assert 150 < int(labels.sum()) < 250  # balanced
    assert ids.min() >= FIRST_SYMBOL and ids.max() < FIRST_SYMBOL + 6
