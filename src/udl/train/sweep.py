r"""The sweep engine: train M independent MLPs in one batched computation (UDL chapter 8's model sweeps).

Chapter 8's experiments train dozens of models that differ only in width or in their data. Trained one after
another, each small model spends most of its time in Python and kernel-launch overhead; here the M models of a
*bucket* are stacked — member m's layer-k weights are the slice ``weights[k][m]`` of one (M, D_in, D_out) tensor,
padded to the bucket's widest member and masked — so every layer of every member is one ``torch.baddbmm``:

.. math:: \mathbf{f}^{(m)}_k = \boldsymbol\beta^{(m)}_{k-1} + \mathbf{h}^{(m)}_{k-1}\boldsymbol\Omega^{(m)T}_{k-1},
          \qquad \mathbf{h}^{(m)}_k = \mathrm{a}[\mathbf{f}^{(m)}_k] \odot \mathbf{m}^{(m)}_k

The loss is the sum of the members' own mean losses, so each member's gradient is exactly the gradient it would
get alone, and any optimizer whose update is elementwise (SGD with momentum, Adam) applied to the stacked
parameters updates every member exactly as it would update it alone. Padded units have zero weights, zero
pre-activations (masked) and zero gradients, so they stay zero. Members are initialized exactly as
``udl.nn.MLP`` would initialize them from their own seed, and each can see its own data order.

Each bucket's parameters and gradients are views of one flat tensor, so the optimizer updates a single tensor
per step, and for ReLU networks the backward pass is written out by hand (see ``_FlatBucket``) rather than
recorded by autograd: on the double-descent protocol that takes a step of all 28 widths from 6.6 ms to 4.7 ms.

Widths are grouped into buckets by :func:`plan_buckets`, which trades padding (wasted multiply-adds) against the
fixed per-step cost of one more bucket; buckets with too many parameters are split into chunks, so memory stays
bounded.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import torch
from torch import Tensor, nn

from udl.errors import CheckpointError, DivergenceError
from udl.nn import MLP, Init
from udl.optim import SGD, Adam
from udl.train._loop import NullRun, RunLike
from udl.train._stacked import StackedMLP, parameter_count

__all__ = ["StackedMLP", "SweepResult", "error_rates", "plan_buckets", "train_sweep"]

OptimizerFactory: TypeAlias = Callable[[list[nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory: TypeAlias = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]


def plan_buckets(
    widths: Sequence[int], cost: Callable[[int], float], overhead: float, max_members: int | None = None
) -> list[list[int]]:
    """Group sorted widths into contiguous buckets minimizing Σ_buckets (members · cost(widest) + overhead).

    ``cost(w)`` is the work of one model of width w (any unit) and ``overhead`` the fixed cost of one more
    bucket in the same unit; dynamic programming over the sorted widths finds the exact optimum. Returns the
    widths' indices (into ``widths``) per bucket.
    """
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    n = len(order)
    best = [0.0] + [math.inf] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - (max_members or n)), end):
            value = best[start] + (end - start) * cost(widths[order[end - 1]]) + overhead
            if value < best[end]:
                best[end], cut[end] = value, start
    buckets, end = [], n
    while end > 0:
        buckets.append(order[cut[end] : end])
        end = cut[end]
    return buckets[::-1]


@dataclass
class SweepResult:
    """Per-member histories (``history[m]``: one metric dict per evaluation) and the trained models.

    ``models[b]`` is the b-th bucket's trained StackedMLP and ``members[b]`` the indices (into ``hidden``) of its
    members, in its order; ``member(m)`` is member m as a stand-alone ``udl.nn.MLP``.
    """

    history: list[list[dict[str, float]]] = field(default_factory=list)
    evaluated_epochs: list[int] = field(default_factory=list)
    models: list[StackedMLP] = field(default_factory=list)
    members: list[list[int]] = field(default_factory=list)

    def final(self, metric: str) -> list[float]:
        return [h[-1][metric] for h in self.history]

    def outputs(self, x: Tensor) -> Tensor:
        """Every member's outputs on the shared input ``x`` (N, D_i), members in the order of ``hidden``:
        (M, N, D_o), without gradients."""
        parts = []
        with torch.no_grad():
            for model in self.models:
                parts.append(model(x))
        if not parts:
            raise ValueError("the sweep has no trained models")
        out = torch.empty(
            sum(map(len, self.members)), *parts[0].shape[1:], device=x.device, dtype=parts[0].dtype
        )
        for part, members in zip(parts, self.members, strict=True):
            out[members] = part
        return out

    def member(self, index: int) -> MLP:
        for model, members in zip(self.models, self.members, strict=True):
            if index in members:
                return model.member(members.index(index))
        raise IndexError(f"no member {index}: the sweep has {sum(map(len, self.members))}")


def _per_member_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    m, b, c = logits.shape
    losses = nn.functional.cross_entropy(logits.reshape(m * b, c), targets.reshape(m * b), reduction="none")
    return losses.view(m, b).mean(dim=1)


class _FlatBucket:
    r"""A StackedMLP whose parameters and gradients are views of one flat tensor each, with a hand-written backward.

    The optimizer then updates a single tensor (a few kernels per step instead of a few per layer), and for ReLU
    members the backward pass of UDL section 7.4 is written out with batched matmuls into the preallocated
    gradient views, which skips autograd's graph bookkeeping (about a third of a small bucket's step). With
    :math:`\mathbf{h}_0 = \mathbf{x}`, :math:`\mathbf{f}_k = \boldsymbol\beta_k + \mathbf{h}_k\boldsymbol\Omega_k`
    and :math:`\mathbf{h}_{k+1} = \mathrm{ReLU}[\mathbf{f}_k]`, for each member's mean cross-entropy over a batch
    of B:

    .. math:: \frac{\partial \ell}{\partial \mathbf{f}_K} = \frac{\mathrm{softmax}[\mathbf{f}_K] - \mathbf{e}_y}{B},
              \qquad \frac{\partial \ell}{\partial \boldsymbol\Omega_k} =
              \mathbf{h}_k^T \frac{\partial \ell}{\partial \mathbf{f}_k},
              \qquad \frac{\partial \ell}{\partial \mathbf{f}_{k-1}} = \mathbb{I}[\mathbf{h}_k > 0] \odot
              \frac{\partial \ell}{\partial \mathbf{f}_k}\boldsymbol\Omega_k^T

    Other activations take their gradients from autograd. Both are checked against members trained alone.
    """

    def __init__(self, model: StackedMLP) -> None:
        self.model = model
        self.params = [p for pair in zip(model.weights, model.biases, strict=True) for p in pair]
        first = self.params[0]
        total = sum(p.numel() for p in self.params)
        self.flat = nn.Parameter(torch.empty(total, device=first.device, dtype=first.dtype))
        self.flat.grad = torch.zeros_like(self.flat)
        self.values: list[Tensor] = []
        self.grads: list[Tensor] = []
        offset = 0
        with torch.no_grad():
            for p in self.params:
                value = self.flat.data[offset : offset + p.numel()].view_as(p)
                value.copy_(p)
                p.data = value  # the module's parameter now lives in the flat tensor
                self.values.append(value)
                self.grads.append(self.flat.grad[offset : offset + p.numel()].view_as(p))
                offset += p.numel()

    def loss_and_gradient(self, x: Tensor, targets: Tensor) -> Tensor:
        """Σ_members mean cross-entropy on (x, targets); writes its gradient into ``flat.grad``."""
        x = x if x.dim() == 3 else x.unsqueeze(0).expand(len(self.model), -1, -1)
        if self.model.activation_name != "relu":
            with torch.enable_grad():
                loss = _per_member_cross_entropy(self.model(x), targets).sum()
                grads = torch.autograd.grad(loss, self.params)
            torch._foreach_copy_(self.grads, grads)
            return loss.detach()
        with torch.no_grad():
            weights, biases = self.values[0::2], self.values[1::2]
            hs = [x]  # each layer's input, (M, B, D_k)
            for w, b in zip(weights[:-1], biases[:-1], strict=True):
                hs.append(torch.baddbmm(b, hs[-1], w).relu_())
            log_p = torch.log_softmax(torch.baddbmm(biases[-1], hs[-1], weights[-1]), dim=-1)  # (M, B, D_o)
            index = targets.unsqueeze(-1)
            batch = x.shape[1]
            loss = log_p.gather(-1, index).sum().neg_().div_(batch)
            delta = log_p.exp_().scatter_add_(-1, index, torch.full_like(index, -1, dtype=log_p.dtype))
            delta.div_(batch)  # ∂ℓ/∂f_K, (M, B, D_o)
            for k in range(len(weights) - 1, -1, -1):
                torch.bmm(hs[k].transpose(1, 2), delta, out=self.grads[2 * k])
                torch.sum(delta, dim=1, keepdim=True, out=self.grads[2 * k + 1])
                if k:
                    back = torch.bmm(delta, weights[k].transpose(1, 2))
                    delta = torch.ops.aten.threshold_backward(back, hs[k], 0)
            return loss


@torch.no_grad()
def error_rates(model: StackedMLP, x: Tensor, y: Tensor, chunk: int = 2048) -> Tensor:
    """Each member's fraction of misclassified examples, (M,); ``y`` is (N,) shared or (M, N)."""
    wrong = torch.zeros(len(model), device=x.device)
    n = x.shape[-2]
    for i in range(0, n, chunk):
        xs = x[..., i : i + chunk, :]
        ys = y[..., i : i + chunk]
        wrong += (model(xs).argmax(-1) != ys).sum(dim=-1)
    return wrong / n


def train_sweep(
    hidden: Sequence[Sequence[int]],
    data: tuple[Tensor, Tensor],
    *,
    in_features: int,
    out_features: int,
    epochs: int,
    batch_size: int,
    lr: float | None = None,
    optimizer: Literal["sgd", "adam"] | OptimizerFactory = "sgd",
    momentum: float = 0.0,
    scheduler: SchedulerFactory | None = None,
    seeds: Sequence[int] | None = None,
    shared_order: bool = True,
    order_seed: int = 0,
    evaluate: Callable[[StackedMLP], dict[str, Tensor]] | None = None,
    evaluate_every: int = 1,
    activation: str = "relu",
    init: Init = "he",
    overhead_macs: float = 1e5,
    max_bucket_parameters: int = 20_000_000,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    run: RunLike | None = None,
    name: str = "sweep",
    checkpoint_every: int = 50,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> SweepResult:
    """Train one classifier MLP per entry of ``hidden`` on ``data = (x, y)`` with cross-entropy, in buckets.

    Every member m is trained exactly as alone: initialized from ``seeds[m]`` (default m), mini-batches of
    ``batch_size`` in an order drawn each epoch from ``torch.Generator().manual_seed(order_seed)`` (one order
    for all when ``shared_order``, else member m uses ``order_seed + seeds[m]``), the optimizer's update applied
    elementwise. ``x`` is (N, D_i) shared or (M, N, D_i) per member (bootstrap samples, label-noise draws), ``y``
    (N,) or (M, N).

    ``optimizer`` is ``"sgd"`` (``udl.optim.SGD(lr, momentum)``), ``"adam"`` (``udl.optim.Adam(lr)``) or a factory
    ``params -> optimizer`` (then ``lr`` and ``momentum`` are not used), e.g. ``lambda p: AdamW(p, lr=1e-3,
    weight_decay=0.01)``; it receives one flat parameter per bucket, so its update must be elementwise (SGD,
    momentum, Adam(W), weight decay: yes; LBFGS or gradient-norm clipping: no, they would couple the members).
    ``scheduler``, a factory ``optimizer -> LRScheduler``, is stepped after every epoch and checkpointed.

    ``evaluate(model)`` returns per-member metric tensors (M,) and runs every ``evaluate_every`` epochs and after
    the last. With a ``run``, each bucket checkpoints under ``{name}_bucket{b}`` every ``checkpoint_every``
    epochs and resumes from it. ``progress(done, total)`` is called after every epoch with optimizer steps.

    Buckets are independent, so ``workers`` threads train them side by side (default: one per intra-op thread
    on CPU, one on other devices), the largest first, each with ``torch.get_num_threads() // workers`` threads
    for its kernels; ``evaluate`` and ``progress`` are then called from those threads (``progress`` under a
    lock). Results do not depend on the schedule, only, in the last bits, on the thread count of the kernels.

    Returns:
        The per-member evaluation histories, members in the order of ``hidden``, and the trained buckets (also
        when a finished sweep is resumed: they are restored from their checkpoints).
    """
    run = run if run is not None else NullRun()
    x, y = data
    m_total = len(hidden)
    seeds = list(range(m_total)) if seeds is None else list(seeds)
    depth_widths = [max(h) if h else 0 for h in hidden]

    def sizes(width: int) -> list[int]:  # a member's layer sizes, its hidden layers all `width` wide
        return [in_features, *([width] * len(hidden[0])), out_features]

    def macs(width: int) -> float:  # multiply-adds of one model per training example (forward)
        return float(sum(a * b for a, b in itertools.pairwise(sizes(width))))

    buckets = plan_buckets(depth_widths, macs, overhead_macs)
    chunks: list[list[int]] = []
    for bucket in buckets:  # bound memory: at most max_bucket_parameters stacked parameters per chunk
        per = max(1, max_bucket_parameters // parameter_count(sizes(max(depth_widths[i] for i in bucket))))
        chunks.extend(bucket[i : i + per] for i in range(0, len(bucket), per))

    if callable(optimizer):
        if lr is not None or momentum != 0.0:
            raise ValueError(
                "lr and momentum are for optimizer='sgd'/'adam'; an optimizer factory sets its own"
            )
        make_optimizer = optimizer
    elif optimizer not in ("sgd", "adam"):
        raise ValueError(
            f"unknown optimizer {optimizer!r}; valid: 'sgd', 'adam', or a factory params -> optimizer"
        )
    elif lr is None:
        raise ValueError(f"optimizer={optimizer!r} needs lr")
    else:
        kind, rate = optimizer, lr

        def make_optimizer(params: list[nn.Parameter]) -> torch.optim.Optimizer:
            return SGD(params, lr=rate, momentum=momentum) if kind == "sgd" else Adam(params, lr=rate)

    n = x.shape[-2]
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = len(chunks) * epochs * steps_per_epoch
    done = [0]  # optimizer steps taken by all chunks, for `progress`
    lock = threading.Lock()

    def train_chunk(
        b: int, members: list[int], threads: int | None = None
    ) -> tuple[StackedMLP, list[list[dict[str, float]]]]:
        if threads is not None:  # a worker thread: its intra-op thread count (OpenMP's is per thread)
            torch.set_num_threads(threads)
        model = StackedMLP(
            in_features,
            [hidden[i] for i in members],
            out_features,
            activation,
            init,
            [seeds[i] for i in members],
            device=device,
            dtype=dtype,
        )
        flat = _FlatBucket(model)
        opt = make_optimizer([flat.flat])
        sched = scheduler(opt) if scheduler is not None else None
        # One generator drives a shared order (every member alone would draw the same permutations from it);
        # otherwise member i has its own, seeded order_seed + seeds[i].
        gens = (
            [torch.Generator().manual_seed(order_seed)]
            if shared_order
            else [torch.Generator().manual_seed(order_seed + seeds[i]) for i in members]
        )
        xb = x if x.dim() == 2 else x[members]
        yb = y if y.dim() == 1 else y[members]
        history: list[list[dict[str, float]]] = [[] for _ in members]
        key = f"{name}_bucket{b}"
        start = 0
        with lock:
            saved = run.load_state(key)
        if saved is not None:
            if [list(h) for h in saved.get("hidden", [])] != [list(hidden[i]) for i in members]:
                raise CheckpointError(
                    f"checkpoint {key} was saved for members {saved.get('hidden')}, not "
                    f"{[hidden[i] for i in members]}: the sweep's buckets changed since it was written"
                )
            try:
                model.load_state_dict(saved["model"])
                opt.load_state_dict(saved["optimizer"])
                if sched is not None:
                    sched.load_state_dict(saved["scheduler"])
            except (KeyError, RuntimeError, ValueError) as error:
                raise CheckpointError(f"checkpoint {key} does not fit this sweep engine: {error}") from error
            for g, state in zip(gens, saved["generators"], strict=True):
                g.set_state(state)
            start = int(saved["epoch"])
            history = [[dict(h) for h in member] for member in saved["history"]]
        with lock:
            done[0] += start * steps_per_epoch
        for epoch in range(start, epochs):
            if shared_order:
                order = torch.randperm(n, generator=gens[0]).to(x.device).expand(len(members), n)
            else:
                order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(x.device)
            for step, i in enumerate(range(0, n, batch_size), start=epoch * steps_per_epoch + 1):
                idx = order[:, i : i + batch_size]  # (M, B)
                if xb.dim() == 2 and shared_order:
                    inputs, targets = xb[idx[0]], (yb[idx[0]] if yb.dim() == 1 else yb.gather(1, idx))
                    targets = targets.expand(len(members), -1) if targets.dim() == 1 else targets
                else:
                    inputs = (
                        xb[idx]
                        if xb.dim() == 2
                        else torch.gather(xb, 1, idx.unsqueeze(-1).expand(-1, -1, xb.shape[-1]))
                    )
                    targets = yb[idx] if yb.dim() == 1 else yb.gather(1, idx)
                loss = flat.loss_and_gradient(inputs, targets)
                if not bool(torch.isfinite(loss)):
                    raise DivergenceError(f"{name} training loss (bucket {b})", step, float(loss))
                opt.step()
            if sched is not None:
                sched.step()
            if evaluate is not None and ((epoch + 1) % evaluate_every == 0 or epoch + 1 == epochs):
                model.eval()
                metrics = {k: v.detach().cpu() for k, v in evaluate(model).items()}
                for j in range(len(members)):
                    history[j].append(
                        {"epoch": float(epoch + 1), **{k: float(v[j]) for k, v in metrics.items()}}
                    )
            with lock:
                if (epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs:
                    run.save_state(
                        key,
                        {
                            "model": model.state_dict(),
                            "optimizer": opt.state_dict(),
                            **({"scheduler": sched.state_dict()} if sched is not None else {}),
                            "generators": [g.get_state() for g in gens],
                            "epoch": epoch + 1,
                            "history": history,
                            "hidden": [list(hidden[i]) for i in members],
                        },
                    )
                done[0] += steps_per_epoch
                if progress is not None:
                    progress(done[0], total_steps)
        model.eval()
        return model, history

    result = SweepResult(history=[[] for _ in range(m_total)])
    if workers is None:
        workers = 1 if torch.device(device).type != "cpu" else torch.get_num_threads()
    workers = max(1, min(workers, len(chunks)))
    # Largest chunks first: with several workers this is the longest-processing-time-first schedule.
    order = sorted(
        range(len(chunks)), key=lambda b: -len(chunks[b]) * macs(max(depth_widths[i] for i in chunks[b]))
    )
    if workers == 1:
        histories = {b: train_chunk(b, chunks[b]) for b in order}
    else:
        # Small batched matmuls use two cores poorly; one core per chunk, chunks side by side, uses them fully.
        threads = torch.get_num_threads()
        each = max(1, threads // workers)
        torch.set_num_threads(each)
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = {b: pool.submit(train_chunk, b, chunks[b], each) for b in order}
                histories = {b: f.result() for b, f in futures.items()}
        finally:
            torch.set_num_threads(threads)
    for b, members in enumerate(chunks):
        model, history = histories[b]
        result.models.append(model)
        result.members.append(list(members))
        for j, i in enumerate(members):
            result.history[i] = history[j]
    return result
