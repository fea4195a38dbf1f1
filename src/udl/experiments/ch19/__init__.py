"""Chapter 19: Reinforcement learning."""
