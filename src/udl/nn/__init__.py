"""Modules of the book: activations as modules, the shallow network (ch. 3), the deep MLP (ch. 4);
``udl.nn.init`` holds the initializations (ch. 7)."""

from udl.nn import init
from udl.nn._activations import Activation, Heaviside, activation_module
from udl.nn._augmented import AugmentedTraining
from udl.nn._batched import BatchedShallowNetwork
from udl.nn._batchnorm import BatchNorm
from udl.nn._dropout import (
    Dropout,
    DropoutMLP,
    MCDropoutPrediction,
    exact_dropout_average,
    mc_dropout_predict,
    mc_dropout_samples,
)
from udl.nn._ensemble import StackedEnsemble
from udl.nn._heads import MLPTrunk, TrunkWithHeads, freeze, mlp_trunk, replace_head, unfreeze
from udl.nn._mlp import MLP, Init, count_parameters, sawtooth_mlp
from udl.nn._noisy import NoisyTraining
from udl.nn._residual import ResidualConvBlock, ResidualMLPBlock, seeded_conv, seeded_linear
from udl.nn._shallow import ShallowNetwork

__all__ = [
    "MLP",
    "Activation",
    "AugmentedTraining",
    "BatchNorm",
    "BatchedShallowNetwork",
    "Dropout",
    "DropoutMLP",
    "Heaviside",
    "Init",
    "MCDropoutPrediction",
    "MLPTrunk",
    "NoisyTraining",
    "ResidualConvBlock",
    "ResidualMLPBlock",
    "ShallowNetwork",
    "StackedEnsemble",
    "TrunkWithHeads",
    "activation_module",
    "count_parameters",
    "exact_dropout_average",
    "freeze",
    "init",
    "mc_dropout_predict",
    "mc_dropout_samples",
    "mlp_trunk",
    "replace_head",
    "sawtooth_mlp",
    "seeded_conv",
    "seeded_linear",
    "unfreeze",
]

from udl.nn._attention import (
    KVCache,
    LocalGlobalAttention,
    MultiheadAttention,
    attention_modules,
    head_importance,
    prune_heads,
)
from udl.nn._positional import (
    ALiBi,
    LearnedPositionalEmbedding,
    RelativePositionBias,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_slopes,
    relative_position_bucket,
    sinusoidal_encoding,
)
from udl.nn._transformer import TransformerDecoderLayer, TransformerEncoderLayer

__all__ += [
    "ALiBi",
    "KVCache",
    "LearnedPositionalEmbedding",
    "LocalGlobalAttention",
    "MultiheadAttention",
    "RelativePositionBias",
    "RotaryEmbedding",
    "SinusoidalPositionalEncoding",
    "TransformerDecoderLayer",
    "TransformerEncoderLayer",
    "alibi_slopes",
    "attention_modules",
    "head_importance",
    "prune_heads",
    "relative_position_bucket",
    "sinusoidal_encoding",
]
