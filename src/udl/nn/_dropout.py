r"""Dropout (UDL section 9.3.3): clamp a random subset of hidden units to zero at each training step.

The book's dropout multiplies each hidden unit by a Bernoulli variable m ~ Bern(1 − p) (it is dropped with
probability p, typically p = 0.5) at each SGD iteration; at test time all units are kept and, because the network
now has more active units than it ever had in training, the weights that leave a dropout layer are multiplied by
1 − p: the *weight scaling inference rule*. The alternative, *Monte Carlo dropout*, runs the stochastic network
many times and averages.

Here, as in ``torch.nn.Dropout``, the scaling is moved to training time (*inverted dropout*):

.. math:: \tilde{h}_d = \frac{m_d}{1 - p}\, h_d,\qquad m_d \sim \mathrm{Bern}(1 - p)

so :math:`\mathbb{E}_m[\tilde h_d] = h_d` and evaluation is the identity. The two conventions give the same
functions: a network trained with inverted dropout and weights Ω equals one trained with the book's dropout and
weights Ω / (1 − p), whose weight-scaled test-time network is again Ω.

- :class:`Dropout`: the module, torch.nn.Dropout's semantics (same masks from the same generator state on the
  CPU), with an explicit ``generator`` whose state travels with ``state_dict`` (so checkpoints resume the mask
  stream).
- :class:`DropoutMLP`: ``udl.nn.MLP`` (UDL eq. 4.15) with dropout after every hidden activation.
- :func:`mc_dropout_samples`, :func:`mc_dropout_predict`: Monte Carlo dropout.
- :func:`exact_dropout_average`: E_m[f(x, m)] by enumerating all 2^D masks of a small ``DropoutMLP``; for a linear
  network it equals the weight-scaling (eval) output exactly, for a ReLU network only approximately.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from udl.nn._activations import activation_module
from udl.nn._mlp import MLP, Init

__all__ = [
    "Dropout",
    "DropoutMLP",
    "MCDropoutPrediction",
    "exact_dropout_average",
    "mc_dropout_predict",
    "mc_dropout_samples",
]


def _check_p(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p!r}")
    return float(p)


class Dropout(nn.Module):
    r"""Inverted dropout: in training, zero each element with probability ``p`` and scale the rest by 1/(1 − p).

    Semantics are those of ``torch.nn.Dropout``: identity in eval mode (the input itself is returned) and for
    p = 0; all zeros for p = 1 in training; ``inplace`` overwrites the input. The mask is drawn exactly as
    torch draws it on the CPU (``empty_like(x).bernoulli_(1 − p)``, divided by 1 − p, multiplied into x), so
    with equal generator states ours and ``torch.nn.Dropout`` return bitwise-equal outputs there.

    Args:
        p: probability of dropping (zeroing) an element, in [0, 1].
        inplace: overwrite the input.
        generator: source of the masks (``None``: torch's global generator). A generator on another device than
            the input draws the mask on its own device and copies it over. Its state is part of
            ``state_dict()`` (under ``_extra_state``), so a checkpointed model resumes the same mask stream.

    Shapes:
        any -> same.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, *, generator: torch.Generator | None = None):
        super().__init__()
        self.p = _check_p(p)
        self.inplace = inplace
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0 or x.numel() == 0:
            return x
        if self.p == 1.0:  # torch: multiply by a zero scalar (keeps NaN * 0 = NaN, like torch)
            zero = torch.zeros((), dtype=x.dtype, device=x.device)
            return x.mul_(zero) if self.inplace else x * zero
        device = self.generator.device if self.generator is not None else x.device
        noise = torch.empty_like(x, device=device).bernoulli_(
            1 - self.p, generator=self.generator
        )  # x's strides
        noise.div_(1 - self.p)  # m / (1 − p): inverted dropout keeps E[output] = input
        noise = noise.to(x.device)
        return x.mul_(noise) if self.inplace else x * noise

    def get_extra_state(self) -> dict[str, Tensor]:
        return {} if self.generator is None else {"generator": self.generator.get_state()}

    def set_extra_state(self, state: Any) -> None:
        if self.generator is not None and isinstance(state, dict) and "generator" in state:
            self.generator.set_state(state["generator"].to(torch.uint8).cpu())

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class DropoutMLP(nn.Module):
    r"""A deep network (UDL eq. 4.15) with dropout on every hidden layer (UDL section 9.3.3).

    .. math:: \mathbf{h}_k = \frac{\mathbf{m}_k}{1 - p} \odot
              \mathrm{a}[\boldsymbol\beta_{k-1} + \boldsymbol\Omega_{k-1}\mathbf{h}_{k-1}],\qquad
              \mathbf{y} = \boldsymbol\beta_K + \boldsymbol\Omega_K \mathbf{h}_K

    The weights live in ``self.mlp``, a ``udl.nn.MLP`` built from ``generator`` exactly as ``MLP`` would be (so
    with p = 0, or in eval mode, the two compute the same function); ``self.dropouts[k]`` follows hidden layer k.
    Inputs and outputs are never dropped.

    Args:
        in_features: D_i.
        hidden_widths: D_1, ..., D_K (K >= 1).
        out_features: D_o.
        p: dropout probability of every hidden unit, in [0, 1).
        activation: activation name (see ``udl.functional.ACTIVATIONS``).
        init: as in ``udl.nn.MLP``.
        generator: source of the initialization.
        dropout_generator: source of the dropout masks, shared by all dropout layers (``None``: global RNG).
        device: where to allocate the parameters.
        dtype: parameter dtype.

    Shapes:
        input (..., D_i) -> output (..., D_o).
    """

    def __init__(
        self,
        in_features: int,
        hidden_widths: Sequence[int],
        out_features: int,
        p: float = 0.5,
        activation: str = "relu",
        init: Init = "he",
        generator: torch.Generator | None = None,
        *,
        dropout_generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if len(hidden_widths) < 1:
            raise ValueError("a DropoutMLP needs at least one hidden layer to drop units from")
        if _check_p(p) == 1.0:
            raise ValueError("p must be < 1 for a DropoutMLP: p = 1 drops every hidden unit")
        self.p = float(p)
        self.mlp = MLP(
            in_features,
            hidden_widths,
            out_features,
            activation,
            init,
            generator=generator,
            device=device,
            dtype=dtype,
        )
        self.activation = activation_module(activation)
        self.dropouts = nn.ModuleList(Dropout(p, generator=dropout_generator) for _ in hidden_widths)

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return self.mlp.hidden_widths

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for layer, dropout in zip(self.mlp.linears[:-1], self.dropouts, strict=True):
            h = dropout(self.activation(layer(h)))  # m_k/(1−p) ⊙ a[β + Ω h]
        return self.mlp.linears[-1](h)

    def masked_forward(self, x: Tensor, masks: Sequence[Tensor]) -> Tensor:
        """The network with given 0/1 masks in place of random ones (scaled by 1/(1 − p), as in training).

        Args:
            x: (N, D_i).
            masks: K tensors, mask k of shape (C, D_k) for C mask configurations.

        Returns:
            (C, N, D_o): the output of every configuration at every input.
        """
        if len(masks) != len(self.dropouts):
            raise ValueError(f"need one mask per hidden layer: {len(self.dropouts)}, got {len(masks)}")
        h = x
        for layer, m in zip(self.mlp.linears[:-1], masks, strict=True):
            h = self.activation(layer(h)) * (m.unsqueeze(-2) / (1 - self.p))  # (C, N, D_k)
        return self.mlp.linears[-1](h)


def _dropout_modules(model: nn.Module) -> tuple[list[Dropout], list[nn.modules.dropout._DropoutNd]]:
    ours = [m for m in model.modules() if isinstance(m, Dropout)]
    theirs = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    return ours, theirs


@contextlib.contextmanager
def _stochastic(model: nn.Module, generator: torch.Generator | None) -> Iterator[None]:
    """Everything in eval mode except the dropout layers; ours draw from ``generator`` if given. Restored after."""
    ours, theirs = _dropout_modules(model)
    if not ours and not theirs:
        raise ValueError("model has no dropout layers: every Monte Carlo dropout sample would be the same")
    if generator is not None and theirs:
        raise ValueError(
            "a generator was given but the model has torch.nn dropout layers, which can only draw from torch's "
            "global generator; use udl.nn.Dropout or pass generator=None"
        )
    modes = {m: m.training for m in model.modules()}
    generators = [d.generator for d in ours]
    try:
        model.eval()
        for d in [*ours, *theirs]:
            d.train()
            if generator is not None and isinstance(d, Dropout):
                d.generator = generator
        yield
    finally:
        for m, mode in modes.items():
            m.training = mode
        for d, g in zip(ours, generators, strict=True):
            d.generator = g


@torch.no_grad()
def mc_dropout_samples(
    model: nn.Module,
    x: Tensor,
    samples: int,
    generator: torch.Generator | None = None,
    *,
    max_rows: int = 1 << 16,
) -> Tensor:
    """``samples`` stochastic forward passes of ``model`` at ``x`` with dropout on (Monte Carlo dropout, UDL 9.3.3).

    Every module except the dropout layers is put in eval mode (batch norm uses its running statistics); the
    modes are restored afterwards. Passes are batched: x is repeated along the batch axis, each row drawing its
    own mask, which is the same as separate passes (rows never interact in eval mode).

    Args:
        model: a network containing ``udl.nn.Dropout`` (or ``torch.nn`` dropout) layers; x's first axis must be
            its batch axis.
        x: (N, ...) inputs.
        samples: number of passes S (>= 1).
        generator: source of the masks for ``udl.nn.Dropout`` layers (overrides theirs for this call); ``None``
            keeps each layer's own generator.
        max_rows: largest number of rows (passes × N) evaluated at once.

    Returns:
        (S, N, ...) outputs.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    n = x.shape[0]
    per_call = max(1, max_rows // max(n, 1))
    outs = []
    with _stochastic(model, generator):
        for start in range(0, samples, per_call):
            k = min(per_call, samples - start)
            out = model(x.repeat(k, *([1] * (x.dim() - 1))))  # (k·N, ...)
            outs.append(out.reshape(k, n, *out.shape[1:]))
    return torch.cat(outs)


class MCDropoutPrediction(NamedTuple):
    """The mean and spread of Monte Carlo dropout passes."""

    mean: Tensor
    """average output over the passes, (N, ...)"""
    std: Tensor
    """standard deviation over the passes (divisor S), (N, ...)"""


def mc_dropout_predict(
    model: nn.Module, x: Tensor, samples: int, generator: torch.Generator | None = None
) -> MCDropoutPrediction:
    """Monte Carlo dropout (UDL section 9.3.3): the mean and standard deviation of ``samples`` stochastic passes.

    The mean is the Monte Carlo estimate of E_m[f(x, m)], the average over dropout masks; its spread is a
    (heuristic) measure of the model's uncertainty (Gal & Ghahramani, 2016). See :func:`mc_dropout_samples`.
    """
    out = mc_dropout_samples(model, x, samples, generator)
    return MCDropoutPrediction(out.mean(dim=0), out.std(dim=0, correction=0))


@torch.no_grad()
def exact_dropout_average(model: DropoutMLP, x: Tensor, *, max_units: int = 20, chunk: int = 1024) -> Tensor:
    r"""E_m[f(x, m)]: the network's output averaged over all 2^D dropout masks, each with its probability.

    .. math:: \mathbb{E}_{\mathbf m}[\mathbf f(\mathbf x, \mathbf m)] = \sum_{\mathbf m\in\{0,1\}^D}
              (1-p)^{|\mathbf m|}\, p^{D-|\mathbf m|}\, \mathbf f(\mathbf x, \mathbf m)

    with D = D_1 + ... + D_K the hidden units. This is the prediction Monte Carlo dropout estimates. For a linear
    network (activation ``"linear"``) f is affine in each mask separately and the masks are independent, so the
    average equals the network with every mask at its mean: the weight scaling inference rule (eval mode) is
    exact. With a nonlinearity after a dropped layer (ReLU with two or more hidden layers) it is not.

    Args:
        model: a ``DropoutMLP`` with at most ``max_units`` hidden units in all.
        x: (N, D_i).
        max_units: refuse larger networks (the cost is 2^D forward passes).
        chunk: masks evaluated per batch.

    Returns:
        (N, D_o), in x's dtype.
    """
    widths = model.hidden_widths
    total = sum(widths)
    if total > max_units:
        raise ValueError(
            f"{total} hidden units means 2^{total} masks; at most max_units={max_units} are enumerated"
        )
    p = model.p
    dev, dtype = x.device, x.dtype
    powers = 2 ** torch.arange(total, device=dev)
    result = torch.zeros(x.shape[0], model.mlp.out_features, dtype=dtype, device=dev)
    for start in range(0, 2**total, chunk):
        codes = torch.arange(start, min(start + chunk, 2**total), device=dev)
        bits = (codes.unsqueeze(1) & powers).ne(0).to(dtype)  # (C, D): one mask per row
        kept = bits.sum(dim=1)
        weight = (1 - p) ** kept * p ** (total - kept)  # probability of each mask, (C,)
        masks = list(torch.split(bits, list(widths), dim=1))
        out = model.masked_forward(x, masks)  # (C, N, D_o)
        result += torch.einsum("c,cno->no", weight, out)
    return result
