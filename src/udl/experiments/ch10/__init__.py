"""Chapter 10: Convolutional networks."""
