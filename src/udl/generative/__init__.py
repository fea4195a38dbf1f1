"""Generative models (UDL chapters 14-18): GANs (``udl.generative.gan``, chapter 15) and normalizing flows
(``udl.generative.flows``, chapter 16).

The GAN names are re-exported here; the flows live in their own namespace (``from udl.generative.flows import
AffineCoupling``), with the interface (``Flow``, ``SequentialFlow``, ``FlowDensity``, ``StandardNormal``) here too.
"""

from udl.generative import flows, gan
from udl.generative.flows import Flow, FlowDensity, SequentialFlow, StandardNormal
from udl.generative.gan import *  # noqa: F403

__all__: list[str] = ["Flow", "FlowDensity", "SequentialFlow", "StandardNormal", "flows", "gan"]
__all__ += gan.__all__
