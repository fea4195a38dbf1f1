"""Data sets made locally, never downloaded: MNIST-1D and the book's toy problems."""

from udl.data.mnist1d import MNIST1D, MNIST1DConfig, load_mnist1d
from udl.data.toy import FUNCTIONS, linear_data, regression_1d, sine_exp_function

__all__ = [
    "FUNCTIONS",
    "MNIST1D",
    "MNIST1DConfig",
    "linear_data",
    "load_mnist1d",
    "regression_1d",
    "sine_exp_function",
]
