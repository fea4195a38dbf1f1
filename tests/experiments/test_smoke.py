"""Every experiment's smoke preset through the real CLI and the tour's verdicts (fast tier); every experiment's
quick-preset verdicts (slow)."""

from __future__ import annotations

import json

import pytest

from udl.experiments import TOUR, experiment_names, get_experiment


@pytest.mark.parametrize("name", experiment_names())
def test_smoke_preset_runs_through_the_cli(cli, tmp_path, name):
    out = tmp_path / name
    proc = cli("run", name, "--preset", "smoke", "--out", out)
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "ok", result["error"]
    failing_checks = [c["id"] for c in result["checks"] if not c["holds"]]
    # smoke proves the code path: claims are not evaluated, checks (identities) must hold at any size
    assert proc.returncode == 0 and not failing_checks, (failing_checks, proc.stderr)
    assert result["experiment"] == name and result["preset"] == "smoke"
    assert result["claims"] or result["checks"], "every experiment states at least one claim or check"
    assert not result["claims"] or "not evaluated at smoke" in proc.stdout
    assert result["figures"] and all((out / f).stat().st_size > 1000 for f in result["figures"])
    html = (out / "report.html").read_text()
    assert ("Claims" in html or "Checks" in html) and "data:image/png;base64," in html
    assert (out / "metrics.jsonl").exists()


@pytest.mark.parametrize("name", experiment_names())
def test_presets_are_valid_configs(name):
    exp = get_experiment(name)
    assert {"smoke", "quick", "full"} <= set(exp.presets)
    for cfg in exp.presets.values():
        assert isinstance(cfg, exp.config_class)
    assert exp.summary and exp.context and 2 <= exp.chapter <= 21


KNOWN: dict[str, dict[str, str]] = {
    # The notebook's statement does not reproduce: with 15 points a bootstrap member often lands closer to the
    # true function than the ensemble by luck (the mean beats every member on 6 of 20 training sets).
    "ensembling": {"regression-beats-every-member": "fails"},
    # Label smoothing lowers the calibration error but raises the test error on small MNIST-1D (-2.8 ± 0.9).
    # Weight noise lowers it by +1.3 ± 0.9 points in 3 seeds: short of the 2-SE bar.
    "noise-and-label-smoothing": {
        "label-smoothing-lowers-test-error": "fails",
        "weight-noise-lowers-test-error": "not established",
    },
    # Notebook 10.2's recipe gives the 2,050-parameter CNN about 90%, not the MNIST-1D table's 94% (a larger CNN
    # trained differently: see mnist1d-table).
    "conv-mnist1d": {"cnn-accuracy": "fails"},
    # ±1 pixel shifts cut strokes off the 8x8 digits, which fill their frame; rotations alone help (reported).
    "image-classification": {"augmentation-helps": "fails"},
    # +1.4 ± 0.7 points with the auxiliary shift task in 5 seeds: short of the 2-SE bar at quick.
    "multi-task": {"auxiliary-task-helps": "not established"},
    # One seed at quick (the time budget): no spread to judge the contrastive gain by; inpainting features lose
    # to a random CNN (a random ReLU CNN is already a strong feature map on MNIST-1D).
    "self-supervised": {
        "contrastive-features-beat-baselines": "not established",
        "inpainting-features-beat-baselines": "fails",
    },
    # Notebook 8.1's SGD recipe gives the MLP 63.2 ± 1.6% in 3 seeds, 2.9 seed s.d. below the published 68% (which
    # comes from the MNIST-1D benchmark's own Adam recipe: see mnist1d-table).
    "mnist1d-baselines": {"mlp-accuracy": "fails"},
    # The MNIST-1D benchmark's own protocol: logistic regression lands at 31.5% with seeds agreeing to 0.15 point
    # (2 s.d. is tighter than the table's rounding to 32%), the residual MLP at 64.7% (the benchmark notebook's own
    # printed run: 65.1%), and with 3 seeds the CNN's 93.5% sits 0.47 points below 94% with s.d. 0.21 (the full
    # preset's 5 seeds: 93.7 ± 0.34, holds).
    "mnist1d-table": {"logistic-accuracy": "fails", "mlp-accuracy": "fails", "cnn-accuracy": "fails"},
    # Without skips the U-Net learns every class at one seed (0.967) and never learns triangles at the other
    # (0.642): +0.19 ± 0.16 in 2 seeds, short of the bar (full, 3 seeds, judges it).
    "segmentation": {"skips-help": "not established"},
    # Chapter 12. Reversal at L = 6 (2 seeds): the T5 bias (19/25%), ALiBi (0.4/0.8%) and RoPE (81/95%) do not
    # solve it within the quick budget where sinusoidal and learned positions reach 100%.
    "positional-encodings": {
        "solved-with-relative": "fails",
        "solved-with-alibi": "fails",
        "solved-with-rope": "fails",
    },
    # Dense 79/70%, local + global 66/99.9% (one seed learns the task suddenly, one does not yet); the band alone is
    # at chance (52/50%), but without local + global solving both seeds the contrast is not established.
    "long-context": {"local-global-matches-dense": "fails", "fails-without-global": "not established"},
    # Removing 24 of 48 heads drops exact match 100% -> 88% / 23%; importance order beats random in both seeds,
    # +0.70 ± 0.53, short of the 2-SE bar.
    "head-pruning": {"half-the-heads-prunable": "fails", "importance-beats-random": "not established"},
    # A 2-layer, width-64 byte LM after 300 steps: 3.67 vs Kneser-Ney order 5's 1.82 validation bits per byte
    # (−1.85 ± 0.09, 0 of 16 chunks); the full preset (4 layers, width 256, 6000 steps) is the protocol.
    "language-model": {"lm-beats-best-ngram": "fails"},
    # MLM after 400 steps reaches only unigram loss (3.06 nats): the keyword probe on the pre-trained encoder
    # scores 0.651 vs 0.659 untrained (−0.008 ± 0.011).
    "masked-lm": {"pretraining-helps-probe": "fails"},
    # Chapter 13. On a degree-corrected SBM most nodes are leaves of hubs, and Kipf's 1/√(d·d_hub) weight shrinks
    # the hub's clean class signal that the plain sum passes on: Kipf loses by 9.0 ± 1.7 points (5 seeds).
    "gcn-node-classification": {"kipf-helps-when-degrees-vary": "fails"},
    # A Watts-Strogatz small world covers 6.3% of its nodes within 4 hops (48% at 6): slower than the bar.
    "k-hop": {"graph-expansion-small-world": "fails"},
    # GAT does not beat GCN as edges get noisy (−0.5 / −3.8 / −4.1 points at homophily 0.9 / 0.6 / 0.45); its
    # attention on same-class edges is only +0.0024 ± 0.0015 higher.
    "graph-attention": {
        "attention-helps-with-noisy-edges": "fails",
        "attention-prefers-same-class-edges": "not established",
    },
    # Chapter 15. On a ring of 8 modes (3 seeds, 1,000 generator steps) the vanilla GAN already hits 8 / 6 / 7
    # modes; WGAN-GP has not converged by then (0 / 0 / 6 modes, −5.0 ± 2.1) and mini-batch discrimination gains
    # +0.3 ± 0.7.
    "gan-2d-modes": {"wgan-gp-covers-more-modes": "fails", "minibatch-covers-more-modes": "not established"},
    # 3 × 350 steps: growing 4×4 → 8×8 ends at FDD 61.4 vs 48.7 for direct 8×8 training (−12.7 ± 8.9; no seed
    # favours growing). At 3 × 500 steps: +4.9 ± 7.7.
    "progressive-growing": {"progressive-at-least-as-good": "fails"},
    # Chapter 16. 1000 Adam steps at quick: no family gets within the 0.1-nat bar of the true entropy (KL ring/grid:
    # coupling 0.30/0.40, MAF 0.27/2.26, IAF 0.30/0.48, residual 0.36/0.64), levelling off by the validation
    # rule; MAF's grid mean is dominated by one test point in a near-empty region of its density (76% of points
    # favour it). At full (10k steps) MAF beats the stack too (+1.23 / +0.81) and KL is 0.04–0.19 / 0.25–0.29.
    "flows-2d": {
        "coupling-approaches-entropy": "fails",
        "maf-approaches-entropy": "fails",
        "iaf-approaches-entropy": "fails",
        "residual-approaches-entropy": "fails",
        "maf-beats-elementwise-linear": "fails",
    },
    # Chapter 17. The score-function / reparameterized variance ratio is 8.7 (median over φ; 10.8 at the
    # notebook's φ = 0.3) against a 10× bar fixed before the run (the notebook says "quite a bit lower").
    "reparameterization": {"reparameterized-far-lower-variance": "fails"},
    # 2000 steps are too short for posterior collapse to appear: no latent dimension falls below 0.01 nats (plain
    # minimum 0.05 on MNIST-1D, 0.09 on the digits), so neither the collapse nor its two fixes can be shown.
    "vae-mnist1d": {
        "posterior-collapse": "fails",
        "free-bits-reduces-collapse": "fails",
        "warmup-reduces-collapse": "fails",
    },
    "vae-digits": {
        "posterior-collapse": "fails",
        "free-bits-reduces-collapse": "fails",
        "warmup-reduces-collapse": "fails",
    },
    # Chapter 18. Ancestral samples at W₁ 2.4–3.4× the sampling-noise floor (bar 2×), mode-histogram TV
    # 0.03–0.09; DDIM-20 vs ancestral W₁ 0.05–0.07. At full (20k steps) the TV / log-density pair holds and the
    # W₁ pair still fails (0.020–0.033 vs floors 0.003–0.009).
    "diffusion-1d": {
        "samples-match-mixture": "fails",
        "ddim-close-to-ancestral": "fails",
        "samples-match-mixture-w1": "fails",
        "ddim-close-to-ancestral-w1": "fails",
    },
    # Chapter 19. Every-visit Monte Carlo keeps averaging the correlated returns of early, worse ε-greedy policies:
    # gap 0.062 ± 0.015 to v*(0), mean + 2 SE above the 0.079 tolerance.
    "tabular-control": {"mc-every-visit-near-optimal": "not established"},
    # At quick's 200k steps (CleanRL's full budget is 500k) seed 1's kept policy scores 434 over 100 test episodes
    # (seeds 0 and 2: 500.0, 499.8); the full preset gives 500 on 3 of 3 seeds.
    "dqn-cartpole": {"dqn-solves-cartpole": "fails"},
    # Chapter 20. 40-dimensional Gaussian inputs are easy to separate, and the true labels end with a few hard,
    # near-conflicting examples: random inputs fit +2.0 ± 2.9 epochs slower, short of the bar.
    "random-labels": {"random-inputs-fit-slower": "not established"},
    # At the same epochs and learning rate a subspace step moves the weights by about √(d/n) of a full step, so the
    # subspaces are under-trained at quick (0.09–0.45 vs 0.55–0.57 validation accuracy): 90% is never reached.
    "trajectory-subspace": {"small-intrinsic-dimension": "fails"},
    # Validation accuracy climbs only to 0.24–0.34 within quick's 4000 steps (the full preset is the protocol).
    "grokking": {"grokking-with-weight-decay": "fails"},
}
"""Quick-preset claims measured not to hold or not established, each explained in its experiment's docstring and
report. The tests fail if one of them changes (starts to hold, or another claim stops holding), so this list
stays true."""


def _verdicts(result: dict) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in result["claims"] if c["holds"] is not True}


def _assert_known_verdicts(cli, tmp_path, name):
    out = tmp_path / name
    proc = cli("run", name, "--preset", "quick", "--out", out, timeout=1800)
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "ok", result["error"]
    failing_checks = [(c["id"], c["measured"]) for c in result["checks"] if not c["holds"]]
    assert not failing_checks, failing_checks
    assert _verdicts(result) == KNOWN.get(name, {}), [
        (c["id"], c["measured"], c["expected"]) for c in result["claims"] if c["holds"] is not True
    ]
    failed = any(v == "fails" for v in KNOWN.get(name, {}).values())
    assert proc.returncode == (1 if failed else 0)


@pytest.mark.parametrize("name", [n.replace("_", "-") for n in TOUR])
def test_tour_verdicts(cli, tmp_path, name):
    """CI looks at verdicts: the tour's quick presets, every claim as known (holds, or the documented exception)."""
    _assert_known_verdicts(cli, tmp_path, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in experiment_names() if n not in TOUR])
def test_quick_preset_verdicts(cli, tmp_path, name):
    _assert_known_verdicts(cli, tmp_path, name)


def test_known_list_names_real_experiments_and_verdicts():
    assert set(KNOWN) <= set(experiment_names())
    assert {v for claims in KNOWN.values() for v in claims.values()} <= {"fails", "not established"}
