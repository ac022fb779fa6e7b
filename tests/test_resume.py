"""Resuming interrupted runs: every ask/tell agent continues as an uninterrupted run would, without recomputation.

The fast tests interrupt searches in-process (a run cut short at a budget, its rows and saved agent state
resumed by a new agent). The slow ones kill real ``archgym run`` processes with SIGKILL at a random point
and resume them with ``archgym run --resume``.

Every bundled ask/tell agent promises that a resumed run equals the uninterrupted one: BO and TPE by
restoring their saved state, the others by replaying their suggestions (under a second for 500
evaluations: random, GA, ACO, NSGA-II, PPO).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from archgym.agent import Agent, agent_class, list_agents
from archgym.cost_model import make_backend
from archgym.dataset import load_dataset
from archgym.errors import PluginError
from archgym.objective import make_objective
from archgym.runner import AGENT_STATE_DIR, ObjectiveSpec, RunSpec, execute, latest_record, load_run_plugins
from archgym.search import run_search

REPOSITORY = Path(__file__).resolve().parents[1]

# Agent, settings and budget of each in-process case: small settings keep the slow agents fast.
CASES: dict[str, tuple[str, dict[str, Any], int]] = {
    "random": ("random", {}, 60),
    "ga": ("ga", {}, 60),
    "aco": ("aco", {}, 60),
    "bo-rf": ("bo", {"initial_points": 5, "n_candidates": 100}, 16),
    "bo-gp": ("bo", {"estimator": "GP", "gp_refit_every": 4, "initial_points": 5, "n_candidates": 100}, 12),
    "tpe": ("tpe", {}, 40),
    "nsga2": ("nsga2", {"population_size": 8}, 60),
    "ppo": ("ppo", {"n_steps": 16, "batch_size": 8, "n_epochs": 2}, 48),
}
RESTORED_FROM_STATE = {"bo", "tpe"}
"""Agents that save their state and resume without being asked again; the others replay their suggestions."""


def _available(agent: str) -> bool:
    try:
        agent_class(agent)
    except Exception:  # noqa: BLE001 - an agent whose optional dependency is missing is skipped
        return False
    return True


def _cases() -> list[Any]:
    """Every case with one design per round, and with rounds of four (BO's batches, slower, are marked slow)."""
    params = []
    for batch_size in (1, 4):
        for case, (agent, _, _) in CASES.items():
            marks = [pytest.mark.skipif(not _available(agent), reason=f"{agent} is not installed")]
            if batch_size > 1 and agent == "bo":
                marks.append(pytest.mark.slow)
            params.append(pytest.param(case, batch_size, id=f"{case}-batch{batch_size}", marks=marks))
    return params


def test_every_ask_tell_agent_has_a_resume_case():
    # Bundled agents only: plug-in agents registered by other tests in this process are their own concern.
    registered = {agent for agent in list_agents()
                  if _available(agent) and agent_class(agent).__module__.startswith("archgym.agents")}
    covered = {agent for agent, _, _ in CASES.values()}
    assert registered <= covered, f"agents without a resume test: {sorted(registered - covered)}"


@pytest.fixture(scope="module")
def dram():
    model = make_backend("analytical", "dram")
    model.prepare(model.default_workload)
    objective = make_objective("latency", metrics=model.metrics, presets=model.objective_presets, problem="dram",
                               target_latency_ns=60000)
    yield model, objective
    model.close()


def _counting(agent: str, space: Any, config: dict[str, Any]) -> Agent:
    """The real agent, whose suggest calls are counted in ``asked`` (designs asked for)."""
    base = agent_class(agent)

    class Counted(base):  # type: ignore[valid-type,misc]
        asked = 0

        def suggest(self, n: int = 1) -> list[dict[str, Any]]:
            Counted.asked += n
            return super().suggest(n)

    Counted.name = base.name
    return Counted(space, seed=5, **config)


def _designs(frame: pd.DataFrame, space: Any) -> pd.DataFrame:
    return frame[["step", *space.names, "reward"]].reset_index(drop=True)


@pytest.mark.parametrize(("case", "batch_size"), _cases())
def test_an_interrupted_search_resumes_as_the_uninterrupted_one(case, batch_size, dram, tmp_path):
    model, objective = dram
    agent, config, budget = CASES[case]
    space = model.design_space
    whole = run_search(_counting(agent, space, config), model, objective, budget, batch_size=batch_size)
    # Killed in the middle of a round when batches are asked: the rows of whole rounds and part of the next
    # are logged, and the agent's state was last saved after the whole rounds.
    cut = budget // 2 + (1 if batch_size > 1 else 0)
    saved_at = cut - cut % batch_size
    state = tmp_path / "agent.json"
    run_search(_counting(agent, space, config), model, objective, saved_at, batch_size=batch_size, agent_state=state)
    resumed_agent = _counting(agent, space, config)
    resumed = run_search(resumed_agent, model, objective, budget, batch_size=batch_size,
                         resume_rows=whole.to_frame().iloc[:cut], agent_state=state)
    assert _designs(resumed.to_frame(), space).equals(_designs(whole.to_frame(), space))
    if agent in RESTORED_FROM_STATE:
        assert json.loads(state.read_text())["evaluations"] == budget
        assert type(resumed_agent).asked == budget - saved_at  # nothing asked for the restored evaluations
    else:
        assert not state.exists()
        assert type(resumed_agent).asked >= budget  # replayed


@pytest.mark.parametrize("agent", ["bo", "tpe"])
def test_a_state_of_other_evaluations_is_ignored_and_the_run_replayed(agent, dram, tmp_path, caplog):
    model, objective = dram
    config = CASES["bo-rf" if agent == "bo" else agent][1]
    space = model.design_space
    whole = run_search(_counting(agent, space, config), model, objective, 16)
    state = tmp_path / "agent.json"
    run_search(_counting(agent, space, config), model, objective, 8, agent_state=state)  # saved after 8
    saved = json.loads(state.read_text())
    saved["last_design"] = dict(whole.trials[0].design)  # as if saved by another run
    state.write_text(json.dumps(saved))
    resumed_agent = _counting(agent, space, config)
    with caplog.at_level("INFO", logger="archgym.search"):
        resumed = run_search(resumed_agent, model, objective, 16, resume_rows=whole.to_frame().iloc[:8],
                             agent_state=state)
    assert "ignoring the agent state" in caplog.text and "replaying its suggestions" in caplog.text
    assert _designs(resumed.to_frame(), space).equals(_designs(whole.to_frame(), space))
    assert type(resumed_agent).asked == 16


@pytest.mark.slow
def test_a_bo_run_resumes_without_a_surrogate_fit_per_logged_evaluation(dram, tmp_path, caplog):
    model, objective = dram
    space = model.design_space
    state = tmp_path / "agent.json"
    start = time.perf_counter()
    first = run_search(_counting("bo", space, {"n_candidates": 100}), model, objective, 60, agent_state=state)
    first_run = time.perf_counter() - start
    with caplog.at_level("INFO", logger="archgym.search"):
        run_search(_counting("bo", space, {"n_candidates": 100}), model, objective, 60,
                   resume_rows=first.to_frame(), agent_state=state)
    found = re.search(r"resumed 60 logged evaluations in (\d+\.\d+) s \(agent bo rebuilt from its saved state\)",
                      caplog.text)
    assert found, caplog.text
    assert float(found.group(1)) < first_run / 5  # one surrogate fit instead of 50


def test_a_run_records_its_plugins_and_loads_them_again(tmp_path):
    plugin = REPOSITORY / "experiments" / "custom_agent.py"
    spec = RunSpec("dram", "analytical", None, ObjectiveSpec("latency"), "hill-climb", 5, plugins=[str(plugin)])
    assert spec.plugins == (str(plugin),)
    assert spec.run_id == RunSpec("dram", "analytical", None, ObjectiveSpec("latency"), "hill-climb", 5).run_id
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    execute(spec, tmp_path / "run", run_id="hill-climb-1")
    assert latest_record(tmp_path / "run").spec.plugins == (str(plugin),)


def test_a_recorded_plugin_that_cannot_be_loaded_is_a_clear_error(tmp_path):
    missing = tmp_path / "gone_agent.py"
    spec = RunSpec("dram", "analytical", None, ObjectiveSpec("latency"), "gone", 5, plugins=[str(missing)])
    with pytest.raises(PluginError, match=r"^run gone-1 was started with plug-in .*gone_agent\.py, which it needs: "
                                          r"plug-in file .*gone_agent\.py does not exist$"):
        load_run_plugins(spec, "gone-1", load_files=True)
    with pytest.raises(PluginError, match="was started with plug-in"):
        execute(spec, tmp_path / "run", run_id="gone-1")


# -- killed processes ---------------------------------------------------------------------------------------------

# Agent, settings and budget of each killed run; fast agents get budgets long enough to be killed midway.
KILLED: dict[str, tuple[str, list[str], int]] = {
    "random": ("random", [], 3000),
    "ga": ("ga", [], 3000),
    "aco": ("aco", [], 2000),
    "bo-rf": ("bo", ["n_candidates=300"], 50),
    "bo-gp": ("bo", ["estimator=GP", "gp_refit_every=5", "n_candidates=200"], 30),
    "tpe": ("tpe", [], 150),
    "nsga2": ("nsga2", [], 800),
    "ppo": ("ppo", ["n_steps=32", "batch_size=16", "n_epochs=2"], 160),
}


def _archgym(*args: str) -> list[str]:
    return [sys.executable, "-m", "archgym.cli", *args]


def _environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _rows(out: Path) -> int:
    try:
        return len(load_dataset(out))
    except Exception:  # noqa: BLE001 - the directory may not hold a readable row yet
        return 0


def _kill_after(command: list[str], out: Path, rows: int, timeout: float) -> None:
    """Start ``command`` and kill it with SIGKILL once ``out`` holds at least ``rows`` rows."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_environment())
    deadline = time.monotonic() + timeout
    try:
        while _rows(out) < rows:
            if process.poll() is not None:
                pytest.fail(f"the run ended before it was killed: {process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the run logged fewer than {rows} rows in {timeout} s")
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()


@pytest.mark.slow
@pytest.mark.parametrize("case", [pytest.param(case, id=case, marks=pytest.mark.skipif(
    not _available(KILLED[case][0]), reason=f"{KILLED[case][0]} is not installed")) for case in KILLED])
def test_a_killed_run_resumes_without_recomputation_as_the_uninterrupted_one(case, tmp_path):
    agent, settings, budget = KILLED[case]
    out = tmp_path / "killed"
    config = [item for setting in settings for item in ("--agent-config", setting)]
    kill_at = random.Random(case).randint(max(5, budget // 10), budget // 3)
    _kill_after(_archgym("run", "--agent", agent, "--budget", str(budget), "--seed", "3", "--out", str(out),
                         *config), out, kill_at, timeout=120)
    logged = _rows(out)
    assert logged >= kill_at
    resumed = subprocess.run(_archgym("-v", "run", "--resume", "--out", str(out)), capture_output=True, text=True, check=False,
                             env=_environment(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    log = resumed.stdout + resumed.stderr
    how = "from its saved state" if agent in RESTORED_FROM_STATE else "by replaying its suggestions"
    assert re.search(rf"resumed \d+ logged evaluations in \d+\.\d+ s \(agent {agent} rebuilt {how}\)", log), log
    rows = load_dataset(out).sort_values("step")
    assert list(rows["step"]) == list(range(budget))
    # The same spec run without interruption, in this process.
    spec = latest_record(out).spec
    execute(spec, tmp_path / "whole", run_id="whole")
    whole = load_dataset(tmp_path / "whole").sort_values("step")
    space = make_backend("analytical", "dram").design_space
    assert _designs(rows, space).equals(_designs(whole, space))
    if agent in RESTORED_FROM_STATE:
        assert json.loads((out / AGENT_STATE_DIR / f"{rows['run_id'].iloc[0]}.json").read_text())["evaluations"] \
            == budget


@pytest.mark.slow
def test_a_resumed_run_needs_its_plugin_files_given_again(tmp_path):
    plugin = REPOSITORY / "experiments" / "custom_agent.py"
    out = tmp_path / "run"
    started = subprocess.run(_archgym("run", "--plugin", str(plugin), "--agent", "hill-climb", "--budget", "8",
                                      "--out", str(out)), capture_output=True, text=True, check=False, env=_environment())
    assert started.returncode == 0, started.stderr[-2000:]
    # A run's record may come from anyone: it names the file but does not make archgym run it.
    refused = subprocess.run(_archgym("run", "--resume", "--budget", "16", "--out", str(out)),
                             capture_output=True, text=True, check=False, env=_environment())
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert f"give --plugin {plugin} again" in " ".join((refused.stdout + refused.stderr).split())
    resumed = subprocess.run(_archgym("run", "--resume", "--plugin", str(plugin), "--budget", "16", "--out", str(out)),
                             capture_output=True, text=True, check=False, env=_environment())
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert list(load_dataset(out).sort_values("step")["step"]) == list(range(16))


def test_a_recorded_plugin_file_is_not_run_by_resuming(tmp_path):
    marker = tmp_path / "ran"
    plugin = tmp_path / "planted.py"
    plugin.write_text(f"open({str(marker)!r}, 'w').close()\n")
    spec = RunSpec("dram", "analytical", None, ObjectiveSpec("latency"), "random", 5, plugins=[str(plugin)])
    with pytest.raises(PluginError, match="a run's record does not load code files"):
        load_run_plugins(spec, "random-1")
    assert not marker.exists()
    load_run_plugins(RunSpec("dram", "analytical", None, ObjectiveSpec("latency"), "random", 5,
                             plugins=["json"]), "random-1")  # modules are imported by name


def test_an_agent_still_shows_its_settings() -> None:
    agent = agent_class("random")(make_backend("dram/analytical").design_space, seed=3)
    assert repr(agent).startswith(f"{type(agent).__name__}('dram', seed=3")
