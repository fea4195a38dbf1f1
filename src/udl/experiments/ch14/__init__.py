"""Chapter 14: Unsupervised learning."""
