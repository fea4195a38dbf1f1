"""Text (UDL chapter 12): decoding an autoregressive model (greedy, beam search, temperature, top-k, nucleus)."""

from udl.text.decoding import STRATEGIES, beam_search, filter_logits, generate, next_token

__all__ = [
    "STRATEGIES",
    "beam_search",
    "filter_logits",
    "generate",
    "next_token",
]
