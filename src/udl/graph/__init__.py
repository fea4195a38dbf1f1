"""Graph neural networks (UDL ch. 13) in PyTorch Geometric's conventions: graph data and batching, the GCN
family of layers, graph attention, readouts, the spectral view, neighbour sampling and partitioning for large
graphs, and locally made data sets (:mod:`udl.graph.datasets`).

Each private submodule lists its public names in ``__all__``; this package re-exports exactly those (one list per
name), plus the :mod:`udl.graph.datasets` module itself.
"""

from udl.graph import (
    _graph,
    _layers,
    _message,
    _models,
    _neighbourhood,
    _partition,
    _sampling,
    _spectral,
    _training,
    datasets,
)
from udl.graph._graph import *  # noqa: F403
from udl.graph._layers import *  # noqa: F403
from udl.graph._message import *  # noqa: F403
from udl.graph._models import *  # noqa: F403
from udl.graph._neighbourhood import *  # noqa: F403
from udl.graph._partition import *  # noqa: F403
from udl.graph._sampling import *  # noqa: F403
from udl.graph._spectral import *  # noqa: F403
from udl.graph._training import *  # noqa: F403

__all__: list[str] = ["datasets"]
__all__ += _graph.__all__
__all__ += _layers.__all__
__all__ += _message.__all__
__all__ += _models.__all__
__all__ += _neighbourhood.__all__
__all__ += _partition.__all__
__all__ += _sampling.__all__
__all__ += _spectral.__all__
__all__ += _training.__all__
