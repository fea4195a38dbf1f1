"""References for udl's byte-level BPE, shared by tests/text, tests/experiments and benchmarks/bpe.py: a naive
trainer that recounts every pair of every chunk at each merge (the textbook algorithm, O(corpus) per merge), and
HF tokenizers' byte-level BPE trainer set up like udl's (GPT-2 pre-tokenization, 256-byte alphabet).
"""

from __future__ import annotations

import itertools
from collections import Counter

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from udl.text import bytes_to_unicode, pre_tokenize


def hf_byte_level_bpe(text: str, vocab_size: int, min_frequency: int = 2) -> Tokenizer:
    """HF's BpeTrainer on ``text`` with a ByteLevel pre-tokenizer (GPT-2 regex, no prefix space) and decoder."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([text], trainer=trainer)
    return tok


def naive_bpe_merges(text: str, vocab_size: int, min_frequency: int = 2) -> list[tuple[bytes, bytes]]:
    """The merges (as byte strings) of BPE on ``text``: at each step, count all adjacent pairs over all chunks
    (weighted by multiplicity), merge the most frequent one everywhere, left to right. Ties go to the pair
    smallest in HF's numbering: single bytes ordered by their GPT-2 character, then merged tokens by age."""
    spell = bytes_to_unicode()
    key: dict[bytes, int] = {bytes([b]): ord(spell[b]) for b in range(256)}  # bytes first, by character
    chunks = Counter(pre_tokenize(text))
    words = [[bytes([b]) for b in c.encode("utf-8")] for c in chunks]
    freqs = list(chunks.values())
    merges: list[tuple[bytes, bytes]] = []
    while len(key) < vocab_size:
        counts: Counter[tuple[bytes, bytes]] = Counter()
        for word, f in zip(words, freqs, strict=True):
            for pair in itertools.pairwise(word):
                counts[pair] += f
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], key[p[0]], key[p[1]]))
        if counts[best] < min_frequency:
            break
        merged = best[0] + best[1]
        key.setdefault(merged, 0x110000 + len(key))  # after every single byte, in creation order
        merges.append(best)
        for w, word in enumerate(words):
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            words[w] = out
    return merges
