"""Shared test fixtures and settings.

Fixtures:

- ``shared_reference_dir`` (session): the folder ``../shared/reference/dram``,
  measurements of the real DRAMSys and the exact reference traces, kept beside
  the project rather than in it. Where that folder is absent, a test that asks
  for it is skipped with a reason that says so, unless
  ``ARCHGYM_REQUIRE_SHARED_REFERENCE`` is set (CI sets it): then it fails, so a
  fidelity check never disappears silently. A test that asks for the fixture is
  also marked ``shared_reference``, so ``-m "not shared_reference"`` leaves it out.
- ``private_temp_root``: a folder that every :mod:`tempfile` folder of the
  test goes to, so the test can check that nothing is left behind.
- ``bin_dir``: an empty folder for fake simulator executables.
- ``plugin_registrations_undone``: after the test, the registries (problems,
  backends, agents, gymnasium ids, entry points read) are as before it, and
  the modules of the plug-ins it loaded are forgotten, so the next test loads
  them afresh.
- ``small_space``: a toy cache design space with a knob of every kind: ``size``
  (ordinal, 1 to 128 in powers of two), ``ways`` (integer, 1 to 16), ``policy``
  (categorical: lru, fifo, random, plru, mru), ``prefetch`` (categorical: off,
  next, stride), ``clock_ghz`` (float, 0.5 to 2.0) and ``fixed`` (categorical,
  a single value, ``"only"``). Tests assert on these values: change them only
  together with the tests that use the fixture.
- ``separable_toy``: a cost model on ``small_space`` whose one metric,
  ``distance``, is a separable distance from :attr:`SeparableDistance.target`
  (0 there). About one design in 29,000 is optimal (see
  :meth:`SeparableDistance.is_optimal`), so it tells a search that learns from
  its results apart from random search.
- ``evaluations_to_optimum``: ``evaluations_to_optimum(agent_name, seed, budget)``
  runs the named agent on ``separable_toy`` and returns the 1-based evaluation
  at which it first found an optimal design, or None within ``budget``.

Settings:

- The on-disk cache of prepared workloads (:mod:`archgym.cache`) goes to a
  temporary folder for the session, removed at the end, unless
  ``ARCHGYM_CACHE_DIR`` is set: tests never write to the user's cache.

Markers:

- ``shared_reference``: the test needs the shared reference folder, with the
  same skip-or-fail rule as ``shared_reference_dir``. Prefer the fixture, which
  also gives the folder's path.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from archgym.agent import make_agent
from archgym.cache import CACHE_VARIABLE
from archgym.cost_model import CostModel, Evaluation, MetricSpec
from archgym.search import run_search
from archgym.space import Design, DesignSpace, Parameter

SHARED_REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "dram"
"""The shared DRAMSys reference data (DDR3-1600 measurements and the exact reference traces)."""

REQUIRE_VARIABLE = "ARCHGYM_REQUIRE_SHARED_REFERENCE"


_SESSION_CACHE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    if CACHE_VARIABLE not in os.environ:
        _SESSION_CACHE.append(tempfile.mkdtemp(prefix="archgym-test-cache-"))
        os.environ[CACHE_VARIABLE] = _SESSION_CACHE[-1]
    config.addinivalue_line(
        "markers", f"shared_reference: needs {SHARED_REFERENCE}; fails instead of skipping if {REQUIRE_VARIABLE} is set"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _SESSION_CACHE:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(CACHE_VARIABLE, None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "shared_reference_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_reference)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("shared_reference") is not None:
        require_shared_reference()


def require_shared_reference() -> Path:
    """The shared reference folder; skips the test where it is absent, or fails it if it is required."""
    if SHARED_REFERENCE.is_dir():
        return SHARED_REFERENCE
    reason = (
        f"needs the shared DRAMSys reference data at {SHARED_REFERENCE} (real-simulator measurements kept "
        "beside the project, not in it)"
    )
    if os.environ.get(REQUIRE_VARIABLE):
        pytest.fail(f"{reason}; {REQUIRE_VARIABLE} is set, so these tests are required", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_reference_dir() -> Path:
    """The shared DRAMSys reference folder; see the module docstring for what happens where it is absent."""
    # Also checked here, not only by the marker, so that request.getfixturevalue() gets the same rule.
    return require_shared_reference()


@pytest.fixture
def private_temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every temporary folder made through :mod:`tempfile` lands here, so a test can see what is left behind."""
    root = tmp_path / "temp-root"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _from_archgym(item: object) -> bool:
    return str(getattr(item, "__module__", "")).startswith("archgym.")


@pytest.fixture
def plugin_registrations_undone() -> Iterator[None]:
    """Undo what the test's plug-ins registered: entries they added go, entries they replaced come back.

    Bundled agents first imported during the test stay registered (their modules stay imported).
    """
    from gymnasium.envs.registration import registry as gymnasium_registry

    import archgym
    import archgym.agent
    import archgym.cost_model
    import archgym.plugins
    import archgym.problem
    from archgym.cost_model import list_backends

    list_backends()  # bundled problems and backends load before, so that they are not unloaded after
    problems = {*archgym.problem._PROBLEMS, *archgym.problem._LAZY}
    agents = archgym.agent._AGENTS
    bundled = {  # which entries added during the test stay: those of archgym's own modules
        "problems": lambda name: False,
        "backends": lambda name: (name.split("/")[0] in problems
                                  and _from_archgym(archgym.cost_model._BACKENDS[name].factory)),
        "agents": lambda name: _from_archgym(agents[name]),
        "aliases": lambda name: _from_archgym(agents.get(archgym.agent._ALIASES[name])),
    }
    registries = {"problems": archgym.problem._PROBLEMS, "lazy": archgym.problem._LAZY,
                  "backends": archgym.cost_model._BACKENDS, "agents": agents, "aliases": archgym.agent._ALIASES}
    before = {kind: dict(registry) for kind, registry in registries.items()}
    env_ids = set(gymnasium_registry)
    modules = set(sys.modules)
    finder = archgym.plugins._BESIDE_PLUGIN_FILES
    folders = list(finder.folders)
    entry_points = (archgym.problem._entry_points_loaded, archgym.agent._declared, archgym.cost_model._declared)
    yield
    for kind, registry in registries.items():
        keep = bundled.get(kind, lambda name: False)
        for name in [name for name in registry if name not in before[kind] and not keep(name)]:
            del registry[name]
        registry.update(before[kind])
    for env_id in set(gymnasium_registry) - env_ids:
        del gymnasium_registry[env_id]
    installed = (sys.prefix, sys.base_prefix, str(Path(archgym.__file__).parent))
    for name in set(sys.modules) - modules:
        location = getattr(sys.modules[name], "__file__", None) or ""
        if name.startswith(archgym.plugins.FILE_MODULE_PREFIX) or (location and not location.startswith(installed)):
            del sys.modules[name]
    finder.folders[:] = folders
    archgym.problem._entry_points_loaded, archgym.agent._declared, archgym.cost_model._declared = entry_points


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """An empty folder for the fake simulator executables a test writes."""
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


@pytest.fixture
def small_space() -> DesignSpace:
    """A toy cache design space with a knob of every kind; see the module docstring for its values."""
    return DesignSpace(
        [
            Parameter("size", (1, 2, 4, 8, 16, 32, 64, 128), "ordinal"),
            Parameter("ways", (1, 16), "integer"),
            Parameter("policy", ("lru", "fifo", "random", "plru", "mru")),
            Parameter("prefetch", ("off", "next", "stride")),
            Parameter("clock_ghz", (0.5, 2.0), "float"),
            Parameter("fixed", ("only",)),
        ],
        name="toy",
    )


class SeparableDistance(CostModel):
    """A separable distance from :attr:`target`, one term per knob of ``small_space``; 0 at the target."""

    name = "toy/separable"
    metrics = (MetricSpec("distance", "1"),)
    target: ClassVar[Design] = {
        "size": 32, "ways": 11, "policy": "plru", "prefetch": "stride", "clock_ghz": 1.4, "fixed": "only",
    }  # fmt: skip
    clock_tolerance_ghz: ClassVar[float] = 0.05
    """How close to the target's clock an optimal design must be (the clock is continuous)."""

    def __init__(self, design_space: DesignSpace) -> None:
        self.design_space = design_space

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        size = self.design_space["size"]
        target = self.target
        distance = (
            abs(size.index_of(design["size"]) - size.index_of(target["size"]))
            + abs(design["ways"] - target["ways"])
            + (design["policy"] != target["policy"])
            + (design["prefetch"] != target["prefetch"])
            + 10.0 * abs(design["clock_ghz"] - target["clock_ghz"])
        )
        return Evaluation({"distance": float(distance)})

    def is_optimal(self, design: Design) -> bool:
        """Whether ``design`` has the target's discrete knobs and a clock within the tolerance."""
        discrete_match = all(design[k] == self.target[k] for k in ("size", "ways", "policy", "prefetch"))
        return discrete_match and abs(design["clock_ghz"] - self.target["clock_ghz"]) <= self.clock_tolerance_ghz


@pytest.fixture
def separable_toy(small_space: DesignSpace) -> SeparableDistance:
    """The separable toy cost model on ``small_space``."""
    return SeparableDistance(small_space)


@pytest.fixture
def evaluations_to_optimum(separable_toy: SeparableDistance) -> Callable[[str, int, int], int | None]:
    """``evaluations_to_optimum(agent_name, seed, budget)``: when a search of ``separable_toy`` first hits the optimum."""

    def negative_distance(evaluation: Evaluation) -> float:
        return -evaluation.metrics["distance"]

    def first_hit(agent_name: str, seed: int, budget: int) -> int | None:
        agent = make_agent(agent_name, separable_toy.design_space, seed=seed)
        result = run_search(agent, separable_toy, negative_distance, budget)
        return next((t.step + 1 for t in result.trials if separable_toy.is_optimal(t.design)), None)

    return first_hit
