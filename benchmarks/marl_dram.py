"""Multi-agent PPO against single-agent PPO and the best non-RL agent on the DRAM problem.

Runs the sweep ``experiments/marl_vs_single.yaml`` (multi-agent PPO with
independent and with shared policies, SB3 PPO, GA, TPE and random search;
four workloads; ArchGym's power, latency and combined targets; three seeds;
equal evaluation budgets), resuming it if it was interrupted, then scores
every run against the exact optimum of its problem and prints, per workload
and objective, each agent's median best reward and median regret, and which
non-RL agent was best.

    OMP_NUM_THREADS=1 python benchmarks/marl_dram.py --workers 2
    OMP_NUM_THREADS=1 python benchmarks/marl_dram.py --seeds 1 --budget 256 --out runs/marl_quick
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from archgym.cli.common import run_script
from archgym.dataset import load_dataset, read_run_metadata
from archgym.report import summarise_runs
from archgym.sweep import load_spec, parse_spec, run_sweep

SPEC = Path(__file__).resolve().parents[1] / "experiments" / "marl_vs_single.yaml"
RL_AGENTS = ("marl", "ppo")


def label(agent: str, setting: str) -> str:
    if agent == "marl":
        return "marl-shared" if "shared_policy=True" in setting else "marl-independent"
    return agent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=None, help="override the spec's seeds")
    parser.add_argument("--budget", type=int, default=None, help="override the spec's budget")
    parser.add_argument("--out", type=Path, default=None, help="dataset directory (default: the spec's)")
    args = parser.parse_args()

    spec = load_spec(SPEC, args.out)
    if args.seeds is not None or args.budget is not None:
        import yaml

        raw = yaml.safe_load(SPEC.read_text())
        raw["out"] = str(spec.out)
        if args.seeds is not None:
            raw["seeds"] = args.seeds
        if args.budget is not None:
            raw["budget"] = args.budget
        spec = parse_spec(raw, str(SPEC))
    runs = spec.runs()
    print(f"{len(runs)} runs, budget {spec.budget} evaluations each, into {spec.out}", flush=True)
    start = time.perf_counter()
    done = 0

    def progress(result) -> None:
        nonlocal done
        done += 1
        if done % 12 == 0 or done == len(runs):
            print(f"  {done}/{len(runs)} runs, {time.perf_counter() - start:.0f} s", flush=True)

    run_sweep(spec, workers=args.workers, on_result=progress)
    wall = time.perf_counter() - start

    rows = load_dataset(spec.out)
    scored, references, best_so_far = summarise_runs(rows, read_run_metadata(spec.out), optimum=True, tolerance=0.0)
    scored = scored[scored["run_id"].isin({r.run_id for r in runs})]
    scored["agent"] = [label(a, s) for a, s in zip(scored["agent"], scored["setting"])]
    table = scored.groupby(["workload", "objective", "agent"]).agg(
        best=("best_reward", "median"), regret=("regret_pct", "median"), seeds=("seed", "size")
    ).reset_index()
    agents = list(dict.fromkeys(label(r.agent, r.setting) for r in runs))
    lines = []
    for (workload, objective), group in table.groupby(["workload", "objective"], sort=False):
        values = group.set_index("agent")
        non_rl = values[[a.split("-")[0] not in RL_AGENTS for a in values.index]]
        best_non_rl = non_rl["regret"].idxmin()
        line = {"workload": workload, "objective": objective}
        for agent in agents:
            if agent in values.index:
                line[agent] = f"{values.at[agent, 'best']:.4f} ({values.at[agent, 'regret']:.2f} %)"
        line["best non-RL"] = best_non_rl
        lines.append(line)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 20)
    print(f"\nmedian best reward over {len(spec.seeds)} seeds (median regret vs the exact optimum), "
          f"budget {spec.budget}")
    print(pd.DataFrame(lines).to_string(index=False))
    overall = scored.groupby("agent").agg(median_regret_pct=("regret_pct", "median"),
                                          mean_regret_pct=("regret_pct", "mean"),
                                          optimum_found=("regret_pct", lambda r: float((r == 0).mean())))
    print("\nover all problems and seeds:")
    print(overall.to_string(float_format=lambda v: f"{v:.3f}"))
    checkpoints = [b for b in (32, 64, 128, 256, 512, 1024) if b <= spec.budget]
    curve_rows = []
    for agent, group in scored.groupby("agent"):
        line = {"agent": agent}
        for budget in checkpoints:
            regrets = []
            for run_id, reference in zip(group["run_id"], group["reference"]):
                best = best_so_far[run_id][min(budget, len(best_so_far[run_id])) - 1]
                regrets.append(100.0 * max(reference - best, 0.0) / (abs(reference) or 1.0))
            regrets = pd.Series(regrets)
            line[f"after {budget}"] = f"{regrets.mean():.2f} % / {(regrets < 1e-7).mean():.0%}"
        line["evaluations to optimum (median)"] = group["evaluations_to_target"].fillna(float("inf")).median()
        curve_rows.append(line)
    print("\nmean regret of the best design so far / share of runs at the optimum, by evaluations spent:")
    print(pd.DataFrame(curve_rows).to_string(index=False))
    print(f"\nreferences: exact optima of {len(references)} problems; wall time {wall:.0f} s "
          f"(runs already in {spec.out} are reused)")


if __name__ == "__main__":
    run_script(main)
