"""Fitting models (UDL ch. 6): gradient descent and line search, SGD with (Nesterov) momentum, RMSprop, Adam,
AdamW, and learning-rate schedules.

The optimizers are ``torch.optim.Optimizer`` subclasses with torch's constructor arguments and defaults and the
same update rules evaluated in the same floating-point order, so a model trained with ``udl.optim.Adam`` follows
the trajectory of ``torch.optim.Adam``; each docstring gives the book's form of the rule and how it maps onto
torch's. The schedules are ``torch.optim.lr_scheduler.LRScheduler`` subclasses with closed-form rates.
"""

from udl.optim._adam import Adam, AdamW
from udl.optim._flow import gradient_flow
from udl.optim._gd import Trajectory, gd_with_line_search, gradient_descent, line_search
from udl.optim._groups import decay_groups
from udl.optim._minimize import minimize_adam, minimize_lbfgs
from udl.optim._paths import first_step_below, optimizer_path, steps_to_tolerance
from udl.optim._rmsprop import RMSprop
from udl.optim._schedules import CosineDecay, ExponentialDecay, StepDecay, WarmupThenDecay
from udl.optim._sgd import SGD

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "CosineDecay",
    "ExponentialDecay",
    "RMSprop",
    "StepDecay",
    "Trajectory",
    "WarmupThenDecay",
    "decay_groups",
    "first_step_below",
    "gd_with_line_search",
    "gradient_descent",
    "gradient_flow",
    "line_search",
    "minimize_adam",
    "minimize_lbfgs",
    "optimizer_path",
    "steps_to_tolerance",
]
