"""Inputs are checked where they enter: seeds, budgets, output paths and nested JSON end in one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from typer.testing import CliRunner

from archgym.agent import MAX_SEED, check_seed, list_agents, make_agent
from archgym.agents.random_walk import RandomWalk
from archgym.cli import app
from archgym.cli.common import check_output_dir, check_output_file
from archgym.dataset import load_dataset
from archgym.errors import ConfigurationError
from archgym.problem import get_problem
from archgym.runner import MAX_BUDGET, ObjectiveSpec, RunSpec, check_budget
from archgym.sweep import parse_spec

BAD_SEEDS = (-1, MAX_SEED + 1, 10**23, 1.5, True, "3")
DEEP_JSON = "[" * 100_000

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def one_line_error(result: Any, *fragments: str) -> str:
    """The command's single error line, after checking it failed with exit code 2 and names ``fragments``."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a directory\n")
    return path


# -- seeds -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", BAD_SEEDS)
def test_a_seed_outside_0_to_2_63_minus_1_is_refused_everywhere_it_enters(seed: Any) -> None:
    space = get_problem("dram").design_space
    message = r"must be an integer in 0\.\.2\*\*63-1"
    with pytest.raises(ConfigurationError, match=message):
        check_seed(seed)
    # Every agent, before its own set-up (or a missing optional dependency) meets the seed.
    for name in list_agents():
        with pytest.raises(ConfigurationError, match=message):
            make_agent(name, space, seed=seed)
    with pytest.raises(ConfigurationError, match=f"agent 'random'.s seed {message}"):
        RandomWalk(space, seed=seed)
    with pytest.raises(ConfigurationError, match=f"a run's seed {message}"):
        RunSpec("dram", "analytical", None, ObjectiveSpec("latency"), "random", 5, seed=seed)
    env = gym.make("archgym/DRAM-v0")
    with pytest.raises(ConfigurationError, match=f"DesignEnv.reset's seed {message}"):
        env.reset(seed=seed)
    env.close()


def test_the_ends_of_the_seed_range_are_accepted() -> None:
    space = get_problem("dram").design_space
    for seed in (0, MAX_SEED):
        assert check_seed(seed) == seed
        assert make_agent("random", space, seed=seed).suggest(1)
    env = gym.make("archgym/DRAM-v0")
    env.reset(seed=MAX_SEED)
    env.close()


@pytest.mark.parametrize("seed", ["-1", str(MAX_SEED + 1), "99999999999999999999999"])
@pytest.mark.parametrize("agent", ["random", "ga", "aco"])
def test_run_refuses_a_bad_seed_before_writing_anything(tmp_path: Path, seed: str, agent: str) -> None:
    out = tmp_path / "runs"
    result = invoke("run", "--agent", agent, "--budget", "3", "--seed", seed, "--out", str(out))
    assert result.exit_code == 2 and "Invalid value for '--seed'" in result.output
    assert not out.exists()


def test_a_bad_seed_in_a_sweep_spec_names_the_spec() -> None:
    for seeds in ([0, -1], [2**63], [10**23]):
        raw = {"agents": ["random"], "workloads": ["stream"], "objectives": ["latency"], "budget": 5,
               "seeds": seeds}
        with pytest.raises(ConfigurationError, match=r"spec.yaml: each of 'seeds' must be an integer in 0\.\.2"):
            parse_spec(raw, source="spec.yaml")


# -- budgets -------------------------------------------------------------------------------------------


def test_a_budget_above_the_maximum_needs_the_override() -> None:
    assert check_budget(MAX_BUDGET) == MAX_BUDGET
    with pytest.raises(ConfigurationError, match="more than 10,000,000 evaluations.*allow_large_budget=True"):
        check_budget(MAX_BUDGET + 1)
    assert check_budget(10**20, allow_large=True) == 10**20


def test_run_refuses_a_huge_budget_unless_allowed(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    result = invoke("run", "--budget", "99999999999999999999", "--out", str(out))
    one_line_error(result, "--budget 99999999999999999999 is more than 10,000,000 evaluations",
                   "give --allow-large-budget")
    assert not out.exists()
    # The override lets the budget through to the run's own checks (here: an unknown agent, so nothing runs).
    result = invoke("run", "--budget", "99999999999999999999", "--allow-large-budget", "--agent", "nope",
                    "--out", str(out))
    assert result.exit_code == 2 and "error: unknown agent 'nope'" in result.output
    assert "more than 10,000,000" not in result.output


def test_run_resume_refuses_a_huge_budget_too(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    assert invoke("run", "--budget", "3", "--out", str(out)).exit_code == 0
    one_line_error(invoke("run", "--resume", "--budget", str(MAX_BUDGET + 1), "--out", str(out)),
                   "is more than 10,000,000 evaluations")
    assert len(load_dataset(out)) == 3


def test_a_sweep_budget_above_the_maximum_needs_the_override() -> None:
    raw = {"agents": ["random"], "workloads": ["stream"], "objectives": ["latency"], "budget": 10**20}
    with pytest.raises(ConfigurationError, match="spec.yaml: 'budget' 100000000000000000000 is more than"):
        parse_spec(raw, source="spec.yaml")
    assert parse_spec(raw, source="spec.yaml", allow_large_budget=True).budget == 10**20


# -- output paths --------------------------------------------------------------------------------------


def test_output_path_checks(tmp_path: Path, a_file: Path) -> None:
    assert check_output_dir(tmp_path / "new" / "deeper", "--out") == tmp_path / "new" / "deeper"
    assert check_output_dir(tmp_path, "--out") == tmp_path
    assert check_output_file(tmp_path / "new" / "pairs.csv", "--csv") == tmp_path / "new" / "pairs.csv"
    assert check_output_file(a_file, "--csv") == a_file  # replaced
    with pytest.raises(ConfigurationError, match="--out .*a-file is a file; give a directory"):
        check_output_dir(a_file, "--out")
    with pytest.raises(ConfigurationError, match="a-file is a file, so the directory cannot be created there"):
        check_output_dir(a_file / "below", "--out")
    with pytest.raises(ConfigurationError, match="--csv .* is a directory; give a file name"):
        check_output_file(tmp_path, "--csv")
    with pytest.raises(ConfigurationError, match="a-file is a file, so the file cannot be created there"):
        check_output_file(a_file / "below" / "pairs.csv", "--csv")
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_run_refuses_an_output_file_before_any_work(a_file: Path) -> None:
    one_line_error(invoke("run", "--budget", "3", "--out", str(a_file)), "--out", "is a file; give a directory")
    one_line_error(invoke("run", "--budget", "3", "--out", str(a_file / "runs")),
                   "is a file, so the directory cannot be created there")
    assert a_file.read_text() == "not a directory\n"


def test_validate_refuses_a_directory_for_its_output_files(tmp_path: Path) -> None:
    for option in ("--csv", "--plot"):
        result = invoke("validate", "--against", "analytical", "--designs", "3", option, str(tmp_path))
        one_line_error(result, f"{option} {tmp_path} is a directory; give a file name")


def test_validate_refuses_a_bad_seed(tmp_path: Path) -> None:
    result = invoke("validate", "--against", "analytical", "--designs", "3", "--seed", "-1")
    assert result.exit_code == 2 and "Invalid value for '--seed'" in result.output


@pytest.mark.parametrize("command", [["malloc", "solve", "--instance", "tiny"],
                                     ["malloc", "bench", "--instance", "tiny", "--method", "greedy-size"]])
def test_malloc_refuses_a_directory_for_out_and_creates_a_new_file_s_folders(tmp_path: Path,
                                                                             command: list[str]) -> None:
    one_line_error(invoke(*command, "--out", str(tmp_path)), f"--out {tmp_path} is a directory")
    target = tmp_path / "new" / "placement.csv"
    result = invoke(*command, "--out", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_text().startswith(("id,", "instance,"))


# -- nested JSON ---------------------------------------------------------------------------------------


def test_json_nested_beyond_parsing_is_a_one_line_error(tmp_path: Path) -> None:
    line = one_line_error(invoke("evaluate", "--design", DEEP_JSON), "--design nests lists or objects too deeply")
    assert len(line) < 300  # the input is not echoed whole
    line = one_line_error(invoke("run", "--budget", "2", "--out", str(tmp_path / "runs"),
                                 "--agent-config", f"population={DEEP_JSON}"),
                          "nests lists or objects too deeply to parse")
    assert len(line) < 300
