"""Synthetic sequence-to-sequence tasks for transformers (UDL chapter 12): copy, reverse, sort and addition, with
exact-match scoring. Generated from a seed, nothing downloaded.

Token ids: 0 PAD, 1 BOS, 2 EOS, 3 SEP (also the "+" of addition), then the symbols 4 .. 4 + num_symbols − 1
(for addition the digits 0-9, so num_symbols must be 10).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "SEQUENCE_TASKS",
    "SequenceTask",
    "exact_match",
    "match_task",
    "sequence_task",
    "sequence_vocab_size",
]

PAD, BOS, EOS, SEP = 0, 1, 2, 3
FIRST_SYMBOL = 4
SEQUENCE_TASKS: tuple[str, ...] = ("copy", "reverse", "sort", "addition")
"""the synthetic tasks ``sequence_task`` makes"""


def sequence_vocab_size(num_symbols: int = 10) -> int:
    """Number of token ids of a task with ``num_symbols`` symbols (the four specials included)."""
    return FIRST_SYMBOL + num_symbols


@dataclass(frozen=True)
class SequenceTask:
    """One data set of a synthetic task: ``source`` (N, S) and ``target`` (N, T) token ids, the target ending
    with EOS."""

    name: str
    source: Tensor
    target: Tensor
    num_symbols: int

    @property
    def vocab_size(self) -> int:
        return sequence_vocab_size(self.num_symbols)

    def decoder_input(self) -> Tensor:
        """BOS followed by the target without its last token (teacher forcing): (N, T)."""
        return torch.cat([torch.full_like(self.target[:, :1], BOS), self.target[:, :-1]], 1)

    def lm_sequence(self) -> tuple[Tensor, Tensor]:
        """The task for a decoder-only model: ids = source SEP target (N, S + 1 + T) and next-token labels with
        −100 (ignored) everywhere but the target positions."""
        ids = torch.cat([self.source, torch.full_like(self.source[:, :1], SEP), self.target], 1)
        labels = torch.full_like(ids, -100)
        s = self.source.shape[1]
        labels[:, s : s + self.target.shape[1]] = self.target  # position s (the SEP) predicts target[0]
        return ids, labels


def _digits(values: Tensor, width: int) -> Tensor:
    """(N,) non-negative integers -> (N, width) decimal digits, most significant first."""
    powers = 10 ** torch.arange(width - 1, -1, -1)
    return (values.unsqueeze(1) // powers) % 10


def sequence_task(
    name: str,
    num_examples: int,
    length: int,
    num_symbols: int = 10,
    *,
    generator: torch.Generator | None = None,
) -> SequenceTask:
    """``num_examples`` examples of a task on sequences of ``length`` symbols, drawn uniformly from ``generator``:

    - copy: target = source; reverse: target = source reversed; sort: target = source sorted ascending;
    - addition: source = a + b with ``length``-digit operands (leading zeros kept), target = a + b in
      ``length + 1`` digits.
    Every target ends with EOS.
    """
    if name not in SEQUENCE_TASKS:
        raise ValueError(f"task must be one of {SEQUENCE_TASKS}, got {name!r}")
    if num_examples < 1 or length < 1:
        raise ValueError(f"num_examples and length must be >= 1, got {num_examples}, {length}")
    if num_symbols < 2:
        raise ValueError(f"num_symbols must be >= 2, got {num_symbols}")
    if name == "addition":
        if num_symbols != 10:
            raise ValueError(f"addition uses the 10 digits: num_symbols must be 10, got {num_symbols}")
        if length > 17:
            raise ValueError(f"addition operands of more than 17 digits overflow int64, got length={length}")
        a = torch.randint(10**length, (num_examples,), generator=generator)
        b = torch.randint(10**length, (num_examples,), generator=generator)
        sep = torch.full((num_examples, 1), SEP)
        source = torch.cat([_digits(a, length) + FIRST_SYMBOL, sep, _digits(b, length) + FIRST_SYMBOL], 1)
        body = _digits(a + b, length + 1) + FIRST_SYMBOL
    else:
        symbols = torch.randint(num_symbols, (num_examples, length), generator=generator)
        source = symbols + FIRST_SYMBOL
        body = {"copy": source, "reverse": source.flip(1), "sort": source.sort(1).values}[name]
    target = torch.cat([body, torch.full((num_examples, 1), EOS)], 1)
    return SequenceTask(name, source, target, num_symbols)


def match_task(
    num_examples: int, length: int, num_symbols: int = 16, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """A long-range classification task: does the first symbol occur again anywhere in the sequence?

    Returns ids (N, ``length``) and labels (N,) in {0, 1}, balanced. The first symbol is drawn uniformly; the
    others from the remaining ``num_symbols − 1``; for label 1 one position in 1 .. length − 1, uniform, is
    overwritten with the first symbol. The answer can sit anywhere, so a model whose first position sees only a
    local window cannot find it (UDL section 12.10's case for global tokens)."""
    if num_examples < 1 or length < 2 or num_symbols < 2:
        raise ValueError(
            f"num_examples >= 1, length >= 2 and num_symbols >= 2 needed, got {num_examples}, {length}, {num_symbols}"
        )
    first = torch.randint(num_symbols, (num_examples, 1), generator=generator)
    rest = torch.randint(num_symbols - 1, (num_examples, length - 1), generator=generator)
    rest = rest + (rest >= first).long()  # uniform over the symbols other than the first
    labels = torch.randint(2, (num_examples,), generator=generator)
    where = torch.randint(length - 1, (num_examples,), generator=generator)
    rows = labels.nonzero().squeeze(1)
    rest[rows, where[rows]] = first[rows, 0]
    return torch.cat([first, rest], 1) + FIRST_SYMBOL, labels


def exact_match(predicted: Tensor, target: Tensor) -> Tensor:
    """Per row, whether ``predicted`` reproduces ``target`` (N, T) token for token up to and including its EOS
    (anything after the target's EOS is ignored; a shorter prediction is padded with PAD) -> (N,) bool."""
    if predicted.shape[0] != target.shape[0]:
        raise ValueError(f"predicted has {predicted.shape[0]} rows, target {target.shape[0]}")
    t = target.shape[1]
    if predicted.shape[1] < t:
        predicted = torch.cat(
            [predicted, predicted.new_full((predicted.shape[0], t - predicted.shape[1]), PAD)], 1
        )
    predicted = predicted[:, :t]
    after_eos = (target == EOS).long().cumsum(1) - (target == EOS).long() > 0  # positions after the first EOS
    return ((predicted == target) | after_eos).all(1)
