"""Chapter 21: Deep learning and ethics."""
