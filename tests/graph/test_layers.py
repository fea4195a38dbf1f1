"""udl.graph's layers against PyTorch Geometric with copied weights (float64, 1e-10), against the book's dense
matrix formulas, and their gradients."""

from __future__ import annotations

import pytest
import torch
from tests.reference import F64, gen
from torch_geometric.nn import GATConv as PygGATConv
from torch_geometric.nn import GCNConv, GINConv, SAGEConv
from torch_geometric.nn import global_add_pool as pyg_add
from torch_geometric.nn import global_max_pool as pyg_max
from torch_geometric.nn import global_mean_pool as pyg_mean

from udl.graph import (
    GCN,
    DiagonalEnhancedConv,
    GATConv,
    GraphClassifier,
    KipfConv,
    MeanConv,
    ResidualGCNBlock,
    SumConv,
    batch_graphs,
    datasets,
    edge_softmax,
    global_add_pool,
    global_max_pool,
    global_mean_pool,
    permute_nodes,
    to_dense_adjacency,
)

TOL = 1e-10


def _graph(seed: int = 0, n: int = 40):
    g = datasets.contextual_sbm(n, average_degree=4, num_features=5, degree_exponent=2.2, generator=gen(seed))
    return g.x.to(F64).requires_grad_(), g.edge_index


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    assert float((a - b).detach().abs().max()) < TOL


def _matches(ours, theirs, x, ei) -> None:
    """Equal outputs, and equal gradients of a random projection w.r.t. the input and every parameter."""
    out_ours, out_theirs = ours(x, ei), theirs(x, ei)
    _close(out_ours, out_theirs)
    w = torch.randn(out_ours.shape, generator=gen(9), dtype=F64)
    g1 = torch.autograd.grad((out_ours * w).sum(), [x, *ours.parameters()])
    g2 = torch.autograd.grad((out_theirs * w).sum(), [x, *theirs.parameters()])
    for a, b in zip(g1, g2, strict=True):
        _close(a, b)


@pytest.mark.parametrize("self_loops", [True, False])
def test_kipf_equals_pyg_gcnconv(self_loops: bool) -> None:
    x, ei = _graph()
    theirs = GCNConv(5, 3, add_self_loops=self_loops).double()
    torch.nn.init.normal_(theirs.bias, generator=gen(1))
    ours = KipfConv(5, 3, add_self_loops=self_loops).double()
    ours.load_state_dict(theirs.state_dict())
    _matches(ours, theirs, x, ei)


def test_kipf_is_the_book_matrix_formula() -> None:
    x, ei = _graph(1)
    n = len(x)
    layer = KipfConv(5, 3).double()
    a_tilde = to_dense_adjacency(ei, n, F64) + torch.eye(n, dtype=F64)
    d = a_tilde.sum(1).pow(-0.5)
    propagation = d[:, None] * a_tilde * d[None, :]  # D̃^{-1/2} Ã D̃^{-1/2}
    omega, beta = layer.lin.weight, layer.bias
    # the book's Ω H M with H = xᵀ (columns are nodes), transposed back
    _close(layer(x, ei), (omega @ x.T @ propagation).T + beta)


def test_cached_kipf_reuses_the_first_graph() -> None:
    x, ei = _graph()
    layer = KipfConv(5, 3, cached=True).double()
    first = layer(x, ei)
    _close(layer(x, ei[:, :5]), first)  # the cached matrix, not the new edge_index


def test_mean_equals_sage_neighbour_term() -> None:
    x, ei = _graph(2)
    theirs = SAGEConv(5, 3, root_weight=False).double()
    ours = MeanConv(5, 3, include_self=False).double()
    ours.lin.load_state_dict(theirs.lin_l.state_dict())
    _matches(ours, theirs, x, ei)


def test_mean_with_self_is_the_book_formula() -> None:
    x, ei = _graph(3)
    n = len(x)
    layer = MeanConv(5, 3).double()
    a_i = to_dense_adjacency(ei, n, F64) + torch.eye(n, dtype=F64)
    propagation = a_i / a_i.sum(0, keepdim=True)  # (A + I) D̃^{-1}: column n averages ne[n] ∪ {n}
    _close(layer(x, ei), (layer.lin.weight @ x.T @ propagation).T + layer.lin.bias)


def test_diagonal_enhancement_equals_gin_with_linear_nn() -> None:
    x, ei = _graph(4)
    theirs = GINConv(torch.nn.Linear(5, 3), eps=0.3, train_eps=True).double()
    ours = DiagonalEnhancedConv(5, 3, eps=0.3).double()
    ours.lin.load_state_dict(theirs.nn.state_dict())
    _matches(ours, theirs, x, ei)


def test_sum_is_the_book_formula_and_diagonal_at_zero() -> None:
    x, ei = _graph(5)
    n = len(x)
    layer = SumConv(5, 3).double()
    a_i = to_dense_adjacency(ei, n, F64) + torch.eye(n, dtype=F64)
    _close(layer(x, ei), (layer.lin.weight @ x.T @ a_i).T + layer.lin.bias)  # β1ᵀ + Ω H (A + I)
    diag = DiagonalEnhancedConv(5, 3, eps=0.0).double()
    diag.lin.load_state_dict(layer.lin.state_dict())
    _close(diag(x, ei), layer(x, ei))
    no_loops = SumConv(5, 3, self_loops=False).double()
    no_loops.lin.load_state_dict(layer.lin.state_dict())
    _close(no_loops(x, ei), (layer.lin.weight @ x.T @ (a_i - torch.eye(n, dtype=F64))).T + layer.lin.bias)


@pytest.mark.parametrize(("heads", "concat"), [(1, True), (3, True), (3, False)])
def test_gat_equals_pyg_gatconv(heads: int, concat: bool) -> None:
    x, ei = _graph(6)
    torch.manual_seed(0)
    theirs = PygGATConv(5, 4, heads=heads, concat=concat).double()
    torch.nn.init.normal_(theirs.bias, generator=gen(2))
    ours = GATConv(5, 4, heads=heads, concat=concat).double()
    ours.load_state_dict(theirs.state_dict())
    _matches(ours, theirs, x, ei)
    _, (ei_theirs, alpha_theirs) = theirs(x, ei, return_attention_weights=True)
    _, (ei_ours, alpha) = ours(x, ei, return_attention=True)
    assert torch.equal(ei_ours, ei_theirs)
    _close(alpha, alpha_theirs)


def test_edge_softmax_sums_to_one_per_target_and_is_stable() -> None:
    ei = _graph(7)[1]
    scores = torch.randn(ei.shape[1], 2, generator=gen(3), dtype=F64) * 1000  # huge: no overflow
    alpha = edge_softmax(scores, ei[1], 40)
    sums = torch.zeros(40, 2, dtype=F64).index_add_(0, ei[1], alpha)
    has_in = torch.bincount(ei[1], minlength=40) > 0
    _close(sums[has_in], torch.ones_like(sums[has_in]))
    assert torch.isfinite(alpha).all()
    # one target: equals torch.softmax over its edges
    t = int(ei[1, 0])
    sel = ei[1] == t
    _close(alpha[sel], torch.softmax(scores[sel], 0))


def test_readouts_equal_pyg() -> None:
    graphs = datasets.molecules(5, generator=gen(0))
    b = batch_graphs(graphs)
    x = torch.randn(b.num_nodes, 3, generator=gen(1), dtype=F64)
    for ours, theirs in (
        (global_add_pool, pyg_add),
        (global_mean_pool, pyg_mean),
        (global_max_pool, pyg_max),
    ):
        _close(ours(x, b.batch), theirs(x, b.batch))
        _close(ours(x, None), theirs(x, None))


def test_residual_block_adds_its_input() -> None:
    x, ei = _graph(8)
    block = ResidualGCNBlock(5, norm=False).double()
    _close(block(x, ei) - x, torch.relu(block.conv(x, ei)))


@pytest.mark.parametrize("conv", ["sum", "mean", "diagonal", "kipf", "gat"])
def test_layers_are_permutation_equivariant_and_classifier_invariant(conv: str) -> None:
    g = datasets.molecules(1, generator=gen(3))[0]
    perm = torch.randperm(g.num_nodes, generator=gen(4))
    h = permute_nodes(g, perm)
    torch.manual_seed(0)
    model = GCN(3, 8, 2, layers=3, conv=conv).double()  # type: ignore[arg-type]
    _close(model(h.x.double(), h.edge_index), model(g.x.double(), g.edge_index)[perm])
    clf = GraphClassifier(3, 8, 2, conv=conv).double()  # type: ignore[arg-type]
    _close(clf(h.x.double(), h.edge_index), clf(g.x.double(), g.edge_index))


def test_bad_conv_and_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="conv must be one of"):
        GCN(3, 8, 2, conv="cheb")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="layers"):
        GCN(3, 8, 2, layers=0)
    with pytest.raises(ValueError, match="readout"):
        GraphClassifier(3, 8, 2, readout="median")
