"""Chapter 18: Diffusion models."""
