"""How long resuming an interrupted run takes, against running it, for every ask/tell agent.

For each agent, a run of ``--evaluations`` evaluations (DRAM problem, analytical
backend, default workload, latency objective, seed 0) is executed into a
dataset directory with :func:`archgym.runner.execute`, as ``archgym run`` does.
That run is then resumed with one evaluation more, twice, on copies of the
directory: once as ``archgym run --resume`` does (the agent is rebuilt from its
saved state if it keeps one, else by replaying its suggestions) and once with
the saved state removed (every agent replays, which is what resuming did
before agents saved their state). The table gives the wall time of the run and
of each resume (rebuilding the agent, one evaluation and the logging), and says
whether the resumed run's last design is the one an uninterrupted run of one
evaluation more chooses.

Usage:
    python benchmarks/resume_speed.py [--agents random,ga,aco,bo,tpe,nsga2,ppo] [--evaluations 500]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from archgym.agent import agent_class
from archgym.cost_model import make_backend
from archgym.dataset import load_dataset
from archgym.errors import ConfigurationError
from archgym.runner import AGENT_STATE_DIR, ObjectiveSpec, RunSpec, execute

DEFAULT_AGENTS = ("random", "ga", "aco", "bo", "tpe", "nsga2", "ppo")
KNOBS = make_backend("analytical", "dram").design_space.names


def _spec(agent: str, evaluations: int) -> RunSpec:
    return RunSpec("dram", "analytical", None, ObjectiveSpec("latency", {"target_latency_ns": 60000}), agent,
                   evaluations, seed=0)


def _timed_resume(spec: RunSpec, out: Path, run_id: str) -> tuple[float, dict[str, object]]:
    """Seconds ``execute`` takes, and the design of the run's last row."""
    start = time.perf_counter()
    execute(spec, out, run_id=run_id)
    elapsed = time.perf_counter() - start
    last = load_dataset(out).sort_values("step").iloc[-1]
    return elapsed, {name: last[name] for name in KNOBS}


def measure(agent: str, evaluations: int, work: Path) -> tuple[str, float, float, float, bool]:
    """Seconds of the run, of its resume, of its resume by replay; and whether the resume continued exactly."""
    run_id = f"{agent}-resume"
    spec = _spec(agent, evaluations)
    start = time.perf_counter()
    execute(spec, work / "run", run_id=run_id)
    run_time = time.perf_counter() - start
    extended = _spec(agent, evaluations + 1)
    shutil.copytree(work / "run", work / "replay")
    shutil.rmtree(work / "replay" / AGENT_STATE_DIR, ignore_errors=True)
    resume_time, resumed_design = _timed_resume(extended, work / "run", run_id)
    replay_time, _ = _timed_resume(extended, work / "replay", run_id)
    _, whole_design = _timed_resume(extended, work / "whole", run_id)
    keeps_state = (work / "run" / AGENT_STATE_DIR / f"{run_id}.json").exists()
    how = "saved state" if keeps_state else "replay"
    return how, run_time, resume_time, replay_time, resumed_design == whole_design


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", default=",".join(DEFAULT_AGENTS))
    parser.add_argument("--evaluations", type=int, default=500)
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; "
          f"runs of {args.evaluations} evaluations on dram/analytical, resumed with one more")
    print(f"{'agent':8} {'rebuilt from':12} {'run (s)':>9} {'resume (s)':>11} {'by replay (s)':>14}  same as uninterrupted")
    for agent in args.agents.split(","):
        try:
            agent_class(agent)
        except ConfigurationError as error:
            print(f"{agent:8} skipped: {error}")
            continue
        with tempfile.TemporaryDirectory() as directory:
            how, run_time, resume_time, replay_time, same = measure(agent, args.evaluations, Path(directory))
        print(f"{agent:8} {how:12} {run_time:9.1f} {resume_time:11.2f} {replay_time:14.2f}  {'yes' if same else 'no'}",
              flush=True)


if __name__ == "__main__":
    main()
