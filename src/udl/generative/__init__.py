"""Generative models (UDL chapters 14-18): GANs (``udl.generative.gan``, chapter 15), normalizing flows
(``udl.generative.flows``, chapter 16), variational autoencoders (``udl.generative.vae``, chapter 17) and diffusion
models (``udl.generative.diffusion``, chapter 18).

The GAN, VAE and diffusion names are re-exported here (diffusion's sampler as
``udl.generative.diffusion.sample``); the flows live in their own namespace (``from udl.generative.flows import
AffineCoupling``), with the interface (``Flow``, ``SequentialFlow``, ``FlowDensity``, ``StandardNormal``) here too.
"""

from udl.generative import diffusion, flows, gan, vae
from udl.generative.diffusion import *  # noqa: F403
from udl.generative.flows import Flow, FlowDensity, SequentialFlow, StandardNormal
from udl.generative.gan import *  # noqa: F403
from udl.generative.vae import (
    VAE,
    mixture_elbo,
    mixture_iwae,
    reparameterization_gradient,
    reparameterize,
    score_function_gradient,
)

__all__: list[str] = ["Flow", "FlowDensity", "SequentialFlow", "StandardNormal", "flows", "gan"]
__all__ += gan.__all__
__all__ += ["diffusion", "vae"]
__all__ += [name for name in diffusion.__all__ if name != "sample"]
__all__ += [
    "VAE",
    "mixture_elbo",
    "mixture_iwae",
    "reparameterization_gradient",
    "reparameterize",
    "score_function_gradient",
]
del sample  # noqa: F821  the sampler stays udl.generative.diffusion.sample: a bare `sample` would be ambiguous
