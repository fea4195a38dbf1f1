"""Text corpora shipped with Python: deterministic content and order, contiguous splits, byte encoding."""

from __future__ import annotations

import hashlib
import platform
import sysconfig
import tokenize
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from udl.data import (
    decode_bytes,
    encode_bytes,
    load_text_corpus,
    split_text,
    stdlib_source_files,
    text_sha256,
)


def test_pydoc_corpus_is_every_topic_in_sorted_order() -> None:
    from pydoc_data.topics import topics

    corpus = load_text_corpus("pydoc")
    assert 400_000 < len(corpus.text) < 600_000
    at = 0
    for name in sorted(topics):  # each topic, in order, and nothing else but the blank lines between them
        found = corpus.text.find(topics[name].strip("\n"), at)
        assert found == at + (2 if at else 0), name
        at = found + len(topics[name].strip("\n"))
    assert corpus.text[at:] == "\n"
    assert corpus.sha256 == hashlib.sha256(corpus.text.encode()).hexdigest() == text_sha256(corpus.text)
    assert corpus.python_version == platform.python_version()
    assert load_text_corpus("pydoc") == corpus  # deterministic


def test_stdlib_corpus_is_sorted_top_level_modules() -> None:
    files = stdlib_source_files()
    root = Path(sysconfig.get_paths()["stdlib"])
    assert [p.name for p in files] == sorted(
        p.name for p in root.iterdir() if p.suffix == ".py" and p.is_file()
    )
    assert all(p.parent == root for p in files) and any(p.name == "heapq.py" for p in files)
    corpus = load_text_corpus("stdlib", max_files=3)
    with tokenize.open(files[1]) as f:
        second = f.read()
    assert second in corpus.text and corpus.text.startswith(files[0].read_text(encoding="utf-8")[:100])
    assert load_text_corpus("stdlib", max_files=3).sha256 == corpus.sha256


@pytest.mark.parametrize("fractions", [(0.8, 0.1, 0.1), (0.5, 0.25, 0.25), (0.98, 0.01, 0.01)])
def test_splits_are_contiguous_blocks_cut_after_newlines(fractions) -> None:
    text = load_text_corpus("pydoc").text
    s = split_text(text, fractions)
    assert s.train + s.validation + s.test == text
    assert s.train.endswith("\n") and s.validation.endswith("\n")
    for part, f in zip((s.train, s.validation, s.test), fractions, strict=True):
        assert abs(len(part) - f * len(text)) < 2_000  # the next newline is never far


def test_splits_of_short_and_newline_free_text() -> None:
    s = split_text("abcdefghij")
    assert (s.train, s.validation, s.test) == ("abcdefgh", "i", "j")
    s = split_text("abc")
    assert (s.train, s.validation, s.test) == ("a", "b", "c")


@given(st.text())
def test_bytes_round_trip(text: str) -> None:
    ids = encode_bytes(text)
    assert ids.dtype == torch.long and ids.dim() == 1 and (ids.numel() == 0 or int(ids.max()) < 256)
    assert ids.tolist() == list(text.encode()) and decode_bytes(ids) == text


def test_decode_invalid_bytes() -> None:
    bad = torch.tensor([0xE2, 0x98])  # a cut-off three-byte sequence
    with pytest.raises(UnicodeDecodeError):
        decode_bytes(bad)
    assert decode_bytes(bad, errors="replace") == "\ufffd"


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown corpus"):
        load_text_corpus("wikipedia")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_files"):
        load_text_corpus("pydoc", max_files=2)
    with pytest.raises(ValueError, match="max_files"):
        load_text_corpus("stdlib", max_files=0)
    with pytest.raises(ValueError, match="fractions"):
        split_text("abcdef", (0.5, 0.5, 0.0))
    with pytest.raises(ValueError, match="at least 3"):
        split_text("ab")
    with pytest.raises(ValueError, match="surrogate"):
        encode_bytes("\udc80")
    with pytest.raises(ValueError, match=r"0\.\.255"):
        decode_bytes(torch.tensor([256]))
