"""Whole architectures, each with a frozen *Config dataclass beside it."""

from udl.models.cnn import MNIST1DCNN, DigitsCNN, DigitsCNNConfig, MNIST1DCNNConfig
from udl.models.detector import GridDetector, GridDetectorConfig
from udl.models.mnist1d import MNIST1DBiGRU, MNIST1DConvNet, MNIST1DLogistic, MNIST1DResMLP
from udl.models.resnet import ResidualMLP, ResidualMLPConfig, ResNet, ResNetConfig
from udl.models.self_supervised import (
    ContrastivePretext,
    InpaintingPretext,
    SignalCNN,
    random_signal_view,
)
from udl.models.unet import UNet, UNetConfig

__all__ = [
    "MNIST1DCNN",
    "ContrastivePretext",
    "DigitsCNN",
    "DigitsCNNConfig",
    "GridDetector",
    "GridDetectorConfig",
    "InpaintingPretext",
    "MNIST1DBiGRU",
    "MNIST1DCNNConfig",
    "MNIST1DConvNet",
    "MNIST1DLogistic",
    "MNIST1DResMLP",
    "ResNet",
    "ResNetConfig",
    "ResidualMLP",
    "ResidualMLPConfig",
    "SignalCNN",
    "UNet",
    "UNetConfig",
    "random_signal_view",
]

from udl.models.transformer import (
    POSITIONAL,
    BoundDecoder,
    DecoderLM,
    DecoderLMConfig,
    EncoderDecoderTransformer,
    MaskedLanguageModel,
    MaskedLMConfig,
    Seq2SeqConfig,
    TransformerCache,
    mask_tokens,
    use_local_global_attention,
)

__all__ += [
    "POSITIONAL",
    "BoundDecoder",
    "DecoderLM",
    "DecoderLMConfig",
    "EncoderDecoderTransformer",
    "MaskedLMConfig",
    "MaskedLanguageModel",
    "Seq2SeqConfig",
    "TransformerCache",
    "mask_tokens",
    "use_local_global_attention",
]
