r"""A synthetic tabular data set with a protected attribute (UDL section 21.2.1, notebook 21.1's setting).

Generative process, for each example independently (drawn from ``generator`` in this order):

1. group a ~ Bernoulli(``group_fraction``) (a = 1 is the minority with the default 0.3);
2. label y | a ~ Bernoulli(``base_rates[a]``): the groups' base rates differ, so a classifier that is equally
   good for both cannot have equal selection rates *and* equal error rates (the criteria conflict);
3. latent merit z | y, a ~ N((y − ½)·``separation[a]``, 1): the classes are separated by ``separation[a]``
   standard deviations, less in the minority group, so the score is less informative there and the groups'
   ROC curves differ (equalized odds then needs randomized thresholds);
4. features x ∈ ℝ^{k+2}: ``informative`` noisy measurements x_j = z + ``noise``·ε_j (j < k); a proxy of the
   group x_k = a + ½ε (the protected attribute leaks into the features: blindness is not removal); and one
   pure-noise feature x_{k+1} = ε (ε standard normal throughout).

The Bayes score given z alone is monotone in z within each group but maps to different P(y = 1 | z, a) across
groups (different base rates and separations), which is what makes per-group thresholds matter.

Example:
    >>> import torch
    >>> d = fairness_tabular(1000, generator=torch.Generator().manual_seed(0))
    >>> d.x.shape, d.feature_names[-2:]
    (torch.Size([1000, 5]), ('group proxy', 'noise'))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["FairnessData", "fairness_tabular"]


@dataclass(frozen=True)
class FairnessData:
    """Features, labels and the protected attribute of :func:`fairness_tabular`."""

    x: Tensor
    """(n, informative + 2) float64 features"""
    y: Tensor
    """(n,) int64 labels 0/1"""
    a: Tensor
    """(n,) int64 protected attribute 0/1"""
    z: Tensor
    """(n,) float64 latent merit (not a feature; for reference)"""
    feature_names: tuple[str, ...]
    """one name per column of ``x``"""


def fairness_tabular(
    n: int,
    *,
    group_fraction: float = 0.3,
    base_rates: tuple[float, float] = (0.5, 0.3),
    separation: tuple[float, float] = (2.0, 1.0),
    informative: int = 3,
    noise: float = 1.0,
    generator: torch.Generator | None = None,
) -> FairnessData:
    """Draw ``n`` examples of the process in the module docstring.

    Args:
        n: examples, >= 1.
        group_fraction: P(a = 1), in (0, 1).
        base_rates: P(y = 1 | a = 0) and P(y = 1 | a = 1), each in (0, 1).
        separation: class separation of the latent merit in each group (in standard deviations), >= 0.
        informative: number of noisy measurements of the merit, >= 1.
        noise: standard deviation of each measurement's noise, >= 0.
        generator: the source of randomness (reproducible per seed).
    """
    if n < 1 or informative < 1:
        raise ValueError(f"n and informative must be >= 1, got n={n}, informative={informative}")
    if not 0 < group_fraction < 1 or not all(0 < r < 1 for r in base_rates):
        raise ValueError(
            f"group_fraction and base_rates must lie in (0, 1), got {group_fraction}, {base_rates}"
        )
    if len(base_rates) != 2 or len(separation) != 2 or min(separation) < 0 or noise < 0:
        raise ValueError(
            f"need two base_rates, two separations >= 0 and noise >= 0, got {separation}, {noise}"
        )
    f64 = torch.float64
    a = (torch.rand(n, generator=generator, dtype=f64) < group_fraction).long()
    rate = torch.tensor(base_rates, dtype=f64)[a]
    y = (torch.rand(n, generator=generator, dtype=f64) < rate).long()
    sep = torch.tensor(separation, dtype=f64)[a]
    z = (y - 0.5) * sep + torch.randn(n, generator=generator, dtype=f64)
    eps = torch.randn(n, informative + 2, generator=generator, dtype=f64)
    x = torch.cat(
        [z[:, None] + noise * eps[:, :informative], (a + 0.5 * eps[:, informative])[:, None], eps[:, -1:]], 1
    )
    names = (*(f"measurement {j + 1}" for j in range(informative)), "group proxy", "noise")
    return FairnessData(x=x, y=y, a=a, z=z, feature_names=names)
