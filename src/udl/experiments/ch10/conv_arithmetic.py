"""Convolution arithmetic (UDL chapter 10, sections 10.1-10.4, figs. 10.4, 10.13): receptive fields, convolution
as a matrix and its transpose, translation equivariance and invariance.

No training and no empirical claim: every statement is an exact property, a **check** computed twice in float64,
by formula and by brute force (the math is in ``udl.functional``).

- *Receptive fields* (section 10.2.6): kernel-3 stacks of depth 1..``max_depth`` with stride 1, doubled dilations
  or stride 2. ``receptive_field``'s recurrence against ``brute_force_receptive_field`` (the gradient of one unit
  of a real all-ones ``nn.Conv1d`` stack) and the book's closed forms r_K = 1 + 2K (linear) and 2^{K+1} − 1
  (exponential; the dilated field has no holes).
- *Convolution as a matrix* (figs. 10.4, 10.13): ``trials`` random 1-D/2-D settings (channels, groups, kernel,
  stride, padding, dilation, padding mode, size): ``conv_matrix_errors`` compares M x with ``F.conv1d/2d`` and,
  for zero padding, Mᵀ v with ``F.conv_transpose1d/2d`` (the transposed convolution is the matrix's transpose).
- *Equivariance* (section 10.1): conv(3) → ReLU → conv(5), "same" padding, random weights, on random signals and
  images with random cyclic shifts (``equivariance_errors``): with circular padding f(T x) = T f(x) and global
  pooling is invariant; with zero padding equivariance holds exactly on ``shift_equivariant_mask`` and, for
  generic weights, breaks off it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from udl.functional import (
    ConvSpec,
    brute_force_receptive_field,
    conv1d_matrix,
    conv_matrix_errors,
    convolve,
    equivariance_errors,
    random_conv_setting,
    receptive_field,
    translate,
)
from udl.report import Run
from udl.report.figures import PALETTE, integer_ticks, subplots

CHAPTER = 10
SECTION = "10.2"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "Receptive fields grow linearly with depth, exponentially with dilation or stride; conv = sparse matrix, "
    "its transpose = transposed conv; equivariance (figs. 10.4, 10.13)"
)
CONTEXT = (
    "Chapter 10 builds convolutional networks from a few exact facts: a convolution is a fully connected layer "
    "with a sparse, weight-sharing matrix (fig. 10.4), and the transposed convolution that upsamples is that "
    "matrix's transpose (fig. 10.13); the receptive field grows with depth, faster with stride or dilation "
    "(section 10.2); and convolution is equivariant to translation, so global pooling on top is invariant "
    "(section 10.1) - exactly for cyclic shifts with circular padding, up to border effects with zero padding."
)

F64 = torch.float64
TOLERANCE = 1e-12
"""Agreement expected of two float64 computations of the same map: absolute for the matrices (entries of order
1-10), relative to the largest output for the equivariance checks."""
Mode = Literal["zeros", "circular", "reflect", "replicate"]
PADDING_MODES: tuple[Mode, ...] = ("zeros", "circular", "zeros", "reflect", "zeros", "replicate")
"""Padding modes of the random trials, in turn: half zero padding (the only mode torch's transpose knows)."""
REACH = 3
"""How far the two-layer network's output at i looks on each side: 1 (kernel 3) + 2 (kernel 5)."""
PADDINGS: tuple[Literal["circular", "zeros"], ...] = ("circular", "zeros")


@dataclass(frozen=True)
class Config:
    max_depth: int = 10
    """deepest stack of the receptive-field sweep, in [2, 16] (depths 1..max_depth; the strided brute force
    needs an input of about 2^(max_depth+1) positions)"""
    trials: int = 200
    """random convolution settings checked against torch (>= 2): 1-D and 2-D alternately; half with zero
    padding, the others circular, reflect and replicate in turn"""
    max_length: int = 16
    """largest input length of a 1-D trial, >= 4 (2-D trials use up to max_length // 2 per side)"""
    signal_length: int = 64
    """length of the random 1-D signals of the equivariance check (>= 16)"""
    image_size: int = 24
    """side of the random 2-D images of the equivariance check (>= 16)"""
    channels: int = 4
    """hidden channels of the two-layer equivariance network (>= 1)"""
    trials_equivariance: int = 20
    """random (network, input, shift) draws per dimension for the equivariance and invariance checks (>= 1)"""
    seed: int = 0
    """seed of the random weights, inputs, settings and shifts"""

    def __post_init__(self) -> None:
        if not 2 <= self.max_depth <= 16:
            raise ValueError(f"max_depth must lie in [2, 16], got {self.max_depth}")
        ranges = {"trials": (2, 10**5), "trials_equivariance": (1, 10**4), "channels": (1, 256)}
        ranges |= {"max_length": (4, 256), "signal_length": (16, 1024), "image_size": (16, 1024)}
        for name, (low, high) in ranges.items():  # signals: the network reaches 3 on each side, seam included
            if not low <= getattr(self, name) <= high:
                raise ValueError(f"{name} must lie in [{low}, {high}], got {getattr(self, name)}")


PRESETS = {
    "smoke": Config(max_depth=4, trials=6, signal_length=16, image_size=16, trials_equivariance=2),
    "quick": Config(),
    "full": Config(max_depth=14, trials=1000, trials_equivariance=100),
}

STACKS = {
    "linear": lambda depth: [ConvSpec(3, padding=1) for _ in range(depth)],
    "dilated": lambda depth: [ConvSpec(3, dilation=2**i, padding=2**i) for i in range(depth)],
    "strided": lambda depth: [ConvSpec(3, stride=2, padding=1) for _ in range(depth)],
}
LAWS = {"linear": (lambda k: 1 + 2 * k, "1 + 2K (linear)")}
LAWS["dilated"] = LAWS["strided"] = (lambda k: 2 ** (k + 1) - 1, "2^(K+1) − 1 (exponential)")
"""The three kernel-3 stacks of the sweep (functions of the depth K), the book's closed forms of their field."""


def matrix_errors(
    setting: dict, generator: torch.Generator, device: torch.device
) -> tuple[float, float | None]:
    """``conv_matrix_errors`` for one random setting: random weight, input and (zero padding) output vector."""
    s = setting
    w = torch.randn(s["c_out"], s["c_in"] // s["groups"], *s["kernel"], generator=generator, dtype=F64)
    x = torch.randn(1, s["c_in"], *s["size"], generator=generator, dtype=F64)
    geometry = {k: s[k] for k in ("stride", "padding", "dilation", "groups")}
    shape = convolve(x, w, padding_mode=s["mode"], **geometry).shape
    v = torch.randn(shape, generator=generator, dtype=F64).to(device) if s["mode"] == "zeros" else None
    return conv_matrix_errors(w.to(device), x.to(device), v, padding_mode=s["mode"], **geometry)


def two_layer_net(dims: int, channels: int, padding_mode: Mode, generator: torch.Generator) -> nn.Sequential:
    """conv(k=3) → ReLU → conv(k=5), "same" padding, random N(0, 1) weights and biases, float64."""
    conv = nn.Conv1d if dims == 1 else nn.Conv2d
    net = nn.Sequential(
        conv(1, channels, 3, padding=1, padding_mode=padding_mode),
        nn.ReLU(),
        conv(channels, 2, 5, padding=2, padding_mode=padding_mode),
    ).to(F64)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=F64))
    return net


LOGGED = {"circular": ("circular", "equivariance"), "pool_mean": ("circular", "pool_mean"),
          "pool_max": ("circular", "pool_max"), "zeros_interior": ("zeros", "interior"),
          "zeros_border": ("zeros", "border"), "zeros_pool_mean": ("zeros", "pool_mean")}  # fmt: skip
"""The worst errors reported per dimension: name -> (padding of the network, key of ``equivariance_errors``)."""
COUNTS = ("border_outputs", "broken_border_outputs", "interior_outputs")


def worst_equivariance(cfg: Config, dims: int, generator: torch.Generator, device: torch.device) -> dict:
    """The worst ``equivariance_errors`` over ``trials_equivariance`` random draws of weights, inputs and shifts."""
    n = cfg.signal_length if dims == 1 else cfg.image_size
    worst: dict[str, float] = {**dict.fromkeys(LOGGED, 0.0), **dict.fromkeys(COUNTS, 0)}
    for _ in range(cfg.trials_equivariance):
        nets = {mode: two_layer_net(dims, cfg.channels, mode, generator).to(device) for mode in PADDINGS}
        nets["zeros"].load_state_dict(nets["circular"].state_dict())  # same weights, other padding
        x = torch.randn(4, 1, *(n,) * dims, generator=generator, dtype=F64).to(device)
        shift = tuple(int(torch.randint(1, n, (), generator=generator)) for _ in range(dims))
        with torch.no_grad():
            errors: dict[str, dict] = {
                m: equivariance_errors(net, x, shift, REACH) for m, net in nets.items()
            }
        for name, (mode, key) in LOGGED.items():
            worst[name] = max(worst[name], errors[mode][key])
        for name in COUNTS:
            worst[name] += errors["zeros"][name]
    return worst


def run(cfg: Config, run: Run) -> None:
    device = run.device
    generator = torch.Generator().manual_seed(cfg.seed)

    # -- receptive fields: formula and brute force, depth by depth -----------------------------------------------
    depths = list(range(1, cfg.max_depth + 1))
    analytic: dict[str, list[int]] = {name: [] for name in STACKS}
    brute: dict[str, list[tuple[int, int, int]]] = {name: [] for name in STACKS}
    with run.progress(len(depths), "receptive fields") as bar:
        for depth in depths:
            for name, stack in STACKS.items():
                field = receptive_field(stack(depth))[-1]
                analytic[name].append(field.size)
                span, count, start = brute_force_receptive_field(stack(depth))
                brute[name].append((span, count, start - field.start))
            latest = {f"rf_{k}": v[-1] for k, v in analytic.items()}
            run.log(depth, **latest, **{f"rf_{k}_brute_force": v[-1][0] for k, v in brute.items()})
            bar.update(depth, linear=analytic["linear"][-1], strided=analytic["strided"][-1])

    # -- convolution as a matrix, and its transpose ----------------------------------------------------------------
    forward: list[float] = []
    transpose: list[float] = []
    with run.progress(cfg.trials, "conv matrices") as bar:
        for trial in range(cfg.trials):
            mode = PADDING_MODES[(trial // 2) % len(PADDING_MODES)]
            setting = random_conv_setting(1 + trial % 2, cfg.max_length, mode, generator)
            fwd, back = matrix_errors(setting, generator, device)
            forward.append(fwd)
            transpose += [] if back is None else [back]
            bar.update(trial + 1, max_error=max(forward))

    # -- equivariance and invariance --------------------------------------------------------------------------------
    equi = {dims: worst_equivariance(cfg, dims, generator, device) for dims in (1, 2)}
    for dims, worst in equi.items():
        run.log(dims, **{f"equivariance_{k}": v for k, v in worst.items()})

    # -- checks: every statement of this experiment is exact -----------------------------------------------------
    for name in STACKS:
        expected = [LAWS[name][0](d) for d in depths]
        pairs = zip(depths, analytic[name], brute[name], expected, strict=True)
        wrong = [d for d, a, b, e in pairs if not a == b[0] == b[1] == e or b[2] != 0]
        run.check(
            f"receptive-field-{name}",
            f"The {name} kernel-3 stack's receptive field is {LAWS[name][1]} for K = 1..{cfg.max_depth}, by the "
            "recurrence and by the gradient of a real torch stack (every input of the span influences the unit, "
            "the span starts where predicted); error = depths that disagree",
            error=len(wrong),
            tolerance=0,
            measured={"sizes": analytic[name], "brute_force": brute[name], "wrong_depths": wrong},
            expected={"sizes": expected},
        )
    worst = {k: max(equi[1][k], equi[2][k]) for k in equi[1]}
    border = min(equi[1]["zeros_border"], equi[2]["zeros_border"])
    exact = {  # id: (statement, error, tolerance)
        "conv-is-a-matrix": (
            f"A convolution's sparse, weight-sharing matrix times the flattened input is F.conv1d / F.conv2d "
            f"({cfg.trials} random settings, four padding modes; max abs error)",
            max(forward),
        ),
        "transposed-conv-is-the-transpose": (
            f"Mᵀ times a flattened output is F.conv_transpose1d / 2d with the same weight ({len(transpose)} "
            "zero-padded settings; max abs error)",
            max(transpose, default=float("inf")),
        ),
        "circular-conv-equivariant": (
            "conv → ReLU → conv with circular padding commutes with cyclic shifts, f(T x) = T f(x), for random "
            "1-D signals and 2-D images, weights and shifts (error relative to the largest output, as below)",
            worst["circular"],
        ),
        "global-pooling-invariant": (
            "Global average and max pooling after that network are invariant to cyclic shifts",
            max(worst["pool_mean"], worst["pool_max"]),
        ),
        "zero-padding-equivariant-inside": (
            "With zero padding the same network still commutes with the shift on shift_equivariant_mask (windows "
            "inside the signal and off the wrap-around seam)",
            worst["zeros_interior"],
        ),
        "zero-padding-breaks-at-border": (
            f"... and, for generic weights, not off it: the largest border error exceeds {TOLERANCE:g} in 1-D "
            f"and 2-D (error 1 where it does not; {worst['broken_border_outputs']} of "
            f"{worst['border_outputs']} border outputs broken in the worse dimension)",
            float(border <= TOLERANCE),
        ),
    }
    for key, (statement, error) in exact.items():
        run.check(key, statement, error=error, tolerance=0 if key.endswith("border") else TOLERANCE)
    run.summary(**{f"rf_{name}_last": sizes[-1] for name, sizes in analytic.items()})

    # -- figure 1: receptive field against depth --------------------------------------------------------------------
    fig, axes = subplots(1, 1, width=5.2)
    ax = axes[0, 0]
    for color, (name, sizes), marker in zip(PALETTE, analytic.items(), "os^", strict=False):
        ax.plot(depths, sizes, "--" if name == "strided" else "-", color=color, label=name)
        spans = [b[0] for b in brute[name]]
        ax.plot(depths, spans, marker, color=color, fillstyle="none", markersize=7 + 2 * (name == "dilated"))
    ax.plot([], [], "o", color="black", fillstyle="none", label="markers: brute force (autograd)")
    for name, style in (("linear", ":"), ("strided", "-.")):
        ax.plot(depths, [LAWS[name][0](d) for d in depths], style, color="black", label=LAWS[name][1])
    ax.set(xlabel="layers K", ylabel="receptive field r_K", yscale="log", title="Kernel-3 stacks")
    integer_ticks(ax, "x")
    ax.legend(fontsize=8)
    run.figure("receptive-field", fig)

    # -- figure 2: convolution matrices (figs. 10.4, 10.13) ------------------------------------------------------------
    w = torch.tensor([[[-1.0, 2.0, 0.5]]], dtype=F64)  # one kernel-3 filter, as in the book's drawings
    panels = {
        "kernel 3, zero padding": conv1d_matrix(w, 8, padding=1),
        "circular padding (circulant)": conv1d_matrix(w, 8, padding=1, padding_mode="circular"),
        "stride 2": conv1d_matrix(w, 8, stride=2, padding=1),
        "its transpose: transposed conv": conv1d_matrix(w, 8, stride=2, padding=1).T,
    }
    fig, axes = subplots(1, 4, width=3.2, height=3.4)
    for ax, (title, matrix) in zip(axes[0], panels.items(), strict=True):
        shown = matrix.masked_fill(matrix == 0, float("nan")).numpy()
        ax.imshow(shown, cmap="coolwarm", vmin=-2.2, vmax=2.2, interpolation="none")
        ax.set(title=f"{title}\n{tuple(matrix.shape)}", xlabel="input", ylabel="output")
        ax.grid(False)
    run.figure("conv-matrices", fig)

    # -- figure 3: equivariance error along a signal, circular vs zero padding -------------------------------------
    g = torch.Generator().manual_seed(cfg.seed + 1)
    nets = {mode: two_layer_net(1, cfg.channels, mode, g) for mode in PADDINGS}
    nets["zeros"].load_state_dict(nets["circular"].state_dict())
    n, shift, floor = cfg.signal_length, cfg.signal_length // 4, 1e-18
    x = torch.randn(1, 1, n, generator=g, dtype=F64)
    fig, axes = subplots(1, 1, width=5.2)
    ax = axes[0, 0]
    for (mode, net), marker in zip(nets.items(), "os", strict=True):
        with torch.no_grad():
            error = (net(translate(x, shift)) - translate(net(x), shift)).abs().amax(dim=(0, 1))
        ax.semilogy(error.clamp(min=floor), f"{marker}-", markersize=3, label=f"{mode} padding")
    for edge in (REACH - 0.5, n - REACH - 0.5):
        ax.axvline(edge, color="#6b7280", linewidth=0.8)
    ax.axvspan(shift - REACH - 0.5, shift + REACH - 0.5, color="#6b7280", alpha=0.15, label="seam")
    ax.set(xlabel="position", ylabel=f"|f(T x) − T f(x)| (floor {floor:g})", title=f"Cyclic shift by {shift}")
    ax.legend(fontsize=8)
    run.figure("equivariance", fig)
