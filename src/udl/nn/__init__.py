"""Modules of the book: activations as modules, the shallow network (ch. 3), the deep MLP (ch. 4);
``udl.nn.init`` holds the initializations (ch. 7)."""

from udl.nn import init
from udl.nn._activations import Activation, Heaviside, activation_module
from udl.nn._batched import BatchedShallowNetwork
from udl.nn._batchnorm import BatchNorm
from udl.nn._mlp import MLP, count_parameters, sawtooth_mlp
from udl.nn._residual import ResidualConvBlock, ResidualMLPBlock
from udl.nn._shallow import ShallowNetwork

__all__ = [
    "MLP",
    "Activation",
    "BatchNorm",
    "BatchedShallowNetwork",
    "Heaviside",
    "ResidualConvBlock",
    "ResidualMLPBlock",
    "ShallowNetwork",
    "activation_module",
    "count_parameters",
    "init",
    "sawtooth_mlp",
]
