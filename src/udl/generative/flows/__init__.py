"""Normalizing flows (UDL chapter 16): the Flow interface, elementwise, linear (LU), coupling (RealNVP),
autoregressive (MADE: MAF, IAF), residual (contractive, fixed-point inverse, power-series log-det) and
multi-scale flows."""

from udl.generative.flows._autoregressive import (
    MADE,
    InverseAutoregressiveFlow,
    MaskedAutoregressiveFlow,
    MaskedLinear,
)
from udl.generative.flows._base import Flow, FlowDensity, SequentialFlow, StandardNormal
from udl.generative.flows._coupling import (
    AffineCoupling,
    Permutation,
    alternating_mask,
    channel_mask,
    conv_conditioner,
    mlp_conditioner,
)
from udl.generative.flows._elementwise import LogitTransform, PiecewiseLinearFlow, piecewise_linear
from udl.generative.flows._linear import LinearLU
from udl.generative.flows._multiscale import MultiScaleFlow, Squeeze, multiscale_realnvp
from udl.generative.flows._residual import (
    ContractiveMLP,
    FixedPointResult,
    ResidualFlow,
    fixed_point_inverse,
    hutchinson_log_det,
    jacobian,
    power_series_log_det,
)
from udl.generative.flows._stacks import FLOW_FAMILIES, FlowFamily, flow_stack

__all__ = [
    "FLOW_FAMILIES",
    "MADE",
    "AffineCoupling",
    "ContractiveMLP",
    "FixedPointResult",
    "Flow",
    "FlowDensity",
    "FlowFamily",
    "InverseAutoregressiveFlow",
    "LinearLU",
    "LogitTransform",
    "MaskedAutoregressiveFlow",
    "MaskedLinear",
    "MultiScaleFlow",
    "Permutation",
    "PiecewiseLinearFlow",
    "ResidualFlow",
    "SequentialFlow",
    "Squeeze",
    "StandardNormal",
    "alternating_mask",
    "channel_mask",
    "conv_conditioner",
    "fixed_point_inverse",
    "flow_stack",
    "hutchinson_log_det",
    "jacobian",
    "mlp_conditioner",
    "multiscale_realnvp",
    "piecewise_linear",
    "power_series_log_det",
]
