"""Ready-made stacks of one flow family for D-dimensional vectors (the families of UDL section 16.3), so that
experiments and users compare families at equal depth with one call."""

from __future__ import annotations

from typing import Literal, get_args

import torch

from udl.generative.flows._autoregressive import InverseAutoregressiveFlow, MaskedAutoregressiveFlow
from udl.generative.flows._base import Flow, SequentialFlow
from udl.generative.flows._coupling import AffineCoupling, Permutation, alternating_mask, mlp_conditioner
from udl.generative.flows._elementwise import PiecewiseLinearFlow
from udl.generative.flows._linear import LinearLU
from udl.generative.flows._residual import ContractiveMLP, ResidualFlow

__all__ = ["FLOW_FAMILIES", "FlowFamily", "flow_stack"]

FlowFamily = Literal["elementwise-linear", "coupling", "maf", "iaf", "residual"]
FLOW_FAMILIES: tuple[str, ...] = get_args(FlowFamily)


def flow_stack(
    family: str,
    features: int,
    layers: int = 4,
    hidden: int = 64,
    *,
    bins: int = 16,
    bound: float = 5.0,
    lipschitz: float = 0.9,
    generator: torch.Generator | None = None,
) -> SequentialFlow:
    """``layers`` flows of one family on (N, D) inputs.

    - "elementwise-linear": [LinearLU, PiecewiseLinearFlow(bins, bound)] per layer (16.3.1-16.3.2);
    - "coupling": RealNVP affine couplings on alternating halves, MLP conditioners (16.3.4);
    - "maf" / "iaf": masked / inverse autoregressive flows, the variable order reversed between layers
      (16.3.5-16.3.6);
    - "residual": contractive residual blocks, Lip(g) ≤ ``lipschitz``, exact log-determinant (16.3.7; for small D).
    """
    if family not in FLOW_FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FLOW_FAMILIES)}; got {family!r}")
    if min(features, layers, hidden) < 1:
        raise ValueError(f"features, layers and hidden must be >= 1, got {features}, {layers}, {hidden}")
    flows: list[Flow] = []
    for i in range(layers):
        if family == "elementwise-linear":
            flows += [LinearLU(features, generator=generator), PiecewiseLinearFlow(features, bins, bound)]
        elif family == "coupling":
            conditioner = mlp_conditioner(features, hidden, 2, generator=generator)
            flows.append(AffineCoupling(alternating_mask(features, i % 2), conditioner))
        elif family in ("maf", "iaf"):
            cls = MaskedAutoregressiveFlow if family == "maf" else InverseAutoregressiveFlow
            flows.append(cls(features, hidden, 2, generator=generator))
            if i < layers - 1:
                flows.append(Permutation(features))
        else:
            flows.append(ResidualFlow(ContractiveMLP(features, hidden, 2, lipschitz, generator=generator)))
    return SequentialFlow(*flows)
