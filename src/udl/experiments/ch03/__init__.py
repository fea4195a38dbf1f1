"""Chapter 3: Shallow neural networks."""
