"""Data sets made locally, never downloaded: MNIST-1D and the book's toy problems."""

from udl.data.augment import (
    augment_dataset,
    augment_signals,
    circular_shift,
    random_span_mask,
    sample_shift_and_scale,
    shift_and_scale,
)
from udl.data.cache import cache_directory
from udl.data.densities import (
    GaussianMixture,
    concentric_rings,
    grid_of_gaussians,
    mixture_1d,
    ring_of_gaussians,
    two_moons,
)
from udl.data.digits import Digits, load_digits_split, random_shift_rotate, shift_rotate
from udl.data.likelihood import (
    heteroscedastic_sine,
    heteroscedastic_std,
    outlier_line,
    plackett_luce_rankings,
    wrapped_angles,
)
from udl.data.mnist1d import MNIST1D, MNIST1DConfig, load_mnist1d
from udl.data.mnist1d_shifts import mnist1d_with_shifts
from udl.data.shapes import SHAPE_CLASSES, Shapes, make_shapes
from udl.data.splits import validation_split
from udl.data.toy import FUNCTIONS, linear_data, regression_1d, sine_exp_function

__all__ = [
    "FUNCTIONS",
    "MNIST1D",
    "SHAPE_CLASSES",
    "Digits",
    "GaussianMixture",
    "MNIST1DConfig",
    "Shapes",
    "augment_dataset",
    "augment_signals",
    "cache_directory",
    "circular_shift",
    "concentric_rings",
    "grid_of_gaussians",
    "heteroscedastic_sine",
    "heteroscedastic_std",
    "linear_data",
    "load_digits_split",
    "load_mnist1d",
    "make_shapes",
    "mixture_1d",
    "mnist1d_with_shifts",
    "outlier_line",
    "plackett_luce_rankings",
    "random_shift_rotate",
    "random_span_mask",
    "regression_1d",
    "ring_of_gaussians",
    "sample_shift_and_scale",
    "shift_and_scale",
    "shift_rotate",
    "sine_exp_function",
    "two_moons",
    "validation_split",
    "wrapped_angles",
]
