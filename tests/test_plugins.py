"""Plug-ins in every command: the docs' example plug-ins as ``--plugin`` files and as an installed package.

The examples (``docs/examples``: the ``cache`` problem, its ``cache/sim``
backend, the ``tabu`` agent) are copied into a temporary folder, as a user
who copied them has them; what they register is undone after each test.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import sys
from pathlib import Path

import pytest
import tomllib
import yaml
from typer.testing import CliRunner

import archgym.agent
import archgym.cost_model
import archgym.problem
from archgym.agent import AGENT_ENTRY_POINT_GROUP, agent_class, list_agents
from archgym.cli import app
from archgym.cost_model import BACKEND_ENTRY_POINT_GROUP, list_backends, make_backend
from archgym.dataset import load_dataset
from archgym.errors import PluginError
from archgym.plugins import load_plugin, load_plugins
from archgym.problem import ENTRY_POINT_GROUP, get_problem, list_problems

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLES = DOCS / "examples"
GUIDES = ("howto-add-a-problem.md", "howto-add-a-backend.md", "howto-add-an-agent.md")

pytestmark = pytest.mark.usefixtures("plugin_registrations_undone")


@pytest.fixture
def examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with a copy of the example plug-ins and the stand-in simulator they run."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    for path in EXAMPLES.glob("*.py"):
        shutil.copy(path, folder / path.name)
    monkeypatch.chdir(tmp_path)
    simulator = folder / "cachesim.py"
    simulator.write_text(_simulator_script(folder))
    simulator.chmod(0o755)
    monkeypatch.setenv("CACHE_SIM", str(simulator))
    return folder


def _simulator_script(folder: Path) -> str:
    """The stand-in simulator's source, without importing the example into this process."""
    namespace: dict[str, object] = {}
    source = (folder / "cache_simulator.py").read_text()
    start = source.index("SIMULATOR_SCRIPT = '''")
    exec(source[start:source.index("'''\n", start) + 4], namespace)  # noqa: S102 - the example's own constant
    return str(namespace["SIMULATOR_SCRIPT"])


def invoke(*args: str) -> str:
    """Run a command that must succeed; its output."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, f"archgym {' '.join(args)} failed:\n{result.output}"
    return result.output


class Refusal(str):
    """A command's error message; ``text in refusal`` ignores where the console wrapped lines."""

    def __contains__(self, text: object) -> bool:
        return "".join(str(text).split()) in "".join(self.split())


def refused(*args: str) -> Refusal:
    """Run a command that must be refused with a one-line error (wrapped to the console's width); the error."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return Refusal(result.output[result.output.index("error: "):])


# -- loading files and modules -----------------------------------------------------------------------


def test_a_plugin_file_imports_the_modules_beside_it_and_is_loaded_once(tmp_path: Path) -> None:
    (tmp_path / "counter_helper.py").write_text("LOADS = []\n")
    plugin = tmp_path / "counting_plugin.py"
    plugin.write_text("from counter_helper import LOADS\nLOADS.append(1)\n")
    assert load_plugins([str(plugin), str(plugin)]) == (str(plugin),) * 2
    assert sys.modules["counter_helper"].LOADS == [1]  # the helper is shared, the plug-in ran once
    assert sys.modules["counting_plugin"].__file__ == str(plugin)


def test_a_plugin_file_named_like_another_module_gets_a_name_of_its_own(tmp_path: Path) -> None:
    plugin = tmp_path / "json.py"
    plugin.write_text("from beside_json import VALUE\n")
    (tmp_path / "beside_json.py").write_text("VALUE = 3\n")
    load_plugin(plugin)
    assert sys.modules["json"] is json  # the standard library module is untouched
    assert sys.modules["archgym_plugin_json"].VALUE == 3


def test_modules_beside_a_plugin_do_not_shadow_installed_ones(tmp_path: Path) -> None:
    (tmp_path / "yaml.py").write_text("raise RuntimeError('the wrong yaml')\n")
    plugin = tmp_path / "uses_yaml.py"
    plugin.write_text("import yaml\nLOADER = yaml.safe_load\n")
    load_plugin(plugin)
    assert sys.modules["uses_yaml"].LOADER is yaml.safe_load


@pytest.mark.parametrize(("source", "message"), [
    ("x = 1\nraise ValueError('no cache here')\n", "could not be imported: ValueError: no cache here (bad.py, line 2)"),
    ("def f(:\n", "could not be imported: SyntaxError: invalid syntax (bad.py, line 1)"),
    ("import helper_that_is_missing\n",
     "ModuleNotFoundError: No module named 'helper_that_is_missing' (bad.py, line 1)"),
])
def test_a_plugin_that_fails_to_import_is_one_line_naming_the_file_and_the_error(
    tmp_path: Path, source: str, message: str
) -> None:
    (tmp_path / "bad.py").write_text(source)
    with pytest.raises(PluginError, match="^plug-in .*bad.py could not") as raised:
        load_plugin(tmp_path / "bad.py")
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert "bad" not in sys.modules  # a failed plug-in leaves no half-imported module behind
    assert message in refused("agents", "--plugin", str(tmp_path / "bad.py"))


def test_missing_or_wrong_plugins_are_clear_errors(tmp_path: Path) -> None:
    assert f"error: plug-in file {tmp_path / 'absent.py'} does not exist" in refused(
        "envs", "--plugin", str(tmp_path / "absent.py"))
    (tmp_path / "notes.txt").write_text("")
    assert "is neither a module name nor a .py file" in refused("agents", "--plugin", str(tmp_path / "notes.txt"))
    assert "plug-in no_such_plugin_module could not be imported: ModuleNotFoundError" in refused(
        "agents", "--plugin", "no_such_plugin_module")


# -- every command with the docs' example plug-ins --------------------------------------------------------


def test_envs_and_agents_list_plugin_problems_backends_and_agents(examples: Path) -> None:
    output = invoke("envs", "--plugin", "plugins/cache_simulator.py", "--plugin", "plugins/tabu_agent.py")
    assert "archgym/Cache-v0" in output and "cache/analytical" in output and "cache/sim" in output
    assert "tabu" in output.split("agents:")[-1]
    assert "cache/analytical" in invoke("envs", "--plugin", "plugins/cache_problem.py", "--problem", "cache")
    assert "tabu" in invoke("agents", "--plugin", "plugins/tabu_agent.py")


def test_run_evaluate_and_optimum_with_a_plugin_problem_backend_and_agent(examples: Path) -> None:
    plugins = ("--plugin", "plugins/cache_simulator.py", "--plugin", "plugins/tabu_agent.py")
    invoke("run", *plugins, "--env", "cache", "--backend", "sim", "--agent", "tabu", "--objective", "balanced",
           "--budget", "8", "--out", "runs/run")
    rows = load_dataset("runs/run")
    assert len(rows) == 8 and set(rows["backend"]) == {"cache/sim"} and set(rows["agent"]) == {"tabu"}

    design = '{"size_kib": 32, "ways": 4, "policy": "lru"}'
    scored = json.loads(invoke("evaluate", *plugins, "--env", "cache", "--backend", "sim", "--design", design,
                               "--json"))
    assert scored["feasible"] and scored["metrics"]["area_mm2"] > 0

    best = json.loads(invoke("optimum", "--plugin", "plugins/cache_problem.py", "--env", "cache",
                             "--workload", "random", "--objective", "misses", "--json"))
    model = make_backend("cache/analytical")
    miss_rates = [model.evaluate(d, "random").metrics["miss_rate"] for d in model.design_space.enumerate()]
    assert best["designs_evaluated"] == len(miss_rates)
    assert best["metrics"]["miss_rate"] == pytest.approx(min(r for r in miss_rates if not math.isnan(r)))


def test_validate_compares_a_plugin_backend_with_another(examples: Path) -> None:
    output = invoke("validate", "--plugin", "plugins/cache_simulator.py", "--env", "cache", "--backend",
                    "analytical", "--against", "sim", "--designs", "6", "--workload", "random")
    assert "cache/analytical" in output and "cache/sim" in output
    assert "miss_rate" in output and "1.000" in output  # the simulator computes what the model does


def test_sweep_validates_against_plugins_and_loads_them_in_its_workers(examples: Path) -> None:
    spec = {"name": "cache_tabu", "env": "cache", "workloads": ["random"], "objectives": ["balanced"],
            "agents": [{"name": "tabu", "grid": {"initial": [2, 4]}}], "seeds": 1, "budget": 6,
            "out": "runs/sweep"}
    path = examples / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert "unknown agent 'tabu'" in refused("sweep", str(path))
    assert "unknown env 'cache'" in refused("sweep", str(path), "--plugin", "plugins/tabu_agent.py")

    # Plug-ins from the command line (relative to the working folder), run by two worker processes.
    invoke("sweep", str(path), "--plugin", "plugins/cache_problem.py", "--plugin", "plugins/tabu_agent.py",
           "--workers", "2")
    rows = load_dataset("runs/sweep")
    assert len(rows) == 12 and set(rows["agent"]) == {"tabu"} and set(rows["env"]) == {"cache"}

    # Plug-ins named in the spec itself, relative to its folder.
    path.write_text(yaml.safe_dump({**spec, "out": "runs/sweep2", "plugins": ["cache_problem.py", "tabu_agent.py"]}))
    output = invoke("sweep", str(path), "--workers", "1")
    assert "2 runs done" in output and len(load_dataset("runs/sweep2")) == 12

    path.write_text(yaml.safe_dump({**spec, "plugins": ["absent.py"]}))
    assert f"error: {path}: plug-in file {examples / 'absent.py'} does not exist" in refused("sweep", str(path))


def test_a_ray_sweep_loads_the_plugins_in_its_tasks(examples: Path) -> None:
    pytest.importorskip("ray", reason="the ray executor needs the marl extra: pip install 'archgym[marl]'")
    spec = examples / "sweep.yaml"
    spec.write_text(yaml.safe_dump({
        "env": "cache", "backend": "sim", "workloads": ["random"], "objectives": ["balanced"],
        "agents": [{"name": "tabu", "grid": {"initial": [2, 4]}}], "budget": 4, "out": "runs/ray",
        "plugins": ["cache_simulator.py", "tabu_agent.py"],  # the backend's module imports the problem's beside it
    }))
    output = invoke("sweep", str(spec), "--executor", "ray", "--workers", "2")
    assert "2 runs done" in output
    rows = load_dataset("runs/ray")
    assert len(rows) == 8 and set(rows["backend"]) == {"cache/sim"} and rows["feasible"].any()


def test_report_with_the_exact_optimum_of_a_plugin_problem(examples: Path) -> None:
    invoke("run", "--plugin", "plugins/cache_problem.py", "--env", "cache", "--objective", "misses",
           "--agent", "random", "--budget", "10", "--out", "runs/report")
    output = invoke("report", "runs/report", "--plugin", "plugins/cache_problem.py", "--optimum", "--no-plots",
                    "--out", "runs/report-tables")
    assert "wrote" in output and Path("runs/report-tables/summary.csv").is_file()


# -- an installed package declaring the examples as entry points -------------------------------------------


def _guides_entry_points() -> dict[str, dict[str, str]]:
    """The entry points the how-to guides declare, by group."""
    declared: dict[str, dict[str, str]] = {}
    for guide in GUIDES:
        text = (DOCS / guide).read_text(encoding="utf-8")
        for block in re.findall(r"```toml\n(.*?)```", text, re.DOTALL):
            for group, points in tomllib.loads(block)["project"]["entry-points"].items():
                declared.setdefault(group, {}).update(points)
    return declared


@pytest.fixture
def installed_examples(examples: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The examples as an installed distribution: modules and a .dist-info with entry points on sys.path."""
    declared = {group: dict(points) for group, points in _guides_entry_points().items()}
    assert declared == {ENTRY_POINT_GROUP: {"cache": "cache_problem:CACHE_PROBLEM"},
                        BACKEND_ENTRY_POINT_GROUP: {"cache/sim": "cache_simulator"},
                        AGENT_ENTRY_POINT_GROUP: {"tabu": "tabu_agent:TabuSearch"}}
    # Beside the guides' declarations: a backend declared by its class, and a second name for an agent.
    declared[BACKEND_ENTRY_POINT_GROUP]["cache/sim-class"] = "cache_simulator:CacheSimulator"
    declared[AGENT_ENTRY_POINT_GROUP]["tabu-search"] = "tabu_agent:TabuSearch"
    info = examples / "cache_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cache-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items()) + "\n"
        for group, points in declared.items()
    ))
    monkeypatch.syspath_prepend(str(examples))
    # Entry points are read once per process: read them again now that the package is "installed".
    monkeypatch.setattr(archgym.problem, "_entry_points_loaded", False)
    monkeypatch.setattr(archgym.agent, "_declared", None)
    monkeypatch.setattr(archgym.cost_model, "_declared", None)
    return examples


def test_an_installed_package_declares_problems_backends_and_agents(installed_examples: Path) -> None:
    assert "cache" in list_problems() and {"tabu", "tabu-search"} <= set(list_agents())
    assert "tabu_agent" not in sys.modules  # listed by name, imported on first use
    tabu = agent_class("tabu")
    assert agent_class("tabu-search") is tabu and tabu.name == "tabu"  # a second name for the same class
    assert {"cache/analytical", "cache/sim", "cache/sim-class"} <= {b.name for b in list_backends("cache")}
    model = make_backend("cache/sim-class")  # the class itself, registered under its declared name
    assert model.evaluate(get_problem("cache").default_design, "random").feasible

    output = invoke("envs", "--problem", "cache")
    assert "cache/sim" in output and "tabu" in output.split("agents:")[-1]
    invoke("run", "--env", "cache", "--backend", "sim", "--agent", "tabu", "--objective", "balanced",
           "--budget", "6", "--out", "runs/installed")
    assert set(load_dataset("runs/installed")["agent"]) == {"tabu"}

    spec = installed_examples / "sweep.yaml"
    spec.write_text(yaml.safe_dump({"env": "cache", "workloads": ["random"], "objectives": ["misses"],
                                    "agents": ["tabu"], "seeds": [0, 1], "budget": 5, "out": "runs/isweep"}))
    invoke("sweep", str(spec), "--workers", "2")  # the workers find the package as this process does
    assert len(load_dataset("runs/isweep")) == 10


def test_a_declared_plugin_that_fails_to_load_is_a_clear_error(installed_examples: Path) -> None:
    (installed_examples / "cache_plugins-1.0.dist-info" / "entry_points.txt").write_text(
        f"[{AGENT_ENTRY_POINT_GROUP}]\nbroken = tabu_agent:NoSuchClass\nnot-an-agent = json:loads\n"
    )
    message = refused("run", "--env", "soc", "--agent", "broken", "--budget", "2", "--out", "runs/broken")
    assert "agent 'broken' is declared by the entry point 'tabu_agent:NoSuchClass', which fails to load: " \
           "AttributeError: module 'tabu_agent' has no attribute 'NoSuchClass'" in message
    assert "line" not in message  # no line of the package's own code raised it
    with pytest.raises(PluginError, match="not an Agent subclass"):
        agent_class("not-an-agent")
    listing = " ".join(invoke("agents").split())
    assert "broken" in listing and "unavailable: agent 'broken' is declared" in listing
