"""The language-model experiment's verdict, chunk scoring and Config."""

from __future__ import annotations

import math

import pytest
import torch

from udl.experiments.ch12.language_model import Config, beats_ngram, chunk_bits
from udl.stats import Verdict


def test_beats_ngram_verdict():
    ngram = [1.80, 1.85, 1.78, 1.83]
    assert beats_ngram([1.60, 1.62, 1.58, 1.61], ngram).verdict is Verdict.HOLDS
    assert beats_ngram([2.60, 2.62, 2.58, 2.61], ngram).verdict is Verdict.FAILS  # the transformer is worse
    assert beats_ngram(ngram, ngram).verdict is Verdict.FAILS  # a tie is no win
    assert beats_ngram([1.50, 2.10, 1.60, 2.00], ngram).verdict is Verdict.NOT_ESTABLISHED  # within the noise
    cmp = beats_ngram([1.6, 1.6], [1.8, 1.9])
    assert math.isclose(cmp.diff, 0.25) and cmp.wins == 2  # the margin is n-gram − transformer


def test_chunk_bits_is_bits_per_byte_of_each_piece():
    nll = torch.arange(1.0, 11.0, dtype=torch.float64)  # 10 bytes, 3 chunks of 3, the last byte dropped
    got = chunk_bits(nll, 3)
    want = [(1 + 2 + 3) / (3 * math.log(2)), (4 + 5 + 6) / (3 * math.log(2)), (7 + 8 + 9) / (3 * math.log(2))]
    assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lr", 0.0),
        ("steps", 0),
        ("context", 0),
        ("eval_chunks", 1),
        ("prompt_bytes", 128),
        ("max_eval_bytes", -1),
        ("heads", 3),
    ],
)
def test_config_rejects(field, value):
    with pytest.raises(ValueError, match=field if field != "heads" else "multiple"):
        Config(**{field: value})
