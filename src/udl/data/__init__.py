"""Data sets made locally, never downloaded: MNIST-1D, the book's toy problems, 8x8 digits, shapes, toy densities,
text that ships with Python, and a synthetic data set with a protected attribute.

Each submodule lists its public names in ``__all__``; this package re-exports exactly those (one list per name).
"""

from udl.data import (
    augment,
    cache,
    densities,
    digits,
    fairness,
    likelihood,
    mnist1d,
    mnist1d_shifts,
    sequences,
    shapes,
    splits,
    text,
    toy,
)
from udl.data.augment import *  # noqa: F403
from udl.data.cache import *  # noqa: F403
from udl.data.densities import *  # noqa: F403
from udl.data.digits import *  # noqa: F403
from udl.data.fairness import *  # noqa: F403
from udl.data.likelihood import *  # noqa: F403
from udl.data.mnist1d import *  # noqa: F403
from udl.data.mnist1d_shifts import *  # noqa: F403
from udl.data.sequences import *  # noqa: F403
from udl.data.shapes import *  # noqa: F403
from udl.data.splits import *  # noqa: F403
from udl.data.text import *  # noqa: F403
from udl.data.toy import *  # noqa: F403

__all__: list[str] = []
__all__ += augment.__all__
__all__ += cache.__all__
__all__ += densities.__all__
__all__ += digits.__all__
__all__ += fairness.__all__
__all__ += likelihood.__all__
__all__ += mnist1d.__all__
__all__ += mnist1d_shifts.__all__
__all__ += sequences.__all__
__all__ += shapes.__all__
__all__ += splits.__all__
__all__ += text.__all__
__all__ += toy.__all__
