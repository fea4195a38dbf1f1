"""Chapter 4: Deep neural networks."""
