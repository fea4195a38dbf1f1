"""Chapter 9: Regularization."""
