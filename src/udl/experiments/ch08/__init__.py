"""Chapter 8: Measuring performance."""
