"""Whole architectures, each with a frozen *Config dataclass beside it."""

from udl.models.cnn import MNIST1DCNN, DigitsCNN, DigitsCNNConfig, MNIST1DCNNConfig
from udl.models.detector import GridDetector, GridDetectorConfig
from udl.models.resnet import ResidualMLP, ResidualMLPConfig, ResNet, ResNetConfig
from udl.models.unet import UNet, UNetConfig

__all__ = [
    "MNIST1DCNN",
    "DigitsCNN",
    "DigitsCNNConfig",
    "GridDetector",
    "GridDetectorConfig",
    "MNIST1DCNNConfig",
    "ResNet",
    "ResNetConfig",
    "ResidualMLP",
    "ResidualMLPConfig",
    "UNet",
    "UNetConfig",
]
