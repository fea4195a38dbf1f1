"""Generative models: variational autoencoders (ch. 17) and diffusion models (ch. 18)."""

from udl.generative.diffusion import (
    DiffusionSchedule,
    MLPDenoiser,
    beta_schedule,
    ddim_step,
    ddpm_loss,
    ddpm_step,
    guided,
    sample,
    timestep_embedding,
    timestep_subsequence,
)
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
    "DiffusionSchedule",
    "MLPDenoiser",
    "beta_schedule",
    "ddim_step",
    "ddpm_loss",
    "ddpm_step",
    "guided",
    "mixture_elbo",
    "mixture_iwae",
    "reparameterization_gradient",
    "reparameterize",
    "sample",
    "score_function_gradient",
    "timestep_embedding",
    "timestep_subsequence",
]
