r"""Training with noise on the inputs and on the weights (UDL section 9.3.4), as a module wrapper.

:class:`NoisyTraining` wraps a network so that, in training mode only, each forward pass sees
:math:`\mathbf{x} + \boldsymbol\epsilon_x` (input noise, :func:`udl.functional.add_input_noise`) and runs with
the parameters :math:`\boldsymbol\phi + \boldsymbol\epsilon_\phi` (weight noise,
:func:`udl.functional.forward_with_weight_noise`), :math:`\boldsymbol\epsilon \sim \mathcal{N}(\mathbf{0},
\sigma^2\mathbf{I})`, a fresh draw per call. In eval mode it is the plain network, so evaluation is of the
clean model on clean inputs. Any training loop (e.g. ``udl.train.fit``) can then train with noise unchanged.

Example:
    >>> import torch
    >>> from udl.nn import MLP, NoisyTraining
    >>> g = torch.Generator().manual_seed(0)
    >>> net = NoisyTraining(MLP(40, (16,), 10, generator=g), input_std=0.25, weight_std=0.01, generator=g)
    >>> _ = net.eval()
    >>> torch.equal(net(torch.zeros(2, 40)), net.model(torch.zeros(2, 40)))
    True
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from udl.functional import add_input_noise, forward_with_weight_noise

__all__ = ["NoisyTraining"]


class NoisyTraining(nn.Module):
    """``model`` trained with Gaussian input noise (σ_x = ``input_std``) and weight noise (σ_w = ``weight_std``).

    The noise is drawn from ``generator`` (input noise first, then one draw per parameter in
    ``named_parameters()`` order); pass the generator that also orders the batches (``udl.train.fit``
    checkpoints it), and a resumed run draws the same noise. ``std = 0`` makes no draw. The wrapped network's
    state dict sits under ``model.``.

    Args:
        model: the network.
        input_std: σ_x >= 0.
        weight_std: σ_w >= 0.
        generator: source of the noise (``None``: torch's global generator).
    """

    def __init__(
        self,
        model: nn.Module,
        input_std: float = 0.0,
        weight_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if input_std < 0 or weight_std < 0:
            raise ValueError(f"input_std and weight_std must be >= 0, got {input_std} and {weight_std}")
        self.model = model
        self.input_std, self.weight_std, self.generator = input_std, weight_std, generator

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return self.model(x)
        x = add_input_noise(x, self.input_std, generator=self.generator)
        return forward_with_weight_noise(self.model, x, self.weight_std, generator=self.generator)
