"""Text (UDL chapter 12): byte-level BPE tokenization and n-gram language models."""

from udl.text.bpe import ByteLevelBPE, bytes_to_unicode, pre_tokenize

__all__ = [
    "ByteLevelBPE",
    "bytes_to_unicode",
    "pre_tokenize",
]
