"""Chapter 15: Generative adversarial networks."""
