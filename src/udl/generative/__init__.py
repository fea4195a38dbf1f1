"""Generative models: variational autoencoders (ch. 17) and diffusion models (ch. 18)."""

from udl.generative.vae import (
    VAE,
    mixture_elbo,
    mixture_iwae,
    reparameterization_gradient,
    reparameterize,
    score_function_gradient,
)

__all__ = [
    "VAE",
    "mixture_elbo",
    "mixture_iwae",
    "reparameterization_gradient",
    "reparameterize",
    "score_function_gradient",
]
