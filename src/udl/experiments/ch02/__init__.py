"""Chapter 2: Supervised learning."""
