"""Byte-level byte-pair encoding (UDL section 12.5.1, fig. 12.8): training, encoding, the HF ``tokenizers`` format.

BPE (Sennrich et al., 2016) starts from single symbols and repeatedly merges the most frequent adjacent pair into a
new token, until the vocabulary has the wanted size: frequent words become single tokens, rare ones stay split
into pieces (the compromise between letters and words the book describes). Byte-level BPE (GPT-2, Radford et al.,
2019) starts from the 256 byte values of the UTF-8 encoding instead of characters, so every string has an
encoding, nothing is ever unknown, and ``decode(encode(s)) == s`` for every Unicode string ``s``.

Pre-tokenization. The text is first cut into chunks by GPT-2's pattern (contractions, runs of letters, runs of
digits, runs of other symbols, each optionally led by one space, and whitespace runs); merges never cross a chunk
boundary. Letters are the Unicode categories L*, digits N*, whitespace the White_Space property, all taken from
:mod:`unicodedata` (Unicode 14.0 for CPython 3.11) and written into the pattern as explicit code-point ranges, so
Python's :mod:`re` applies exactly GPT-2's ``\\p{L}`` / ``\\p{N}`` / ``\\s`` classes. HF ``tokenizers`` applies the
same pattern with its own Unicode tables; the two agree on every code point assigned in Python's Unicode version
(a test checks all of them).

Training (:meth:`ByteLevelBPE.train`) counts the unique chunks once, with their multiplicities, and keeps

- the count of every adjacent pair, weighted by chunk multiplicity;
- an index from each pair to the chunks where it occurs;
- a max-heap of (count, pair), lazily refreshed: a pair enters it again whenever its count rises (only pairs
  with the merged token do), and an entry whose stored count has since fallen is pushed back with its current
  count when it reaches the top, so the top is the true maximum once its stored count is current.

A merge rewrites only the chunks the index lists and changes only the counts of the pairs that overlap a merged
position ((x, a) and (b, y) fall, (x, ab) and (ab, y) rise for each occurrence x a b y): no rescan of the corpus.
Ties (equal counts) go to the smallest pair in HF's numbering (single bytes ranked by their GPT-2 character's
code point, merged tokens by id), so training is deterministic and learns the same merges as HF's trainer.
Encoding applies the merges in the order they were learnt (lowest rank first, leftmost first among equal ranks),
which reproduces the training segmentation of every training chunk.

Files. :meth:`ByteLevelBPE.save` writes HF's ``tokenizer.json`` (a ``BPE`` model, a ``ByteLevel`` pre-tokenizer
and decoder, GPT-2's byte-to-character map); ``tokenizers.Tokenizer.from_file`` loads it and encodes identically.
:meth:`ByteLevelBPE.load` reads such files (including ones HF trained) when they have that shape.

Example:
    >>> bpe = ByteLevelBPE.train("low lower lowest " * 20, vocab_size=262)
    >>> [bpe.token_bytes(i) for i in bpe.encode(" lowest")]
    [b' lowe', b'st']
    >>> bpe.decode(bpe.encode("naïve 🙂\\r\\n")) == "naïve 🙂\\r\\n"
    True
"""

from __future__ import annotations

import functools
import heapq
import itertools
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ByteLevelBPE", "bytes_to_unicode", "pre_tokenize"]

Pair = tuple[int, int]

WHITE_SPACE = [
    *[(0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A)],
    *[(0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000)],
]  # the Unicode White_Space property (PropList.txt), which \s means in GPT-2's pattern


def _ranges(keep: Sequence[bool]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    start = None
    for c, k in enumerate([*keep, False]):
        if k and start is None:
            start = c
        elif not k and start is not None:
            out.append((start, c - 1))
            start = None
    return out


def _char_class(ranges: Iterable[tuple[int, int]]) -> str:
    def esc(c: int) -> str:
        return f"\\u{c:04x}" if c <= 0xFFFF else f"\\U{c:08x}"

    return "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges)


@functools.cache
def _split_pattern() -> re.Pattern[str]:
    """GPT-2's pre-tokenization pattern with \\p{L}, \\p{N}, \\s spelled out as code-point ranges."""
    cats = [unicodedata.category(chr(c)) for c in range(0x110000)]
    letters = _char_class(_ranges([c[0] == "L" for c in cats]))
    digits = _char_class(_ranges([c[0] == "N" for c in cats]))
    space = _char_class(WHITE_SPACE)
    return re.compile(
        rf"'s|'t|'re|'ve|'m|'ll|'d| ?[{letters}]+| ?[{digits}]+| ?[^{space}{letters}{digits}]+"
        rf"|[{space}]+(?![^{space}])|[{space}]+"
    )


def pre_tokenize(text: str) -> list[str]:
    """Cut ``text`` into GPT-2's chunks (their concatenation is ``text``); BPE merges stay inside a chunk."""
    return _split_pattern().findall(text)


@functools.cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from the 256 byte values to printable characters (the spelling of tokens in HF files).

    Printable Latin-1 bytes map to themselves; the others (controls, space, ...) to U+0100 onwards, in order.
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + i) for i, b in enumerate(others)}}


def _tie_order() -> list[int]:
    """Tie-break keys of the 256 byte ids: the rank of each byte's GPT-2 character in code-point order, which
    is how HF ``tokenizers`` numbers its byte alphabet (and so breaks ties); merged tokens keep their ids."""
    spell = bytes_to_unicode()
    ranked = sorted(range(256), key=lambda b: spell[b])
    order = [0] * 256
    for r, b in enumerate(ranked):
        order[b] = r
    return order


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"text is not valid Unicode (lone surrogate at index {e.start})") from None


def _merge_word(word: list[int], a: int, b: int, new: int, delta: Counter[Pair], freq: int) -> list[int]:
    """Replace each occurrence of (a, b) in ``word``, left to right, by ``new``; record the pair-count changes.

    For an occurrence x a b y: (x, a) and (b, y) lose ``freq``, (x, new) and (new, y) gain it (x is the new word's
    previous symbol, so runs like a b a b become new new with the right counts). (a, b) itself is not recorded:
    the caller drops it.
    """
    out: list[int] = []
    i, n = 0, len(word)
    while i < n:
        if i + 1 < n and word[i] == a and word[i + 1] == b:
            if out:
                delta[(out[-1], a)] -= freq
                delta[(out[-1], new)] += freq
            if i + 2 < n:
                delta[(b, word[i + 2])] -= freq
                delta[(new, word[i + 2])] += freq
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


class ByteLevelBPE:
    """A byte-level BPE tokenizer: a vocabulary of byte strings and an ordered list of merges.

    Token ids index ``vocab``; a trained tokenizer has the 256 single bytes as ids 0..255 (id = byte value) and
    then one id per new token in the order of the merges (a merge whose result is already a token, (a, bc) after
    (ab, c), adds none). A loaded one keeps the ids of its file.

    Args:
        vocab: the byte string of every token id; each single byte must be one of them.
        merges: (left id, right id) pairs in the order they were learnt; each result must be in ``vocab``.
    """

    def __init__(self, vocab: Sequence[bytes], merges: Sequence[Pair]) -> None:
        self.vocab: list[bytes] = list(vocab)
        index = {t: i for i, t in enumerate(self.vocab)}
        if len(index) != len(self.vocab):
            raise ValueError("vocab has duplicate tokens")
        missing = [b for b in range(256) if bytes([b]) not in index]
        if missing:
            raise ValueError(f"vocab lacks single bytes {missing[:5]}... (every byte must be a token)")
        self._byte_id = [index[bytes([b])] for b in range(256)]
        self.merges: list[Pair] = [(int(a), int(b)) for a, b in merges]
        self._ranks: dict[Pair, tuple[int, int]] = {}
        for rank, (a, b) in enumerate(self.merges):
            joined = self.vocab[a] + self.vocab[b]
            if joined not in index:
                raise ValueError(f"merge {rank} makes {joined!r}, which is not in the vocabulary")
            self._ranks.setdefault((a, b), (rank, index[joined]))

    @property
    def vocab_size(self) -> int:
        """Number of tokens (256 bytes plus one per merge for a trained tokenizer)."""
        return len(self.vocab)

    def token_bytes(self, token: int) -> bytes:
        """The bytes token id ``token`` stands for."""
        return self.vocab[token]

    # -- training -------------------------------------------------------------------------------------------
    @classmethod
    def train(cls, text: str | Iterable[str], vocab_size: int, *, min_frequency: int = 2) -> ByteLevelBPE:
        """Learn merges on ``text`` (a string or an iterable of documents) until ``vocab_size`` tokens.

        Stops early when no pair occurs ``min_frequency`` times. Equal counts go to the smallest (left, right)
        pair in HF's numbering (see :func:`_tie_order`). See the module docstring for the incremental counts.
        """
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be >= 256 (the byte alphabet), got {vocab_size}")
        if min_frequency < 1:
            raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
        chunks: Counter[str] = Counter()
        for doc in [text] if isinstance(text, str) else text:
            chunks.update(pre_tokenize(doc))
        words = [list(_utf8(c)) for c in chunks]
        freqs = list(chunks.values())
        counts: Counter[Pair] = Counter()
        where: dict[Pair, set[int]] = {}
        for w, (word, f) in enumerate(zip(words, freqs, strict=True)):
            for pair in itertools.pairwise(word):
                counts[pair] += f
                where.setdefault(pair, set()).add(w)
        order = _tie_order()
        heap = [(-c, order[p[0]], order[p[1]], p) for p, c in counts.items()]
        heapq.heapify(heap)
        vocab = [bytes([b]) for b in range(256)]
        index = {t: i for i, t in enumerate(vocab)}
        merges: list[Pair] = []
        while len(vocab) < vocab_size and heap:
            neg, _, _, pair = heapq.heappop(heap)
            current = counts.get(pair, 0)
            if current != -neg:  # stale: counts of old pairs only fall, so push it back at its true count
                if current > 0:
                    heapq.heappush(heap, (-current, order[pair[0]], order[pair[1]], pair))
                continue
            if current < min_frequency:
                break
            a, b = pair
            joined = vocab[a] + vocab[b]
            new = index.setdefault(joined, len(vocab))  # (ab, c) and (a, bc) make one token, as in HF
            if new == len(vocab):
                order.append(new)
                vocab.append(joined)
            merges.append(pair)
            delta: Counter[Pair] = Counter()
            for w in sorted(where.pop(pair)):
                words[w] = _merge_word(words[w], a, b, new, delta, freqs[w])
                for p in itertools.pairwise(words[w]):
                    if new in p:
                        where.setdefault(p, set()).add(w)
            del counts[pair]
            for p, d in delta.items():
                c = counts[p] + d
                if c:
                    counts[p] = c
                else:
                    del counts[p]
                if d > 0:  # only pairs with the merged token gain: (re)enter the heap at their new count
                    heapq.heappush(heap, (-c, order[p[0]], order[p[1]], p))
        return cls(vocab, merges)

    def truncated(self, vocab_size: int) -> ByteLevelBPE:
        """The tokenizer training would have stopped at ``vocab_size`` tokens: the merges up to the one that
        made token ``vocab_size − 1`` (training is greedy, so a smaller vocabulary is a prefix of a larger one).
        Only for trained tokenizers (ids in merge order)."""
        if not 256 <= vocab_size <= self.vocab_size:
            raise ValueError(f"vocab_size must be in [256, {self.vocab_size}], got {vocab_size}")
        if self.vocab[:256] != [bytes([b]) for b in range(256)]:
            raise ValueError("truncated() needs a trained tokenizer (bytes as ids 0..255), not a loaded one")
        keep = 0
        if vocab_size > 256:
            keep = next(r for r, p in enumerate(self.merges) if self._ranks[p][1] == vocab_size - 1) + 1
        return ByteLevelBPE(self.vocab[:vocab_size], self.merges[:keep])

    # -- encoding -------------------------------------------------------------------------------------------
    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = [self._byte_id[b] for b in _utf8(chunk)]
        ranks = self._ranks
        while len(ids) > 1:
            best = min(
                ((ranks[p][0], i) for i, p in enumerate(itertools.pairwise(ids)) if p in ranks), default=None
            )
            if best is None:
                break
            rank, i = best
            pair = self.merges[rank]
            new = ranks[pair][1]
            out, j = ids[:i], i  # merge every occurrence of this pair, left to right, from the leftmost one
            while j < len(ids):
                if j + 1 < len(ids) and (ids[j], ids[j + 1]) == pair:
                    out.append(new)
                    j += 2
                else:
                    out.append(ids[j])
                    j += 1
            ids = out
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (each distinct chunk is encoded once per call)."""
        chunks = pre_tokenize(text)
        table = {c: self._encode_chunk(c) for c in dict.fromkeys(chunks)}
        return [t for c in chunks for t in table[c]]

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """The text of token ids ``ids`` (``errors`` as in :meth:`bytes.decode`, for byte strings that are not
        valid UTF-8, e.g. sampled ones; never needed for the ids of :meth:`encode`)."""
        try:
            data = b"".join([self.vocab[int(i)] for i in ids])
        except IndexError:
            raise ValueError(f"token ids must be in [0, {self.vocab_size})") from None
        return data.decode("utf-8", errors=errors)

    # -- the HF tokenizers file format ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The tokenizer as HF ``tokenizers``' ``tokenizer.json`` structure."""
        spell = bytes_to_unicode()
        names = ["".join(spell[b] for b in t) for t in self.vocab]
        byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        model = {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {name: i for i, name in enumerate(names)},
            "merges": [[names[a], names[b]] for a, b in self.merges],
        }
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [],
            "normalizer": None,
            "pre_tokenizer": byte_level,
            "post_processor": None,
            "decoder": {**byte_level, "add_prefix_space": True},
            "model": model,
        }

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_json` to ``path`` (loads with ``tokenizers.Tokenizer.from_file``)."""
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ByteLevelBPE:
        """Read HF's ``tokenizer.json`` structure: a BPE model with a ByteLevel pre-tokenizer (GPT-2's regex,
        no prefix space), no normalizer and no added tokens; anything else is refused (it would encode
        differently)."""
        model, pre = data.get("model") or {}, data.get("pre_tokenizer") or {}
        if model.get("type") != "BPE":
            raise ValueError(f"need a BPE model, got {model.get('type')!r}")
        if (pre.get("type"), pre.get("use_regex", True), pre.get("add_prefix_space")) != (
            "ByteLevel",
            True,
            False,
        ):
            raise ValueError(f"need a ByteLevel pre-tokenizer (use_regex, no prefix space), got {pre}")
        if data.get("normalizer") or data.get("added_tokens") or model.get("continuing_subword_prefix"):
            raise ValueError("normalizers, added tokens and subword prefixes are not supported")
        if model.get("ignore_merges") or model.get("end_of_word_suffix") or model.get("dropout"):
            raise ValueError("ignore_merges, end_of_word_suffix and dropout are not supported")
        unspell = {c: b for b, c in bytes_to_unicode().items()}
        vocab_map: dict[str, int] = model["vocab"]
        if sorted(vocab_map.values()) != list(range(len(vocab_map))):
            raise ValueError("vocab ids must be 0..n-1")
        vocab = [b""] * len(vocab_map)
        try:
            for name, i in vocab_map.items():
                vocab[i] = bytes(unspell[c] for c in name)
        except KeyError as e:
            raise ValueError(f"token character {e.args[0]!r} is not in the byte-level alphabet") from None
        merges = [m.split(" ") if isinstance(m, str) else m for m in model.get("merges", [])]
        unknown = next((m for m in merges if m[0] not in vocab_map or m[1] not in vocab_map), None)
        if unknown is not None:
            raise ValueError(f"merge {unknown} names a token that is not in the vocabulary")
        return cls(vocab, [(vocab_map[a], vocab_map[b]) for a, b in merges])

    @classmethod
    def load(cls, path: str | Path) -> ByteLevelBPE:
        """Read a ``tokenizer.json`` file (see :meth:`from_json`)."""
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    def __repr__(self) -> str:
        return f"ByteLevelBPE(vocab_size={self.vocab_size}, merges={len(self.merges)})"
