"""The masked-lm experiment's verdict, downstream labels, probe positions and Config."""

from __future__ import annotations

import keyword
import re

import pytest
import torch

from udl.experiments.ch12.masked_lm import Config, keyword_labels, pretraining_helps, probe_positions
from udl.stats import Verdict


def test_pretraining_helps_verdict():
    assert pretraining_helps([0.80, 0.82, 0.81], [0.60, 0.61, 0.59]).verdict is Verdict.HOLDS
    assert pretraining_helps([0.60, 0.61, 0.59], [0.80, 0.82, 0.81]).verdict is Verdict.FAILS  # worse
    assert pretraining_helps([0.7, 0.7], [0.7, 0.7]).verdict is Verdict.FAILS  # no gain
    assert pretraining_helps([0.70, 0.90, 0.60], [0.68, 0.60, 0.62]).verdict is Verdict.NOT_ESTABLISHED
    assert pretraining_helps([0.9], [0.6]).verdict is Verdict.NOT_ESTABLISHED  # one seed


def test_keyword_labels_examples():
    text = b"if x in list_: pass  # 3ifs lambda2 None"
    got = keyword_labels(text).tolist()
    want = [-1] * len(text)
    for word, value in [
        (b"if", 1),
        (b"x", 0),
        (b"in", 1),
        (b"list_", 0),
        (b"pass", 1),
        (b"ifs", 0),
        (b"lambda2", 0),
        (b"None", 1),
    ]:
        at = text.index(word, 0 if word != b"ifs" else text.index(b"3"))
        want[at : at + len(word)] = [value] * len(word)
    assert got == want  # "3" alone is no identifier; "ifs" and "lambda2" are not keywords


def test_keyword_labels_match_a_per_byte_brute_force():
    text = ("while True: yield from x\nclass A(B): return not a or b is c; import élan\n" * 3).encode()
    got = keyword_labels(text).tolist()
    want = [-1] * len(text)
    for m in re.finditer(rb"[A-Za-z_][A-Za-z0-9_]*", text):
        for i in range(m.start(), m.end()):
            want[i] = int(m.group().decode() in keyword.kwlist)
    assert got == want


def test_probe_positions_are_balanced_and_in_the_middle_of_their_windows():
    labels = keyword_labels(b"for i in range(10): if i is None: pass\n" * 40)
    pos = probe_positions(labels, 100, 16, torch.Generator().manual_seed(0))
    assert len(pos) == 100 and (pos.diff() > 0).all()
    assert int((labels[pos] == 1).sum()) == 50 and int((labels[pos] == 0).sum()) == 50
    assert ((pos % 16 >= 4) & (pos % 16 < 12)).all() and int(pos.max()) < len(labels) // 16 * 16
    with pytest.raises(ValueError, match="label 1"):
        probe_positions(labels, 10**5, 16, torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lr", 0.0),
        ("mask_probability", 0.0),
        ("num_probe", 3),
        ("num_probe", 101),
        ("num_seeds", 0),
        ("probe_l2", -1.0),
        ("heads", 3),
    ],
)
def test_config_rejects(field, value):
    with pytest.raises(ValueError, match=field if field != "heads" else "multiple"):
        Config(**{field: value})
