"""Benchmark: training tokens/s of udl's decoder-only LM against a plain nanoGPT-style torch model of the same
shape, and greedy generation with the KV cache against recomputing the prefix every step.

1. *Training.* ``udl.models.DecoderLM`` (learned positions, pre-LN, GELU, tied weights) and ``NanoGPT`` below
   (nn.Linear + F.scaled_dot_product_attention, Karpathy's nanoGPT layout) with the same weights (copied; their
   logits are checked equal first), each trained by torch.optim.AdamW on random byte sequences. The two take
   turns, one step each; the ratio is the median over adjacent pairs of udl_tokens_per_s / torch_tokens_per_s
   (goal >= 0.95).
2. *Generation.* ``udl.text.generate`` greedy, 256 new tokens after a 16-token prompt, with the cache and with
   ``use_cache=False`` (the same tokens, checked), alternating; speed-up = recompute time / cached time.

Run: python benchmarks/transformer.py [--device cuda] [--threads N]. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from udl.models import DecoderLM, DecoderLMConfig
from udl.text import generate

VOCAB, CONTEXT, WIDTH, HEADS, LAYERS, BATCH = 256, 128, 128, 4, 4, 16
BUDGET_S = 20.0  # per comparison: stop sampling early on a loaded machine


class CausalSelfAttention(nn.Module):
    def __init__(self, d: int, h: int) -> None:
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.h = h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.h, d // self.h).transpose(1, 2) for z in (q, k, v))  # (B, h, T, hd)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, d: int, h: int) -> None:
        super().__init__()
        self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(d), CausalSelfAttention(d, h), nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class NanoGPT(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(VOCAB, WIDTH), nn.Embedding(CONTEXT, WIDTH)
        self.blocks = nn.ModuleList(Block(WIDTH, HEADS) for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(WIDTH)
        self.lm_head = nn.Linear(WIDTH, VOCAB, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def copy_weights(ours: DecoderLM, ref: NanoGPT) -> None:
    with torch.no_grad():
        ref.wte.weight.copy_(ours.token_embedding.weight)
        ref.wpe.weight.copy_(ours.positions.absolute.weight)  # type: ignore[union-attr]
        ref.ln_f.load_state_dict(ours.norm.state_dict())
        for blk, layer in zip(ref.blocks, ours.layers, strict=True):
            blk.attn.c_attn.weight.copy_(layer.self_attn.in_proj_weight)
            blk.attn.c_attn.bias.copy_(layer.self_attn.in_proj_bias)
            blk.attn.c_proj.load_state_dict(layer.self_attn.out_proj.state_dict())
            blk.ln_1.load_state_dict(layer.norm1.state_dict())
            blk.ln_2.load_state_dict(layer.norm2.state_dict())
            blk.mlp[0].load_state_dict(layer.linear1.state_dict())
            blk.mlp[2].load_state_dict(layer.linear2.state_dict())


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def training(device: torch.device, pairs: int) -> dict[str, float]:
    cfg = DecoderLMConfig(VOCAB, CONTEXT, WIDTH, HEADS, LAYERS)
    ours = DecoderLM(cfg, generator=torch.Generator().manual_seed(0)).to(device)
    ref = NanoGPT().to(device)
    copy_weights(ours, ref)
    g = torch.Generator().manual_seed(1)
    data = torch.randint(VOCAB, (64, BATCH, CONTEXT + 1), generator=g).to(device)
    with torch.no_grad():
        err = float((ours(data[0, :, :-1]) - ref(data[0, :, :-1])).abs().max())
    assert err < 1e-4, f"the two models differ: {err}"
    opts = {m: torch.optim.AdamW(m.parameters(), lr=3e-4) for m in (ours, ref)}

    def step(model: nn.Module, i: int) -> float:
        batch = data[i % len(data)]
        sync(device)
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(batch[:, :-1]).flatten(0, 1), batch[:, 1:].flatten())
        opts[model].zero_grad(set_to_none=True)
        loss.backward()
        opts[model].step()
        sync(device)
        return time.perf_counter() - t0

    for i in range(3):
        step(ours, i), step(ref, i)
    times: dict[str, list[float]] = {"ours": [], "ref": []}
    start = time.perf_counter()
    for i in range(pairs):
        if i % 2:
            times["ref"].append(step(ref, i))
            times["ours"].append(step(ours, i))
        else:
            times["ours"].append(step(ours, i))
            times["ref"].append(step(ref, i))
        if time.perf_counter() - start > BUDGET_S and i >= 4:
            break
    ratio = statistics.median(r / o for o, r in zip(times["ours"], times["ref"], strict=True))
    tokens = BATCH * CONTEXT
    ours_s, ref_s = statistics.median(times["ours"]), statistics.median(times["ref"])
    return {
        "ours_s": ours_s,
        "baseline_s": ref_s,
        "speedup": ratio,
        "ours_tokens_per_s": tokens / ours_s,
        "baseline_tokens_per_s": tokens / ref_s,
        "steps": len(times["ours"]),
    }


def generation(device: torch.device, repeats: int, new_tokens: int = 256) -> dict[str, float]:
    cfg = DecoderLMConfig(VOCAB, 16 + new_tokens, WIDTH, HEADS, LAYERS)
    model = DecoderLM(cfg, generator=torch.Generator().manual_seed(0)).to(device).eval()
    prompt = torch.randint(VOCAB, (1, 16), generator=torch.Generator().manual_seed(2)).to(device)

    def timed(use_cache: bool) -> tuple[float, torch.Tensor]:
        sync(device)
        t0 = time.perf_counter()
        out = generate(model, prompt, new_tokens, use_cache=use_cache)
        sync(device)
        return time.perf_counter() - t0, out

    _, a = timed(True)
    _, b = timed(False)
    assert torch.equal(a, b), "cached and recomputed generation differ"
    cached, full = [], []
    for _ in range(repeats):
        cached.append(timed(True)[0])
        full.append(timed(False)[0])
    c, f = statistics.median(cached), statistics.median(full)
    return {"ours_s": c, "baseline_s": f, "speedup": f / c, "new_tokens": new_tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    results = {
        "lm_training_udl_vs_nanogpt": training(device, args.pairs),
        "generation_kv_cache_vs_recompute_256": generation(device, args.repeats),
    }
    print(
        f"device {device}, threads {args.threads}; model d={WIDTH}, {LAYERS} layers, {HEADS} heads, T={CONTEXT}, "
        f"batch {BATCH}"
    )
    tr, gen = results["lm_training_udl_vs_nanogpt"], results["generation_kv_cache_vs_recompute_256"]
    print(f"{'comparison':<44}{'udl':>12}{'baseline':>12}{'ratio':>8}")
    print(
        f"{'LM training step (s), udl vs nanoGPT':<44}{tr['ours_s']:>12.4f}{tr['baseline_s']:>12.4f}"
        f"{tr['speedup']:>8.3f}"
    )
    print(f"{'  tokens/s':<44}{tr['ours_tokens_per_s']:>12.0f}{tr['baseline_tokens_per_s']:>12.0f}")
    print(
        f"{'generate 256 tokens (s), cache vs recompute':<44}{gen['ours_s']:>12.3f}{gen['baseline_s']:>12.3f}"
        f"{gen['speedup']:>8.2f}"
    )
    assert all(math.isfinite(v["speedup"]) for v in results.values())
    print(json.dumps(results))


if __name__ == "__main__":
    main()
