"""Self-attention's basic properties (UDL sections 12.2-12.3): the equations against torch, permutation
equivariance without positions, attention as a hypernetwork, and why the dot products are scaled.

Protocol (random inputs, float64, no training).

1. *The equations.* ``udl.functional.scaled_dot_product_attention``'s reference path (Softmax[QKᵀ/√D_q]V, UDL eqs.
   12.7 and 12.9) against torch's kernel, and ``udl.nn.MultiheadAttention`` (eq. 12.11) against
   ``torch.nn.MultiheadAttention`` with the same state dict: checks.
2. *Permutation equivariance* (section 12.3). For ``num_inputs`` random inputs X (T tokens of width D) and a random
   permutation P: MhSa[PX] = P·MhSa[X] to float precision (a check); with sinusoidal positions added, the same
   comparison is off by a visible amount (the claim that positions break the symmetry).
3. *A hypernetwork* (section 12.2.1). The output is A(X)·V(X): a linear map of the values whose weights A(X) are
   computed from the input itself. Checked: the output equals A(X)(XΩ_vᵀ + β_v)Ω_oᵀ + β_o summed over heads
   (eq. 12.11 written out); claimed: A changes with X (mean total-variation distance between the attention rows
   of two inputs), where a fixed layer's weights would not change at all.
4. *Scaling* (section 12.2.3). With unit-variance queries and keys the dot products have variance D_q; without
   the 1/√D_q the softmax saturates as D_q grows (its entropy falls towards 0, so do its gradients), with it the
   entropy stays put. Measured over ``num_inputs`` draws at each D_q in ``dims``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from udl.checks import at_least
from udl.functional import attention_weights, scaled_dot_product_attention
from udl.nn import MultiheadAttention, sinusoidal_encoding
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict, all_of

CHAPTER = 12
SECTION = "12.2"
SUMMARY = (
    "Self-attention: equal to torch, permutation-equivariant without positions, a hypernetwork, why √D_q"
)
CONTEXT = (
    "Dot-product self-attention computes each output as a weighted sum of value vectors, the weights a softmax "
    "of scaled query-key dot products (UDL section 12.2). It treats its inputs as a set: permuting them permutes "
    "the outputs, so position has to be added (12.3). The weights themselves are computed from the input, so it "
    "acts like a hypernetwork; the 1/√D_q keeps the softmax out of its saturated, small-gradient regime."
)


@dataclass(frozen=True)
class Config:
    tokens: int = 12
    """sequence length T"""
    width: int = 32
    """model width D"""
    heads: int = 4
    """attention heads H"""
    num_inputs: int = 64
    """random inputs per measurement"""
    dims: tuple[int, ...] = (4, 16, 64, 256, 1024)
    """query/key widths D_q for the scaling measurement, increasing"""
    seed: int = 0
    """seed of the weights and inputs"""

    def __post_init__(self) -> None:
        at_least(self, 2, "tokens", "width", "heads", "num_inputs")
        if self.width % self.heads or self.width % 2:
            raise ValueError(
                f"width must be even and a multiple of heads, got width={self.width}, heads={self.heads}"
            )
        if len(self.dims) < 2 or list(self.dims) != sorted(set(self.dims)) or self.dims[0] < 1:
            raise ValueError(f"dims must be >= 2 increasing positive widths, got {self.dims}")


PRESETS = {
    "smoke": Config(num_inputs=8, dims=(4, 64, 256)),
    "quick": Config(),
    "full": Config(num_inputs=512, dims=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)),
}


def breaks_equivariance_verdict(deviation: float, floor: float = 1e-3) -> Verdict:
    """Positions break the symmetry: the largest deviation from P·MhSa[X] exceeds ``floor``."""
    return Verdict.of(deviation > floor)


def hypernetwork_verdict(tv_distance: float, floor: float = 0.05) -> Verdict:
    """Attention weights depend on the input: mean total-variation distance between two inputs' rows > floor."""
    return Verdict.of(tv_distance > floor)


def scaling_verdict(scaled: list[float], unscaled: list[float]) -> Verdict:
    """Unscaled softmax saturates (entropy at the widest D_q below half that at the narrowest) while the scaled
    one does not (its entropies within a factor 1.5 of each other)."""
    return all_of(unscaled[-1] < 0.5 * unscaled[0], max(scaled) < 1.5 * min(scaled))


def _entropy(weights: torch.Tensor) -> float:
    return float(-(weights * weights.clamp_min(1e-300).log()).sum(-1).mean())


def run(cfg: Config, run: Run) -> None:
    g = torch.Generator().manual_seed(cfg.seed)
    f64 = torch.float64
    t, d, h = cfg.tokens, cfg.width, cfg.heads

    # -- 1. the equations against torch ---------------------------------------------------------------------------
    q, k, v = (torch.randn(cfg.num_inputs, h, t, d // h, generator=g, dtype=f64) for _ in range(3))
    sdpa_error = max(
        float(
            (
                scaled_dot_product_attention(q, k, v, is_causal=c, fused=False)
                - torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=c)
            )
            .abs()
            .max()
        )
        for c in (False, True)
    )
    run.check(
        "sdpa-equals-torch",
        "Softmax[QKᵀ/√D_q]V (UDL eqs. 12.7, 12.9) equals torch's kernel, with and "
        "without the causal mask (float64, max abs difference)",
        error=sdpa_error,
        tolerance=1e-12,
    )
    torch.manual_seed(cfg.seed)  # torch's module initializes from the global RNG
    ref = torch.nn.MultiheadAttention(d, h, batch_first=True, dtype=f64)
    mha = MultiheadAttention(d, h, batch_first=True, dtype=f64)
    mha.load_state_dict(ref.state_dict())
    x = torch.randn(cfg.num_inputs, t, d, generator=g, dtype=f64)
    out, w = mha(x, x, x, average_attn_weights=False)
    out_ref, w_ref = ref(x, x, x, average_attn_weights=False)
    assert w is not None and w_ref is not None
    run.check(
        "mha-equals-torch",
        "Multi-head attention (eq. 12.11) with torch.nn.MultiheadAttention's weights "
        "gives its outputs and attention weights",
        error=max(float((out - out_ref).abs().max()), float((w - w_ref).abs().max())),
        tolerance=1e-12,
    )

    # -- 2. permutation equivariance --------------------------------------------------------------------------------
    perm = torch.randperm(t, generator=g)
    plain = float((mha(x[:, perm], x[:, perm], x[:, perm])[0] - out[:, perm]).abs().max())
    run.check(
        "equivariant-without-positions",
        "Without positions, MhSa[PX] = P·MhSa[X] for a permutation P (section 12.3; max abs difference)",
        error=plain,
        tolerance=1e-12,
    )
    xp = x + sinusoidal_encoding(t, d)
    with_pos = mha(xp, xp, xp)[0]
    xq = x[:, perm] + sinusoidal_encoding(t, d)
    deviation = float((mha(xq, xq, xq)[0] - with_pos[:, perm]).abs().max())
    run.claim(
        "positions-break-equivariance",
        "With sinusoidal positions added, permuting the tokens no longer "
        "just permutes the outputs: order is visible",
        holds=breaks_equivariance_verdict(deviation),
        measured={"max_deviation": deviation, "without_positions": plain},
        expected="max_deviation > 1e-3",
    )

    # -- 3. a hypernetwork -------------------------------------------------------------------------------------------
    e, hd = d, d // h
    w_v, b_v = mha.in_proj_weight[2 * e :], mha.in_proj_bias[2 * e :]
    values = (x @ w_v.T + b_v).unflatten(-1, (h, hd)).transpose(1, 2)  # (N, H, T, hd)
    mixed = (w @ values).transpose(1, 2).flatten(2)  # A_h(X)·V_h(X), heads concatenated
    rebuilt = mixed @ mha.out_proj.weight.T + mha.out_proj.bias
    run.check(
        "output-is-weights-times-values",
        "The output is A(X)·(XΩ_vᵀ + β_v) per head, then Ω_o: a linear "
        "map of the values with input-dependent weights (eq. 12.11 written out)",
        error=float((rebuilt - out).abs().max()),
        tolerance=1e-12,
    )
    tv = float(0.5 * (w[0::2] - w[1::2]).abs().sum(-1).mean())
    run.claim(
        "weights-depend-on-input",
        "Attention is a hypernetwork: the weights A(X) that mix the values "
        "change with the input (mean total-variation distance between the attention rows of two inputs)",
        holds=hypernetwork_verdict(tv),
        measured={"mean_tv_distance": tv},
        expected="> 0.05",
    )

    # -- 4. scaling ----------------------------------------------------------------------------------------------
    scaled, unscaled = [], []
    for dq in cfg.dims:
        qq = torch.randn(cfg.num_inputs, t, dq, generator=g, dtype=f64)
        kk = torch.randn(cfg.num_inputs, t, dq, generator=g, dtype=f64)
        scaled.append(_entropy(attention_weights(qq, kk)))
        unscaled.append(_entropy(attention_weights(qq, kk, scale=1.0)))
        run.log(dq, entropy_scaled=scaled[-1], entropy_unscaled=unscaled[-1])
    run.claim(
        "scaling-prevents-saturation",
        f"Without 1/√D_q the softmax saturates as D_q grows from "
        f"{cfg.dims[0]} to {cfg.dims[-1]} (entropy falls below half); with it the entropy stays within 1.5×",
        holds=scaling_verdict(scaled, unscaled),
        measured={
            "dims": list(cfg.dims),
            "entropy_scaled": scaled,
            "entropy_unscaled": unscaled,
            "uniform": math.log(t),
        },
        expected="unscaled[-1] < 0.5·unscaled[0]; max/min(scaled) < 1.5",
    )
    run.summary(
        max_deviation_with_positions=deviation, mean_tv_distance=tv, entropy_unscaled_last=unscaled[-1]
    )

    # -- figures -------------------------------------------------------------------------------------------------
    fig, axes = subplots(2, h, width=2.6, height=2.6)
    for i in range(h):
        for row, (weights, label) in enumerate(
            [(w[0, i], "no positions"), (mha(xp, xp, xp, average_attn_weights=False)[1][0, i], "sinusoidal")]
        ):
            ax = axes[row, i]
            ax.imshow(weights.detach().numpy(), cmap="viridis", vmin=0)
            ax.set(title=f"head {i + 1}, {label}", xlabel="key", ylabel="query")
            ax.grid(False)
    run.figure("attention-maps", fig)
    fig, axes = subplots(1, 1)
    ax = axes[0, 0]
    ax.plot(cfg.dims, scaled, "o-", label="Softmax[QKᵀ/√D_q]")
    ax.plot(cfg.dims, unscaled, "s--", label="Softmax[QKᵀ] (unscaled)")
    ax.axhline(math.log(t), color="#6b7280", ls=":", label="uniform (log T)")
    ax.set(xscale="log", xlabel="query/key width D_q", ylabel="attention entropy (nats)", title="Why scale")
    ax.legend(fontsize=8)
    run.figure("softmax-saturation", fig)
