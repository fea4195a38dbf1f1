"""Figure helpers of udl.report.figures: what they draw, read back from the Axes (no image comparison)."""

from __future__ import annotations

import pytest
import torch

from udl.report.figures import (
    PALETTE,
    log_positions,
    plot_members_and_combinations,
    plot_size_curves,
    plot_train_test_errors,
    subplots,
)


def test_log_positions_draws_zero_left_of_the_smallest_positive_value() -> None:
    assert log_positions([0.0, 1e-3, 1e-2]) == [1e-3 / 3, 1e-3, 1e-2]
    assert log_positions([0.3, 0.0], below=10) == [0.3, 0.03]
    for bad in ([0.0], [-1.0, 1.0]):
        with pytest.raises(ValueError):
            log_positions(bad)


def test_plot_train_test_errors_means_and_spread() -> None:
    test = torch.tensor([[0.2, 0.4], [0.1, 0.1]], dtype=torch.float64)
    train = torch.tensor([[0.0, 0.2], [0.5, 0.5]], dtype=torch.float64)
    _, axes = subplots(1, 2)
    plot_train_test_errors(axes[0, 0], [1.0, 2.0], test, train)
    ax = axes[0, 0]
    test_line, train_line = ax.get_lines()[0], ax.get_lines()[-1]
    assert test_line.get_ydata().tolist() == pytest.approx([30.0, 10.0])
    assert (
        train_line.get_ydata().tolist() == pytest.approx([10.0, 50.0]) and train_line.get_linestyle() == "--"
    )
    bars = ax.containers[0].lines[2][0].get_segments()  # the error bars: mean ± one standard deviation
    sd = 100 * 0.02**0.5  # the first setting's seeds: 20% and 40%
    assert [float(v) for s in bars for v in s[:, 1]] == pytest.approx([30 - sd, 30 + sd, 10, 10])
    plot_train_test_errors(axes[0, 1], [1.0, 2.0], test[:, :1], train[:, :1])  # one seed: zero-length bars
    assert all(s[0, 1] == s[1, 1] for s in axes[0, 1].containers[0].lines[2][0].get_segments())


def test_plot_members_and_combinations_labels_the_first_members() -> None:
    grid = torch.linspace(0, 1, 5)
    members = torch.stack([grid * k for k in range(6)])
    combos = {"mean": (members.mean(0), 0.1), "median": (members.median(0).values, 0.2)}
    _, axes = subplots(1, 2)
    plot_members_and_combinations(
        axes[0], grid, members, [0.5] * 6, combos, grid, grid[:2], grid[:2], ylim=(-1, 4)
    )
    left, right = axes[0]
    labels = [line.get_label() for line in left.get_lines()]
    assert labels[:6] == ["member (MSE 0.500)"] * 4 + ["_child4", "_child5"]  # only the first 4 in the legend
    assert labels[6:] == ["true f(x)", "training data"] and left.get_ylim() == (-1, 4)
    mean, median = right.get_lines()[:2]
    assert mean.get_label() == "ensemble mean (MSE 0.100)" and median.get_linestyle() == "--"
    assert mean.get_color() == PALETTE[0] and median.get_color() == PALETTE[1]
    assert len(right.get_legend().get_texts()) == 4


def test_plot_size_curves_against_ensemble_size() -> None:
    _, axes = subplots(1, 1)
    ax = axes[0, 0]
    plot_size_curves(ax, {"a": [0.3, 0.2, 0.1]}, singles=[0.31, 0.29, 0.33], scale=100, title="t")
    singles, curve = ax.get_lines()
    assert singles.get_xdata().tolist() == [1, 1, 1] and singles.get_ydata().tolist() == pytest.approx(
        [31, 29, 33]
    )
    assert curve.get_xdata().tolist() == [1, 2, 3] and curve.get_ydata().tolist() == pytest.approx(
        [30, 20, 10]
    )
    assert ax.get_xlabel() == "ensemble size K" and ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["single members", "a"]
