"""Chapter 13: Graph neural networks."""
