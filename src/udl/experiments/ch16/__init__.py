"""Chapter 16: Normalizing flows."""
