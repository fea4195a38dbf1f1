r"""The four baseline classifiers of the MNIST-1D benchmark (Greydanus, 2020, "Scaling down deep learning").

The benchmark's table (README of github.com/greydanus/mnist1d; arXiv:2011.14439) reports the test accuracy of a
logistic regression (32%), an MLP (68%), a CNN (94%) and a GRU (91%). Its models live in the repository's
``notebooks/models.py`` (``LinearBase``, ``MLPBase``, ``ConvBase``, ``GRUBase``); the modules here are the same
architectures with the same parameter names and shapes (so their ``state_dict`` loads into the benchmark's
models and back) and the same forward passes:

========================  =================================================================  ==========
model                     architecture                                                       parameters
========================  =================================================================  ==========
:class:`MNIST1DLogistic`  Linear(40, 10)                                                            410
:class:`MNIST1DResMLP`    h = ReLU(W1 x); h <- h + ReLU(W2 h); W3 h  (40-100-100-10)             15,210
:class:`MNIST1DConvNet`   3 x (Conv1d, ReLU): 1->25 k5, 25->25 k3, 25->25 k3, stride 2, pad 1;    5,210
                          lengths 40 -> 19 -> 10 -> 5; Linear(25 x 5 = 125, 10)
:class:`MNIST1DBiGRU`     bidirectional GRU, 1 input, 6 hidden units per direction, h0 = 0;     5,134
                          Linear on all 40 steps' outputs (40 x 2 x 6 = 480 -> 10)
========================  =================================================================  ==========

Counts: 40·10+10 = 410; (40·100+100) + (100·100+100) + (100·10+10) = 15,210; 25·(1·5+1) + 2·25·(25·3+1) +
(125·10+10) = 150 + 3,800 + 1,260 = 5,210; GRU 2 directions x 3 gates x (6·1 + 6·6 + 6 + 6) = 324, plus
480·10+10 = 4,810, total 5,134 — the numbers the benchmark prints when it builds its models.

Initialization is torch's default (the benchmark sets no initialization of its own): Linear and Conv1d draw
weights from kaiming_uniform(a=√5) = U(±1/√fan_in) and biases from U(±1/√fan_in); the GRU draws every weight
and bias from U(±1/√hidden_size). With ``generator`` the same draws, in the same order, come from that
generator, so ``generator=torch.Generator().manual_seed(s)`` gives exactly the model that torch builds after
``torch.manual_seed(s)`` (the benchmark: s = 42), and building leaves the global generator untouched.

The CNN and the GRU define ``stacked_forward(params, x)``, the hook ``udl.nn.StackedEnsemble`` uses to run M
copies (one per seed) at once: the CNN evaluates its members one after another (bitwise the single model's
result), the GRU runs all members and both directions in one batched matrix product per time step. The GRU's
recurrence is written out with plain tensor operations (``torch.nn.GRU`` itself has no ``vmap`` batching rule);
the equations are torch's GRU (Cho et al., 2014), with r, z, n the reset, update and new gates:

.. math::
    \mathbf{r}_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} \mathbf{h}_{t-1} + b_{hr}), \quad
    \mathbf{z}_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} \mathbf{h}_{t-1} + b_{hz}) \\
    \mathbf{n}_t = \tanh(W_{in} x_t + b_{in} + \mathbf{r}_t \odot (W_{hn} \mathbf{h}_{t-1} + b_{hn})), \quad
    \mathbf{h}_t = (1 - \mathbf{z}_t) \odot \mathbf{n}_t + \mathbf{z}_t \odot \mathbf{h}_{t-1}

The reverse direction runs the same recurrence from t = 40 down to 1; the output at step t is
[forward h_t, reverse h_t] (torch's layout), flattened time-major into 480 features.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import Tensor, nn

__all__ = ["MNIST1DBiGRU", "MNIST1DConvNet", "MNIST1DLogistic", "MNIST1DResMLP"]


@torch.no_grad()
def _torch_default_init(module: nn.Module, generator: torch.Generator | None) -> None:
    """Redo torch's ``reset_parameters`` of every Linear, Conv1d and GRU in registration order, from ``generator``
    (without one, the layers keep what torch drew from the global generator when they were built)."""
    if generator is None:
        return
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv1d)):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            assert layer.bias is not None
            bound = 1 / math.sqrt(nn.init._calculate_fan_in_and_fan_out(layer.weight)[0])
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
        elif isinstance(layer, nn.GRU):
            std = 1.0 / math.sqrt(layer.hidden_size)
            for weight in layer.parameters():
                nn.init.uniform_(weight, -std, std, generator=generator)


def _build(generator: torch.Generator | None) -> contextlib.AbstractContextManager[object]:
    """Layers built inside draw from the global generator; with ``generator`` that draw is undone afterwards."""
    return torch.random.fork_rng(devices=[]) if generator is not None else contextlib.nullcontext()


class MNIST1DLogistic(nn.Module):
    """Logistic regression, the benchmark's ``LinearBase``: Linear(in_features, num_classes); 410 parameters.

    Shapes: (N, 40) -> (N, 10) logits.
    """

    def __init__(
        self, in_features: int = 40, num_classes: int = 10, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        with _build(generator):
            self.linear = nn.Linear(in_features, num_classes)
        _torch_default_init(self, generator)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)


class MNIST1DResMLP(nn.Module):
    """The benchmark's ``MLPBase``: 40-100-100-10 with ReLU, the second layer residual; 15,210 parameters.

    h₁ = ReLU(W₁x + b₁), h₂ = h₁ + ReLU(W₂h₁ + b₂), f = W₃h₂ + b₃. Shapes: (N, 40) -> (N, 10) logits.
    """

    def __init__(
        self,
        in_features: int = 40,
        num_classes: int = 10,
        hidden_size: int = 100,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        with _build(generator):
            self.linear1 = nn.Linear(in_features, hidden_size)
            self.linear2 = nn.Linear(hidden_size, hidden_size)
            self.linear3 = nn.Linear(hidden_size, num_classes)
        _torch_default_init(self, generator)

    def forward(self, x: Tensor) -> Tensor:
        h = self.linear1(x).relu()
        h = h + self.linear2(h).relu()  # the residual hidden layer
        return self.linear3(h)


class MNIST1DConvNet(nn.Module):
    """The benchmark's ``ConvBase``: three strided, padded Conv1d + ReLU and a linear classifier; 5,210 parameters.

    Conv1d(1, 25, 5, stride 2, padding 1) -> Conv1d(25, 25, 3, 2, 1) -> Conv1d(25, 25, 3, 2, 1), each followed by
    ReLU; on a 40-sample input the lengths go 40 -> 19 -> 10 -> 5 (floor((L + 2 - K) / 2) + 1), and the
    25 x 5 = 125 features, flattened channel-major, enter Linear(125, 10).

    Shapes: (N, L) signals (the channel dimension is added inside, as the benchmark does) -> (N, 10) logits.
    """

    def __init__(
        self,
        in_length: int = 40,
        num_classes: int = 10,
        channels: int = 25,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        length = in_length
        for kernel in (5, 3, 3):
            length = (length + 2 - kernel) // 2 + 1
        if length < 1:
            raise ValueError(f"in_length must be >= 4 for three stride-2 convolutions, got {in_length}")
        self.flat_features = channels * length
        """features entering the linear layer: 25 x 5 = 125 by default"""
        with _build(generator):
            self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
            self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.linear = nn.Linear(self.flat_features, num_classes)
        _torch_default_init(self, generator)

    def features(self, x: Tensor) -> Tensor:
        """The flattened output of the third convolution, (N, flat_features)."""
        h = x.unsqueeze(-2)  # (N, 1, L): one input channel
        h = self.conv1(h).relu()  # (N, C, 19)
        h = self.conv2(h).relu()  # (N, C, 10)
        h = self.conv3(h).relu()  # (N, C, 5)
        return h.flatten(-2)  # (N, C * 5), channel-major

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.features(x))

    @staticmethod
    def stacked_forward(params: dict[str, Tensor], x: Tensor) -> Tensor:
        """M models from their stacked parameters (``StackedEnsemble``'s hook), one after another: -> (M, N, 10).

        Not ``vmap``: it turns the convolutions into one grouped convolution whose float rounding depends on M,
        so a seed's float32 training run would change with the number of seeds trained beside it. Each
        member's convolutions here are the single model's own, bit for bit, and on CPU no slower.
        """

        def one(m: int) -> Tensor:
            h = x.unsqueeze(-2)  # (N, 1, L)
            for layer in ("conv1", "conv2", "conv3"):
                w, b = params[f"{layer}.weight"][m], params[f"{layer}.bias"][m]
                h = nn.functional.conv1d(h, w, b, stride=2, padding=1).relu()  # (N, C, 19 | 10 | 5)
            return nn.functional.linear(h.flatten(-2), params["linear.weight"][m], params["linear.bias"][m])

        return torch.stack([one(m) for m in range(len(params["conv1.weight"]))])


class MNIST1DBiGRU(nn.Module):
    """The benchmark's ``GRUBase``: a bidirectional GRU read one sample per step, a linear layer on every step's
    output; 5,134 parameters with 6 hidden units per direction.

    The signal x (N, T) is a sequence of T scalars (the benchmark's ``x.view(N, T, 1)``), the initial state is
    zero, and the outputs of all T steps and both directions, (N, T, 2H) flattened to T·2H = 480 features, enter
    Linear(480, 10). ``self.gru`` is a ``torch.nn.GRU`` that only holds the parameters (torch's names, shapes
    and initialization); the forward pass is the recurrence of the module docstring, which ``vmap`` can batch.

    Shapes: (N, T) with T = ``time_steps`` -> (N, 10) logits.
    """

    def __init__(
        self,
        time_steps: int = 40,
        num_classes: int = 10,
        hidden_size: int = 6,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.time_steps, self.hidden_size = time_steps, hidden_size
        with _build(generator):
            self.gru = nn.GRU(1, hidden_size, batch_first=True, bidirectional=True)
            self.linear = nn.Linear(2 * hidden_size * time_steps, num_classes)
        _torch_default_init(self, generator)

    def _weights(self) -> dict[str, Tensor]:
        return {name: value.unsqueeze(0) for name, value in self.named_parameters()}

    def sequence(self, x: Tensor) -> Tensor:
        """Outputs of every step, (N, T, 2H): [forward h_t, reverse h_t] as ``torch.nn.GRU`` returns them."""
        return _bigru_sequence(self._weights(), x)[0]

    def forward(self, x: Tensor) -> Tensor:
        return self.stacked_forward(self._weights(), x)[0]

    @staticmethod
    def stacked_forward(params: dict[str, Tensor], x: Tensor) -> Tensor:
        """M models at once from their stacked parameters (``StackedEnsemble``'s hook): (N, T) -> (M, N, 10).

        ``params[name]`` is (M, *shape) for every parameter name of the module; one batched matrix product
        per time step serves all M models and both directions (cheaper than ``vmap`` over the recurrence).
        """
        seq = _bigru_sequence(params, x).flatten(-2)  # (M, N, T * 2H), time-major
        weight, bias = params["linear.weight"], params["linear.bias"]
        return torch.baddbmm(bias.unsqueeze(1), seq, weight.transpose(1, 2))  # (M, N, 10)


def _bigru_sequence(params: dict[str, Tensor], x: Tensor) -> Tensor:
    """Bidirectional GRU outputs of M stacked models, (M, N, T, 2H), for a signal x (N, T) of scalar steps."""

    def both(name: str) -> Tensor:  # (M, 2, ...): [forward, reverse] of each model
        return torch.stack([params[f"gru.{name}_l0"], params[f"gru.{name}_l0_reverse"]], 1)

    w_hh = both("weight_hh").flatten(0, 1)  # (2M, 3H, H), index = 2 * model + direction
    w_ih = both("weight_ih").flatten(0, 1)[..., 0]  # (2M, 3H): one input feature
    b_ih, b_hh = (
        both("bias_ih").flatten(0, 1),
        both("bias_hh").flatten(0, 1).unsqueeze(1),
    )  # (2M, 3H), (2M, 1, 3H)
    m, hs, (n, t_len) = w_hh.shape[0] // 2, w_hh.shape[-1], x.shape
    xs = torch.stack([x, x.flip(-1)]).transpose(1, 2).repeat(m, 1, 1)  # (2M, T, N): reverse reads x backwards
    gi = xs.unsqueeze(-1) * w_ih[:, None, None] + b_ih[:, None, None]  # (2M, T, N, 3H), all steps at once
    # unbind once: slicing gi inside the loop would cost a full-size gradient buffer per step in backward
    gi_rz, gi_n = (part.unbind(1) for part in gi.split([2 * hs, hs], -1))  # T x (2M, N, 2H), T x (2M, N, H)
    w_hh_t = w_hh.transpose(1, 2)  # (2M, H, 3H)
    h = x.new_zeros(2 * m, n, hs)  # h0 = 0
    outputs = []
    for t in range(t_len):
        gh_rz, gh_n = torch.baddbmm(b_hh, h, w_hh_t).split([2 * hs, hs], -1)  # (2M, N, 2H), (2M, N, H)
        r, z = torch.sigmoid(gi_rz[t] + gh_rz).split(hs, -1)
        n_gate = torch.tanh(gi_n[t] + r * gh_n)
        h = n_gate + z * (h - n_gate)  # (1 - z) n + z h
        outputs.append(h)
    out = torch.stack(outputs, 1).view(m, 2, t_len, n, hs)  # the reverse direction in its own time order
    return torch.cat([out[:, 0], out[:, 1].flip(1)], -1).transpose(1, 2)  # (M, N, T, 2H)
