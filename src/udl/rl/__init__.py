"""Reinforcement learning (UDL chapter 19): environments, replay, DQN, policy gradients, offline RL."""

from udl.rl.cartpole import VectorCartPole

__all__ = ["VectorCartPole"]
