"""The guides in docs/: every example runs and does what the guide says, and the guides show the examples' code.

Each how-to shows one file of ``docs/examples`` in full, after an
``<!-- example: docs/examples/NAME.py -->`` line; the shell commands of its
``console`` blocks run here through the CLI, with checks of what they wrote.
Registrations made by the examples (the ``cache`` problem, its backends, the
``tabu`` agent) are undone after each test. tests/test_readme.py runs every
block of every page, the guides' other snippets and the tests they show
included.
"""

from __future__ import annotations

import importlib.util
import math
import re
import runpy
import shlex
import shutil
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from types import ModuleType

import gymnasium
import pytest
import tomllib
from typer.testing import CliRunner

import archgym.agent
import archgym.cost_model
import archgym.problem
from archgym.cli import app
from archgym.cost_model import list_backends, make_backend
from archgym.dataset import load_dataset
from archgym.errors import BackendUnavailableError
from archgym.objective import make_objective
from archgym.problem import ENTRY_POINT_GROUP, get_problem
from archgym.space import DesignSpace, Parameter, ParameterKind
from archgym.testing import check_agent, check_cost_model

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLES = DOCS / "examples"
GUIDES = ("howto-add-a-problem.md", "howto-add-a-backend.md", "howto-add-an-agent.md")

_EXAMPLE_MARKER = re.compile(r"<!-- example: (?P<path>\S+) -->\n```python\n(?P<code>.*?)```", re.DOTALL)
_BLOCK = re.compile(r"```(?P<language>\w*)\n(?P<code>.*?)```", re.DOTALL)


def _blocks(guide: str, language: str) -> list[str]:
    text = (DOCS / guide).read_text(encoding="utf-8")
    return [m.group("code") for m in _BLOCK.finditer(text) if m.group("language") == language]


def _commands(guide: str) -> list[tuple[dict[str, str], list[str]]]:
    """The ``$ ...`` lines of a guide's console blocks, as environment assignments and words."""
    commands = []
    for block in _blocks(guide, "console"):
        for line in block.splitlines():
            if not line.startswith("$ "):
                continue
            words = shlex.split(line[2:], comments=True)
            variables = {}
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                name, _, value = words.pop(0).partition("=")
                variables[name] = value
            assert words[0] in ("archgym", "python"), f"{guide}: tests run archgym and python commands, not {line}"
            commands.append((variables, words))
    return commands


def _run_commands(guide: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], str]]:
    """Run a guide's commands in ``folder``; each command's arguments and output.

    ``python NAME.py`` runs the example as a script; ``archgym ...`` runs through the CLI in this process.
    ``PYTHONPATH=.`` is left out: the examples a command imports by name are imported already.
    """
    ran = []
    for variables, words in _commands(guide):
        for name, value in variables.items():
            if name != "PYTHONPATH":
                monkeypatch.setenv(name, value.replace("$PWD", str(folder)))
        if words[0] == "python":
            runpy.run_path(str(folder / words[1]), run_name="__main__")
            ran.append((words, ""))
            continue
        result = CliRunner().invoke(app, words[1:])
        assert result.exit_code == 0, f"{shlex.join(words)} failed:\n{result.output}"
        ran.append((words[1:], result.output))
    assert ran, f"{guide} shows no commands"
    return ran


def _import_example(name: str) -> ModuleType:
    """Import ``docs/examples/<name>.py`` as module ``name``, as a user's own module would be."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def undo_registrations(plugin_registrations_undone: None) -> None:
    """Remove what the examples register (problem, backends, agent, gymnasium id, modules) after each test."""


@pytest.fixture
def in_examples_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding a copy of the examples, as a user who copied them has."""
    for path in EXAMPLES.glob("*.py"):
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- the guides show the examples ------------------------------------------------------------------


@pytest.mark.parametrize("guide", GUIDES)
def test_each_guide_shows_its_example_file_exactly(guide: str) -> None:
    shown = list(_EXAMPLE_MARKER.finditer((DOCS / guide).read_text(encoding="utf-8")))
    assert len(shown) == 1, f"{guide} shows one example file after an '<!-- example: ... -->' line"
    path = DOCS.parent / shown[0].group("path")
    assert shown[0].group("code") == path.read_text(encoding="utf-8"), (
        f"the code in {guide} differs from {path.name}; copy the file into the guide"
    )


def test_every_example_file_is_shown_in_a_guide() -> None:
    shown = {m.group("path") for guide in GUIDES for m in _EXAMPLE_MARKER.finditer((DOCS / guide).read_text())}
    assert shown == {f"docs/examples/{path.name}" for path in EXAMPLES.glob("*.py")}


def test_guides_link_to_files_that_exist() -> None:
    for page in (*GUIDES, "architecture.md", "testing-plugins.md"):
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", (DOCS / page).read_text()):
            assert (DOCS / target).exists(), f"{page} links to {target}, which does not exist"


# -- a new problem ---------------------------------------------------------------------------------


def test_problem_example_registers_a_problem_its_env_and_its_backends() -> None:
    example = _import_example("cache_problem")
    problem = get_problem("cache")
    assert problem is example.CACHE_PROBLEM
    assert {"cache/analytical", "cache/proxy"} <= {b.name for b in list_backends("cache")}

    env = gymnasium.make("archgym/Cache-v0", objective="misses")
    env.reset(seed=0)
    space = problem.design_space
    _, reward, terminated, truncated, info = env.step(space.encode(problem.default_design))
    assert info["feasible"] and math.isfinite(reward) and not terminated and not truncated
    # 8 KiB in 16 ways leaves 8 sets: a value the env reports as infeasible, not an error.
    _, reward, _, _, info = env.step(space.encode({"size_kib": 8, "ways": 16, "policy": "lru"}))
    assert not info["feasible"] and math.isfinite(reward)
    assert env.unwrapped.cost_model.name == "cache/analytical"  # the problem's default backend
    env.close()


def test_problem_example_main_finds_a_good_design_and_passes_the_checks(capsys: pytest.CaptureFixture[str]) -> None:
    example = _import_example("cache_problem")
    result = example.main(budget=40, seed=1)
    assert result.evaluations == 40
    best = result.best
    assert best.evaluation.feasible and math.isfinite(best.reward)
    # Random search over 120 designs with 40 evaluations lands near the best balanced trade-off.
    model = make_backend("cache/analytical")
    objective = make_objective("balanced", problem="cache")
    rewards = [objective(model.evaluate(d, "random")) for d in model.design_space.enumerate()]
    assert best.reward >= sorted(rewards)[-10]
    assert "checks passed" in capsys.readouterr().out


def test_problem_example_infeasible_designs_are_values() -> None:
    example = _import_example("cache_problem")
    evaluation = example.CacheModel().evaluate({"size_kib": 8, "ways": 16, "policy": "lru"})
    assert not evaluation.feasible and "8 sets" in evaluation.reason
    assert all(math.isnan(v) for v in evaluation.metrics.values())
    report = check_cost_model("cache/analytical", "random", n_designs=40)
    assert "infeasible designs give NaN metrics and a reason" in report.passed


def test_problem_guide_entry_point_declares_the_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    (toml,) = _blocks("howto-add-a-problem.md", "toml")
    declared = tomllib.loads(toml)["project"]["entry-points"][ENTRY_POINT_GROUP]
    points = [EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in declared.items()]
    assert [p.name for p in points] == ["cache"]
    # As if the package were installed: its entry point listed, its module importable, nothing loaded yet.
    monkeypatch.setattr(archgym.problem, "entry_points", lambda group: points if group == ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(archgym.problem, "_entry_points_loaded", False)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    assert "cache" in archgym.problem.list_problems()
    assert "cache_problem" not in sys.modules  # listed without being imported
    model = make_backend("cache/analytical")  # imports the module, which registers the backend
    assert model.problem is get_problem("cache")
    assert model.evaluate(model.default_design()).feasible


def test_problem_guide_commands_run(in_examples_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for arguments, output in _run_commands("howto-add-a-problem.md", in_examples_copy, monkeypatch):
        if arguments[0] == "run":
            rows = load_dataset(arguments[arguments.index("--out") + 1])
            assert len(rows) == int(arguments[arguments.index("--budget") + 1])
            assert set(rows["backend"]) == {"cache/analytical"} and rows["feasible"].any()
        elif arguments[0] == "optimum":
            assert "best of 60 designs" in output
        elif arguments[0] == "report":
            assert (in_examples_copy / arguments[arguments.index("--out") + 1] / "summary.csv").is_file()
        else:
            assert "archgym/Cache-v0" in output


# -- a new backend ---------------------------------------------------------------------------------


def test_backend_example_main_runs_the_simulator_and_passes_the_checks(tmp_path: Path) -> None:
    analytical = _import_example("cache_problem")
    example = _import_example("cache_simulator")
    metrics = example.main(tmp_path)
    # The stand-in simulator computes what the analytical model does, area converted from um2 to mm2.
    expected = analytical.CacheModel().evaluate(analytical.CACHE_PROBLEM.default_design, "random").metrics
    assert metrics == pytest.approx(dict(expected), rel=1e-6)


def test_backend_example_infeasible_design_and_timeout(tmp_path: Path) -> None:
    _import_example("cache_problem")
    example = _import_example("cache_simulator")
    simulator = example.write_simulator(tmp_path / "cachesim.py")
    model = make_backend("cache/sim", binary=simulator)
    failed = model.evaluate({"size_kib": 8, "ways": 16, "policy": "lru"})
    assert not failed.feasible
    assert "exited with return code 1" in failed.reason and "8 sets" in failed.reason
    assert check_cost_model(model, n_designs=1).passed

    hanging = tmp_path / "hang.py"
    hanging.write_text("import time\ntime.sleep(60)\n")
    hanging.chmod(0o755)
    slow = make_backend("cache/sim", binary=hanging, timeout_s=0.5)
    result = slow.evaluate(get_problem("cache").default_design)
    assert not result.feasible and result.reason.startswith("cachesim timed out after 0.5 s")
    assert result.wall_time_s < 30


def test_backend_example_finds_its_binary_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _import_example("cache_problem")
    example = _import_example("cache_simulator")
    monkeypatch.delenv("CACHE_SIM", raising=False)
    with pytest.raises(BackendUnavailableError, match="CACHE_SIM is not set"):
        make_backend("cache/sim")
    monkeypatch.setenv("CACHE_SIM", str(example.write_simulator(tmp_path / "cachesim.py")))
    assert make_backend("cache/sim").evaluate(get_problem("cache").default_design).feasible


def test_backend_guide_commands_run(in_examples_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _import_example("cache_problem")
    _import_example("cache_simulator")
    ran = _run_commands("howto-add-a-backend.md", in_examples_copy, monkeypatch)
    assert (in_examples_copy / "cachesim.py").is_file()  # written by python cache_simulator.py
    (arguments, _), = [command for command in ran if command[0][0] == "run"]
    rows = load_dataset(arguments[arguments.index("--out") + 1])
    assert len(rows) == int(arguments[arguments.index("--budget") + 1])
    assert set(rows["backend"]) == {"cache/sim"} and rows["feasible"].any()


# -- a new agent -----------------------------------------------------------------------------------


def test_agent_example_main_beats_random_search_and_passes_the_checks() -> None:
    example = _import_example("tabu_agent")
    results = example.main(budget=100, seed=0)
    assert results["tabu"].best.reward > results["random"].best.reward
    designs = [tuple(t.design.values()) for t in results["tabu"].trials]
    assert len(set(designs)) == len(designs)  # never the same design twice
    check_agent("tabu", get_problem("soc").design_space, budget=12)


def test_agent_example_stops_when_the_space_is_exhausted() -> None:
    example = _import_example("tabu_agent")
    space = DesignSpace([Parameter("x", (1, 2, 3), ParameterKind.ORDINAL)])
    agent = example.TabuSearch(space, seed=0, initial=1, tries=20)
    assert len(agent.suggest(5)) == 3 and agent.suggest(1) == []


def test_agent_guide_commands_run(in_examples_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for arguments, output in _run_commands("howto-add-an-agent.md", in_examples_copy, monkeypatch):
        if arguments[0] == "run":
            rows = load_dataset(arguments[arguments.index("--out") + 1])
            assert len(rows) == int(arguments[arguments.index("--budget") + 1])
            assert set(rows["agent"]) == {"tabu"}
            assert not rows.duplicated(list(get_problem("soc").design_space.names)).any()  # never twice
        else:
            assert "tabu" in output
