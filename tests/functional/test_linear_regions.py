"""Tests of udl.functional.linear_regions: the counting formulas and the empirical region counters."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from reference import F64
from reference import gen as _gen
from udl.functional import (
    count_regions_1d,
    count_regions_2d,
    deep_max_regions_lower_bound,
    zaslavsky_max_regions,
)
from udl.nn import MLP, ShallowNetwork, sawtooth_mlp

# ------------------------------------------------------------------------------------------------ formulas


@pytest.mark.parametrize(
    ("in_features", "hidden", "expected"),
    [
        (1, 3, 4),  # three joints on a line: four pieces (fig. 3.3)
        (2, 3, 7),  # three lines in the plane (fig. 3.8)
        (2, 4, 11),
        (2, 6, 22),
        (3, 4, 15),
        (1, 0, 1),
        (0, 5, 1),
        (0, 0, 1),
        (3, 3, 8),  # D <= D_i: 2^D
        (5, 3, 8),
        (10, 10, 1024),
    ],
)
def test_zaslavsky_known_values(in_features, hidden, expected):
    assert zaslavsky_max_regions(in_features, hidden) == expected


@pytest.mark.parametrize("hidden", [0, 1, 2, 5, 17, 100])
def test_zaslavsky_one_input_is_hidden_plus_one(hidden):
    assert zaslavsky_max_regions(1, hidden) == hidden + 1


@pytest.mark.parametrize(("in_features", "hidden"), [(1, 1), (3, 2), (4, 4), (7, 3), (20, 20)])
def test_zaslavsky_few_hidden_units_is_power_of_two(in_features, hidden):
    assert zaslavsky_max_regions(in_features, hidden) == 2**hidden


def test_zaslavsky_satisfies_arrangement_recurrence():
    # Adding one hyperplane in general position to n of them in R^d splits as many regions as the n
    # hyperplanes' traces cut it into: r(d, n) = r(d, n-1) + r(d-1, n-1).
    for d in range(1, 7):
        for n in range(1, 15):
            assert zaslavsky_max_regions(d, n) == zaslavsky_max_regions(d, n - 1) + zaslavsky_max_regions(
                d - 1, n - 1
            )


def test_zaslavsky_is_exact_python_int_for_large_values():
    value = zaslavsky_max_regions(10, 500)
    assert isinstance(value, int)
    assert value == sum(math.comb(500, j) for j in range(11))
    assert value > 2**63  # would overflow int64


def test_zaslavsky_rejects_negative():
    with pytest.raises(ValueError):
        zaslavsky_max_regions(-1, 3)
    with pytest.raises(ValueError):
        zaslavsky_max_regions(2, -1)


@pytest.mark.parametrize(("in_features", "width"), [(1, 1), (1, 10), (2, 3), (2, 6), (10, 50)])
def test_deep_bound_depth_one_is_zaslavsky(in_features, width):
    assert deep_max_regions_lower_bound(in_features, width, 1) == zaslavsky_max_regions(in_features, width)


def test_deep_bound_book_numbers():
    # fig. 4.7: D_i = 1, K = 5, D = 10 -> (D+1)^(K-1) * (D+1) = 11^5 = 161,051
    assert deep_max_regions_lower_bound(1, 10, 5) == 11**4 * 11 == 161_051
    # D_i = 10, K = 5, D = 50: (50 // 10 + 1)^(10 * 4) * sum_{j<=10} C(50, j), more than 10^40
    big = deep_max_regions_lower_bound(10, 50, 5)
    assert big == 6**40 * sum(math.comb(50, j) for j in range(11))
    assert big > 10**40


@pytest.mark.parametrize(("in_features", "width", "depth"), [(1, 3, 4), (2, 4, 2), (2, 5, 3), (3, 7, 2)])
def test_deep_bound_formula(in_features, width, depth):
    expected = (width // in_features + 1) ** (in_features * (depth - 1)) * zaslavsky_max_regions(
        in_features, width
    )
    assert deep_max_regions_lower_bound(in_features, width, depth) == expected


def test_deep_bound_grows_with_depth():
    values = [deep_max_regions_lower_bound(2, 6, k) for k in range(1, 6)]
    assert values == sorted(values)
    assert len(set(values)) == len(values)


@pytest.mark.parametrize(("in_features", "width", "depth"), [(0, 3, 2), (1, 3, 0), (3, 2, 2)])
def test_deep_bound_rejects_invalid(in_features, width, depth):
    with pytest.raises(ValueError):
        deep_max_regions_lower_bound(in_features, width, depth)


# --------------------------------------------------------------------------------------- 1-D region counts


def _adaptive_num(points: torch.Tensor, lo: float, hi: float) -> int:
    """Enough samples that every gap between consecutive points (and the ends) holds several samples."""
    edges = torch.cat([torch.tensor([lo], dtype=F64), points.sort().values, torch.tensor([hi], dtype=F64)])
    min_gap = float((edges[1:] - edges[:-1]).min())
    return max(1_000, math.ceil(4 * (hi - lo) / min_gap) + 1)


@pytest.mark.parametrize(("seed", "hidden"), [(0, 3), (1, 5), (2, 8), (3, 12), (4, 20)])
def test_count_1d_shallow_equals_joints_inside_plus_one(seed, hidden):
    net = ShallowNetwork(1, hidden, generator=_gen(seed), dtype=F64)
    joints = net.joints().detach()
    lo, hi = -3.0, 3.0
    inside = joints[(joints > lo) & (joints < hi)]
    num = _adaptive_num(inside, lo, hi)
    assert num <= 200_000, "joints too close for this seed"
    count = count_regions_1d(net, lo, hi, num=num)
    assert count == inside.numel() + 1
    assert count <= zaslavsky_max_regions(1, hidden)


def test_count_1d_shallow_wide_interval_reaches_max():
    # Over an interval containing every joint, a net with nonzero slopes has exactly D + 1 regions.
    net = ShallowNetwork(1, 6, generator=_gen(5), dtype=F64)
    joints = net.joints().detach()
    assert torch.isfinite(joints).all()
    lo, hi = float(joints.min()) - 1.0, float(joints.max()) + 1.0
    num = _adaptive_num(joints, lo, hi)
    assert num <= 200_000
    assert count_regions_1d(net, lo, hi, num=num) == 7 == zaslavsky_max_regions(1, 6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_count_1d_along_segment_in_plane_counts_crossed_lines(seed):
    # In 2-D each hidden unit's joint is a line; a segment crosses it iff the pre-activation changes sign.
    net = ShallowNetwork(2, 10, generator=_gen(seed), dtype=F64)
    a = torch.tensor([-4.0, -1.5], dtype=F64)
    b = torch.tensor([3.0, 2.5], dtype=F64)
    th = net.theta.detach()
    t_cross = -(th[:, 0] + th[:, 1:] @ a) / (th[:, 1:] @ (b - a))  # where unit d's pre-activation is 0
    inside = t_cross[(t_cross > 0) & (t_cross < 1)]
    num = _adaptive_num(inside, 0.0, 1.0)
    assert num <= 200_000
    assert count_regions_1d(net, a, b, num=num) == inside.numel() + 1
    # a sequence of floats is accepted as a point too
    assert count_regions_1d(net, a.tolist(), b.tolist(), num=num) == inside.numel() + 1


@pytest.mark.parametrize(("width", "depth"), [(2, 3), (3, 3), (4, 2), (2, 6), (5, 2), (3, 1)])
def test_sawtooth_has_width_power_depth_regions(width, depth):
    net = sawtooth_mlp(width, depth, dtype=F64)
    assert count_regions_1d(net, 1e-9, 1 - 1e-9) == width**depth
    # D = 1 composes the identity: one region
    assert count_regions_1d(sawtooth_mlp(1, depth, dtype=F64), 1e-9, 1 - 1e-9) == 1


@pytest.mark.parametrize(("width", "depth"), [(2, 3), (3, 3), (4, 2), (2, 6)])
def test_sawtooth_output_zigzags_between_zero_and_one(width, depth):
    net = sawtooth_mlp(width, depth, dtype=F64)
    n = width**depth
    m = torch.arange(n + 1, dtype=F64)
    with torch.no_grad():
        at_breaks = net((m / n).unsqueeze(1)).squeeze(1)
        # alternately 0 and 1 at the breakpoints m / D^K
        torch.testing.assert_close(at_breaks, m.remainder(2), rtol=0, atol=1e-12)
        # linear in between: f(m/n + s/n) = f(m/n) + s (f((m+1)/n) - f(m/n)) for s in (0, 1)
        for s in (0.1, 0.25, 0.5, 0.9):
            inner = net(((m[:-1] + s) / n).unsqueeze(1)).squeeze(1)
            expected = at_breaks[:-1] + s * (at_breaks[1:] - at_breaks[:-1])
            torch.testing.assert_close(inner, expected, rtol=0, atol=1e-12)


def test_count_1d_chunking_invariance():
    net = MLP(1, (6, 5, 4), 1, init="torch", generator=_gen(7), dtype=F64)
    base = count_regions_1d(net, -3.0, 3.0, num=2_000)
    assert base > 3
    for chunk in (1, 7, 64, 1_999, 2_000, 10_000):
        assert count_regions_1d(net, -3.0, 3.0, num=2_000, chunk_size=chunk) == base
    saw = sawtooth_mlp(3, 3, dtype=F64)
    assert count_regions_1d(saw, 1e-9, 1 - 1e-9, num=5_000, chunk_size=7) == 27


def test_count_1d_converges_from_below():
    # A lower bound that grows to the true count: coarse sampling misses narrow regions, never adds any.
    net = sawtooth_mlp(2, 6, dtype=F64)  # 64 regions of width 1/64
    coarse = count_regions_1d(net, 1e-9, 1 - 1e-9, num=20)
    assert 1 < coarse < 64
    assert count_regions_1d(net, 1e-9, 1 - 1e-9, num=100_000) == 64


def test_count_1d_endpoint_order_irrelevant():
    net = MLP(1, (5, 5), 1, init="torch", generator=_gen(8), dtype=F64)
    count = count_regions_1d(net, -2.0, 2.0, num=4_000)
    assert count > 2
    assert count == count_regions_1d(net, 2.0, -2.0, num=4_000)


def test_count_1d_plain_callable():
    def pattern(x: torch.Tensor) -> torch.Tensor:  # two thresholds at 0.25 and 0.5 -> 3 regions on (0, 1)
        return torch.cat([x > 0.25, x > 0.5], dim=1)

    assert count_regions_1d(pattern, 0.01, 0.99, num=1_000) == 3
    assert count_regions_1d(pattern, 0.6, 0.99, num=1_000) == 1


def test_count_1d_no_hidden_layers_is_one_region():
    net = MLP(1, (), 1, generator=_gen(9))
    assert count_regions_1d(net, -100.0, 100.0, num=500) == 1
    net2 = MLP(3, (), 2, generator=_gen(9))
    assert count_regions_1d(net2, [-1.0, -1.0, -1.0], [1.0, 2.0, 3.0], num=500) == 1


@pytest.mark.parametrize(
    "bad_pattern",
    [
        lambda x: (x > 0).float(),  # not bool
        lambda x: (x > 0).squeeze(1),  # not 2-D
        lambda x: (x > 0)[:-1],  # wrong N
        lambda x: (x > 0).tolist(),  # not a tensor
    ],
)
def test_count_bad_pattern_raises(bad_pattern):
    with pytest.raises(ValueError, match="bool tensor of shape"):
        count_regions_1d(bad_pattern, -1.0, 1.0, num=10)


def test_count_2d_bad_pattern_raises():
    with pytest.raises(ValueError, match="bool tensor of shape"):
        count_regions_2d(lambda x: x[:, 0] > 0, (-1, 1), (-1, 1), resolution=4)  # 1-D
    with pytest.raises(ValueError, match="bool tensor of shape"):
        count_regions_2d(lambda x: (x > 0).to(torch.int64), (-1, 1), (-1, 1), resolution=4)


def test_count_1d_argument_errors():
    net = MLP(1, (3,), 1, generator=_gen(10))
    with pytest.raises(ValueError, match="num"):
        count_regions_1d(net, 0.0, 1.0, num=1)
    with pytest.raises(ValueError, match="chunk_size"):
        count_regions_1d(net, 0.0, 1.0, num=10, chunk_size=0)
    with pytest.raises(ValueError, match="start and end"):
        count_regions_1d(net, [0.0, 1.0], [1.0], num=10)
    with pytest.raises(ValueError, match="start and end"):
        count_regions_1d(net, torch.zeros(1, 1), torch.ones(1, 1), num=10)


# --------------------------------------------------------------------------------------- 2-D region counts


def _line_geometry(theta: torch.Tensor) -> tuple[float, float]:
    """Largest |coordinate| of any two lines' intersection, and the smallest distance from an intersection to
    a third line (0 would mean three concurrent lines)."""
    d = theta.shape[0]
    coords, delta = [], math.inf
    for i, j in itertools.combinations(range(d), 2):
        p = torch.linalg.solve(theta[[i, j], 1:], -theta[[i, j], 0])
        coords.append(p)
        for k in set(range(d)) - {i, j}:
            delta = min(delta, abs(float(theta[k, 0] + theta[k, 1:] @ p)) / float(theta[k, 1:].norm()))
    return float(torch.stack(coords).abs().max()), delta


@pytest.mark.parametrize(
    ("hidden", "seed"), [(3, 0), (4, 3), (4, 4), (4, 9), (4, 16), (6, 13), (6, 15), (6, 26)]
)
def test_count_2d_shallow_general_position_attains_zaslavsky(hidden, seed):
    net = ShallowNetwork(2, hidden, generator=_gen(seed), dtype=F64)
    extent, delta = _line_geometry(net.theta.detach())
    assert delta > 0
    half = 1.5 * extent + 1.0  # every intersection well inside the box
    # Each region contains a disk of radius ~delta/3; a grid of spacing < 0.4 delta cannot miss it.
    resolution = math.ceil(2 * half / (0.4 * delta)) + 1
    assert resolution <= 600, "regions too thin for this seed"
    count = count_regions_2d(net, (-half, half), (-half, half), resolution=resolution)
    assert count == zaslavsky_max_regions(2, hidden) == 1 + hidden + math.comb(hidden, 2)


def test_count_2d_fig_3_8_three_units():
    # Lines x1 = 0.5, x2 = 0.5, x1 + x2 = 0.5 (not concurrent): 7 regions in a box containing the triangle.
    theta = torch.tensor([[-0.5, 1.0, 0.0], [-0.5, 0.0, 1.0], [-0.5, 1.0, 1.0]], dtype=F64)
    net = ShallowNetwork.from_parameters(theta, torch.ones(4, dtype=F64))
    assert count_regions_2d(net, (-2.0, 2.0), (-2.0, 2.0), resolution=101) == 7
    # a box that only contains part of the arrangement sees fewer
    assert count_regions_2d(net, (0.6, 2.0), (0.6, 2.0), resolution=101) == 1
    assert count_regions_2d(net, (0.6, 2.0), (-2.0, 2.0), resolution=101) == 3


@pytest.mark.parametrize(("hidden", "seed"), [(4, 0), (6, 7), (10, 1), (20, 2), (40, 3)])
def test_count_2d_shallow_never_exceeds_zaslavsky(hidden, seed):
    net = ShallowNetwork(2, hidden, generator=_gen(seed), dtype=F64)
    count = count_regions_2d(net, (-20.0, 20.0), (-20.0, 20.0), resolution=200)
    assert 1 < count <= zaslavsky_max_regions(2, hidden)


def test_count_2d_labels():
    net = MLP(2, (8, 6), 1, init="torch", generator=_gen(11), dtype=F64)
    res = 40
    count, labels = count_regions_2d(net, (-2.0, 3.0), (-1.0, 1.0), resolution=res, return_labels=True)
    assert labels.shape == (res, res)
    assert labels.dtype == torch.int64
    assert int(labels.min()) == 0 and int(labels.max()) == count - 1
    assert torch.unique(labels).numel() == count
    assert count == count_regions_2d(net, (-2.0, 3.0), (-1.0, 1.0), resolution=res)
    # labels[i, j] belongs to (xs[j], ys[i]); equal labels <-> equal activation patterns
    xs = torch.linspace(-2.0, 3.0, res, dtype=F64)
    ys = torch.linspace(-1.0, 1.0, res, dtype=F64)
    pts = torch.stack([xs.repeat(res), ys.repeat_interleave(res)], dim=1)  # row-major over (i, j)
    with torch.no_grad():
        pats = net.activation_pattern(pts)
    _, inverse = torch.unique(pats.to(torch.int8), dim=0, return_inverse=True)
    flat = labels.reshape(-1)
    # the two labelings are the same partition
    pairs = set(zip(flat.tolist(), inverse.tolist(), strict=True))
    assert len(pairs) == count == int(inverse.max()) + 1


def test_count_2d_label_orientation():
    # Unit active iff x1 > 0.3: labels must change along columns (j, following x1), not rows.
    def pattern(x: torch.Tensor) -> torch.Tensor:
        return (x[:, :1] > 0.3).reshape(-1, 1)

    count, labels = count_regions_2d(pattern, (0.0, 1.0), (-5.0, 5.0), resolution=11, return_labels=True)
    assert count == 2
    xs = torch.linspace(0.0, 1.0, 11)
    for i in range(11):
        row = labels[i]
        assert torch.equal(row == row[-1], xs > 0.3)
    assert bool((labels == labels[:1]).all())  # every row identical


def test_count_2d_plain_callable_quadrants():
    def pattern(x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[:, 0] > 0, x[:, 1] > 0], dim=1)

    assert count_regions_2d(pattern, (-1.0, 1.0), (-1.0, 1.0), resolution=10) == 4
    assert count_regions_2d(pattern, (0.1, 1.0), (-1.0, 1.0), resolution=10) == 2
    assert count_regions_2d(pattern, (0.1, 1.0), (0.1, 1.0), resolution=1) == 1


def test_count_2d_packs_more_than_63_units_exactly():
    # Only unit 63 (the first bit of the second int64 word) or unit 62 (the last bit of the first) varies.
    def pattern_63(x: torch.Tensor) -> torch.Tensor:
        p = torch.zeros(x.shape[0], 70, dtype=torch.bool)
        p[:, 63] = x[:, 0] > 0
        return p

    def pattern_62(x: torch.Tensor) -> torch.Tensor:
        p = torch.ones(x.shape[0], 63, dtype=torch.bool)
        p[:, 62] = x[:, 1] > 0
        return p

    assert count_regions_2d(pattern_63, (-1.0, 1.0), (-1.0, 1.0), resolution=6) == 2
    assert count_regions_2d(pattern_62, (-1.0, 1.0), (-1.0, 1.0), resolution=6) == 2


def test_count_2d_wide_network_matches_brute_force_unique_patterns():
    net = MLP(2, (50, 30), 1, init="torch", generator=_gen(12), dtype=F64)  # 80 units: two code words
    res = 50
    xs = torch.linspace(-3.0, 3.0, res, dtype=F64)
    pts = torch.stack([xs.repeat(res), xs.repeat_interleave(res)], dim=1)
    with torch.no_grad():
        brute = len({tuple(row) for row in net.activation_pattern(pts).tolist()})
    assert count_regions_2d(net, (-3.0, 3.0), (-3.0, 3.0), resolution=res) == brute
    assert count_regions_2d(net, (-3.0, 3.0), (-3.0, 3.0), resolution=res, chunk_size=37) == brute


def test_count_2d_chunking_invariance_of_labels():
    net = ShallowNetwork(2, 12, generator=_gen(13), dtype=F64)
    c1, l1 = count_regions_2d(net, (-5.0, 5.0), (-5.0, 5.0), resolution=60, return_labels=True)
    c2, l2 = count_regions_2d(net, (-5.0, 5.0), (-5.0, 5.0), resolution=60, return_labels=True, chunk_size=7)
    assert c1 == c2
    assert torch.equal(l1, l2)


def test_count_2d_no_hidden_layers_is_one_region():
    net = MLP(2, (), 1, generator=_gen(14))
    count, labels = count_regions_2d(net, (-5.0, 5.0), (-5.0, 5.0), resolution=8, return_labels=True)
    assert count == 1
    assert torch.equal(labels, torch.zeros(8, 8, dtype=torch.int64))


def test_count_2d_argument_errors():
    net = MLP(2, (3,), 1, generator=_gen(15))
    with pytest.raises(ValueError, match="resolution"):
        count_regions_2d(net, (0.0, 1.0), (0.0, 1.0), resolution=0)
    with pytest.raises(ValueError, match="chunk_size"):
        count_regions_2d(net, (0.0, 1.0), (0.0, 1.0), resolution=4, chunk_size=0)
