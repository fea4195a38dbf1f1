"""Chapter 11: Residual networks."""
