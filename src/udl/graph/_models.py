"""Whole graph networks: a K-layer GCN for node tasks and a graph classifier (UDL §13.3–13.5)."""

from __future__ import annotations

import itertools
from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from udl.graph._layers import (
    DiagonalEnhancedConv,
    GATConv,
    KipfConv,
    MeanConv,
    ResidualGCNBlock,
    SumConv,
    global_add_pool,
    global_max_pool,
    global_mean_pool,
)

__all__ = ["CONVS", "GCN", "GraphClassifier", "make_conv"]

Conv = Literal["sum", "mean", "diagonal", "kipf", "gat"]
CONVS: tuple[str, ...] = ("sum", "mean", "diagonal", "kipf", "gat")
"""the layer kinds :func:`make_conv` builds"""


def make_conv(
    kind: str, in_channels: int, out_channels: int, *, heads: int = 4, cached: bool = False
) -> nn.Module:
    """One layer by name: ``sum`` (:class:`SumConv`), ``mean``, ``diagonal``, ``kipf`` or ``gat`` (``heads`` heads
    averaged, so the width is ``out_channels`` whatever ``heads``)."""
    if kind == "sum":
        return SumConv(in_channels, out_channels, cached=cached)
    if kind == "mean":
        return MeanConv(in_channels, out_channels, cached=cached)
    if kind == "diagonal":
        return DiagonalEnhancedConv(in_channels, out_channels, cached=cached)
    if kind == "kipf":
        return KipfConv(in_channels, out_channels, cached=cached)
    if kind == "gat":
        return GATConv(in_channels, out_channels, heads=heads, concat=False)
    raise ValueError(f"conv must be one of {CONVS}, got {kind!r}")


class GCN(nn.Module):
    """K graph layers with ReLU between them (UDL eq. 13.4: H_{k+1} = F[H_k, A, φ_k]); the last layer's output
    is the node logits (N, out).

    ``residual=True`` makes every hidden layer after the first a :class:`ResidualGCNBlock` (Kipf layers,
    ``norm`` LayerNorm inside); ``dropout`` is applied to each layer's input in training, as Kipf & Welling.
    ``layers=1`` is a single linear graph layer.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        layers: int = 2,
        *,
        conv: Conv = "kipf",
        residual: bool = False,
        norm: bool = False,
        dropout: float = 0.0,
        heads: int = 4,
        cached: bool = False,
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        sizes = [in_channels] + [hidden_channels] * (layers - 1) + [out_channels]
        self.dropout, self.residual = dropout, residual
        blocks: list[nn.Module] = []
        for k, (a, b) in enumerate(itertools.pairwise(sizes)):
            if residual and 0 < k < layers - 1:
                blocks.append(ResidualGCNBlock(a, norm=norm, cached=cached))
            else:
                blocks.append(make_conv(conv, a, b, heads=heads, cached=cached))
        self.layers = nn.ModuleList(blocks)
        self.norms = nn.ModuleList(
            [
                nn.LayerNorm(hidden_channels) if norm and not residual else nn.Identity()
                for _ in range(layers - 1)
            ]
        )

    def embed(self, x: Tensor, edge_index: Tensor) -> list[Tensor]:
        """Every layer's node representations H_1..H_K (the last one without activation)."""
        out = []
        for k, layer in enumerate(self.layers):
            x = F.dropout(x, self.dropout, self.training)
            x = layer(x, edge_index)
            if k < len(self.layers) - 1 and not isinstance(layer, ResidualGCNBlock):
                x = F.relu(self.norms[k](x))
            out.append(x)
        return out

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.embed(x, edge_index)[-1]


READOUTS = {"sum": global_add_pool, "mean": global_mean_pool, "max": global_max_pool}


class GraphClassifier(nn.Module):
    """Graph-level prediction (UDL §13.5, eq. 13.2 with a readout): K graph layers with ReLU, a readout
    (``sum``, ``mean`` as the book's H_K 1/N, or ``max``) per graph of the batch, then a linear layer to logits.
    Invariant to a permutation of each graph's nodes (the layers are equivariant, the readout invariant)."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_classes: int,
        layers: int = 3,
        *,
        conv: Conv = "sum",
        readout: str = "mean",
    ) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {tuple(READOUTS)}, got {readout!r}")
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        sizes = [in_channels] + [hidden_channels] * layers
        self.convs = nn.ModuleList([make_conv(conv, a, b) for a, b in itertools.pairwise(sizes)])
        self.readout = READOUTS[readout]
        self.head = nn.Linear(hidden_channels, num_classes)

    def node_embeddings(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """H_K (N, hidden): equivariant to node permutations."""
        for conv in self.convs:
            x = F.relu(conv(x, edge_index))
        return x

    def forward(
        self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None, num_graphs: int | None = None
    ) -> Tensor:
        return self.head(self.readout(self.node_embeddings(x, edge_index), batch, num_graphs))
