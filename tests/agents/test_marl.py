"""Multi-agent PPO with RLlib: training, budgets, reproducibility, shared policy, sweeps, CLI, install hint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray.rllib", reason="multi-agent RL needs the marl extra: pip install 'archgym[marl]'")
pytest.importorskip("pettingzoo", reason="multi-agent RL needs the marl extra: pip install 'archgym[marl]'")

import ray
from typer.testing import CliRunner

from archgym.agent import make_agent
from archgym.agents.marl import check_marl_settings, train_marl
from archgym.cli import app
from archgym.cost_model import make_backend
from archgym.dataset import load_dataset, read_run_metadata
from archgym.errors import ConfigurationError
from archgym.objective import make_objective
from archgym.sweep import parse_spec, run_sweep

FAST = {"train_batch_size": 32, "minibatch_size": 16, "num_epochs": 2, "hidden_sizes": [16]}


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    """One local Ray instance (2 CPUs) for the module; train_marl uses it rather than starting its own."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_two_iterations_log_every_evaluation_and_repeat_with_the_seed(tmp_path: Path) -> None:
    first = train_marl("dram", workload="random", objective="power", iterations=2, seed=3, settings=FAST,
                       out=tmp_path / "a", run_id="marl-a")
    second = train_marl("dram", workload="random", objective="power", iterations=2, seed=3, settings=FAST,
                        out=tmp_path / "b", run_id="marl-b")
    assert first.iterations == 2 and first.evaluations == 64 and len(first.history) == 2
    rows = load_dataset(tmp_path / "a")
    assert len(rows) == 64 and rows["step"].tolist() == list(range(64)) and (rows["agent"] == "marl").all()
    model = make_backend("dram/analytical")
    objective = make_objective("power", metrics=model.metrics)
    top = rows.loc[rows["reward"].idxmax()]
    assert first.best_reward == pytest.approx(top["reward"])
    assert objective(model.evaluate(first.best_design, "random")) == pytest.approx(first.best_reward)
    other = load_dataset(tmp_path / "b")
    knobs = list(model.design_space.names)
    assert rows[knobs + ["reward"]].equals(other[knobs + ["reward"]])  # same seed, same designs
    assert (second.best_design, second.best_reward) == (first.best_design, first.best_reward)


def test_budget_is_spent_in_whole_iterations_and_a_shared_policy_trains(tmp_path: Path) -> None:
    result = train_marl("dram", workload="stream", objective="time", budget=50, seed=0,
                        settings={**FAST, "shared_policy": True}, out=tmp_path)
    assert result.iterations == 2 and result.evaluations == 50  # two iterations of 25 designs
    assert make_backend("dram/analytical").design_space.contains(result.best_design)


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="unknown setting.*'lr'"):
        check_marl_settings({"lr": 0.1})
    with pytest.raises(ConfigurationError, match="train_batch_size must be a positive integer"):
        check_marl_settings({"train_batch_size": 0})
    with pytest.raises(ConfigurationError, match="shared policy needs one knob per agent"):
        check_marl_settings({"shared_policy": True, "groups": {"a": ["PagePolicy"]}})
    with pytest.raises(ConfigurationError, match="either a budget"):
        train_marl("dram", settings=FAST)
    with pytest.raises(ConfigurationError, match="archgym marl train"):
        make_agent("marl", make_backend("dram/analytical").design_space)


def test_marl_in_a_sweep_and_a_rerun_skips_it(tmp_path: Path) -> None:
    spec = parse_spec({"name": "m", "env": "dram", "workloads": ["stream"], "objectives": ["time"],
                       "agents": [{"name": "marl", "settings": FAST}], "seeds": 1, "budget": 32,
                       "out": str(tmp_path)})
    [result] = run_sweep(spec, workers=1)
    assert result.evaluations == 32 and not result.skipped
    [again] = run_sweep(spec, workers=1)
    assert again.skipped and len(load_dataset(tmp_path)) == 32
    [meta] = read_run_metadata(tmp_path)
    assert meta["status"] == "complete" and meta["agent"] == "marl"
    with pytest.raises(ConfigurationError, match="num_env_runners must be 0"):
        parse_spec({**spec_dict(tmp_path), "agents": [{"name": "marl", "settings": {"num_env_runners": 1}}]})


def spec_dict(out: Path) -> dict:
    return {"name": "m", "env": "dram", "workloads": ["stream"], "objectives": ["time"], "agents": [],
            "seeds": 1, "budget": 32, "out": str(out)}


def test_cli_marl_train(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["marl", "train", "--workload", "stream", "--objective", "time",
                                      "--iterations", "1", "--out", str(tmp_path), "--checkpoint",
                                      str(tmp_path / "ckpt"),
                                      *[item for k, v in FAST.items() for item in ("--agent-config", f"{k}={v}")]])
    assert result.exit_code == 0, result.output
    assert "best design after 32 evaluations" in result.output and "32 evaluations in 1 iterations" in result.output
    # The best design's metrics and reward, as archgym run prints them.
    assert "its metrics (dram/analytical, stream)" in result.output and "total_time_ns" in result.output
    assert "reward (time: minimise total_time_ns" in result.output
    assert any((tmp_path / "ckpt").iterdir())
    result = CliRunner().invoke(app, ["marl", "train", "--agent-config", "gamma=2"])
    assert result.exit_code == 2 and "gamma" in result.output


def test_training_shows_no_ray_chatter_and_leaves_logging_as_it_was(tmp_path: Path) -> None:
    """In a fresh process, as a user runs it: Ray starts, trains and stops without a word on the console."""
    code = ("import logging, warnings, sys\n"
            "import ray.rllib  # sets Ray's own logging up, as any program using Ray has it\n"
            "from archgym.cli import app\n"
            "levels = {n: logging.getLogger(n).level for n in ('ray', 'ray.rllib', 'ray.tune')}\n"
            "filters = list(warnings.filters)\n"
            "try:\n    app(sys.argv[1:])\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
            "assert levels == {n: logging.getLogger(n).level for n in levels}, f'logger levels changed from {levels}'\n"
            "assert filters == warnings.filters, 'warning filters changed'\n")
    args = ["marl", "train", "--workload", "random", "--objective", "power", "--budget", "32", "--out",
            str(tmp_path), *[item for k, v in FAST.items() for item in ("--agent-config", f"{k}={v}")]]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr
    # Piped, the progress is a line every few seconds; nothing else may reach the console.
    chatter = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("marl training on")]
    assert chatter == []
    assert "power_mw" in done.stdout and "best design after 32 evaluations" in done.stdout


def test_missing_extra_gives_an_install_hint() -> None:
    code = ("import sys; sys.modules['ray'] = None\n"
            "try:\n    import archgym.agents.marl\nexcept Exception as e:\n    print(type(e).__name__, e)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "ConfigurationError" in output and "pip install 'archgym[marl]'" in output
