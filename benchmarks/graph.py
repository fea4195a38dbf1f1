"""Benchmark: udl.graph against PyTorch Geometric on one machine, in one run.

1. Kipf GCN training epoch (2 layers, 16 -> 64 -> 4, forward + backward + Adam step, full batch) on a contextual SBM
   with ``--nodes`` nodes (default 100,000, ~1M directed edges): ``udl.graph.KipfConv`` vs PyG ``GCNConv``, both
   with ``cached=True`` (the normalization computed once) and both without. The two models hold the same weights
   and their outputs are compared first. Ratio = PyG time / udl time (above 1: udl is faster), median over
   alternating epochs.
2. GAT epoch (2 layers, 4 heads) vs PyG ``GATConv``, same protocol, on a 20,000-node CSBM (``--gat-nodes``).
3. Neighbour-sampling throughput (fan-outs 10, 5; batches of 1,024 seeds): udl's ``NeighbourLoader``. PyG's
   ``NeighborLoader`` needs ``pyg-lib`` or ``torch-sparse``, neither installed (nor installable here): it is tried
   and the reason printed if it cannot run.
4. Partition edge cut: ``udl.graph.partition_graph`` vs ``pymetis`` (METIS) on the same CSBM and a 2-D grid.
5. ``--million``: a 1,000,000-node CSBM trained end to end (neighbour sampling, 2-layer mean GCN, 2 epochs over
   the 100,000 training nodes, full-graph evaluation after each), in a fresh subprocess: peak RSS and seconds per
   epoch. Not part of the default run (about a minute or two on one thread).

Run: python benchmarks/graph.py [--nodes N] [--million]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from udl.graph import CSR, GATConv, KipfConv, NeighbourLoader, edge_cut, from_networkx, partition_graph
from udl.graph.datasets import contextual_sbm, csbm_node_task

warnings.filterwarnings("ignore")


class TwoLayer(nn.Module):
    def __init__(self, conv1: nn.Module, conv2: nn.Module) -> None:
        super().__init__()
        self.conv1, self.conv2 = conv1, conv2

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(x, edge_index)), edge_index)


def epoch_fn(model: nn.Module, x: torch.Tensor, ei: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    opt = torch.optim.Adam(model.parameters(), lr=0.01)

    def epoch() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x, ei), y).backward()
        opt.step()

    return epoch


def alternate(
    a: Callable[[], None], b: Callable[[], None], rounds: int, budget: float
) -> tuple[float, float, float]:
    """Median time of a and b and the median ratio b/a over adjacent pairs (after one warm-up each)."""
    a(), b()
    ta, tb, ratios = [], [], []
    start = time.perf_counter()
    for _ in range(rounds):
        t0 = time.perf_counter()
        a()
        t1 = time.perf_counter()
        b()
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
        ratios.append((t2 - t1) / (t1 - t0))
        if time.perf_counter() - start > budget:
            break
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)


def bench_gcn(nodes: int) -> dict:
    from torch_geometric.nn import GCNConv

    g = contextual_sbm(nodes, num_classes=4, average_degree=10, generator=torch.Generator().manual_seed(0))
    x, ei, y = g.x, g.edge_index, g.y
    out = {"nodes": nodes, "edges": g.num_edges}
    for cached in (True, False):
        torch.manual_seed(0)
        theirs = TwoLayer(GCNConv(16, 64, cached=cached), GCNConv(64, 4, cached=cached))
        ours = TwoLayer(KipfConv(16, 64, cached=cached), KipfConv(64, 4, cached=cached))
        ours.load_state_dict(theirs.state_dict())
        with torch.no_grad():
            diff = float((ours(x, ei) - theirs(x, ei)).abs().max())
        t_udl, t_pyg, ratio = alternate(epoch_fn(ours, x, ei, y), epoch_fn(theirs, x, ei, y), 5, 20)
        out[f"cached={cached}"] = {
            "udl_s": t_udl,
            "pyg_s": t_pyg,
            "ratio_pyg_over_udl": ratio,
            "max_abs_diff": diff,
        }
    return out


def bench_gat(nodes: int) -> dict:
    from torch_geometric.nn import GATConv as PygGAT

    g = contextual_sbm(nodes, num_classes=4, average_degree=10, generator=torch.Generator().manual_seed(1))
    x, ei, y = g.x, g.edge_index, g.y
    torch.manual_seed(0)
    theirs = TwoLayer(PygGAT(16, 16, heads=4), PygGAT(64, 4, heads=1))
    ours = TwoLayer(GATConv(16, 16, heads=4), GATConv(64, 4, heads=1))
    ours.load_state_dict(theirs.state_dict())
    with torch.no_grad():
        diff = float((ours(x, ei) - theirs(x, ei)).abs().max())
    t_udl, t_pyg, ratio = alternate(epoch_fn(ours, x, ei, y), epoch_fn(theirs, x, ei, y), 10, 15)
    return {"nodes": nodes, "udl_s": t_udl, "pyg_s": t_pyg, "ratio_pyg_over_udl": ratio, "max_abs_diff": diff}


def bench_sampler(nodes: int) -> dict:
    graph = csbm_node_task(nodes, generator=torch.Generator().manual_seed(2))
    assert graph.train_mask is not None
    loader = NeighbourLoader(
        graph,
        [10, 5],
        batch_size=1024,
        generator=torch.Generator().manual_seed(0),
        input_nodes=graph.train_mask,
    )
    start = time.perf_counter()
    batches = sampled = 0
    for b in loader:
        batches += 1
        sampled += b.graph.num_nodes
    elapsed = time.perf_counter() - start
    out: dict = {"udl_batches_per_s": batches / elapsed, "udl_sampled_nodes_per_s": sampled / elapsed}
    try:
        from torch_geometric.loader import NeighborLoader

        from udl.graph import to_pyg

        pyg = NeighborLoader(
            to_pyg(graph), num_neighbors=[10, 5], batch_size=1024, input_nodes=graph.train_mask
        )
        start = time.perf_counter()
        n = sum(1 for _ in pyg)
        out["pyg_batches_per_s"] = n / (time.perf_counter() - start)
        out["ratio_udl_over_pyg"] = out["udl_batches_per_s"] / out["pyg_batches_per_s"]
    except ImportError as error:
        out["pyg"] = f"not run: {error}"
    return out


def bench_partition() -> dict:
    import networkx as nx
    import pymetis

    out = {}
    graphs = {
        "grid 100x100": from_networkx(nx.grid_2d_graph(100, 100)),
        "csbm 20k (8 classes, h=0.9)": contextual_sbm(
            20_000, num_classes=8, homophily=0.9, generator=torch.Generator().manual_seed(3)
        ),
    }
    for name, g in graphs.items():
        for k in (8, 32):
            t0 = time.perf_counter()
            parts = partition_graph(g.edge_index, g.num_nodes, k, generator=torch.Generator().manual_seed(0))
            t1 = time.perf_counter()
            csr = CSR.of(g.edge_index.flip(0), g.num_nodes)
            _, membership = pymetis.part_graph(k, xadj=csr.pointer.numpy(), adjncy=csr.sources.numpy())
            t2 = time.perf_counter()
            ours, metis = edge_cut(g.edge_index, parts), edge_cut(g.edge_index, torch.tensor(membership))
            out[f"{name}, k={k}"] = {
                "udl_cut": ours,
                "metis_cut": metis,
                "ratio": ours / metis,
                "udl_s": t1 - t0,
                "metis_s": t2 - t1,
            }
    return out


def million(epochs: int = 2) -> dict:
    """The 1M-node run (called in a fresh process: its peak RSS is this run's)."""
    from udl.graph import GCN, fit_minibatch_node_classifier

    t0 = time.perf_counter()
    graph = csbm_node_task(1_000_000, generator=torch.Generator().manual_seed(0))
    t_data = time.perf_counter() - t0
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    g = torch.Generator().manual_seed(0)
    assert graph.train_mask is not None
    loader = NeighbourLoader(graph, [10, 5], batch_size=1024, generator=g, input_nodes=graph.train_mask)
    torch.manual_seed(0)
    model = GCN(16, 64, 4, layers=2, conv="mean")
    t0, c0 = time.perf_counter(), time.process_time()
    r = fit_minibatch_node_classifier(model, graph, loader, epochs=epochs, generator=g)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "nodes": graph.num_nodes,
        "edges": graph.num_edges,
        "data_s": t_data,
        "seconds_per_epoch_incl_full_graph_eval": elapsed / epochs,
        "cpu_seconds_per_epoch_incl_full_graph_eval": cpu / epochs,
        "batches_per_epoch": len(loader),
        "test_accuracy": r.test_accuracy,
        "peak_rss_gib_after_data": rss_data,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--gat-nodes", type=int, default=20_000)
    parser.add_argument("--million", action="store_true", help="also train the 1M-node graph (subprocess)")
    parser.add_argument("--_million-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._million_child:
        print(json.dumps(million()))
        return
    torch.set_num_threads(1)
    results = {
        "gcn": bench_gcn(args.nodes),
        "gat": bench_gat(args.gat_nodes),
        "sampler": bench_sampler(args.nodes),
        "partition": bench_partition(),
    }
    for kind, r in results["gcn"].items():
        if isinstance(r, dict):
            print(
                f"GCN {kind:13s} udl {r['udl_s'] * 1e3:7.1f} ms  PyG {r['pyg_s'] * 1e3:7.1f} ms  "
                f"PyG/udl {r['ratio_pyg_over_udl']:.2f}x  (max |diff| {r['max_abs_diff']:.1e})"
            )
    r = results["gat"]
    print(
        f"GAT {r['nodes']} nodes  udl {r['udl_s'] * 1e3:7.1f} ms  PyG {r['pyg_s'] * 1e3:7.1f} ms  "
        f"PyG/udl {r['ratio_pyg_over_udl']:.2f}x  (max |diff| {r['max_abs_diff']:.1e})"
    )
    print(f"sampler: {results['sampler']}")
    for name, r in results["partition"].items():
        print(
            f"partition {name:34s} udl cut {r['udl_cut']:7d} ({r['udl_s']:.2f} s)  METIS {r['metis_cut']:7d} "
            f"({r['metis_s']:.2f} s)  udl/METIS {r['ratio']:.2f}"
        )
    if args.million:
        proc = subprocess.run(
            [sys.executable, __file__, "--_million-child"],
            capture_output=True,
            text=True,
            check=True,
            env={"OMP_NUM_THREADS": "1", **__import__("os").environ},
        )
        results["million"] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"1M-node run: {results['million']}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
