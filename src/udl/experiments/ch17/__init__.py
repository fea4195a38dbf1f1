"""Chapter 17: Variational autoencoders."""
