"""Text (UDL chapter 12): byte-level BPE tokenization and n-gram language models."""

from udl.text.bpe import ByteLevelBPE, bytes_to_unicode, pre_tokenize
from udl.text.ngram import NGramCandidate, NGramLM, NGramSelection, best_ngram, bits_per_byte

__all__ = [
    "ByteLevelBPE",
    "NGramCandidate",
    "NGramLM",
    "NGramSelection",
    "best_ngram",
    "bits_per_byte",
    "bytes_to_unicode",
    "pre_tokenize",
]
