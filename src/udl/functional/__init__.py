"""Stateless functions of the book: activations (ch. 3), linear regression (ch. 2), linear regions (ch. 3-4)."""

from udl.functional.activations import (
    ACTIVATIONS,
    gelu,
    get_activation,
    heaviside,
    leaky_relu,
    linear,
    relu,
    sigmoid,
    softplus,
    tanh,
)
from udl.functional.linear_regions import (
    count_regions_1d,
    count_regions_2d,
    deep_max_regions_lower_bound,
    deep_max_regions_upper_bound,
    zaslavsky_max_regions,
)
from udl.functional.linear_regression import (
    fit_linear_regression,
    gradient_descent_linear_regression,
    least_squares_gradient,
    least_squares_loss,
    loss_surface,
)

__all__ = [
    "ACTIVATIONS",
    "count_regions_1d",
    "count_regions_2d",
    "deep_max_regions_lower_bound",
    "deep_max_regions_upper_bound",
    "fit_linear_regression",
    "gelu",
    "get_activation",
    "gradient_descent_linear_regression",
    "heaviside",
    "leaky_relu",
    "least_squares_gradient",
    "least_squares_loss",
    "linear",
    "loss_surface",
    "relu",
    "sigmoid",
    "softplus",
    "tanh",
    "zaslavsky_max_regions",
]
