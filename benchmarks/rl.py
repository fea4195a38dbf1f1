"""Benchmark: DQN training on the torch-vectorized CartPole vs a CleanRL-style single-environment gymnasium loop,
and the vectorized CartPole's raw step rate vs gymnasium's SyncVectorEnv.

1. *DQN training*: ``udl.rl.dqn`` on ``VectorCartPole(n)``, n = 10 and 50 (one and five gradient steps per
   vector step: the same gradient steps per environment step as one environment) against the loop
   of CleanRL's ``dqn.py`` written out here: one ``gymnasium.make("CartPole-v1")``, numpy observations, a numpy
   ring buffer (as SB3's ReplayBuffer), the same 120-84 Q-network, Adam at 2.5e-4, batch 128, a gradient step
   every 10 environment steps, a target copy every 500, ε from 1 to 0.05 over half the run, learning from 10% of
   the run (CleanRL: 10k of 500k). Both train for the same number of environment steps; the table gives env
   steps per second and the final greedy return of each over 100 episodes (the same test start states),
   so the speed is compared at (about) equal final return.
2. *Raw stepping*: ``VectorCartPole(n).step`` against ``SyncVectorEnv([CartPole-v1] * n)`` (same-step autoreset)
   with the same random actions, alternating repeats, median.

Times are process CPU seconds (``time.process_time``), which a shared, loaded machine disturbs less than wall
time. Both DQN loops do the same gradient steps (one per 10 environment steps, ~0.6 ms each here), which bound
the speed-up (Amdahl): vectorizing removes only the per-step acting and environment cost.

Run: python benchmarks/rl.py [--steps 100000] [--seeds 1] (one thread).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import gymnasium
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium.vector import AutoresetMode

from udl.optim import Adam
from udl.rl import DQNConfig, QNetwork, VectorCartPole, dqn, episode_returns, greedy_actor, linear_schedule


def cleanrl_dqn(cfg: DQNConfig, seed: int) -> QNetwork:
    """CleanRL's dqn.py loop on one gymnasium CartPole-v1, written out (numpy buffer, per-step Python)."""
    random.seed(seed)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    env = gymnasium.make("CartPole-v1")
    env.action_space.seed(seed)
    q_network = QNetwork(4, 2, cfg.hidden)
    optimizer = Adam(q_network.parameters(), lr=cfg.learning_rate)
    target_network = QNetwork(4, 2, cfg.hidden)
    target_network.load_state_dict(q_network.state_dict())
    size = cfg.buffer_size
    b_obs = np.zeros((size, 4), np.float32)
    b_next = np.zeros((size, 4), np.float32)
    b_act = np.zeros(size, np.int64)
    b_rew = np.zeros(size, np.float32)
    b_done = np.zeros(size, np.float32)
    pos = full = 0
    obs, _ = env.reset(seed=seed)
    for global_step in range(cfg.total_steps):
        epsilon = linear_schedule(
            cfg.start_e, cfg.end_e, cfg.exploration_fraction * cfg.total_steps, global_step
        )
        if random.random() < epsilon:
            action = env.action_space.sample()
        else:
            with torch.no_grad():
                action = int(q_network(torch.as_tensor(obs).unsqueeze(0)).argmax(1))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        b_obs[pos], b_next[pos], b_act[pos], b_rew[pos], b_done[pos] = (
            obs,
            next_obs,
            action,
            reward,
            terminated,
        )
        pos, full = (pos + 1) % size, min(full + 1, size)
        obs = env.reset()[0] if terminated or truncated else next_obs
        if global_step > cfg.learning_starts:
            if global_step % cfg.train_frequency == 0:
                idx = rng.integers(0, full, cfg.batch_size)
                o, n = torch.as_tensor(b_obs[idx]), torch.as_tensor(b_next[idx])
                a, r, d = (
                    torch.as_tensor(b_act[idx]),
                    torch.as_tensor(b_rew[idx]),
                    torch.as_tensor(b_done[idx]),
                )
                with torch.no_grad():
                    td_target = r + cfg.gamma * target_network(n).max(1).values * (1 - d)
                old_val = q_network(o).gather(1, a.unsqueeze(1)).squeeze(1)
                loss = F.mse_loss(td_target, old_val)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            if global_step % cfg.target_network_frequency == 0:
                target_network.load_state_dict(q_network.state_dict())
    return q_network


def test_return(q: QNetwork) -> float:
    with torch.no_grad():
        return float(episode_returns(VectorCartPole(100), greedy_actor(q), seed=12345).mean())


def dqn_comparison(steps: int, seeds: list[int], num_envs: int) -> dict:
    cfg = DQNConfig(total_steps=steps, learning_starts=steps // 10)
    ours_s, base_s, ours_r, base_r = [], [], [], []
    for seed in seeds:
        t = time.process_time()
        q, _ = dqn(VectorCartPole(num_envs), cfg, seed=seed, log_every=1000)
        ours_s.append(time.process_time() - t)
        ours_r.append(test_return(q))
        t = time.process_time()
        qb = cleanrl_dqn(cfg, seed)
        base_s.append(time.process_time() - t)
        base_r.append(test_return(qb))
        print(
            f"  {num_envs} envs, seed {seed}: udl {steps / ours_s[-1]:8.0f} steps/s (return {ours_r[-1]:.1f}); "
            f"CleanRL-style {steps / base_s[-1]:8.0f} steps/s (return {base_r[-1]:.1f})"
        )
    o, b = statistics.median(ours_s), statistics.median(base_s)
    return {
        "ours_s": o,
        "baseline_s": b,
        "speedup": b / o,
        "steps": steps,
        "ours_return": ours_r,
        "baseline_return": base_r,
    }


def raw_step_comparison(n: int, steps: int, repeats: int = 5) -> dict:
    ours = VectorCartPole(n)
    ours.reset(seed=0)
    theirs = gymnasium.vector.SyncVectorEnv(
        [lambda: gymnasium.make("CartPole-v1") for _ in range(n)], autoreset_mode=AutoresetMode.SAME_STEP
    )
    theirs.reset(seed=0)
    actions = torch.randint(2, (steps, n), generator=torch.Generator().manual_seed(0))
    actions_np = actions.numpy()
    ours_t, theirs_t = [], []
    for _ in range(repeats):
        t = time.process_time()
        for k in range(steps):
            ours.step(actions[k])
        ours_t.append(time.process_time() - t)
        t = time.process_time()
        for k in range(steps):
            theirs.step(actions_np[k])
        theirs_t.append(time.process_time() - t)
    theirs.close()
    o, b = statistics.median(ours_t), statistics.median(theirs_t)
    return {
        "ours_s": o,
        "baseline_s": b,
        "speedup": b / o,
        "env_steps_per_s_ours": n * steps / o,
        "env_steps_per_s_baseline": n * steps / b,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="environment steps per DQN training")
    parser.add_argument("--seeds", type=int, default=1, help="trainings per implementation")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {}
    print(f"DQN on CartPole-v1, {args.steps} environment steps:")
    for n in (10, 50):
        results[f"dqn_training_{n}_envs"] = dqn_comparison(args.steps, list(range(args.seeds)), n)
    for n in (16, 256):
        results[f"raw_step_{n}_envs"] = raw_step_comparison(n, steps=2000 if n == 16 else 200)
    print(f"{'comparison (CPU s)':<22}{'udl s':>10}{'baseline s':>12}{'speedup':>10}")
    for name, r in results.items():
        print(f"{name:<22}{r['ours_s']:>10.3f}{r['baseline_s']:>12.3f}{r['speedup']:>9.2f}x")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
