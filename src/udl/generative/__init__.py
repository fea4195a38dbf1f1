"""Generative models (UDL chapters 14-18): normalizing flows (``udl.generative.flows``, chapter 16)."""

from udl.generative import flows
from udl.generative.flows import Flow, FlowDensity, SequentialFlow, StandardNormal

__all__ = ["Flow", "FlowDensity", "SequentialFlow", "StandardNormal", "flows"]
