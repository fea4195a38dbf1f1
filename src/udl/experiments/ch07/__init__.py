"""Chapter 7: Gradients and initialization."""
