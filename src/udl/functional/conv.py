r"""Convolution arithmetic of UDL chapter 10: output sizes, receptive fields, convolution as a matrix, the
transposed convolution, and translations (for equivariance checks); upsampling is in ``upsampling.py``.

Conventions follow ``torch.nn.functional``: inputs are (N, C, *spatial), weights (C_out, C_in / groups, *kernel),
and "convolution" is cross-correlation, as in the book (section 10.2.1) and in every deep-learning library:

.. math:: z_i = \sum_{k=0}^{K-1} \omega_k \, x_{i s - p + k d}

for stride s, padding p and dilation d (the book writes the kernel-3 case z_i = ω_1 x_{i−1} + ω_2 x_i + ω_3 x_{i+1}).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

__all__ = [
    "ConvSpec",
    "ReceptiveField",
    "brute_force_receptive_field",
    "conv1d_matrix",
    "conv2d_matrix",
    "conv_matrix_errors",
    "conv_output_size",
    "conv_transpose_output_padding",
    "conv_transpose_output_size",
    "convolve",
    "equivariance_errors",
    "influence_mask",
    "ones_conv_stack",
    "random_conv_setting",
    "receptive_field",
    "shift_equivariant_mask",
    "translate",
]

PaddingMode = Literal["zeros", "circular", "reflect", "replicate"]
PADDING_MODES = ("zeros", "circular", "reflect", "replicate")
_POINTWISE = (
    nn.Identity, nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.GELU, nn.ELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Softplus,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.BatchNorm1d, nn.BatchNorm2d,
)  # fmt: skip
"""Modules that act on each position separately: they leave the receptive field unchanged."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def conv_output_size(
    length: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    r"""Output length of a convolution or pooling layer along one axis (section 10.2.3).

    .. math:: L_{out} = \left\lfloor \frac{L + 2p - d(K-1) - 1}{s} \right\rfloor + 1

    the formula of ``torch.nn.Conv1d`` / ``MaxPool1d`` (ceil_mode off): the dilated kernel spans d(K − 1) + 1
    inputs and fits ⌊(L + 2p − span)/s⌋ + 1 times into the padded input.

    Raises:
        ValueError: for a non-integer or out-of-range argument, or a kernel wider than the padded input.

    Example:
        >>> conv_output_size(6, 3, padding=1), conv_output_size(6, 3, stride=2, padding=1)
        (6, 3)
    """
    args = {"length": length, "kernel_size": kernel_size, "stride": stride, "padding": padding}
    args["dilation"] = dilation
    for name, value in args.items():
        low = 0 if name == "padding" else 1
        if not _is_int(value) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    span = dilation * (kernel_size - 1) + 1
    if span > length + 2 * padding:
        raise ValueError(
            f"the dilated kernel spans {span} inputs, more than the padded length {length} + 2*{padding}"
        )
    return (length + 2 * padding - span) // stride + 1


def conv_transpose_output_size(
    length: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    r"""Output length of a transposed convolution (``torch.nn.ConvTranspose1d``; section 10.4).

    .. math:: L_{out} = (L - 1)s - 2p + d(K-1) + \text{output\_padding} + 1

    A convolution maps lengths L_in with the same (L_in + 2p − span) // s to the same L_out; output_padding
    (0 <= output_padding < max(s, d), as torch requires) picks which of them the transpose returns.
    """
    for name, value in (("length", length), ("kernel_size", kernel_size), ("stride", stride)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if not _is_int(dilation) or dilation < 1 or not _is_int(padding) or padding < 0:
        raise ValueError(f"dilation must be >= 1 and padding >= 0, got {dilation!r} and {padding!r}")
    if not _is_int(output_padding) or not 0 <= output_padding < max(stride, dilation):
        raise ValueError(f"output_padding must lie in [0, max(stride, dilation)), got {output_padding!r}")
    size = (length - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if size < 1:
        raise ValueError(f"the transposed convolution's output would have length {size}")
    return size


def conv_transpose_output_padding(
    input_length: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """The output_padding that makes a transposed convolution return a convolution's input length (section 10.4).

    A stride-s convolution drops the last (L + 2p − span) mod s inputs' worth of positions from the count of
    outputs; its transpose gets them back with this output_padding (what ``nn.ConvTranspose1d`` computes when
    called with ``output_size``).
    """
    conv_output_size(input_length, kernel_size, stride, padding, dilation)  # validates
    return (input_length + 2 * padding - dilation * (kernel_size - 1) - 1) % stride


# -- receptive fields ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConvSpec:
    """The geometry of one convolution or pooling layer along one axis."""

    kernel_size: int
    """K >= 1 (for pooling: the window)"""
    stride: int = 1
    """s >= 1"""
    dilation: int = 1
    """d >= 1"""
    padding: int = 0
    """zeros added at the start (only the start matters for the receptive field's offset)"""

    def __post_init__(self) -> None:
        for f in fields(self):
            value, low = getattr(self, f.name), 0 if f.name == "padding" else 1
            if not _is_int(value) or value < low:
                raise ValueError(f"ConvSpec.{f.name} must be an integer >= {low}, got {value!r}")


class ReceptiveField(NamedTuple):
    """The receptive field of the units after one layer, in input coordinates (see :func:`receptive_field`)."""

    size: int
    """inputs spanned from the first to the last that can influence one unit"""
    jump: int
    """distance in the input between neighbouring units (the product of the strides so far)"""
    start: int
    """first input position of unit 0's field (negative: it reaches into the padding)"""


def _axis_value(value: int | str | tuple[int, ...], name: str, axis: int | None) -> int | str:
    if isinstance(value, tuple):
        if axis is not None and len(value) > 1:
            return value[axis]
        if len(set(value)) > 1:
            raise ValueError(f"{name}={value} differs between axes: pass axis=0 or axis=1")
        return value[0]
    return value


def _module_spec(module: nn.Module, axis: int | None) -> ConvSpec | None:
    if isinstance(module, _POINTWISE):
        return None
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)):
        k = int(_axis_value(module.kernel_size, "kernel_size", axis))
        s = int(_axis_value(module.stride, "stride", axis))
        d = int(_axis_value(getattr(module, "dilation", 1), "dilation", axis))
        p = _axis_value(module.padding, "padding", axis)
        if p == "valid":
            p = 0
        elif p == "same":
            p = d * (k - 1) // 2  # torch pads the extra zero at the end
        return ConvSpec(k, s, d, int(p))
    raise ValueError(
        f"receptive_field does not know {type(module).__name__}: give Conv1d/2d, MaxPool1d/2d, AvgPool1d/2d, "
        "a pointwise module (activation, dropout, batch norm), a ConvSpec or a dict"
    )


def _as_spec(layer: ConvSpec | Mapping[str, int] | nn.Module, axis: int | None) -> ConvSpec | None:
    if isinstance(layer, ConvSpec):
        return layer
    if isinstance(layer, nn.Module):
        return _module_spec(layer, axis)
    if isinstance(layer, Mapping):
        unknown = set(layer) - {f.name for f in fields(ConvSpec)}
        if unknown:
            raise ValueError(
                f"unknown layer keys {sorted(unknown)}: use kernel_size, stride, dilation, padding"
            )
        return ConvSpec(**layer)
    raise ValueError(f"a layer must be a ConvSpec, a dict or a torch module, got {type(layer).__name__}")


def receptive_field(
    layers: Iterable[ConvSpec | Mapping[str, int] | nn.Module], axis: int | None = None
) -> list[ReceptiveField]:
    r"""Receptive field of the units after each layer of a stack of convolutions and poolings (section 10.2.6).

    Starting from the input (size 1, jump 1, start 0), a layer with kernel K, stride s, dilation d and padding p
    (Araujo et al., 2019, "Computing receptive fields of convolutional neural networks"):

    .. math:: r_l = r_{l-1} + d_l (K_l - 1)\, j_{l-1}, \quad j_l = j_{l-1} s_l, \quad
              \text{start}_l = \text{start}_{l-1} - p_l\, j_{l-1}

    Unit i of layer l sees inputs start_l + i·j_l ... start_l + i·j_l + r_l − 1 (all of them for dense stacks; a
    dilated kernel alone leaves gaps inside the span). K stride-1 kernel-3 layers give 1 + 2K (linear growth);
    doubling the dilation or striding by 2 gives 2^{K+1} − 1 (exponential).

    Args:
        layers: ``ConvSpec``\ s, dicts with its keys, or torch modules (``nn.Sequential`` works): Conv1d/2d,
            MaxPool1d/2d, AvgPool1d/2d; pointwise modules (activations, dropout, batch norm) repeat the field.
        axis: for 2-D modules whose parameters differ between height and width, the axis to measure.

    Returns:
        One :class:`ReceptiveField` per layer.

    Example:
        >>> [r.size for r in receptive_field([ConvSpec(3)] * 4)]
        [3, 5, 7, 9]
    """
    size, jump, start = 1, 1, 0
    out = []
    for layer in layers:
        spec = _as_spec(layer, axis)
        if spec is not None:
            size += spec.dilation * (spec.kernel_size - 1) * jump
            start -= spec.padding * jump
            jump *= spec.stride
        out.append(ReceptiveField(size, jump, start))
    return out


def ones_conv_stack(
    layers: Iterable[ConvSpec | Mapping[str, int] | nn.Module], dtype: torch.dtype = torch.float64
) -> nn.Sequential:
    """A 1-D torch stack with the layers' geometry: one-channel ``nn.Conv1d``\\ s with all-ones weights, no bias.

    With positive weights the gradient of a unit with respect to an input counts the paths between them, so it
    is nonzero exactly on the unit's receptive field (a pooling window is replaced by an all-ones convolution
    of the same geometry: max pooling routes its gradient to one input only, but any input of the window can
    become the maximum). Pointwise layers are skipped.
    """
    convs = []
    for layer in layers:
        spec = _as_spec(layer, None)
        if spec is not None:
            conv = nn.Conv1d(1, 1, spec.kernel_size, spec.stride, spec.padding, spec.dilation, bias=False)
            conv = conv.to(dtype)
            nn.init.ones_(conv.weight)
            convs.append(conv)
    return nn.Sequential(*convs)


def influence_mask(model: nn.Module, input_shape: Sequence[int], output_index: Sequence[int]) -> Tensor:
    """Brute-force receptive field: which input positions the output unit's value depends on, by autograd.

    Feeds ones of shape (1, C, *spatial) = ``input_shape`` (the model's dtype and device), takes the gradient of
    the sum over channels of ``model(x)[0, :, *output_index]`` and returns the boolean spatial mask where it is
    nonzero.
    Exact for stacks with positive weights and no cancellation (see :func:`ones_conv_stack`).
    """
    first = next(iter(model.parameters()), None)
    dtype, device = (torch.float64, None) if first is None else (first.dtype, first.device)
    x = torch.ones(tuple(input_shape), dtype=dtype, device=device, requires_grad=True)
    y = model(x)
    if len(output_index) != y.dim() - 2:
        raise ValueError(f"output_index needs {y.dim() - 2} coordinates, got {tuple(output_index)}")
    y[(0, slice(None), *output_index)].sum().backward()
    assert x.grad is not None
    return x.grad[0].abs().sum(dim=0) != 0


def brute_force_receptive_field(
    layers: Iterable[ConvSpec | Mapping[str, int] | nn.Module],
) -> tuple[int, int, int]:
    """The receptive field of one unit measured by autograd, independently of :func:`receptive_field`'s recurrence.

    Builds :func:`ones_conv_stack` on an input long enough for the first interior unit's field (the first unit
    whose predicted field starts at an input position >= 0) to lie inside it, so padding plays no part, and takes
    :func:`influence_mask` of that unit.

    Returns:
        (span, count, start): inputs from the first to the last that influence the unit, how many of them do (equal
        to the span for dense stacks, fewer for a lone dilated kernel), and the first one's position relative to
        the unit's index times the jump (equal to ``receptive_field(layers)[-1].start`` when the recurrence is
        right).

    Example:
        >>> brute_force_receptive_field([ConvSpec(3, dilation=4)])
        (9, 3, 0)
    """
    specs = list(layers)
    last = receptive_field(specs)[-1]
    unit = math.ceil(-last.start / last.jump)
    length = last.start + unit * last.jump + last.size + last.jump
    where = influence_mask(ones_conv_stack(specs), (1, 1, length), (unit,)).nonzero().flatten()
    lo, hi = int(where.min()), int(where.max())
    return hi - lo + 1, where.numel(), lo - unit * last.jump


# -- convolution as a matrix -----------------------------------------------------------------------------------
def _pair(value: object, dims: int, name: str) -> tuple:
    if isinstance(value, str):
        return (value,) * dims
    if _is_int(value):
        return (value,) * dims
    value = tuple(value)  # type: ignore[arg-type]
    if len(value) != dims:
        raise ValueError(f"{name} needs {dims} values, got {value}")
    return value


def _selection(
    length: int, kernel: int, stride: int, pad: tuple[int, int], dilation: int, mode: str, like: Tensor
) -> Tensor:
    """S (K, L_out, L_in) with S[k, i, j] = 1 where output i's tap k reads input j (after padding ``mode``)."""
    out_len = (length + pad[0] + pad[1] - dilation * (kernel - 1) - 1) // stride + 1
    if out_len < 1:
        raise ValueError(f"the kernel (span {dilation * (kernel - 1) + 1}) is wider than the padded input")
    # position in the unpadded input that tap k of output i reads: i s - p + k d
    pos = (
        torch.arange(out_len)[None, :] * stride - pad[0] + torch.arange(kernel)[:, None] * dilation
    )  # (K, L_out)
    valid = torch.ones_like(pos, dtype=torch.bool)
    if mode == "zeros":
        valid = (pos >= 0) & (pos < length)
        pos = pos.clamp(0, length - 1)
    elif mode == "circular":
        pos = pos % length
    elif mode == "replicate":
        pos = pos.clamp(0, length - 1)
    else:  # reflect about the first and the last sample (not repeating them), torch's "reflect"
        if max(pad) >= length:
            raise ValueError(f"reflect padding {max(pad)} must be smaller than the input length {length}")
        pos = torch.where(pos < 0, -pos, pos)
        pos = torch.where(pos >= length, 2 * (length - 1) - pos, pos)
    onehot = torch.nn.functional.one_hot(pos, length).to(dtype=like.dtype, device=like.device)
    return onehot * valid.to(like.device)[..., None]


def _conv_matrix(
    weight: Tensor,
    input_size: tuple[int, ...],
    stride: int | Sequence[int],
    padding: int | str | Sequence[int],
    dilation: int | Sequence[int],
    groups: int,
    padding_mode: str,
) -> Tensor:
    dims = len(input_size)
    if weight.dim() != dims + 2:
        raise ValueError(
            f"weight must be (C_out, C_in/groups, *kernel) with {dims} kernel dims, got {weight.shape}"
        )
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    c_out, c_in_group, *kernel = weight.shape
    if not _is_int(groups) or groups < 1 or c_out % groups:
        raise ValueError(f"groups must be an integer >= 1 dividing C_out = {c_out}, got {groups!r}")
    strides, dilations = _pair(stride, dims, "stride"), _pair(dilation, dims, "dilation")
    pads = _pair(padding, dims, "padding")
    for name, values, low in (
        ("stride", strides, 1),
        ("dilation", dilations, 1),
        ("input size", input_size, 1),
    ):
        if not all(_is_int(v) and v >= low for v in values):
            raise ValueError(f"{name} must be integers >= {low}, got {values}")
    sides = []
    for p, k, s, d in zip(pads, kernel, strides, dilations, strict=True):
        if p == "valid":
            sides.append((0, 0))
        elif p == "same":
            if s != 1:
                raise ValueError("padding='same' needs stride 1 (as in torch)")
            total = d * (k - 1)
            sides.append((total // 2, total - total // 2))  # torch puts the odd zero at the end
        elif _is_int(p) and p >= 0:
            sides.append((p, p))
        else:
            raise ValueError(f"padding must be integers >= 0, 'valid' or 'same', got {padding!r}")
    sel = [
        _selection(n, k, s, side, d, padding_mode, weight)
        for n, k, s, side, d in zip(input_size, kernel, strides, sides, dilations, strict=True)
    ]
    out_size = [s.shape[1] for s in sel]
    # M[o, i..., c, j...] = Σ_k w[o, c, k...] Π_axes S_axis[k_axis, i_axis, j_axis]
    if dims == 1:
        blocks = torch.einsum("ock,kij->oicj", weight, sel[0])
    else:
        blocks = torch.einsum("ocab,aij,bkl->oikcjl", weight, sel[0], sel[1])
    rows, cols = math.prod(out_size), math.prod(input_size)
    blocks = blocks.reshape(c_out, rows, c_in_group, cols)  # (C_out, L_out, C_in/G, L_in)
    if groups == 1:
        return blocks.reshape(c_out * rows, c_in_group * cols)
    per = c_out // groups  # output channels per group, each reading its group's C_in/G inputs
    matrix = weight.new_zeros(c_out, rows, groups * c_in_group, cols)
    for g in range(groups):
        matrix[g * per : (g + 1) * per, :, g * c_in_group : (g + 1) * c_in_group] = blocks[
            g * per : (g + 1) * per
        ]
    return matrix.reshape(c_out * rows, groups * c_in_group * cols)


def conv1d_matrix(
    weight: Tensor,
    input_length: int,
    stride: int = 1,
    padding: int | str = 0,
    dilation: int = 1,
    groups: int = 1,
    padding_mode: PaddingMode = "zeros",
) -> Tensor:
    r"""The dense matrix of a 1-D convolution: ``conv1d_matrix(w, L) @ x.flatten() == F.conv1d(x, w).flatten()``.

    A convolutional layer is a fully connected layer whose weight matrix is sparse and shares its entries
    (section 10.2, fig. 10.4): row (o, i) holds w[o, c, k] in column (c, i s − p + k d). Its transpose maps the
    output space back to the input space; applied to a flattened output it is ``F.conv_transpose1d`` with the
    same weight and settings (:func:`conv_transpose_output_padding` gives the output_padding that recovers L_in),
    hence the name *transposed convolution* (section 10.4, fig. 10.13). With ``padding_mode="circular"`` the
    matrix is circulant (block-circulant for several channels) and commutes with cyclic shifts (section 10.1).

    Args:
        weight: (C_out, C_in / groups, K).
        input_length: L_in.
        stride, padding, dilation, groups: as in ``F.conv1d`` (padding: int, "valid" or "same").
        padding_mode: as in ``nn.Conv1d``: "zeros", "circular", "reflect" or "replicate".

    Returns:
        (C_out · L_out, C_in · L_in) in the weight's dtype and device, differentiable in the weight; row and
        column order are those of ``flatten()`` on (C, L) tensors.
    """
    if not _is_int(input_length):
        raise ValueError(f"input_length must be an integer, got {input_length!r}")
    return _conv_matrix(weight, (input_length,), stride, padding, dilation, groups, padding_mode)


def conv2d_matrix(
    weight: Tensor,
    input_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | str | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    padding_mode: PaddingMode = "zeros",
) -> Tensor:
    """The dense matrix of a 2-D convolution (section 10.3): ``M @ x.flatten() == F.conv2d(x, w).flatten()``.

    As :func:`conv1d_matrix` for weight (C_out, C_in / groups, K_h, K_w) and input (C_in, H, W); int or pair
    arguments as in ``F.conv2d``. Returns (C_out · H_out · W_out, C_in · H · W); the transpose is
    ``F.conv_transpose2d``.
    """
    size = _pair(input_size, 2, "input_size")
    return _conv_matrix(weight, size, stride, padding, dilation, groups, padding_mode)


# -- translations (section 10.1) -------------------------------------------------------------------------------
def translate(x: Tensor, shift: int | Sequence[int], circular: bool = True) -> Tensor:
    """Translate the last ``len(shift)`` axes of ``x`` by ``shift`` positions: out[..., i] = x[..., i − t].

    ``circular=True`` wraps around (the cyclic shift, under which a convolution with circular padding is
    exactly equivariant, section 10.1); ``circular=False`` fills the vacated positions with zeros.
    """
    shifts: tuple[int, ...] = (shift,) if isinstance(shift, int) else tuple(shift)
    if not all(_is_int(t) for t in shifts) or not 1 <= len(shifts) <= x.dim():
        raise ValueError(f"shift must be an integer or a tuple of at most {x.dim()} integers, got {shift!r}")
    out = x
    for axis, t in zip(range(x.dim() - len(shifts), x.dim()), shifts, strict=True):
        n = x.shape[axis]
        source = torch.arange(n, device=x.device) - t
        out = out.index_select(axis, source % n)
        if not circular:
            keep = ((source >= 0) & (source < n)).reshape((n,) + (1,) * (x.dim() - 1 - axis))
            out = torch.where(keep, out, torch.zeros((), dtype=x.dtype, device=x.device))
    return out


def shift_equivariant_mask(length: int, shift: int, reach: int) -> Tensor:
    """Outputs of a length-``length`` axis where a zero-padded convolutional map still commutes with a cyclic shift.

    A "same"-padded stack that reads ``reach`` inputs on each side of an output (kernel 3 then kernel 5: 1 + 2 = 3)
    computes f(T_t x)_i from the shifted input at i − reach .. i + reach: it agrees with (T_t f(x))_i only where
    that window lies inside the signal (else it reads zero padding on one side and real values on the other) and
    does not straddle the seam between positions t − 1 and t where the cyclic shift joined the signal's two ends
    (section 10.1). A shift by a multiple of the length is no shift: every output is kept. In 2-D an output is
    kept where both of its axes are (the outer product of two masks).

    Returns:
        (length,) bool, True where equivariance is guaranteed; for generic weights it fails everywhere else.
    """
    if not _is_int(length) or length < 1 or not _is_int(reach) or reach < 0 or not _is_int(shift):
        raise ValueError(
            f"need integers length >= 1, reach >= 0 and shift, got {length!r}, {reach!r}, {shift!r}"
        )
    i = torch.arange(length)
    t = shift % length
    if t == 0:
        return torch.ones(length, dtype=torch.bool)
    inside = (i - reach >= 0) & (i + reach <= length - 1)
    straddles = (i - reach <= t - 1) & (i + reach >= t)
    return inside & ~straddles


def convolve(
    x: Tensor,
    weight: Tensor,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: PaddingMode = "zeros",
) -> Tensor:
    """``F.conv1d`` / ``F.conv2d`` (picked by ``weight.dim()``) with ``nn.ConvNd``'s four padding modes.

    Zero padding is torch's own; the other modes pad first with ``F.pad`` (what ``nn.Conv1d(padding_mode=...)``
    does) and then convolve without padding. Bias-free: add one after if needed.
    """
    dims = weight.dim() - 2
    if dims not in (1, 2):
        raise ValueError(
            f"weight must be (C_out, C_in/groups, *kernel) with 1 or 2 kernel dims, got {weight.shape}"
        )
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    conv = torch.nn.functional.conv1d if dims == 1 else torch.nn.functional.conv2d
    pads = _pair(padding, dims, "padding")
    if padding_mode == "zeros":
        return conv(x, weight, stride=stride, padding=pads, dilation=dilation, groups=groups)
    pad = [p for p in reversed(pads) for _ in range(2)]  # F.pad takes the last axis first
    return conv(
        torch.nn.functional.pad(x, pad, mode=padding_mode),
        weight,
        stride=stride,
        dilation=dilation,
        groups=groups,
    )


def conv_matrix_errors(
    weight: Tensor,
    x: Tensor,
    v: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: PaddingMode = "zeros",
) -> tuple[float, float | None]:
    """How far the dense matrix M of a convolution is from torch's convolution and its transpose (figs. 10.4, 10.13).

    Returns max |M x − conv(x)| for one input ``x`` (1, C_in, *spatial) and, when ``v`` (an output-shaped tensor)
    is given, max |Mᵀ v − conv_transpose(v)| with the same weight and the output_padding of
    :func:`conv_transpose_output_padding` (torch's transposed convolution knows zero padding only: ``v`` must be
    None for the other modes). Both are float64 rounding (~1e-15) when :func:`conv1d_matrix` / :func:`conv2d_matrix`
    are right.
    """
    dims = weight.dim() - 2
    if x.dim() != dims + 2 or x.shape[0] != 1:
        raise ValueError(
            f"x must be one input (1, C_in, *spatial) with {dims} spatial dims, got {tuple(x.shape)}"
        )
    if v is not None and padding_mode != "zeros":
        raise ValueError(f"torch's transposed convolution knows zero padding only, got {padding_mode!r}")
    size = tuple(x.shape[2:])
    strides = _pair(stride, dims, "stride")
    pads = _pair(padding, dims, "padding")
    dilations = _pair(dilation, dims, "dilation")
    y = convolve(x, weight, strides, pads, dilations, groups, padding_mode)
    matrix = _conv_matrix(weight, size, strides, pads, dilations, groups, padding_mode)
    forward = float((matrix @ x.flatten() - y.flatten()).abs().max())
    if v is None:
        return forward, None
    if v.shape != y.shape:
        raise ValueError(f"v must have the convolution's output shape {tuple(y.shape)}, got {tuple(v.shape)}")
    parts = zip(size, weight.shape[2:], strides, pads, dilations, strict=True)
    output_padding = tuple(conv_transpose_output_padding(*p) for p in parts)
    transpose = torch.nn.functional.conv_transpose1d if dims == 1 else torch.nn.functional.conv_transpose2d
    back = transpose(v, weight, None, strides, pads, output_padding, groups, dilations)
    return forward, float((matrix.T @ v.flatten() - back.flatten()).abs().max())


def equivariance_errors(
    f: Callable[[Tensor], Tensor], x: Tensor, shift: int | Sequence[int], reach: int | None = None
) -> dict[str, float]:
    """How far a map f of (N, C, *spatial) tensors is from commuting with the cyclic shift T (section 10.1).

    All errors are relative to the largest |f(x)|, so float64 rounding shows as ~1e-16:

    - ``equivariance``: max |f(T x) − T f(x)|;
    - ``pool_mean`` / ``pool_max``: max |pool f(T x) − pool f(x)| for global average / max pooling over the
      spatial axes (one number per channel: invariant when f is equivariant);
    - with ``reach`` (how far f looks on each side, for a zero-padded f): ``interior`` and ``border``, the largest
      error on and off :func:`shift_equivariant_mask` (in 2-D the outer product of the axes' masks), and the
      counts ``interior_outputs``, ``border_outputs`` and ``broken_border_outputs`` (border outputs whose error
      exceeds 1e-12).
    """
    shifts = (shift,) if isinstance(shift, int) else tuple(shift)
    fx, ftx = f(x), f(translate(x, shifts))
    scale = float(fx.abs().max())
    if not scale > 0:
        raise ValueError("f(x) is zero everywhere: relative errors are undefined")
    out = {"equivariance": float((ftx - translate(fx, shifts)).abs().max()) / scale}
    for name, pool in (("pool_mean", "mean"), ("pool_max", "amax")):
        gap = getattr(ftx.flatten(2), pool)(-1) - getattr(fx.flatten(2), pool)(-1)
        out[name] = float(gap.abs().max()) / scale
    if reach is None:
        return out
    error = (ftx - translate(fx, shifts)).abs().amax(dim=(0, 1)) / scale  # (*spatial,)
    masks = [shift_equivariant_mask(n, t, reach) for n, t in zip(error.shape, shifts, strict=True)]
    inside = masks[0] if len(masks) == 1 else masks[0][:, None] & masks[1][None, :]
    inside = inside.to(error.device)
    border = error[~inside]
    out["interior"] = float(error[inside].max()) if bool(inside.any()) else 0.0
    out["border"] = float(border.max()) if border.numel() else 0.0
    out["interior_outputs"] = int(inside.sum())
    out["border_outputs"] = int(border.numel())
    out["broken_border_outputs"] = int((border > 1e-12).sum())
    return out


def _randint(low: int, high: int, generator: torch.Generator | None) -> int:
    """A uniform integer in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=generator))


def random_conv_setting(
    dims: int, max_length: int, padding_mode: PaddingMode = "zeros", generator: torch.Generator | None = None
) -> dict:
    """A random valid convolution, for property tests of the functions here against torch.

    Draws groups in 1..3, C_out and C_in as groups times 1..2, per axis a kernel in 1..4, stride in 1..3,
    dilation in 1..2, padding in 0..2 and an input size in [shortest, ``max_length``] (``max(max_length // 2, 4)``
    per side in 2-D), where the shortest size fits the dilated kernel and the padding mode (torch's ``F.pad``:
    reflect needs padding < size, circular padding <= size).

    Returns:
        dict with ``c_out``, ``c_in``, ``kernel``, ``size``, ``mode`` and the keyword arguments of
        :func:`convolve` / :func:`conv_matrix_errors`: ``stride``, ``padding``, ``dilation``, ``groups``
        (tuples with one entry per axis).
    """
    if dims not in (1, 2) or not _is_int(max_length) or max_length < 1:
        raise ValueError(f"need dims 1 or 2 and max_length >= 1, got {dims!r} and {max_length!r}")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    groups = _randint(1, 3, generator)
    kernel = tuple(_randint(1, 4, generator) for _ in range(dims))
    stride = tuple(_randint(1, 3, generator) for _ in range(dims))
    dilation = tuple(_randint(1, 2, generator) for _ in range(dims))
    longest = max_length if dims == 1 else max(max_length // 2, 4)
    padding, size = [], []
    for k, d in zip(kernel, dilation, strict=True):
        p = _randint(0, 2, generator)
        fits_pad = p + (padding_mode == "reflect") if padding_mode in ("reflect", "circular") else 1
        low = max(d * (k - 1) + 1 - 2 * p, 1, fits_pad)
        size.append(_randint(low, max(low, longest), generator))
        padding.append(p)
    c_out, c_in = groups * _randint(1, 2, generator), groups * _randint(1, 2, generator)
    return {
        "c_out": c_out,
        "c_in": c_in,
        "kernel": kernel,
        "size": tuple(size),
        "mode": padding_mode,
        "stride": stride,
        "padding": tuple(padding),
        "dilation": dilation,
        "groups": groups,
    }
