"""Input and weight noise (UDL section 9.3.4) against seeded ``torch.randn`` draws and perturbed copies.

Label smoothing is tested in tests/losses/test_losses_smoothing.py, calibration in tests/metrics/test_calibration.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reference import F64, gen
from udl.functional import add_input_noise, forward_with_weight_noise, perturbed_parameters
from udl.nn import MLP


# -- input and weight noise --------------------------------------------------------------------------------------
def test_input_noise_is_seeded_gaussian() -> None:
    x = torch.randn(5, 40, generator=gen(0), dtype=F64)
    noisy = add_input_noise(x, 0.3, generator=gen(7))
    torch.testing.assert_close(noisy - x, 0.3 * torch.randn(5, 40, generator=gen(7), dtype=F64))
    assert torch.equal(add_input_noise(x, 0.3, generator=gen(7)), noisy)
    assert add_input_noise(x, 0.0, generator=gen(7)) is x
    big = add_input_noise(torch.zeros(200_000, dtype=F64), 0.5, generator=gen(1))
    assert float(big.std()) == pytest.approx(0.5, rel=0.01)
    with pytest.raises(ValueError, match="std"):
        add_input_noise(x, -1.0)


def test_weight_noise_forward_equals_perturbed_copy_and_grads_reach_clean_parameters() -> None:
    model = MLP(6, (8,), 3, generator=gen(0), dtype=F64)
    clean = {n: p.detach().clone() for n, p in model.named_parameters()}
    x = torch.randn(10, 6, generator=gen(1), dtype=F64)
    y = torch.randint(0, 3, (10,), generator=gen(2))

    out = forward_with_weight_noise(model, x, 0.1, generator=gen(5))
    F.cross_entropy(out, y).backward()

    # reference: a copy whose parameters are set to φ + ε with ε drawn in named_parameters() order
    reference = MLP(6, (8,), 3, generator=gen(0), dtype=F64)
    g = gen(5)
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=F64))
    ref_out = reference(x)
    F.cross_entropy(ref_out, y).backward()
    torch.testing.assert_close(out, ref_out, rtol=1e-14, atol=1e-14)
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert torch.equal(p.detach(), clean[name]), "the clean parameters must not change"
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-13, atol=1e-14)
    assert torch.equal(forward_with_weight_noise(model, x, 0.0), model(x))


def test_perturbed_parameters_restores_exactly() -> None:
    model = MLP(4, (5,), 2, generator=gen(0), dtype=F64)
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.randn(3, 4, generator=gen(1), dtype=F64)
    with perturbed_parameters(model, 0.2, generator=gen(3)):
        inside = model(x)
        assert not torch.equal(next(model.parameters()), before[0])
    torch.testing.assert_close(inside, forward_with_weight_noise(model, x, 0.2, generator=gen(3)))
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))
