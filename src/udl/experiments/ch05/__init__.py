"""Chapter 5: Loss functions."""
