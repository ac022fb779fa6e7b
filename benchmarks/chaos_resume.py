"""Kill runs and sweeps at random moments, resume them, and check that no row is lost, repeated or different.

For every agent, a run on the DRAM analytical model is killed with SIGKILL
several times at random row counts (each time resumed with ``archgym run
--resume``), then finished. A small sweep is killed the same way and rerun
until it completes. The finished datasets are then checked: every run's
steps are exactly 0..budget-1 (nothing lost), each step appears once
(nothing repeated), and the designs equal those of the same run done
without interruption in a fresh directory. The table gives, per case, the
kills, rows, and what held; the last line sums it up.

Usage::

    python benchmarks/chaos_resume.py                  # every agent, 3 kills each, and a sweep
    python benchmarks/chaos_resume.py --agents random,bo --kills 5 --seed 1
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from archgym.agent import list_agents
from archgym.cost_model import make_backend
from archgym.dataset import load_dataset

# Agent settings and budgets long enough to be killed midway, short enough to finish in tens of seconds.
CASES: dict[str, tuple[list[str], int]] = {
    "random": ([], 3000),
    "ga": ([], 3000),
    "aco": ([], 2000),
    "bo": (["n_candidates=300"], 60),
    "tpe": ([], 150),
    "nsga2": ([], 800),
    "ppo": (["n_steps=32", "batch_size=16", "n_epochs=2"], 160),
}
SWEEP_SPEC = """\
name: chaos
envs: [dram]
backend: analytical
workloads: [random]
objectives: [latency]
budget: 400
seeds: [0, 1]
agents:
  - name: random
  - name: ga
  - name: aco
"""


@dataclass
class Outcome:
    """What one killed-and-resumed case ended with."""

    case: str
    kills: int
    rows: int
    expected: int
    contiguous: bool
    unique: bool
    equal: bool
    seconds: float


def _archgym(*args: str) -> list[str]:
    return [sys.executable, "-m", "archgym.cli", *args]


def _environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _rows(out: Path) -> int:
    try:
        return len(load_dataset(out))
    except Exception:  # noqa: BLE001 - the directory may not hold a readable row yet
        return 0


def _run_until_killed(command: list[str], out: Path, rows: int, timeout: float) -> bool:
    """Start ``command``; SIGKILL it once ``out`` holds ``rows`` rows. Whether it was killed (not finished)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_environment())
    deadline = time.monotonic() + timeout
    try:
        while _rows(out) < rows:
            if process.poll() is not None:
                if process.returncode != 0:
                    raise SystemExit(f"error: {' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
                return False
            if time.monotonic() > deadline:
                raise SystemExit(f"error: {' '.join(command)} logged fewer than {rows} rows in {timeout:.0f} s")
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        return True
    finally:
        process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _finish(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=_environment(), timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} failed: {done.stderr[-2000:]}")


def _check(killed: pd.DataFrame, whole: pd.DataFrame, budget: int, knobs: list[str]) -> tuple[bool, bool, bool]:
    """Per run: steps contiguous from 0, each once, and designs equal to the run of the same id in ``whole``."""
    contiguous = unique = equal = True
    for run_id, rows in killed.groupby("run_id"):
        steps = sorted(rows["step"])
        unique &= len(steps) == len(set(steps))
        contiguous &= sorted(set(steps)) == list(range(budget))
        reference = whole[whole["run_id"] == run_id]
        mine = rows.sort_values("step")[knobs].reset_index(drop=True).astype(str)
        theirs = reference.sort_values("step")[knobs].reset_index(drop=True).astype(str)
        equal &= mine.equals(theirs)
    return contiguous, unique, equal


def _agent_case(agent: str, kills: int, rng: random.Random, folder: Path, knobs: list[str]) -> Outcome:
    settings, budget = CASES[agent]
    config = [item for setting in settings for item in ("--agent-config", setting)]
    out, whole = folder / f"{agent}-killed", folder / f"{agent}-whole"
    start = time.perf_counter()
    done_kills = 0
    command = _archgym("run", "--agent", agent, "--budget", str(budget), "--seed", "3", "--out", str(out), *config)
    for kill in range(kills):
        logged = _rows(out)
        # Each kill lands at a random row count after the last, leaving room for the next.
        target = rng.randint(logged + 1, logged + max(2, (budget - logged) // (kills - kill + 1)))
        if not _run_until_killed(command, out, target, timeout=600):
            break
        done_kills += 1
        command = _archgym("run", "--resume", "--out", str(out))
    _finish(command)
    _finish(_archgym("run", "--agent", agent, "--budget", str(budget), "--seed", "3", "--out", str(whole), *config))
    killed_rows, whole_rows = load_dataset(out), load_dataset(whole)
    contiguous, unique, equal = _check(killed_rows, whole_rows.assign(run_id=killed_rows["run_id"].iloc[0]), budget,
                                       knobs)
    return Outcome(agent, done_kills, len(killed_rows), budget, contiguous, unique, equal,
                   time.perf_counter() - start)


def _sweep_case(kills: int, rng: random.Random, folder: Path, knobs: list[str]) -> Outcome:
    spec = folder / "chaos.yaml"
    spec.write_text(SWEEP_SPEC)
    out, whole = folder / "sweep-killed", folder / "sweep-whole"
    runs, budget = 6, 400
    start = time.perf_counter()
    done_kills = 0
    for kill in range(kills):
        logged = _rows(out)
        target = rng.randint(logged + 1, logged + max(2, (runs * budget - logged) // (kills - kill + 1)))
        if not _run_until_killed(_archgym("sweep", str(spec), "--out", str(out), "--workers", "2"), out, target,
                                 timeout=600):
            break
        done_kills += 1
    _finish(_archgym("sweep", str(spec), "--out", str(out), "--workers", "2"))
    _finish(_archgym("sweep", str(spec), "--out", str(whole), "--workers", "2"))
    killed_rows, whole_rows = load_dataset(out), load_dataset(whole)
    contiguous, unique, equal = _check(killed_rows, whole_rows, budget, knobs)
    return Outcome("sweep (3 agents x 2 seeds)", done_kills, len(killed_rows), runs * budget, contiguous, unique,
                   equal, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", default=",".join(CASES), help="Comma-separated agents (default: all).")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs per run or sweep.")
    parser.add_argument("--seed", type=int, default=0, help="Seeds the moments of the kills.")
    parser.add_argument("--no-sweep", action="store_true", help="Leave out the sweep case.")
    arguments = parser.parse_args()
    if arguments.kills < 1:
        raise SystemExit("error: --kills must be at least 1")
    agents = [name.strip() for name in arguments.agents.split(",") if name.strip()]
    unknown = [name for name in agents if name not in CASES]
    if unknown:
        raise SystemExit(f"error: no case for agent(s) {', '.join(unknown)}; cases: {', '.join(CASES)}")
    available = set(list_agents())
    rng = random.Random(arguments.seed)
    knobs = list(make_backend("dram/analytical").design_space.names)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="archgym-chaos-") as scratch:
        for agent in agents:
            if agent not in available:
                print(f"{agent}: not installed here, left out")
                continue
            outcomes.append(_agent_case(agent, arguments.kills, rng, Path(scratch), knobs))
            print(_line(outcomes[-1]), flush=True)
        if not arguments.no_sweep:
            outcomes.append(_sweep_case(arguments.kills, rng, Path(scratch), knobs))
            print(_line(outcomes[-1]), flush=True)
    kills = sum(o.kills for o in outcomes)
    bad = [o.case for o in outcomes if not (o.contiguous and o.unique and o.equal and o.rows == o.expected)]
    print(f"chaos: {kills} kills over {len(outcomes)} cases; {sum(o.rows for o in outcomes):,} rows; "
          f"cases losing, repeating or changing rows: {len(bad)}{' (' + ', '.join(bad) + ')' if bad else ''}")


def _line(outcome: Outcome) -> str:
    return (f"{outcome.case:<28} kills {outcome.kills}  rows {outcome.rows:>5}/{outcome.expected:<5} "
            f"contiguous {'yes' if outcome.contiguous else 'NO'}  unique {'yes' if outcome.unique else 'NO'}  "
            f"as uninterrupted {'yes' if outcome.equal else 'NO'}  {outcome.seconds:6.1f} s")


if __name__ == "__main__":
    main()
