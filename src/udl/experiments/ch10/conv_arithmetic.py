"""Convolution arithmetic (UDL chapter 10, sections 10.1-10.4, figs. 10.4, 10.12, 10.13): receptive fields,
convolution as a matrix and its transpose, translation equivariance and invariance.

No training: every check is an exact computation in float64, made twice, by formula and by brute force.

- *Receptive fields* (section 10.2.6). Three 1-D stacks of kernel-3 layers, depth 1..``max_depth``: stride 1
  (the plain stack), dilations 1, 2, 4, ... (stride 1), and stride 2 (each layer halving the resolution).
  ``udl.functional.receptive_field`` gives r_K by the recurrence r_l = r_{l−1} + d_l (K_l − 1) j_{l−1},
  j_l = j_{l−1} s_l; the brute force builds the real ``nn.Conv1d`` stack with all-ones weights
  (``ones_conv_stack``), takes the gradient of one interior output unit with respect to the input
  (``influence_mask``; with positive weights it counts paths, so it is nonzero exactly where perturbing the input
  changes the unit) and measures the span and the number of inputs that influence it. The book's statement:
  stacking stride-1 kernel-3 layers grows the field linearly, r_K = 1 + 2K, while doubling the dilation or
  striding by 2 grows it exponentially, r_K = 2^{K+1} − 1 (with no holes in the dilated field).
- *Convolution as a matrix* (section 10.2, fig. 10.4; section 10.4, fig. 10.13). ``trials`` random 1-D and 2-D
  settings (channels, groups, kernel, stride, padding, dilation, padding mode, input size): the dense matrix M of
  ``conv1d_matrix`` / ``conv2d_matrix`` times the flattened input against ``F.conv1d`` / ``F.conv2d``, and, for
  zero padding, Mᵀ times a random flattened output against ``F.conv_transpose1d`` / ``F.conv_transpose2d`` with
  the same weight (output_padding from ``conv_transpose_output_padding``): the transposed convolution is the
  transpose of the convolution's matrix, hence its name. Expected: agreement to float64 rounding.
- *Equivariance and invariance* (section 10.1). A two-layer network conv → ReLU → conv (kernels 3 and 5, stride 1,
  "same" padding, random weights) on random 1-D signals (length ``signal_length``) and 2-D images
  (``image_size``²), ``trials_equivariance`` random cyclic shifts t each: with circular padding the network
  commutes with the shift, f(T_t x) = T_t f(x), so global average and max pooling of its output are invariant;
  with zero padding the same weights agree with the shift only where an output's window (reach 1 + 2 = 3 on
  each side) stays inside the signal and off the wrap-around seam; the border outputs are reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from udl.functional.conv import (
    ConvSpec,
    conv1d_matrix,
    conv2d_matrix,
    conv_transpose_output_padding,
    influence_mask,
    ones_conv_stack,
    receptive_field,
    translate,
)
from udl.functional.upsampling import max_unpool, upsample_bilinear, upsample_duplicate
from udl.report import Run
from udl.report.figures import PALETTE, subplots

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
PADDING_MODES = ("zeros", "circular", "zeros", "reflect", "zeros", "replicate")
"""Padding modes of the random trials, in turn: half zero padding (the only mode torch's transpose knows)."""


@dataclass(frozen=True)
class Config:
    max_depth: int = 10
    """deepest stack of the receptive-field sweep (depths 1..max_depth; the strided brute force needs an input
    of about 2^(max_depth+1) positions)"""
    trials: int = 200
    """random convolution settings checked against torch: 1-D and 2-D alternately; half with zero padding, the
    others circular, reflect and replicate in turn"""
    max_length: int = 16
    """largest input length of a 1-D trial (2-D trials use up to max_length // 2 per side)"""
    signal_length: int = 64
    """length of the random 1-D signals of the equivariance check"""
    image_size: int = 24
    """side of the random 2-D images of the equivariance check"""
    channels: int = 4
    """hidden channels of the two-layer equivariance network"""
    trials_equivariance: int = 20
    """random (network, input, shift) draws per dimension for the equivariance and invariance checks"""
    seed: int = 0
    """seed of the random weights, inputs, settings and shifts"""

    def __post_init__(self) -> None:
        if not 2 <= self.max_depth <= 16:
            raise ValueError(f"max_depth must lie in [2, 16], got {self.max_depth}")
        if self.trials < 2 or self.trials_equivariance < 1 or self.channels < 1:
            raise ValueError("trials must be >= 2, trials_equivariance and channels >= 1")
        if self.max_length < 4:
            raise ValueError(f"max_length must be >= 4, got {self.max_length}")
        if self.signal_length < 16 or self.image_size < 16:
            raise ValueError(
                "signal_length and image_size must be >= 16 (the network reaches 3 on each side, so the borders "
                "and the wrap-around seam take up to 12 outputs)"
            )


PRESETS = {
    "smoke": Config(max_depth=4, trials=6, signal_length=16, image_size=16, trials_equivariance=2),
    "quick": Config(),
    "full": Config(max_depth=14, trials=1000, trials_equivariance=100),
}


# -- receptive fields -----------------------------------------------------------------------------------------
STACKS = {
    "linear": lambda depth: [ConvSpec(3, padding=1) for _ in range(depth)],
    "dilated": lambda depth: [ConvSpec(3, dilation=2**i, padding=2**i) for i in range(depth)],
    "strided": lambda depth: [ConvSpec(3, stride=2, padding=1) for _ in range(depth)],
}
"""The three kernel-3 stacks of the sweep, as functions of the depth."""
EXPECTED_SIZE = {
    "linear": lambda depth: 1 + 2 * depth,
    "dilated": lambda depth: 2 ** (depth + 1) - 1,
    "strided": lambda depth: 2 ** (depth + 1) - 1,
}
"""The book's closed forms of the receptive field after ``depth`` layers."""


def brute_force_field(specs: list[ConvSpec], device: torch.device) -> tuple[int, int, int]:
    """Span, count and first position of the inputs that influence the first interior unit, by autograd.

    The input is long enough for that unit's field to lie inside it (so padding plays no part).
    """
    last = receptive_field(specs)[-1]
    unit = math.ceil(-last.start / last.jump)  # first unit whose field starts at an input position >= 0
    length = last.start + unit * last.jump + last.size + last.jump
    stack = ones_conv_stack(specs).to(device)
    where = influence_mask(stack, (1, 1, length), (unit,)).nonzero().flatten()
    lo, hi = int(where.min()), int(where.max())
    return hi - lo + 1, where.numel(), lo - unit * last.jump


# -- convolution as a matrix ----------------------------------------------------------------------------------
def _randint(low: int, high: int, generator: torch.Generator) -> int:
    """A uniform integer in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=generator))


def random_setting(dims: int, max_length: int, mode: str, generator: torch.Generator) -> dict:
    """A random convolution with the given padding mode: channels, groups, kernel, stride, padding, dilation,
    input size (at most ``max_length``, or ``max_length // 2`` per side in 2-D, but never too short)."""
    groups = _randint(1, 3, generator)
    kernel = tuple(_randint(1, 4, generator) for _ in range(dims))
    stride = tuple(_randint(1, 3, generator) for _ in range(dims))
    dilation = tuple(_randint(1, 2, generator) for _ in range(dims))
    longest = max_length if dims == 1 else max(max_length // 2, 4)
    padding, size = [], []
    for k, d in zip(kernel, dilation, strict=True):
        p = _randint(0, 2, generator)
        low = max(
            d * (k - 1) + 1 - 2 * p, 1, p + (mode == "reflect") if mode in ("reflect", "circular") else 1
        )
        # torch's F.pad: reflect needs p < length, circular p <= length
        size.append(_randint(low, max(low, longest), generator))
        padding.append(p)
    return {
        "c_out": groups * _randint(1, 2, generator),
        "c_in": groups * _randint(1, 2, generator),
        "groups": groups,
        "kernel": kernel,
        "stride": stride,
        "padding": tuple(padding),
        "dilation": dilation,
        "size": tuple(size),
        "mode": mode,
    }


def matrix_errors(
    setting: dict, generator: torch.Generator, device: torch.device
) -> tuple[float, float | None]:
    """Max |M x − conv(x)| and, for zero padding, max |Mᵀ v − conv_transpose(v)| for one random setting."""
    s = setting
    dims = len(s["size"])
    w = torch.randn(s["c_out"], s["c_in"] // s["groups"], *s["kernel"], generator=generator, dtype=F64)
    x = torch.randn(1, s["c_in"], *s["size"], generator=generator, dtype=F64)
    w, x = w.to(device), x.to(device)
    settings = {"stride": s["stride"], "dilation": s["dilation"], "groups": s["groups"]}
    if s["mode"] == "zeros":
        y = (F.conv1d if dims == 1 else F.conv2d)(x, w, padding=s["padding"], **settings)
    else:  # nn.ConvNd's padding_mode: pad first (F.pad takes the last axis first), then a valid convolution
        pad = [p for p in reversed(s["padding"]) for _ in range(2)]
        y = (F.conv1d if dims == 1 else F.conv2d)(F.pad(x, pad, mode=s["mode"]), w, **settings)
    if dims == 1:
        args = (s["size"][0], s["stride"][0], s["padding"][0], s["dilation"][0], s["groups"], s["mode"])
        matrix = conv1d_matrix(w, *args)
    else:
        matrix = conv2d_matrix(w, s["size"], s["stride"], s["padding"], s["dilation"], s["groups"], s["mode"])
    forward_error = float((matrix @ x.flatten() - y.flatten()).abs().max())
    if s["mode"] != "zeros":
        return forward_error, None  # torch's transposed convolution only knows zero padding
    v = torch.randn(y.shape, generator=generator, dtype=F64).to(device)
    output_padding = tuple(
        conv_transpose_output_padding(n, k, st, p, d)
        for n, k, st, p, d in zip(
            s["size"], s["kernel"], s["stride"], s["padding"], s["dilation"], strict=True
        )
    )
    back = (F.conv_transpose1d if dims == 1 else F.conv_transpose2d)(
        v, w, padding=s["padding"], output_padding=output_padding, **settings
    )
    assert back.shape == x.shape
    return forward_error, float((matrix.T @ v.flatten() - back.flatten()).abs().max())


# -- equivariance ---------------------------------------------------------------------------------------------
def two_layer_net(
    dims: int, channels: int, padding_mode: Literal["zeros", "circular"], generator: torch.Generator
) -> nn.Sequential:
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


REACH = 3
"""How far the two-layer network's output at i looks on each side: 1 (kernel 3) + 2 (kernel 5)."""


def interior_mask(length: int, shift: int, reach: int) -> Tensor:
    """Outputs of a length-``length`` axis where a zero-padded network still commutes with the cyclic shift t.

    Output i reads the shifted input at i − reach .. i + reach: the window must lie inside the signal (else it
    reads padding on one side and real values on the other) and must not straddle the seam between positions
    t − 1 and t, where the cyclic shift joined the signal's two ends. A shift by a multiple of the length is
    no shift: every output is kept. In 2-D an output is kept where both of its axes are.
    """
    i = torch.arange(length)
    t = shift % length
    if t == 0:
        return torch.ones(length, dtype=torch.bool)
    inside = (i - reach >= 0) & (i + reach <= length - 1)
    straddles = (i - reach <= t - 1) & (i + reach >= t)
    return inside & ~straddles


def equivariance_errors(cfg: Config, dims: int, generator: torch.Generator, device: torch.device) -> dict:
    """Worst errors over ``trials_equivariance`` random draws of weights, inputs and shifts (one dimension).

    Every error is relative to the largest output magnitude of its draw (outputs reach tens: N(0, 1) weights),
    so float64 rounding shows as ~1e-16.
    """
    n = cfg.signal_length if dims == 1 else cfg.image_size
    worst = {"circular": 0.0, "pool_mean": 0.0, "pool_max": 0.0, "zeros_interior": 0.0, "zeros_border": 0.0}
    worst.update(zeros_pool_mean=0.0, border_outputs=0, broken_border_outputs=0, interior_outputs=0)
    for _ in range(cfg.trials_equivariance):
        circular = two_layer_net(dims, cfg.channels, "circular", generator).to(device)
        zeros = two_layer_net(dims, cfg.channels, "zeros", generator).to(device)
        zeros.load_state_dict(circular.state_dict())  # the same weights, only the padding differs
        x = torch.randn(4, 1, *(n,) * dims, generator=generator, dtype=F64).to(device)
        shift = tuple(_randint(1, n - 1, generator) for _ in range(dims))
        with torch.no_grad():
            fx, ftx = circular(x), circular(translate(x, shift))
            gx, gtx = zeros(x), zeros(translate(x, shift))
        scale, scale_zeros = float(fx.abs().max()), float(gx.abs().max())
        worst["circular"] = max(worst["circular"], float((ftx - translate(fx, shift)).abs().max()) / scale)
        # global pooling: one number per channel, whatever the translation
        mean_gap = float((ftx.flatten(2).mean(-1) - fx.flatten(2).mean(-1)).abs().max()) / scale
        max_gap = float((ftx.flatten(2).amax(-1) - fx.flatten(2).amax(-1)).abs().max()) / scale
        zeros_gap = float((gtx.flatten(2).mean(-1) - gx.flatten(2).mean(-1)).abs().max()) / scale_zeros
        worst["pool_mean"] = max(worst["pool_mean"], mean_gap)
        worst["pool_max"] = max(worst["pool_max"], max_gap)
        worst["zeros_pool_mean"] = max(worst["zeros_pool_mean"], zeros_gap)
        error = (gtx - translate(gx, shift)).abs().amax(dim=(0, 1)) / scale_zeros  # (*spatial,)
        inside = interior_mask(n, shift[0], REACH)
        if dims == 2:
            inside = inside[:, None] & interior_mask(n, shift[1], REACH)[None, :]
        inside = inside.to(error.device)
        worst["zeros_interior"] = max(worst["zeros_interior"], float(error[inside].max()))
        worst["zeros_border"] = max(worst["zeros_border"], float(error[~inside].max()))
        worst["interior_outputs"] += int(inside.sum())
        worst["border_outputs"] += int((~inside).sum())
        worst["broken_border_outputs"] += int((error[~inside] > TOLERANCE).sum())
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
                specs = stack(depth)
                field = receptive_field(specs)[-1]
                analytic[name].append(field.size)
                span, count, start = brute_force_field(specs, device)
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
            setting = random_setting(1 + trial % 2, cfg.max_length, mode, generator)
            fwd, back = matrix_errors(setting, generator, device)
            forward.append(fwd)
            if back is not None:
                transpose.append(back)
            bar.update(trial + 1, max_error=max(forward))

    # -- equivariance and invariance --------------------------------------------------------------------------------
    equi = {dims: equivariance_errors(cfg, dims, generator, device) for dims in (1, 2)}
    for dims, worst in equi.items():
        run.log(dims, **{f"equivariance_{k}": v for k, v in worst.items()})

    # -- claims -------------------------------------------------------------------------------------------------
    for name, law, statement in (
        ("linear", "1 + 2K", "Stacking K stride-1 kernel-3 convolutions grows the receptive field linearly"),
        (
            "dilated",
            "2^(K+1) − 1",
            "Doubling the dilation at every layer grows the receptive field exponentially",
        ),
        (
            "strided",
            "2^(K+1) − 1",
            "Striding every kernel-3 layer by 2 grows the receptive field exponentially",
        ),
    ):
        expected = [EXPECTED_SIZE[name](d) for d in depths]
        spans = [b[0] for b in brute[name]]
        counts = [b[1] for b in brute[name]]
        offsets = [b[2] for b in brute[name]]
        run.claim(
            f"receptive-field-{name}",
            f"{statement}: r_K = {law} for K = 1..{cfg.max_depth}, by the recurrence and by the gradient of a real "
            "torch stack (all inputs in the span influence the unit, and the span starts where predicted)",
            holds=analytic[name] == expected
            and spans == expected
            and counts == expected
            and not any(offsets),
            measured={
                "sizes": analytic[name],
                "brute_force_spans": spans,
                "brute_force_counts": counts,
                "start_mismatches": sum(1 for o in offsets if o),
                "growth_last_step": analytic[name][-1] / analytic[name][-2],
            },
            expected={"sizes": expected},
        )
    run.claim(
        "conv-is-a-matrix",
        "A convolution is a linear map: its sparse, weight-sharing matrix times the flattened input reproduces "
        f"F.conv1d / F.conv2d to float64 precision over {cfg.trials} random settings (all four padding modes)",
        holds=max(forward) <= TOLERANCE,
        measured={"max_abs_error": max(forward), "trials": cfg.trials},
        expected=f"max_abs_error ≤ {TOLERANCE:g}",
    )
    run.claim(
        "transposed-conv-is-the-transpose",
        "The transposed convolution is the transpose of the convolution's matrix: Mᵀ times a flattened output "
        "reproduces F.conv_transpose1d / 2d with the same weight (output_padding recovering the input size)",
        holds=len(transpose) > 0 and max(transpose) <= TOLERANCE,
        measured={"max_abs_error": max(transpose, default=float("nan")), "trials": len(transpose)},
        expected=f"max_abs_error ≤ {TOLERANCE:g}",
    )
    circ = max(equi[1]["circular"], equi[2]["circular"])
    run.claim(
        "circular-conv-equivariant",
        "A convolutional network (conv, ReLU, conv) with circular padding is equivariant to cyclic translation: "
        "f(T x) = T f(x) for random 1-D signals and 2-D images, weights and shifts (error relative to the "
        "largest output)",
        holds=circ <= TOLERANCE,
        measured={"max_rel_error_1d": equi[1]["circular"], "max_rel_error_2d": equi[2]["circular"]},
        expected=f"≤ {TOLERANCE:g}",
    )
    interior = max(equi[1]["zeros_interior"], equi[2]["zeros_interior"])
    border = min(equi[1]["zeros_border"], equi[2]["zeros_border"])
    broken = sum(e["broken_border_outputs"] for e in equi.values())
    borders = sum(e["border_outputs"] for e in equi.values())
    run.claim(
        "zero-padding-border-effect",
        "With zero padding the same network is still equivariant away from the borders (outputs whose window "
        "stays inside the signal and off the wrap-around seam) and not at them (errors relative to the largest "
        "output)",
        holds=interior <= TOLERANCE and border > TOLERANCE,
        measured={
            "max_error_interior": interior,
            "max_error_border_1d": equi[1]["zeros_border"],
            "max_error_border_2d": equi[2]["zeros_border"],
            "border_outputs_broken": broken / max(borders, 1),
            "interior_outputs": sum(e["interior_outputs"] for e in equi.values()),
        },
        expected=f"max_error_interior ≤ {TOLERANCE:g} < max_error_border",
    )
    pooled = max(equi[d][k] for d in (1, 2) for k in ("pool_mean", "pool_max"))
    run.claim(
        "global-pooling-invariant",
        "Global average or max pooling after an equivariant network is invariant to translation (circular "
        "padding; pooled differences relative to the largest output)",
        holds=pooled <= TOLERANCE,
        measured={
            "mean_pool_1d": equi[1]["pool_mean"],
            "max_pool_1d": equi[1]["pool_max"],
            "mean_pool_2d": equi[2]["pool_mean"],
            "max_pool_2d": equi[2]["pool_max"],
            "mean_pool_zero_padding_1d": equi[1]["zeros_pool_mean"],
            "mean_pool_zero_padding_2d": equi[2]["zeros_pool_mean"],
        },
        expected=f"≤ {TOLERANCE:g} (circular padding)",
    )
    run.summary(
        rf_linear_last=analytic["linear"][-1],
        rf_dilated_last=analytic["dilated"][-1],
        rf_strided_last=analytic["strided"][-1],
        conv_matrix_max_error=max(forward),
        conv_transpose_max_error=max(transpose, default=float("nan")),
        equivariance_circular_max_error=circ,
        equivariance_zero_padding_interior_max_error=interior,
    )

    # -- figure 1: receptive field against depth ---------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=5.2)
    ax = axes[0, 0]
    styles = {"linear": ("-", "o"), "dilated": ("-", "s"), "strided": ("--", "^")}  # dilated = strided
    for color, (name, sizes) in zip(PALETTE, analytic.items(), strict=False):
        line, marker = styles[name]
        ax.plot(depths, sizes, line, color=color, linewidth=2.5 if name == "dilated" else 1.5, label=name)
        spans = [b[0] for b in brute[name]]
        ax.plot(depths, spans, marker, color=color, fillstyle="none", markersize=7 + 2 * (name == "dilated"))
    ax.plot([], [], "o", color="black", fillstyle="none", label="markers: brute force (autograd)")
    ax.plot(depths, [EXPECTED_SIZE["linear"](d) for d in depths], ":", color="black", label="1 + 2K")
    ax.plot(depths, [EXPECTED_SIZE["strided"](d) for d in depths], "-.", color="black", label="2^(K+1) − 1")
    ax.set(xlabel="layers K", ylabel="receptive field r_K", yscale="log", title="Kernel-3 stacks")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    shown = min(cfg.max_depth, 5)
    rows = []
    for name in STACKS:  # the influence masks of one unit, depth by depth, centred in a common frame
        width = EXPECTED_SIZE["strided"](shown)
        for depth in range(1, shown + 1):
            specs = STACKS[name](depth)
            last = receptive_field(specs)[-1]
            unit = math.ceil(-last.start / last.jump)
            length = last.start + unit * last.jump + last.size + last.jump
            mask = influence_mask(ones_conv_stack(specs).to(device), (1, 1, length), (unit,)).cpu()
            lo = last.start + unit * last.jump
            row = torch.zeros(width)
            offset = (width - last.size) // 2
            row[offset : offset + last.size] = mask[lo : lo + last.size].to(torch.float32)
            rows.append(row)
        rows.append(torch.full((width,), float("nan")))
    ax.imshow(
        torch.stack(rows[:-1]).numpy(), cmap="Blues", vmin=0, vmax=1.3, aspect="auto", interpolation="none"
    )
    ax.set_yticks([shown * i + i + (shown - 1) / 2 for i in range(3)], list(STACKS))
    ax.set(xlabel="input position (centred)", title=f"Inputs influencing one unit, depths 1..{shown}")
    ax.grid(False)
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
        shown_matrix = matrix.masked_fill(matrix == 0, float("nan")).numpy()
        ax.imshow(shown_matrix, cmap="coolwarm", vmin=-2.2, vmax=2.2, interpolation="none")
        ax.set(title=f"{title}\n{tuple(matrix.shape)}", xlabel="input", ylabel="output")
        ax.grid(False)
    run.figure("conv-matrices", fig)

    # -- figure 3: equivariance, circular vs zero padding ---------------------------------------------------------
    g = torch.Generator().manual_seed(cfg.seed + 1)
    circular = two_layer_net(1, cfg.channels, "circular", g)
    zeros = two_layer_net(1, cfg.channels, "zeros", g)
    zeros.load_state_dict(circular.state_dict())
    n, shift = cfg.signal_length, cfg.signal_length // 4
    x = torch.randn(1, 1, n, generator=g, dtype=F64)
    with torch.no_grad():
        fx, ftx = circular(x)[0, 0], circular(translate(x, shift))[0, 0]
        err_c = (circular(translate(x, shift)) - translate(circular(x), shift)).abs().amax(dim=(0, 1))
        err_z = (zeros(translate(x, shift)) - translate(zeros(x), shift)).abs().amax(dim=(0, 1))
    fig, axes = subplots(1, 3, width=4.4)
    i = torch.arange(n)
    axes[0, 0].plot(i, x[0, 0], label="x")
    axes[0, 0].plot(i, translate(x, shift)[0, 0], label=f"T x (shift {shift})")
    axes[0, 0].set(xlabel="position", title="Input and its cyclic translation")
    axes[0, 1].plot(i, translate(fx, shift), linewidth=3, alpha=0.5, label="T f(x)")
    axes[0, 1].plot(i, ftx, "--", label="f(T x)")
    axes[0, 1].set(xlabel="position", title="Network output, circular padding")
    floor = 1e-18
    axes[0, 2].semilogy(i, err_c.clamp(min=floor), "o-", markersize=3, label="circular padding")
    axes[0, 2].semilogy(i, err_z.clamp(min=floor), "s-", markersize=3, label="zero padding")
    for edge in (REACH - 0.5, n - REACH - 0.5):
        axes[0, 2].axvline(edge, color="#6b7280", linewidth=0.8)
    axes[0, 2].axvspan(shift - REACH - 0.5, shift + REACH - 0.5, color="#6b7280", alpha=0.15, label="seam")
    axes[0, 2].set(
        xlabel="position", ylabel=f"|f(T x) − T f(x)| (floor {floor:g})", title="Equivariance error"
    )
    for ax in axes[0]:
        ax.legend(fontsize=8)
    run.figure("equivariance", fig)

    # -- figure 4: upsampling (fig. 10.12) --------------------------------------------------------------------------
    image = torch.randn(1, 1, 8, 8, generator=g, dtype=F64)
    pooled, indices = F.max_pool2d(image, 2, return_indices=True)
    maps = {
        "input 8×8": image,
        "max pooled 4×4": pooled,
        "duplicate ×2": upsample_duplicate(pooled, 2),
        "max unpooling": max_unpool(pooled, indices, 2),
        "bilinear ×2": upsample_bilinear(pooled, scale_factor=2.0),
    }
    fig, axes = subplots(1, 5, width=2.6, height=2.8)
    for ax, (title, image_map) in zip(axes[0], maps.items(), strict=True):
        ax.imshow(image_map[0, 0].numpy(), cmap="viridis", vmin=-2.5, vmax=2.5, interpolation="none")
        ax.set(title=title, xticks=[], yticks=[])
        ax.grid(False)
    run.figure("upsampling", fig)
