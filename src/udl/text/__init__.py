"""Text (UDL chapter 12): byte-level BPE tokenization, n-gram language models, and decoding an autoregressive model
(greedy, beam search, temperature, top-k, nucleus)."""

from udl.text import bpe, decoding, ngram
from udl.text.bpe import *  # noqa: F403
from udl.text.decoding import *  # noqa: F403
from udl.text.ngram import *  # noqa: F403

__all__: list[str] = []
__all__ += bpe.__all__
__all__ += decoding.__all__
__all__ += ngram.__all__
