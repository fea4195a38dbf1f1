r"""Angles on the circle (UDL section 5.6 and problem 5.x: the von Mises likelihood for directions).

Example:
    >>> import math, torch
    >>> round(float(wrap_angle(torch.tensor(3 * math.pi / 2))), 4)   # 270° is −90°
    -1.5708
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["wrap_angle"]


def wrap_angle(angle: Tensor) -> Tensor:
    """Map angles (radians) to [−π, π): θ − 2π·⌊(θ + π) / 2π⌋, elementwise.

    The circular difference of two angles is ``wrap_angle(a - b)``, whose absolute value is the arc length
    between them (at most π).
    """
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi
