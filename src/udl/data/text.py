"""Text corpora that ship with Python itself, split into train / validation / test; byte-level encoding.

Nothing is downloaded. Two corpora:

- ``"pydoc"``: the text of :mod:`pydoc_data.topics` (the help pages ``help("assert")`` etc. show: the language
  reference in prose, about 465,000 characters for CPython 3.11), topics joined in sorted order of their names.
- ``"stdlib"``: the source of the standard library's top-level ``.py`` modules (``sysconfig``'s ``stdlib``
  directory, no sub-packages), in sorted order of their file names (not the file system's order), each decoded as
  Python decodes source (PEP 263 coding cookies), about 4.7 million characters for CPython 3.11.

Both depend on the Python that runs them: a different CPython version ships different help text and different
modules. :func:`load_text_corpus` therefore records the Python version and a SHA-256 of the text, and runs should
record them too, so that two numbers are only compared when they come from the same corpus.

The splits are contiguous blocks (train first, then validation, then test), each boundary moved forward to the
next newline so that no line is cut: the held-out text is text the model never saw a piece of, not a random
sample of lines interleaved with the training ones.

Example:
    >>> corpus = load_text_corpus("pydoc")
    >>> splits = corpus.split()
    >>> splits.train + splits.validation + splits.test == corpus.text
    True
    >>> decode_bytes(encode_bytes("naïve ☃")) == "naïve ☃"
    True
"""

from __future__ import annotations

import hashlib
import platform
import sysconfig
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "TextCorpus",
    "TextSplits",
    "decode_bytes",
    "encode_bytes",
    "load_text_corpus",
    "pydoc_topics_text",
    "split_text",
    "stdlib_source_files",
    "stdlib_source_text",
    "text_sha256",
]

CorpusName = Literal["pydoc", "stdlib"]
CORPORA: tuple[str, ...] = ("pydoc", "stdlib")


def pydoc_topics_text() -> str:
    """The help topics of :mod:`pydoc_data.topics`, in sorted order of their names, separated by blank lines."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name].strip("\n") for name in sorted(topics)) + "\n"


def stdlib_source_files() -> list[Path]:
    """The standard library's top-level ``.py`` files, sorted by file name (code-point order)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted((p for p in root.glob("*.py") if p.is_file()), key=lambda p: p.name)


def stdlib_source_text(max_files: int | None = None) -> str:
    """The source of the first ``max_files`` (all if None) of :func:`stdlib_source_files`, joined by newlines.

    Each file is decoded as the interpreter decodes it (UTF-8 unless a PEP 263 cookie says otherwise) and its
    line endings normalized to ``"\\n"``.
    """
    if max_files is not None and max_files < 1:
        raise ValueError(f"max_files must be >= 1 or None, got {max_files}")
    parts = []
    for path in stdlib_source_files()[:max_files]:
        with tokenize.open(path) as f:  # honours the coding cookie
            parts.append(f.read())
    return "\n".join(parts)


def text_sha256(text: str) -> str:
    """The SHA-256 hex digest of the UTF-8 bytes of ``text`` (a corpus's identity for runs)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TextSplits:
    """Contiguous train / validation / test blocks of one text (their concatenation is the text)."""

    train: str
    validation: str
    test: str


def split_text(text: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> TextSplits:
    """Cut ``text`` into contiguous train, validation and test blocks of about ``fractions`` of its characters.

    Each cut moves forward to just after the next newline (if there is one), so no line is split. The result is
    a pure function of the text: the same text always gives the same splits.

    Args:
        text: the corpus.
        fractions: (train, validation, test), each > 0, summing to 1.
    """
    if len(fractions) != 3 or any(not f > 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be 3 numbers > 0 summing to 1 (train, val, test), got {fractions}")
    if len(text) < 3:
        raise ValueError(f"text must have at least 3 characters to split, got {len(text)}")

    def cut(at: int, low: int, high: int) -> int:  # in [low + 1, high], just after a newline where one is
        at = min(max(at, low + 1), high)
        newline = text.find("\n", at - 1, high)
        return newline + 1 if newline >= 0 else at

    first = cut(round(fractions[0] * len(text)), 0, len(text) - 2)
    second = cut(round((fractions[0] + fractions[1]) * len(text)), first, len(text) - 1)
    return TextSplits(text[:first], text[first:second], text[second:])


@dataclass(frozen=True)
class TextCorpus:
    """A corpus, the Python it came from and its SHA-256 (see the module docstring for why both matter)."""

    name: str
    """``"pydoc"`` or ``"stdlib"``"""
    text: str
    """the whole corpus"""
    python_version: str
    """the CPython version that shipped it (``platform.python_version()``)"""
    sha256: str
    """:func:`text_sha256` of ``text``"""

    def split(self, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> TextSplits:
        """:func:`split_text` of this corpus."""
        return split_text(self.text, fractions)


def load_text_corpus(name: CorpusName, *, max_files: int | None = None) -> TextCorpus:
    """The corpus ``name`` (``"pydoc"`` or ``"stdlib"``; ``max_files`` limits the stdlib one)."""
    if name == "pydoc":
        if max_files is not None:
            raise ValueError("max_files applies to the 'stdlib' corpus only")
        text = pydoc_topics_text()
    elif name == "stdlib":
        text = stdlib_source_text(max_files)
    else:
        raise ValueError(f"unknown corpus {name!r}; choose one of {CORPORA}")
    return TextCorpus(name, text, platform.python_version(), text_sha256(text))


def encode_bytes(text: str, dtype: torch.dtype = torch.long) -> Tensor:
    """The UTF-8 bytes of ``text`` as a 1-D tensor of values 0..255 (a byte-level "tokenizer", 256 symbols).

    Raises:
        ValueError: ``text`` holds a lone surrogate (not a Unicode scalar value, no UTF-8 encoding).
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"text is not valid Unicode (lone surrogate at index {e.start})") from None
    if not data:
        return torch.empty(0, dtype=dtype)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).to(dtype)


def decode_bytes(values: Tensor, errors: str = "strict") -> str:
    """The text whose UTF-8 bytes are ``values`` (the inverse of :func:`encode_bytes`).

    ``errors`` is passed to :meth:`bytes.decode`: ``"strict"`` raises on invalid UTF-8 (e.g. a sequence a model
    sampled), ``"replace"`` puts U+FFFD in its place.
    """
    if values.dim() != 1:
        raise ValueError(f"values must be 1-D, got shape {tuple(values.shape)}")
    if values.numel() and (int(values.min()) < 0 or int(values.max()) > 255):
        raise ValueError("values must be bytes in 0..255")
    return values.to(torch.uint8).cpu().numpy().tobytes().decode("utf-8", errors=errors)
