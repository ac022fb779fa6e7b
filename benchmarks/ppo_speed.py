"""Speed of PPO on the DRAM environment: the bar is 10,000 steps in under two minutes on two cores.

Trains PPO for ``--steps`` evaluations on ``archgym/DRAM-v0`` (the bundled
analytical model, its default workload and the env's default objective), with
the default PPO settings, two ways:

* ``train_ppo``: stable-baselines3's own training loop on the environment;
* ``PPOAgent``: the ask/tell agent driven by ``run_search``, one design per round.

For each it prints the wall time, steps per second and the best reward found,
next to the best reward of as many uniformly random designs. The analytical
model's per-workload table is built before timing (its one-off cost is printed
too). SB3 trains whole rollouts, so ``train_ppo`` runs ``--steps`` rounded up
to a multiple of ``n_steps``.

Usage: OMP_NUM_THREADS=1 python benchmarks/ppo_speed.py [--steps 10000] [--seed 0] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time

import gymnasium
import numpy as np
import torch

import archgym  # noqa: F401 - registers archgym/DRAM-v0
from archgym.agent import Trial, best_trial
from archgym.agents.rl import PPOAgent, train_ppo
from archgym.cli.common import run_script
from archgym.search import run_search

ENV_ID = "archgym/DRAM-v0"
BAR_SECONDS = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS") or 1),
        help="torch intra-op threads (default: OMP_NUM_THREADS, else 1)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPUs")

    env = gymnasium.make(ENV_ID, max_steps=PPOAgent.defaults["episode_length"])
    design_env = env.unwrapped
    model, workload, objective = design_env.cost_model, design_env.workload, design_env.objective
    start = time.perf_counter()
    model.prepare(workload)
    print(f"analytical model table for {workload!r}: {time.perf_counter() - start:.1f} s (once per workload)")
    print(f"objective: {objective.describe()}")

    start = time.perf_counter()
    _, history = train_ppo(env, total_timesteps=args.steps, seed=args.seed)
    _report("train_ppo (SB3 learn)", history, time.perf_counter() - start)
    env.close()

    start = time.perf_counter()
    agent = PPOAgent(model.design_space, seed=args.seed)
    result = run_search(agent, model, objective, args.steps, workload=workload)
    _report("PPOAgent + run_search", result.trials, time.perf_counter() - start)

    random_designs = model.design_space.sample_indices(args.steps, rng=args.seed)
    random_rewards = [objective(e) for e in model.evaluate_batch(random_designs, workload)]
    print(f"random search, {args.steps:,} designs: best reward {max(random_rewards):.6g}")


def _report(label: str, trials: list[Trial], seconds: float) -> None:
    best = best_trial(trials)
    rewards = np.array([t.reward for t in trials])
    verdict = "under" if seconds < BAR_SECONDS else "OVER"
    print(
        f"{label}: {len(trials):,} steps in {seconds:.1f} s = {len(trials) / seconds:,.0f} steps/s "
        f"({verdict} the {BAR_SECONDS:.0f} s bar); best reward {best.reward:.6g} at step {best.step}, "
        f"mean reward of the last 1,000 steps {rewards[-1000:].mean():.4g}"
    )


if __name__ == "__main__":
    run_script(main)
