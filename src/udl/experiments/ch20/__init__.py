"""Chapter 20: Why does deep learning work?"""
