"""udl.functional.conv against torch.nn.functional (float64) and brute force (autograd on real torch stacks)."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reference import F64, gen
from udl.functional import (
    ConvSpec,
    ReceptiveField,
    conv1d_matrix,
    conv2d_matrix,
    conv_output_size,
    conv_transpose_output_padding,
    conv_transpose_output_size,
    influence_mask,
    max_unpool,
    ones_conv_stack,
    receptive_field,
    translate,
    upsample_bilinear,
    upsample_duplicate,
)

EXACT = {"rtol": 0.0, "atol": 1e-12}


# -- output sizes ---------------------------------------------------------------------------------------------
def test_conv_output_size_known_values() -> None:
    assert conv_output_size(6, 3) == 4  # valid convolution: K − 1 fewer outputs
    assert conv_output_size(6, 3, padding=1) == 6  # zero padding keeps the size (fig. 10.2)
    assert conv_output_size(6, 3, stride=2, padding=1) == 3
    assert conv_output_size(7, 3, dilation=2) == 3
    assert conv_output_size(5, 5) == 1
    assert conv_output_size(1, 3, padding=1) == 1


@pytest.mark.parametrize("seed", range(30))
def test_conv_output_size_matches_torch(seed: int) -> None:
    r = random.Random(seed)
    k, s, d, p = r.randint(1, 5), r.randint(1, 4), r.randint(1, 3), r.randint(0, 3)
    length = r.randint(max(1, d * (k - 1) + 1 - 2 * p), 30)
    y = F.conv1d(torch.zeros(1, 1, length), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d)
    assert conv_output_size(length, k, s, p, d) == y.shape[-1]
    if p <= k // 2:  # torch's pooling allows padding up to half the window
        pooled = F.max_pool1d(torch.zeros(1, 1, length), k, s, p, d)
        assert conv_output_size(length, k, s, p, d) == pooled.shape[-1]
    op = r.randint(0, max(s, d) - 1)
    yt = F.conv_transpose1d(y, torch.zeros(1, 1, k), stride=s, padding=p, output_padding=op, dilation=d)
    if yt.shape[-1] >= 1:
        assert conv_transpose_output_size(y.shape[-1], k, s, p, op, d) == yt.shape[-1]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 3), "length"),
        ((5, 0), "kernel_size"),
        ((5, 3, 0), "stride"),
        ((5, 3, 1, -1), "padding"),
        ((5, 3, 1, 0, 0), "dilation"),
        ((5, 3, 1.0), "stride"),
        ((5, True), "kernel_size"),
        ((4, 3, 1, 0, 2), "spans 5 inputs"),
    ],
)
def test_conv_output_size_rejects_impossible_values(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        conv_output_size(*args)


@pytest.mark.parametrize("seed", range(20))
def test_conv_transpose_output_padding_matches_nn_conv_transpose(seed: int) -> None:
    r = random.Random(seed)
    k, s, d, p = r.randint(1, 5), r.randint(1, 4), r.randint(1, 3), r.randint(0, 3)
    length = r.randint(max(1, d * (k - 1) + 1 - 2 * p), 30)
    op = conv_transpose_output_padding(length, k, s, p, d)
    out_len = conv_output_size(length, k, s, p, d)
    assert op < s
    assert conv_transpose_output_size(out_len, k, s, p, op, d) == length
    # nn.ConvTranspose1d picks the same output_padding when asked for output_size=length
    convt = nn.ConvTranspose1d(1, 1, k, s, p, dilation=d, bias=False).to(F64)
    v = torch.randn(1, 1, out_len, dtype=F64, generator=gen(seed))
    with torch.no_grad():
        ref = convt(v, output_size=[length])
        ours = F.conv_transpose1d(v, convt.weight, stride=s, padding=p, output_padding=op, dilation=d)
    assert torch.equal(ours, ref)


def test_conv_transpose_output_size_rejects_bad_output_padding() -> None:
    with pytest.raises(ValueError, match="output_padding"):
        conv_transpose_output_size(4, 3, stride=2, output_padding=2)
    assert conv_transpose_output_size(3, 3, stride=2, padding=1, output_padding=1) == 6


# -- receptive fields -----------------------------------------------------------------------------------------
def test_receptive_field_closed_forms() -> None:
    for depth in range(1, 8):
        linear = receptive_field([ConvSpec(3, padding=1)] * depth)
        dilated = receptive_field([ConvSpec(3, dilation=2**i, padding=2**i) for i in range(depth)])
        strided = receptive_field([ConvSpec(3, stride=2, padding=1)] * depth)
        assert linear[-1] == ReceptiveField(1 + 2 * depth, 1, -depth)
        assert dilated[-1] == ReceptiveField(2 ** (depth + 1) - 1, 1, -(2**depth - 1))
        assert strided[-1] == ReceptiveField(2 ** (depth + 1) - 1, 2**depth, -(2**depth - 1))
    # the classic VGG-like stage: conv3, conv3, pool2 -> 5, then 6, then every conv3 adds 2 * 2 = 4
    sizes = [r.size for r in receptive_field([ConvSpec(3), ConvSpec(3), ConvSpec(2, 2), ConvSpec(3)])]
    assert sizes == [3, 5, 6, 10]


def _random_stack(r: random.Random) -> list[ConvSpec]:
    return [
        ConvSpec(r.randint(1, 5), r.choice([1, 1, 2, 3]), r.choice([1, 1, 2, 3]), r.randint(0, 2))
        for _ in range(r.randint(1, 5))
    ]


def _check_against_gradient(
    stack: nn.Module, fields: list[ReceptiveField], length: int, out_len: int
) -> None:
    last = fields[-1]
    checked = 0
    for i in range(out_len):
        lo, hi = last.start + i * last.jump, last.start + i * last.jump + last.size - 1
        if lo < 0 or hi >= length:
            continue  # the field reaches into the padding: the gradient only sees its inner part
        where = influence_mask(stack, (1, 1, length), (i,)).nonzero().flatten()
        assert (int(where.min()), int(where.max())) == (lo, hi), (i, where.tolist())
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("seed", range(60))
def test_receptive_field_matches_gradient_brute_force(seed: int) -> None:
    r = random.Random(seed)
    specs = _random_stack(r)
    fields = receptive_field(specs)
    length = fields[-1].size + 3 * fields[-1].jump + r.randint(0, 10)
    stack = ones_conv_stack(specs)
    out_len = stack(torch.ones(1, 1, length, dtype=F64)).shape[-1]
    expected_len = length
    for spec in specs:
        expected_len = conv_output_size(
            expected_len, spec.kernel_size, spec.stride, spec.padding, spec.dilation
        )
    assert out_len == expected_len
    _check_against_gradient(stack, fields, length, out_len)


def test_receptive_field_of_real_torch_modules() -> None:
    layers = [
        nn.Conv1d(2, 4, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.AvgPool1d(2),
        nn.Conv1d(4, 4, 5, stride=2, dilation=2, padding="valid", bias=False),
        nn.BatchNorm1d(4),
        nn.Conv1d(4, 3, 3, padding=2, bias=False),
        nn.AvgPool1d(3, stride=1, padding=1),
    ]
    specs = [
        ConvSpec(3, padding=1),
        ConvSpec(2, 2),
        ConvSpec(5, 2, 2),
        ConvSpec(3, padding=2),
        ConvSpec(3, 1, 1, 1),
    ]
    fields = receptive_field(layers)
    assert len(fields) == len(layers)
    assert fields[1] == fields[0] and fields[4] == fields[3]  # pointwise modules change nothing
    assert [f for i, f in enumerate(fields) if i not in (1, 4)] == receptive_field(specs)
    assert receptive_field(nn.Sequential(*layers)) == fields
    # brute force on the real stack: all-ones weights, ReLU passes every (positive) path, batch norm in eval
    stack = nn.Sequential(*layers).to(F64).eval()
    for module in stack:
        if isinstance(module, nn.Conv1d):
            nn.init.ones_(module.weight)
    length = 60
    out_len = stack(torch.ones(1, 2, length, dtype=F64)).shape[-1]
    checked = 0
    last = fields[-1]
    for i in range(out_len):
        lo = last.start + i * last.jump
        if lo >= 0 and lo + last.size <= length:
            where = influence_mask(stack, (1, 2, length), (i,)).nonzero().flatten()
            assert (int(where.min()), int(where.max())) == (lo, lo + last.size - 1)
            checked += 1
    assert checked > 5
    # max pooling has the geometry of its window
    assert receptive_field([nn.MaxPool1d(3, 2, 1, dilation=2)]) == receptive_field([ConvSpec(3, 2, 2, 1)])
    same = receptive_field([nn.Conv1d(1, 1, 4, padding="same", dilation=3)])
    assert same == [ReceptiveField(10, 1, -4)]  # total padding 9: 4 at the start, 5 at the end (torch)


def test_receptive_field_2d_per_axis() -> None:
    layers = [
        nn.Conv2d(1, 1, (3, 5), stride=(1, 2), padding=(1, 0), bias=False),
        nn.MaxPool2d((2, 3), stride=(2, 1)),
        nn.Conv2d(1, 1, (3, 1), dilation=(2, 1), bias=False),
    ]
    with pytest.raises(ValueError, match="axis"):
        receptive_field(layers)
    rows, cols = receptive_field(layers, axis=0), receptive_field(layers, axis=1)
    assert rows[-1] == ReceptiveField(1 + 2 + 1 + 4 * 2, 2, -1)
    assert cols[-1] == ReceptiveField(1 + 4 + 2 * 2, 2, 0)
    stack = nn.Sequential(layers[0], nn.AvgPool2d((2, 3), stride=(2, 1)), layers[2]).to(F64)
    for module in (stack[0], stack[2]):
        nn.init.ones_(module.weight)
    mask = influence_mask(stack, (1, 1, 30, 40), (3, 4))
    where_r, where_c = mask.any(dim=1).nonzero().flatten(), mask.any(dim=0).nonzero().flatten()
    r0, c0 = rows[-1].start + 3 * rows[-1].jump, cols[-1].start + 4 * cols[-1].jump
    assert (int(where_r.min()), int(where_r.max())) == (r0, r0 + rows[-1].size - 1)
    assert (int(where_c.min()), int(where_c.max())) == (c0, c0 + cols[-1].size - 1)
    square = [nn.Conv2d(1, 1, 3, stride=2), nn.MaxPool2d(2)]
    assert receptive_field(square) == receptive_field([ConvSpec(3, 2), ConvSpec(2, 2)])


def test_dilated_kernel_has_gaps_but_stacked_dilations_do_not() -> None:
    one = ones_conv_stack([ConvSpec(3, dilation=4)])
    mask = influence_mask(one, (1, 1, 20), (2,))
    assert mask.nonzero().flatten().tolist() == [2, 6, 10]  # span 9, three inputs
    stack = ones_conv_stack([ConvSpec(3, dilation=d) for d in (1, 2, 4)])
    mask = influence_mask(stack, (1, 1, 30), (3,))
    assert mask.nonzero().flatten().tolist() == list(range(3, 18))  # 2^4 − 1 = 15 inputs, no gaps


def test_receptive_field_input_forms_and_errors() -> None:
    dicts = [{"kernel_size": 3, "stride": 2}, {"kernel_size": 3, "dilation": 2, "padding": 1}]
    assert receptive_field(dicts) == receptive_field([ConvSpec(3, 2), ConvSpec(3, 1, 2, 1)])
    assert receptive_field([]) == []
    with pytest.raises(ValueError, match="unknown layer keys"):
        receptive_field([{"kernel": 3}])
    with pytest.raises(ValueError, match="Linear"):
        receptive_field([nn.Linear(3, 3)])
    with pytest.raises(ValueError, match="ConvSpec"):
        receptive_field([3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="stride"):
        ConvSpec(3, stride=0)
    with pytest.raises(ValueError, match="kernel_size"):
        ConvSpec(2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="coordinates"):
        influence_mask(ones_conv_stack([ConvSpec(3)]), (1, 1, 9), (1, 2))


# -- convolution as a matrix ----------------------------------------------------------------------------------
def test_conv1d_matrix_is_the_banded_matrix_of_fig_10_4() -> None:
    w = torch.tensor([[[1.0, 2.0, 3.0]]], dtype=F64)
    expected = torch.tensor(
        [
            [2, 3, 0, 0, 0, 0],
            [1, 2, 3, 0, 0, 0],
            [0, 1, 2, 3, 0, 0],
            [0, 0, 1, 2, 3, 0],
            [0, 0, 0, 1, 2, 3],
            [0, 0, 0, 0, 1, 2],
        ],
        dtype=F64,
    )
    assert torch.equal(conv1d_matrix(w, 6, padding=1), expected)
    assert torch.equal(conv1d_matrix(w, 6, stride=2, padding=1), expected[::2])  # stride keeps every s-th row
    circulant = expected.clone()
    circulant[0, -1], circulant[-1, 0] = 1.0, 3.0
    assert torch.equal(conv1d_matrix(w, 6, padding=1, padding_mode="circular"), circulant)


def _random_conv1d(r: random.Random) -> dict:
    groups = r.choice([1, 1, 2, 3])
    k, s, d, p = r.randint(1, 4), r.randint(1, 3), r.randint(1, 3), r.randint(0, 3)
    length = r.randint(max(1, d * (k - 1) + 1 - 2 * p), 12)
    return {
        "c_out": groups * r.randint(1, 2),
        "c_in": groups * r.randint(1, 2),
        "groups": groups,
        "k": k,
        "stride": s,
        "padding": p,
        "dilation": d,
        "length": length,
    }


@pytest.mark.parametrize("seed", range(40))
def test_conv1d_matrix_and_transpose_match_torch(seed: int) -> None:
    c = _random_conv1d(random.Random(seed))
    g = gen(seed)
    w = torch.randn(c["c_out"], c["c_in"] // c["groups"], c["k"], dtype=F64, generator=g, requires_grad=True)
    x = torch.randn(1, c["c_in"], c["length"], dtype=F64, generator=g)
    settings = {
        "stride": c["stride"],
        "padding": c["padding"],
        "dilation": c["dilation"],
        "groups": c["groups"],
    }
    y = F.conv1d(x, w, **settings)
    matrix = conv1d_matrix(w, c["length"], **settings)
    assert matrix.shape == (y.numel(), x.numel())
    torch.testing.assert_close(matrix @ x.flatten(), y.flatten(), **EXACT)
    # the transpose is the transposed convolution, output_padding recovering the input length
    out_len = y.shape[-1]
    op = conv_transpose_output_padding(c["length"], c["k"], c["stride"], c["padding"], c["dilation"])
    v = torch.randn(1, c["c_out"], out_len, dtype=F64, generator=g)
    back = F.conv_transpose1d(v, w, output_padding=op, **settings)
    assert back.shape == x.shape
    torch.testing.assert_close(matrix.T @ v.flatten(), back.flatten(), **EXACT)
    # gradients in the weight agree too
    (grad_ours,) = torch.autograd.grad(v.flatten() @ (matrix @ x.flatten()), w)
    (grad_torch,) = torch.autograd.grad((v * F.conv1d(x, w, **settings)).sum(), w)
    torch.testing.assert_close(grad_ours, grad_torch, **EXACT)


@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate"])
@pytest.mark.parametrize("seed", range(8))
def test_conv1d_matrix_padding_modes(mode: str, seed: int) -> None:
    r, g = random.Random(seed), gen(seed)
    k, s, d, length = r.randint(1, 4), r.randint(1, 3), r.randint(1, 2), r.randint(5, 10)
    p = r.randint(0, 3)
    w = torch.randn(2, 3, k, dtype=F64, generator=g)
    x = torch.randn(1, 3, length, dtype=F64, generator=g)
    y = F.conv1d(F.pad(x, (p, p), mode=mode), w, stride=s, dilation=d)
    matrix = conv1d_matrix(w, length, s, p, d, padding_mode=mode)  # type: ignore[arg-type]
    torch.testing.assert_close(matrix @ x.flatten(), y.flatten(), **EXACT)
    # nn.Conv1d with the same padding_mode is the same map
    conv = nn.Conv1d(3, 2, k, s, p, d, bias=False, padding_mode=mode).to(F64)
    with torch.no_grad():
        conv.weight.copy_(w)
    torch.testing.assert_close(matrix @ x.flatten(), conv(x).detach().flatten(), **EXACT)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_conv_matrix_string_padding(padding: str, k: int) -> None:
    w = torch.randn(2, 2, k, dtype=F64, generator=gen(k))
    x = torch.randn(1, 2, 9, dtype=F64, generator=gen(k + 10))
    y = F.conv1d(x, w, padding=padding, dilation=2)
    torch.testing.assert_close(
        conv1d_matrix(w, 9, padding=padding, dilation=2) @ x.flatten(), y.flatten(), **EXACT
    )
    w2 = torch.randn(3, 2, k, 5 - k, dtype=F64, generator=gen(k))
    x2 = torch.randn(1, 2, 6, 7, dtype=F64, generator=gen(k + 20))
    y2 = F.conv2d(x2, w2, padding=padding)
    torch.testing.assert_close(
        conv2d_matrix(w2, (6, 7), padding=padding) @ x2.flatten(), y2.flatten(), **EXACT
    )


@pytest.mark.parametrize("seed", range(25))
def test_conv2d_matrix_and_transpose_match_torch(seed: int) -> None:
    r, g = random.Random(seed), gen(100 + seed)
    groups = r.choice([1, 1, 2])
    kernel = (r.randint(1, 3), r.randint(1, 3))
    stride, dilation, padding = (r.randint(1, 3), r.randint(1, 2)), (r.randint(1, 2), r.randint(1, 2)), (0, 0)
    padding = (r.randint(0, 2), r.randint(0, 2))
    as_int = r.random() < 0.3  # int arguments too
    if as_int:
        kernel, stride, dilation, padding = (
            (kernel[0],) * 2,
            (stride[0],) * 2,
            (dilation[0],) * 2,
            (padding[0],) * 2,
        )
    size = tuple(
        r.randint(max(1, d * (k - 1) + 1 - 2 * p), 7)
        for k, d, p in zip(kernel, dilation, padding, strict=True)
    )
    c_out, c_in = groups * r.randint(1, 2), groups * r.randint(1, 2)
    w = torch.randn(c_out, c_in // groups, *kernel, dtype=F64, generator=g)
    x = torch.randn(1, c_in, *size, dtype=F64, generator=g)
    settings = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    if as_int:
        settings = {**settings, "stride": stride[0], "padding": padding[0], "dilation": dilation[0]}
    y = F.conv2d(x, w, **settings)
    matrix = conv2d_matrix(w, size if not as_int or size[0] != size[1] else size[0], **settings)
    torch.testing.assert_close(matrix @ x.flatten(), y.flatten(), **EXACT)
    op = tuple(
        conv_transpose_output_padding(n, k, s, p, d)
        for n, k, s, p, d in zip(size, kernel, stride, padding, dilation, strict=True)
    )
    v = torch.randn(y.shape, dtype=F64, generator=g)
    back = F.conv_transpose2d(v, w, output_padding=op, **settings)
    assert back.shape == x.shape
    torch.testing.assert_close(matrix.T @ v.flatten(), back.flatten(), **EXACT)


def test_conv2d_matrix_circular_matches_nn_conv2d() -> None:
    w = torch.randn(2, 3, 3, 2, dtype=F64, generator=gen(0))
    x = torch.randn(1, 3, 5, 6, dtype=F64, generator=gen(1))
    conv = nn.Conv2d(3, 2, (3, 2), padding=(1, 1), padding_mode="circular", bias=False).to(F64)
    with torch.no_grad():
        conv.weight.copy_(w)
    matrix = conv2d_matrix(w, (5, 6), padding=(1, 1), padding_mode="circular")
    torch.testing.assert_close(matrix @ x.flatten(), conv(x).detach().flatten(), **EXACT)


def test_circular_conv_matrix_commutes_with_the_shift_matrix() -> None:
    w = torch.randn(1, 1, 5, dtype=F64, generator=gen(3))
    matrix = conv1d_matrix(w, 9, padding=2, padding_mode="circular")
    shift = translate(torch.eye(9, dtype=F64), (2, 0))  # the cyclic shift as a matrix: rows moved down by 2
    x = torch.randn(9, dtype=F64, generator=gen(4))
    assert torch.equal(shift @ x, translate(x, 2))
    torch.testing.assert_close(matrix @ shift, shift @ matrix, **EXACT)
    zero = conv1d_matrix(w, 9, padding=2)
    assert not torch.allclose(zero @ shift, shift @ zero)


def test_conv_matrix_errors() -> None:
    w = torch.zeros(2, 1, 3)
    with pytest.raises(ValueError, match="padding_mode"):
        conv1d_matrix(w, 5, padding_mode="mirror")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="groups"):
        conv1d_matrix(w, 5, groups=3)
    with pytest.raises(ValueError, match="wider"):
        conv1d_matrix(w, 2)
    with pytest.raises(ValueError, match="stride 1"):
        conv1d_matrix(w, 5, stride=2, padding="same")
    with pytest.raises(ValueError, match="kernel dims"):
        conv1d_matrix(torch.zeros(2, 1, 3, 3), 5)
    with pytest.raises(ValueError, match="reflect"):
        conv1d_matrix(w, 3, padding=3, padding_mode="reflect")
    with pytest.raises(ValueError, match="stride"):
        conv2d_matrix(torch.zeros(1, 1, 2, 2), 4, stride=(1, 0))


# -- upsampling -----------------------------------------------------------------------------------------------
def test_upsample_duplicate_fig_10_12a() -> None:
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = torch.tensor([[1.0, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    assert torch.equal(upsample_duplicate(x, 2)[0, 0], expected)


@pytest.mark.parametrize(
    ("shape", "scale"), [((2, 3, 5), 3), ((1, 2, 4, 3), 2), ((2, 1, 3, 4), (1, 3)), ((1, 2, 2, 3, 2), 2)]
)
def test_upsample_duplicate_matches_nearest(shape: tuple, scale: int | tuple) -> None:
    x = torch.randn(shape, dtype=F64, generator=gen(0), requires_grad=True)
    ours = upsample_duplicate(x, scale)
    ref = F.interpolate(x, scale_factor=scale, mode="nearest")
    assert torch.equal(ours, ref)
    v = torch.randn(ref.shape, dtype=F64, generator=gen(1))
    (g_ours,) = torch.autograd.grad((ours * v).sum(), x)
    (g_ref,) = torch.autograd.grad((ref * v).sum(), x)
    torch.testing.assert_close(g_ours, g_ref, **EXACT)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize(
    ("shape", "size", "scale"),
    [
        ((2, 3, 5), 11, None),
        ((2, 3, 5), None, 2.0),
        ((2, 3, 7), None, 1.5),
        ((1, 2, 4, 5), (8, 10), None),
        ((1, 2, 4, 5), (3, 12), None),  # shrink one axis, stretch the other
        ((1, 2, 4, 5), None, (2.5, 3.0)),
        ((1, 1, 3, 3), (1, 7), None),
        ((1, 2, 3, 4, 2), (5, 6, 4), None),
    ],
)
def test_upsample_bilinear_matches_interpolate(shape: tuple, size, scale, align_corners: bool) -> None:
    mode = {3: "linear", 4: "bilinear", 5: "trilinear"}[len(shape)]
    x = torch.randn(shape, dtype=F64, generator=gen(len(shape)), requires_grad=True)
    ours = upsample_bilinear(x, size=size, scale_factor=scale, align_corners=align_corners)
    ref = F.interpolate(x, size=size, scale_factor=scale, mode=mode, align_corners=align_corners)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-14)
    v = torch.randn(ref.shape, dtype=F64, generator=gen(7))
    (g_ours,) = torch.autograd.grad((ours * v).sum(), x)
    (g_ref,) = torch.autograd.grad((ref * v).sum(), x)
    torch.testing.assert_close(g_ours, g_ref, rtol=0, atol=1e-13)


def test_upsample_bilinear_interpolates_linear_functions_exactly() -> None:
    # with align_corners the corner samples stay put and a linear ramp stays a linear ramp
    ramp = torch.arange(4, dtype=F64).reshape(1, 1, 4) * 3.0
    up = upsample_bilinear(ramp, size=10, align_corners=True)
    torch.testing.assert_close(up.flatten(), torch.linspace(0, 9, 10, dtype=F64), **EXACT)
    with pytest.raises(ValueError, match="exactly one"):
        upsample_bilinear(ramp)
    with pytest.raises(ValueError, match="exactly one"):
        upsample_bilinear(ramp, size=3, scale_factor=2.0)


@pytest.mark.parametrize(
    ("shape", "kernel", "stride", "padding"),
    [
        ((2, 3, 12), 2, None, 0),
        ((2, 3, 13), 3, 2, 1),
        ((1, 2, 10), 4, 3, 2),
        ((2, 2, 6, 8), 2, None, 0),
        ((1, 3, 9, 7), (3, 2), (2, 1), (1, 0)),
    ],
)
def test_max_unpool_matches_torch(shape: tuple, kernel, stride, padding) -> None:
    x = torch.randn(shape, dtype=F64, generator=gen(5))
    pool = F.max_pool1d if len(shape) == 3 else F.max_pool2d
    unpool = F.max_unpool1d if len(shape) == 3 else F.max_unpool2d
    pooled, idx = pool(x, kernel, stride, padding, return_indices=True)
    ref = unpool(pooled, idx, kernel, stride, padding)
    torch.testing.assert_close(max_unpool(pooled, idx, kernel, stride, padding), ref, rtol=0, atol=0)
    ref_full = unpool(pooled, idx, kernel, stride, padding, output_size=x.shape[2:])
    torch.testing.assert_close(
        max_unpool(pooled, idx, kernel, stride, padding, x.shape), ref_full, rtol=0, atol=0
    )
    # every value sits where it came from in x
    full = max_unpool(pooled, idx, kernel, stride, padding, x.shape[2:])
    assert torch.equal(full[full != 0], x[full != 0])


def test_max_unpool_errors() -> None:
    with pytest.raises(ValueError, match="indices"):
        max_unpool(torch.zeros(1, 1, 3), torch.tensor([[[0, 1, 9]]]), 2)
    with pytest.raises(ValueError, match=r"\(N, C, L\)"):
        max_unpool(torch.zeros(3), torch.zeros(3, dtype=torch.long), 2)


# -- equivariance and invariance (section 10.1) -----------------------------------------------------------------
def test_translate() -> None:
    x = torch.arange(10.0).reshape(2, 5)
    assert torch.equal(translate(x, 2), torch.roll(x, 2, dims=-1))
    assert torch.equal(translate(x, (1, -2)), torch.roll(x, (1, -2), dims=(0, 1)))
    assert translate(x, 2, circular=False)[0].tolist() == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert translate(x, -1, circular=False)[1].tolist() == [6.0, 7.0, 8.0, 9.0, 0.0]
    assert torch.equal(translate(translate(x, 3), -3), x)
    with pytest.raises(ValueError, match="shift"):
        translate(x, (1, 2, 3))


def _circular_net(channels: int, dims: int, g: torch.Generator) -> nn.Sequential:
    conv = nn.Conv1d if dims == 1 else nn.Conv2d
    net = nn.Sequential(
        conv(2, channels, 3, padding=1, padding_mode="circular"),
        nn.ReLU(),
        conv(channels, 3, 5, padding=2, padding_mode="circular"),
    ).to(F64)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, dtype=F64, generator=g))
    return net


@pytest.mark.parametrize("dims", [1, 2])
def test_circular_convolution_is_translation_equivariant(dims: int) -> None:
    g = gen(dims)
    net = _circular_net(4, dims, g)
    x = torch.randn(3, 2, *(11,) * dims, dtype=F64, generator=g)
    for shift in [1, 4, -3, 10] if dims == 1 else [(1, 2), (-3, 5), (0, 7)]:
        with torch.no_grad():
            lhs, rhs = net(translate(x, shift)), translate(net(x), shift)
        torch.testing.assert_close(lhs, rhs, rtol=0, atol=1e-12)
        # global pooling afterwards is invariant: the translated features are a permutation of the same values
        torch.testing.assert_close(
            lhs.flatten(2).mean(-1), net(x).detach().flatten(2).mean(-1), rtol=0, atol=1e-12
        )
        assert torch.equal(lhs.flatten(2).amax(-1), net(x).detach().flatten(2).amax(-1))


def test_zero_padding_breaks_equivariance_only_near_the_borders() -> None:
    g = gen(9)
    length, k, p, t = 40, 5, 2, 7
    w = torch.randn(3, 2, k, dtype=F64, generator=g)
    x = torch.randn(1, 2, length, dtype=F64, generator=g)
    error = (
        (F.conv1d(translate(x, t), w, padding=p) - translate(F.conv1d(x, w, padding=p), t)).abs().amax(dim=1)
    )
    # output i reads translated inputs i − p .. i + p; equivariance survives where that window lies inside
    # the signal and does not straddle the wrap-around seam between positions t − 1 and t
    i = torch.arange(length)
    inside = (i - p >= 0) & (i + p <= length - 1) & ~((i - p <= t - 1) & (i + p >= t))
    assert float(error[0, inside].max()) < 1e-12
    assert bool((error[0, ~inside] > 1e-6).all())  # every border output is wrong
    assert int((~inside).sum()) == 4 * p  # p at each end, 2p around the seam
    # and the strided convolution is equivariant for shifts by multiples of its stride (the output moves by t/s)
    circ = nn.Conv1d(2, 3, k, stride=2, padding=p, padding_mode="circular", bias=False).to(F64)
    with torch.no_grad():
        circ.weight.copy_(w)
        torch.testing.assert_close(circ(translate(x, 6)), translate(circ(x), 3), rtol=0, atol=1e-12)
        assert not torch.allclose(circ(translate(x, 1)), translate(circ(x), 1))
