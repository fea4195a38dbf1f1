"""Training with data augmentation (UDL section 9.3.6) as a module wrapper.

:class:`AugmentedTraining` wraps a network so that, in training mode only, each forward pass sees
``transform(x)`` — a fresh random transformation of the batch that keeps its labels (a shift, a rotation, a flip:
AlexNet's crops and flips, UDL section 10.5). In eval mode it is the plain network on the inputs as given, so
evaluation is of the model on untouched data. Any training loop (e.g. ``udl.train.fit``) then trains with
augmentation unchanged.

Example:
    >>> import torch
    >>> from udl.nn import MLP, AugmentedTraining
    >>> g = torch.Generator().manual_seed(0)
    >>> net = AugmentedTraining(MLP(4, (8,), 2, generator=g), lambda x: x.flip(-1))
    >>> x = torch.arange(4.0).reshape(1, 4)
    >>> torch.equal(net.train()(x), net.model(x.flip(-1))), torch.equal(net.eval()(x), net.model(x))
    (True, True)
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

__all__ = ["AugmentedTraining"]


class AugmentedTraining(nn.Module):
    """``model`` seeing ``transform(x)`` in training mode and ``x`` itself in eval mode.

    The transform should draw its randomness from an explicit generator (e.g. ``functools.partial(
    udl.data.random_shift_rotate, max_shift=1, generator=g)``); pass the generator that also orders the batches
    (``udl.train.fit`` checkpoints it) and a resumed run draws the same transformations. The wrapped network's
    state dict sits under ``model.``.

    Args:
        model: the network.
        transform: a label-preserving map of input batches, same shape in and out.
    """

    def __init__(self, model: nn.Module, transform: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        if not callable(transform):
            raise ValueError(f"transform must be callable, got {type(transform).__name__}")
        self.model, self.transform = model, transform

    def forward(self, x: Tensor) -> Tensor:
        return self.model(self.transform(x) if self.training else x)
