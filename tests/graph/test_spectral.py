"""The spectral view: Laplacians against networkx, filters against their closed forms, and Kipf's layer as the
first-order Chebyshev filter with the renormalization trick."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from tests.reference import F64, gen

from udl.graph import (
    KipfConv,
    chebyshev_filter,
    datasets,
    kipf_spectral_response,
    laplacian,
    laplacian_eigenbasis,
    spectral_filter,
    to_dense_adjacency,
)


def _graph():
    g = datasets.karate_club(gen(0))
    return g.edge_index, g.num_nodes


def test_laplacians_equal_networkx() -> None:
    ei, n = _graph()
    g = nx.karate_club_graph()
    ref = torch.tensor(nx.normalized_laplacian_matrix(g, weight=None).toarray(), dtype=F64)
    assert float((laplacian(ei, n) - ref).abs().max()) < 1e-12
    ref = torch.tensor(nx.laplacian_matrix(g, weight=None).toarray(), dtype=F64)
    assert torch.equal(laplacian(ei, n, normalization=None), ref)
    with pytest.raises(ValueError, match="normalization"):
        laplacian(ei, n, normalization="rw")


def test_eigenbasis_spectrum() -> None:
    ei, n = _graph()
    values, vectors = laplacian_eigenbasis(laplacian(ei, n))
    assert abs(float(values[0])) < 1e-12 and float(values[-1]) <= 2 + 1e-12  # connected: one zero eigenvalue
    assert float(values[1]) > 1e-6
    assert float((vectors.T @ vectors - torch.eye(n, dtype=F64)).abs().max()) < 1e-12
    with pytest.raises(ValueError, match="symmetric"):
        laplacian_eigenbasis(torch.triu(torch.ones(3, 3, dtype=F64)))


def test_spectral_filter_of_a_polynomial_is_the_matrix_polynomial() -> None:
    ei, n = _graph()
    lap = laplacian(ei, n)
    values, vectors = laplacian_eigenbasis(lap)
    x = torch.randn(n, 3, generator=gen(1), dtype=F64)
    out = spectral_filter(x, values, vectors, lambda lam: 0.5 - lam + 0.25 * lam**2)
    ref = (0.5 * torch.eye(n, dtype=F64) - lap + 0.25 * lap @ lap) @ x
    assert float((out - ref).abs().max()) < 1e-10


def test_chebyshev_filter_equals_its_spectral_response() -> None:
    ei, n = _graph()
    lap = laplacian(ei, n)
    values, vectors = laplacian_eigenbasis(lap)
    x = torch.randn(n, 2, generator=gen(2), dtype=F64)
    theta = [0.3, -0.7, 0.2, 0.1]

    # T_0 = 1, T_1 = s, T_2 = 2s² − 1, T_3 = 4s³ − 3s with s = λ − 1 (λ_max = 2)
    def response(lam: torch.Tensor) -> torch.Tensor:
        s = lam - 1
        return theta[0] + theta[1] * s + theta[2] * (2 * s**2 - 1) + theta[3] * (4 * s**3 - 3 * s)

    out = chebyshev_filter(x, lap, theta)
    assert float((out - spectral_filter(x, values, vectors, response)).abs().max()) < 1e-10


def test_kipf_is_first_order_chebyshev_with_renormalization() -> None:
    ei, n = _graph()
    x = torch.randn(n, 4, generator=gen(3), dtype=F64)
    a = to_dense_adjacency(ei, n, F64)
    lap = laplacian(ei, n)
    # first order, θ = θ0 = −θ1: θ (I + D^{-1/2} A D^{-1/2}) x
    d = a.sum(1).pow(-0.5)
    first_order = chebyshev_filter(x, lap, [0.8, -0.8])
    assert float((first_order - 0.8 * (x + (d[:, None] * a * d[None, :]) @ x)).abs().max()) < 1e-10
    # renormalized: the Kipf layer is the spectral filter g(λ̃) = 1 − λ̃ of the graph with self-loops, then Ω
    layer = KipfConv(4, 3, bias=False).double()
    values, vectors, response = kipf_spectral_response(ei, n)
    spectral = spectral_filter(x, values, vectors, lambda lam: 1 - lam) @ layer.lin.weight.T
    assert float((layer(x, ei) - spectral).detach().abs().max()) < 1e-10
    assert torch.equal(response, 1 - values)
