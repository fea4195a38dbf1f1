"""Chapter 6: Fitting models."""
