"""Byte-level BPE: exact round trips, merges equal a naive full-rescan trainer and HF's trainer, HF JSON interop
both ways, GPT-2 pre-tokenization equal to HF's on every assigned code point."""

from __future__ import annotations

import json
import random
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, pre_tokenizers

from udl.data import load_text_corpus
from udl.text import ByteLevelBPE, bytes_to_unicode, pre_tokenize

sys.path.insert(0, str(Path(__file__).parent))
from bpe_references import hf_byte_level_bpe as hf_bpe
from bpe_references import naive_bpe_merges

ODD = [
    "",
    "\x00",
    "a\x00b\x00\x00",
    "line one\r\nline two\r\n\r\n",
    "naïve café, déjà vu",
    "e\u0301\u0302 a\u0308\u0323 \u0301\u0301 leading mark",  # combining marks, also with no base
    "🙂 👩‍👩‍👧‍👦 🏳️‍🌈 🇫🇷 👍🏽",  # emoji, ZWJ sequences, flags, skin tones
    "日本語のテキスト、中文，한국어",
    "שָׁלוֹם עליכם مرحبا",  # right-to-left with marks
    "tabs\tand\u00a0nbsp\u2003em space\u3000ideographic\x0b\x0c\x1c\x1f\x85",
    "x²³ ½ Ⅻ ٣٤ ١٢٣",  # numbers beyond ASCII digits
    "don't we'll they're I'M it's",
    "\U0010ffff\U000e0001\ufeff\ufffd\ufffe",  # last code point, tags, BOM, replacement, non-character
    "    indented    \n\n\n   trailing   ",
]


@pytest.fixture(scope="module")
def corpus():
    return load_text_corpus("pydoc")


@pytest.fixture(scope="module")
def bpe(corpus):
    return ByteLevelBPE.train(corpus.split().train, 1000)


def as_bytes(bpe: ByteLevelBPE) -> list[tuple[bytes, bytes]]:
    return [(bpe.token_bytes(a), bpe.token_bytes(b)) for a, b in bpe.merges]


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_any_unicode_string_round_trips(bpe, text: str) -> None:
    ids = bpe.encode(text)
    assert bpe.decode(ids) == text
    assert all(0 <= i < bpe.vocab_size for i in ids)


@pytest.mark.parametrize("text", ODD)
def test_odd_unicode_round_trips(bpe, text: str) -> None:
    assert bpe.decode(bpe.encode(text)) == text


def test_whole_corpus_round_trips_and_compresses(bpe, corpus) -> None:
    ids = bpe.encode(corpus.text)
    assert bpe.decode(ids) == corpus.text
    assert len(corpus.text.encode()) / len(ids) > 2.5  # 1000 tokens: well beyond one byte per token


def test_pre_tokenize_is_a_partition_with_gpt2_chunks() -> None:
    text = "Hello, world!  It's 2024:\tfine\n\n  ok"
    chunks = pre_tokenize(text)
    assert "".join(chunks) == text
    assert chunks == [
        "Hello",
        ",",
        " world",
        "!",
        " ",
        " It",
        "'s",
        " 2024",
        ":",
        "\t",
        "fine",
        "\n\n ",
        " ok",
    ]


def test_bytes_to_unicode_is_hf_byte_level_alphabet() -> None:
    spell = bytes_to_unicode()
    assert sorted(spell) == list(range(256)) and len(set(spell.values())) == 256
    assert set(spell.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    assert spell[ord("a")] == "a" and spell[ord(" ")] == "Ġ" and spell[ord("\n")] == "Ċ"


def test_pre_tokenize_equals_hf_on_every_assigned_code_point() -> None:
    # every code point Python's Unicode tables assign (letters, digits, marks, spaces, ...), in order and a
    # random sample of them among ASCII words: a character HF classes differently would move a chunk boundary
    chars = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) not in ("Cn", "Cs")]
    rng = random.Random(0)
    shuffled = rng.sample(chars, 30_000)
    words = ["a", " b", "1", " 2", " ", "  ", "!", "'s", "\n"]
    mixed = "".join(c + rng.choice(words) for c in shuffled)
    hf = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    for text in ("".join(chars), mixed):
        ours = pre_tokenize(text)
        ends = [len(c) for c in ours]
        spans = []
        at = 0
        for n in ends:
            spans.append((at, at + n))
            at += n
        assert [offsets for _, offsets in hf.pre_tokenize_str(text)] == spans


def test_merges_equal_the_naive_full_rescan_trainer(corpus) -> None:
    text = corpus.text[:30_000] + "".join(ODD) * 3
    ours = ByteLevelBPE.train(text, 700)
    naive = naive_bpe_merges(text, 700)
    assert len(naive) > 400 and as_bytes(ours) == naive
    ours1 = ByteLevelBPE.train("aaaa aaaa aaa ab ab", 300, min_frequency=1)  # runs of a: overlapping pairs
    assert as_bytes(ours1) == naive_bpe_merges("aaaa aaaa aaa ab ab", 300, min_frequency=1)


def test_merges_equal_hf_trainer(corpus) -> None:
    train = corpus.split().train
    ours = ByteLevelBPE.train(train, 1500)
    hf = json.loads(hf_bpe(train, 1500).to_str())["model"]["merges"]
    assert ours.vocab_size == 1500 and ours.to_json()["model"]["merges"] == hf


def test_our_file_loads_in_hf_and_encodes_identically(bpe, corpus, tmp_path) -> None:
    path = tmp_path / "tokenizer.json"
    bpe.save(path)
    hf = Tokenizer.from_file(str(path))
    assert hf.get_vocab_size() == bpe.vocab_size
    for text in [corpus.text, *ODD, "".join(ODD)]:
        ids = bpe.encode(text)
        assert hf.encode(text).ids == ids
        assert hf.decode(ids) == text
    again = ByteLevelBPE.load(path)
    assert again.vocab == bpe.vocab and again.merges == bpe.merges


def test_we_load_an_hf_trained_file_and_encode_identically(corpus, tmp_path) -> None:
    hf = hf_bpe(corpus.text[:100_000], 800)
    path = tmp_path / "hf.json"
    hf.save(str(path))
    ours = ByteLevelBPE.load(path)  # HF's ids (bytes ranked by character), not ours
    for text in [corpus.text[100_000:200_000], *ODD]:
        assert ours.encode(text) == hf.encode(text).ids
        assert ours.decode(ours.encode(text)) == text


def test_training_on_documents_never_merges_across_them() -> None:
    one = ByteLevelBPE.train(["ab", "ab", "ab"], 300)
    assert [one.token_bytes(i) for i in one.encode("ab")] == [b"ab"]
    assert ByteLevelBPE.train(["abab"], 300).merges == ByteLevelBPE.train("abab", 300).merges


def test_vocabulary_stops_when_pairs_run_out() -> None:
    assert ByteLevelBPE.train("abc abc", 10_000).vocab_size == 258  # ab, abc; " abc" is seen once
    bpe = ByteLevelBPE.train("abc abc", 10_000, min_frequency=1)
    assert bpe.vocab_size == 259 and [bpe.token_bytes(i) for i in bpe.encode("abc abc")] == [b"abc", b" abc"]


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        ByteLevelBPE.train("abc", 100)
    with pytest.raises(ValueError, match="min_frequency"):
        ByteLevelBPE.train("abc", 300, min_frequency=0)
    bpe = ByteLevelBPE.train("abc abc", 300)
    with pytest.raises(ValueError, match="surrogate"):
        bpe.encode("a\ud800b")
    with pytest.raises(ValueError, match="token ids"):
        bpe.decode([bpe.vocab_size])
    data = bpe.to_json()
    with pytest.raises(ValueError, match="BPE"):
        ByteLevelBPE.from_json({**data, "model": {**data["model"], "type": "WordPiece"}})
    with pytest.raises(ValueError, match="ByteLevel"):
        ByteLevelBPE.from_json({**data, "pre_tokenizer": {"type": "Whitespace"}})
    with pytest.raises(ValueError, match="not in the vocabulary"):
        ByteLevelBPE.from_json({**data, "model": {**data["model"], "merges": [["a", "zz"]]}})
    with pytest.raises(ValueError, match="single bytes"):
        ByteLevelBPE([bytes([b]) for b in range(255)], [])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        ByteLevelBPE([bytes([b]) for b in range(256)], [(97, 98)])


def test_truncated_equals_training_to_the_smaller_size(corpus) -> None:
    text = corpus.text[:60_000]
    big = ByteLevelBPE.train(text, 900)
    for size in (256, 257, 400, 900):
        small, direct = big.truncated(size), ByteLevelBPE.train(text, size)
        assert small.vocab == direct.vocab and small.merges == direct.merges
    with pytest.raises(ValueError, match="vocab_size"):
        big.truncated(901)
