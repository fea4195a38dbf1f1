"""Chapter 12: Transformers."""
