"""Sweeps: many searches (agents x settings x problems x workloads x objectives x seeds) from one spec.

A sweep spec is a YAML file (see ``experiments/smoke_dram.yaml``)::

    name: smoke_dram
    env: dram                     # or  envs: [dram, ...]
    backend: analytical
    backend_options: {}           # keyword arguments of the backend, e.g. {memspec: ddr4}
    workloads: [stream, random]
    objectives:
      - time                      # a preset name, or a mapping:
      - {name: latency, targets: {target_latency_ns: 60000}, success_reward: -0.1}
    agents:
      - name: random
      - name: ga
        settings: {crossover: uniform}         # fixed for every run of this entry
        grid: {population: [8, 16]}            # every combination
      - name: bo
        settings: {estimator: ET}
        distributions: {xi: {loguniform: [0.001, 0.1]}, initial_points: {int: [5, 20]}}
        samples: 4                             # settings drawn from the distributions
    seeds: 3                      # or a list: [0, 1, 2]
    budget: 200                   # evaluations per run
    batch_size: 1
    out: runs/smoke_dram
    plugins: [tabu_agent.py]      # optional: modules or .py files (beside the spec) registering agents,
                                  # backends or problems the spec names

Distributions: ``uniform: [low, high]``, ``loguniform: [low, high]``,
``int: [low, high]`` (inclusive) and ``choice: [values...]``, sampled
reproducibly (the same spec gives the same settings). With both a grid and
distributions, every grid point is combined with every sample.

:func:`load_spec` validates the whole spec before anything runs: unknown
keys, problems, backends, workloads, objectives and agents, settings an agent
does not accept or values it rejects, and empty grids are errors naming what
is allowed. :meth:`SweepSpec.runs` expands it into :class:`RunSpec` values,
each with a run id derived from its content, so rerunning a sweep finds its
runs again: :func:`run_sweep` skips completed runs and resumes interrupted
ones from their logged rows (the agent replays its trajectory), so the
dataset ends with exactly one row per evaluation.

Every run writes its rows into the sweep's one dataset directory and records
its spec, seed, hyperparameter setting, status, evaluations and wall time in
``runs/<run_id>.json`` (:func:`archgym.dataset.write_run_metadata`).

Executors: ``local`` runs the runs in worker processes on this machine;
``ray`` submits each run as a Ray task, to a running cluster
(``address="auto"`` or ``"host:port"``) or to a Ray instance it starts here.
The spec's plug-ins (its ``plugins`` and those given to :func:`load_spec`)
are loaded before it is validated, and again in every worker process and
Ray task, by absolute path, so the runs find the same agents, backends and
problems.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archgym.agent import agent_class, check_seed, get_trainer, is_trainer, make_agent
from archgym.errors import ArchGymError, ConfigurationError, PluginError, UnknownNameError
from archgym.ray_logs import quiet_ray
from archgym.runner import ObjectiveSpec, RunSpec, check_budget, execute, run_complete

__all__ = [
    "EXECUTORS",
    "AgentSpec",
    "ObjectiveSpec",
    "RunResult",
    "RunSpec",
    "SweepSpec",
    "execute_run",
    "load_spec",
    "parse_spec",
    "run_sweep",
]

_TOP_LEVEL_KEYS = (
    "name", "env", "envs", "backend", "backend_options", "workloads", "objectives", "agents", "seeds", "budget",
    "batch_size", "out", "plugins",
)
_AGENT_KEYS = ("name", "settings", "grid", "distributions", "samples")
_OBJECTIVE_KEYS = ("name", "targets", "success_reward")
_DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class AgentSpec:
    """One agent entry of a sweep: fixed settings plus a grid and/or sampled distributions."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    distributions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    samples: int = 0

    def configs(self, rng: np.random.Generator) -> list[dict[str, Any]]:
        """Every hyperparameter setting of this entry, in a fixed order."""
        names = sorted(self.grid)
        points = [dict(zip(names, values)) for values in itertools.product(*(self.grid[n] for n in names))]
        drawn = [_draw(self.distributions, rng) for _ in range(self.samples)] if self.distributions else [{}]
        return [{**self.settings, **point, **sample} for point in points for sample in drawn]


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec (see the module docstring for the file format)."""

    name: str
    envs: tuple[str, ...]
    backend: str
    backend_options: Mapping[str, Any]
    workloads: tuple[str, ...]
    objectives: tuple[ObjectiveSpec, ...]
    agents: tuple[AgentSpec, ...]
    seeds: tuple[int, ...]
    budget: int
    batch_size: int
    out: Path
    plugins: tuple[str, ...] = ()
    """Modules and ``.py`` files (absolute paths) that every process running the sweep loads first."""

    def runs(self) -> list[RunSpec]:
        """Every run, in a fixed order (env, workload, objective, agent entry, setting, seed)."""
        runs = []
        for env, workload, objective in itertools.product(self.envs, self.workloads, self.objectives):
            for index, agent in enumerate(self.agents):
                rng = np.random.default_rng(_stable_seed(self.name, agent.name, index))
                for config in agent.configs(rng):
                    for seed in self.seeds:
                        runs.append(RunSpec(
                            problem=env, backend=self.backend, workload=workload, objective=objective,
                            agent=agent.name, budget=self.budget, seed=seed, config=config,
                            backend_options=dict(self.backend_options), batch_size=self.batch_size,
                            sweep=self.name, plugins=self.plugins,
                        ))
        return runs


@dataclass(frozen=True)
class RunResult:
    """What one run produced (returned by :func:`execute_run`, also for skipped runs)."""

    run_id: str
    agent: str
    setting: str
    workload: str
    objective: str
    seed: int
    evaluations: int
    best_reward: float
    wall_time_s: float
    skipped: bool


# -- parsing and validation -----------------------------------------------------------------------


def load_spec(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    plugins: Sequence[str | os.PathLike[str]] = (),
    backend_options: Mapping[str, Any] | None = None,
    allow_large_budget: bool = False,
) -> SweepSpec:
    """Read and validate a YAML sweep spec.

    Args:
        path: The spec file.
        out: Output directory overriding the spec's ``out``.
        plugins: Plug-ins (module names or ``.py`` files) to load besides the spec's own ``plugins``,
            whose files are relative to the spec's folder.
        backend_options: Backend options overriding the spec's (``--sim-timeout`` gives ``timeout_s``).
        allow_large_budget: Accept a ``budget`` above :data:`archgym.runner.MAX_BUDGET` evaluations.

    Raises:
        ConfigurationError: the file is missing or not YAML, or the spec is invalid (the message says how).
        UnknownNameError: an unknown problem, backend, agent or objective.
        PluginError: a plug-in does not exist or fails to import.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(f"sweep spec {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigurationError(f"sweep spec {path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"sweep spec {path} must be a mapping of keys ({', '.join(_TOP_LEVEL_KEYS)})")
    raw.setdefault("name", path.stem)
    if out is not None:
        raw["out"] = str(out)
    if "plugins" in raw:
        raw["plugins"] = [_beside(path.parent, item) for item in _plugin_list(raw["plugins"], str(path))]
    if backend_options:
        given = raw.get("backend_options") or {}
        if not isinstance(given, Mapping):
            raise ConfigurationError(f"{path}: backend_options must be a mapping of option to value, got {given!r}")
        raw["backend_options"] = {**given, **backend_options}
    return parse_spec(raw, source=str(path), plugins=plugins, allow_large_budget=allow_large_budget)


def parse_spec(
    raw: Mapping[str, Any], source: str = "sweep spec", plugins: Sequence[str | os.PathLike[str]] = (),
    allow_large_budget: bool = False,
) -> SweepSpec:
    """Validate a spec given as a mapping (the parsed YAML), after loading its plug-ins; see :func:`load_spec`.

    Relative plug-in files of ``raw`` and ``plugins`` are found from the working directory.
    """
    from archgym.cost_model import list_backends, make_backend
    from archgym.objective import check_reported, make_objective
    from archgym.plugins import load_plugins

    _check_keys(raw, _TOP_LEVEL_KEYS, source)
    try:
        own = load_plugins(_plugin_list(raw.get("plugins", []), source))
    except PluginError as error:
        raise PluginError(f"{source}: {error}") from None
    loaded = (*own, *load_plugins(plugins))
    for required in ("agents", "workloads", "objectives", "budget"):
        if required not in raw:
            raise ConfigurationError(f"{source}: '{required}' is required")
    name = str(raw.get("name") or "sweep")
    if "env" in raw and "envs" in raw:
        raise ConfigurationError(f"{source}: give 'env' or 'envs', not both")
    envs = tuple(str(e) for e in _as_list(raw.get("envs", raw.get("env", "dram")), "envs", source))
    backend = str(raw.get("backend", "analytical"))
    backend_options = dict(raw.get("backend_options") or {})
    workloads = tuple(str(w) for w in _as_list(raw["workloads"], "workloads", source))
    objectives = tuple(_objective(item, source) for item in _as_list(raw["objectives"], "objectives", source))
    agents = tuple(_agent(item, source) for item in _as_list(raw["agents"], "agents", source))
    seeds = _seeds(raw.get("seeds", 1), source)
    budget = check_budget(_positive_int(raw["budget"], "budget", source), allow_large=allow_large_budget,
                          what=f"{source}: 'budget'", override="--allow-large-budget")
    batch_size = _positive_int(raw.get("batch_size", 1), "batch_size", source)
    spec = SweepSpec(name, envs, backend, backend_options, workloads, objectives, agents, seeds, budget,
                     batch_size, Path(str(raw.get("out") or Path("runs") / name)), tuple(dict.fromkeys(loaded)))

    known_envs = sorted({b.problem for b in list_backends()})
    for env in envs:
        if env not in known_envs:
            raise UnknownNameError(f"{source}: unknown env {env!r}; available envs are {', '.join(known_envs)}")
    # Build what the runs will build, once, so that no bad name or setting surfaces mid-sweep.
    for env in envs:
        model = make_backend(backend, problem=env, **backend_options)
        try:
            for workload in workloads:
                if workload not in model.workloads():
                    model.prepare(workload)
            for objective in objectives:
                try:
                    check_reported(make_objective(objective.name, metrics=model.metrics,
                                                  presets=model.objective_presets, problem=env, **objective.targets),
                                   model)
                except ArchGymError as error:
                    raise type(error)(f"{source}: objective {objective.name!r}: {error}") from None
            for run in {(r.agent, json.dumps(r.config, sort_keys=True, default=str)): r for r in spec.runs()}.values():
                _check_agent(run, model, source)
        finally:
            model.close()
    return spec


def _check_agent(run: RunSpec, model: Any, source: str) -> None:

    try:
        if is_trainer(run.agent):
            get_trainer(run.agent).check_settings(run.config, one_process=True)
            return
        make_agent(run.agent, model.design_space, seed=0, **dict(run.config))
    except ArchGymError as error:
        raise type(error)(f"{source}: agent {run.agent!r} with {run.setting}: {error}") from None


def _plugin_list(value: Any, source: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) and item for item in items):
        raise ConfigurationError(f"{source}: 'plugins' must be a list of module names or .py files, got {value!r}")
    return items


def _beside(folder: Path, plugin: str) -> str:
    """A plug-in file named in a spec, found from the spec's folder; a module name as it is."""
    return str(folder / plugin) if plugin.endswith(".py") else plugin


def _check_keys(raw: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed keys are {', '.join(allowed)}")


def _as_list(value: Any, key: str, source: str) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    if not items or any(item is None for item in items):
        raise ConfigurationError(f"{source}: '{key}' is empty; give at least one")
    return items


def _positive_int(value: Any, key: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{source}: '{key}' must be a positive integer, got {value!r}")
    return value


def _seeds(value: Any, source: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return tuple(range(_positive_int(value, "seeds", source)))
    items = _as_list(value, "seeds", source)
    if any(isinstance(s, bool) or not isinstance(s, int) for s in items):
        raise ConfigurationError(f"{source}: 'seeds' must be a count or a list of integers, got {value!r}")
    for seed in items:
        check_seed(seed, f"{source}: each of 'seeds'")
    if len(set(items)) != len(items):
        raise ConfigurationError(f"{source}: 'seeds' lists a seed twice: {value!r}")
    return tuple(items)


def _objective(item: Any, source: str) -> ObjectiveSpec:
    if isinstance(item, str):
        return ObjectiveSpec(item)
    if not isinstance(item, dict) or "name" not in item:
        raise ConfigurationError(
            f"{source}: an objective is a name or a mapping with 'name' (and 'targets', 'success_reward'), "
            f"got {item!r}"
        )
    _check_keys(item, _OBJECTIVE_KEYS, f"{source}: objective {item['name']!r}")
    targets = item.get("targets") or {}
    if not isinstance(targets, dict):
        raise ConfigurationError(f"{source}: objective {item['name']!r}: 'targets' must be a mapping")
    success = item.get("success_reward")
    if success is not None and (isinstance(success, bool) or not isinstance(success, (int, float))):
        raise ConfigurationError(f"{source}: objective {item['name']!r}: 'success_reward' must be a number")
    return ObjectiveSpec(str(item["name"]), dict(targets), None if success is None else float(success))


def _agent(item: Any, source: str) -> AgentSpec:

    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict) or "name" not in item:
        raise ConfigurationError(f"{source}: an agent is a name or a mapping with 'name', got {item!r}")
    name = str(item["name"])
    where = f"{source}: agent {name!r}"
    _check_keys(item, _AGENT_KEYS, where)
    # Unknown names fail here, listing the agents.
    defaults: Mapping[str, Any] = get_trainer(name).defaults if is_trainer(name) else agent_class(name).defaults
    settings = dict(item.get("settings") or {})
    grid = dict(item.get("grid") or {})
    distributions = dict(item.get("distributions") or {})
    for key, values in grid.items():
        if not isinstance(values, list):
            raise ConfigurationError(f"{where}: grid values of {key!r} must be a list, got {values!r}")
        if not values:
            raise ConfigurationError(f"{where}: the grid for {key!r} is empty; give at least one value")
    for key, spec in distributions.items():
        _check_distribution(spec, f"{where}: distribution of {key!r}")
    samples = item.get("samples", 0 if not distributions else None)
    if distributions:
        samples = _positive_int(samples, "samples", where) if samples is not None else None
        if samples is None:
            raise ConfigurationError(f"{where}: 'distributions' need 'samples', the number of settings to draw")
    elif samples:
        raise ConfigurationError(f"{where}: 'samples' needs 'distributions' to draw from")
    overlap = sorted((set(settings) & set(grid)) | (set(settings) & set(distributions)) | (set(grid) & set(distributions)))
    if overlap:
        raise ConfigurationError(f"{where}: {', '.join(overlap)} set in more than one of settings, grid, distributions")
    unknown = sorted(k for k in {*settings, *grid, *distributions} if k not in defaults)
    if unknown:
        accepted = ", ".join(sorted(defaults)) or "none"
        raise ConfigurationError(f"{where}: unknown setting(s) {', '.join(unknown)}; accepted settings are {accepted}")
    return AgentSpec(name, settings, grid, distributions, int(samples or 0))


def _check_distribution(spec: Any, where: str) -> None:
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in _DISTRIBUTIONS:
        raise ConfigurationError(
            f"{where} must be one of {', '.join(f'{{{d}: [...]}}' for d in _DISTRIBUTIONS)}, got {spec!r}"
        )
    kind, values = next(iter(spec.items()))
    if not isinstance(values, list) or not values:
        raise ConfigurationError(f"{where}: {kind} needs a non-empty list, got {values!r}")
    if kind == "choice":
        return
    if len(values) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ConfigurationError(f"{where}: {kind} needs [low, high], got {values!r}")
    low, high = values
    if low > high or (kind == "loguniform" and low <= 0) or (kind == "int" and not all(isinstance(v, int) for v in values)):
        raise ConfigurationError(
            f"{where}: {kind} [{low}, {high}] is not a valid range (low <= high; loguniform needs low > 0; "
            "int needs integers)"
        )


def _draw(distributions: Mapping[str, Mapping[str, Any]], rng: np.random.Generator) -> dict[str, Any]:
    drawn: dict[str, Any] = {}
    for key in sorted(distributions):
        kind, values = next(iter(distributions[key].items()))
        if kind == "uniform":
            drawn[key] = float(rng.uniform(values[0], values[1]))
        elif kind == "loguniform":
            drawn[key] = float(math.exp(rng.uniform(math.log(values[0]), math.log(values[1]))))
        elif kind == "int":
            drawn[key] = int(rng.integers(values[0], values[1] + 1))
        else:
            drawn[key] = values[int(rng.integers(len(values)))]
    return drawn


def _stable_seed(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


# -- running -------------------------------------------------------------------------------------


def execute_run(run: RunSpec, out: str | os.PathLike[str]) -> RunResult:
    """Run one search of a sweep into dataset directory ``out``, or find it done.

    A run whose record says it completed with its full budget logged is
    skipped. A run with rows but no completion (it was interrupted) is
    resumed (see :func:`archgym.runner.execute`).
    """
    outcome = execute(run, out)
    return RunResult(outcome.run_id, run.agent, run.setting, str(run.workload), run.objective.name, run.seed,
                     outcome.evaluations, outcome.best_reward, outcome.wall_time_s, outcome.skipped)


def _execute_with_plugins(run: RunSpec, out: str | os.PathLike[str], plugins: Sequence[str]) -> RunResult:
    """:func:`execute_run` in a Ray task, after loading the sweep's plug-ins there."""
    from archgym.plugins import load_plugins

    load_plugins(plugins)
    return execute_run(run, out)


def _start_worker(plugins: Sequence[str]) -> None:
    """Worker initializer: tie the worker to the sweep's process and load the sweep's plug-ins."""
    from archgym.plugins import load_plugins

    _die_with_parent()
    load_plugins(plugins)


def _die_with_parent() -> None:
    """Worker initializer: on Linux, have the kernel kill the worker when the sweep's process dies.

    Otherwise a killed sweep leaves workers finishing their runs, holding
    those runs open while a rerun tries to resume them.
    """
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        # SIGTERM, not SIGKILL: a worker running a simulator then stops it and removes its scratch directory.
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def run_sweep(
    spec: SweepSpec,
    executor: str = "local",
    workers: int = 2,
    address: str | None = None,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Run every run of a sweep not already complete, and return every run's result.

    Args:
        spec: The sweep.
        executor: ``"local"`` (worker processes) or ``"ray"`` (one Ray task per run).
        workers: Worker processes (local), or the CPUs of a Ray instance started here.
        address: Ray cluster address (``"auto"`` or ``"host:port"``); None starts a local instance.
        on_result: Called with each run's result as it finishes (skipped runs first).

    Returns:
        One :class:`RunResult` per run, in :meth:`SweepSpec.runs` order.

    Raises:
        ConfigurationError: an unknown executor, Ray is not installed, or no Ray
            cluster answers at ``address``.
    """
    if executor not in EXECUTORS:
        raise ConfigurationError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigurationError(f"workers must be a positive integer, got {workers!r}")
    runs = spec.runs()
    spec.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, RunResult] = {}

    def finished(result: RunResult) -> None:
        results[result.run_id] = result
        if on_result is not None:
            on_result(result)

    pending = []
    for run in runs:
        if run_complete(spec.out, run.run_id):
            finished(execute_run(run, spec.out))  # verifies the rows and reports the run as skipped
        else:
            pending.append(run)
    if executor == "local":
        _run_local(pending, spec.out, workers, finished, spec.plugins)
    else:
        _run_ray(pending, spec.out, workers, address, finished, spec.plugins)
    return [results[run.run_id] for run in runs]


def _run_local(runs: Sequence[RunSpec], out: Path, workers: int, finished: Callable[[RunResult], None],
               plugins: Sequence[str]) -> None:
    if not runs:
        return
    # Fresh interpreters rather than forks: a forked child inherits the parent's Ray and torch state
    # (threads, sockets), which hangs a run that trains with them.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(runs)), initializer=_start_worker,
                             initargs=(tuple(plugins),), mp_context=context) as pool:
        futures: set[Future[RunResult]] = {pool.submit(execute_run, run, out) for run in runs}
        while futures:
            done, futures = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                finished(future.result())


def _run_ray(runs: Sequence[RunSpec], out: Path, workers: int, address: str | None,
             finished: Callable[[RunResult], None], plugins: Sequence[str]) -> None:
    try:
        import ray
    except ImportError:
        raise ConfigurationError("the ray executor needs Ray: pip install 'archgym[marl]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                   "runtime_env": {"env_vars": {"OMP_NUM_THREADS": "1"}}}
        if address is None:
            options["num_cpus"] = workers
        with quiet_ray():
            try:
                ray.init(address=address, **options)
            except ConnectionError:
                raise ConfigurationError(
                    f"no Ray cluster at {address!r}: start one with `ray start --head` (or set RAY_ADDRESS to one), "
                    "or drop --address"
                ) from None
    try:
        task = ray.remote(num_cpus=1)(_execute_with_plugins)
        waiting = [task.remote(run, str(out.resolve()), tuple(plugins)) for run in runs]
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            for reference in done:
                finished(ray.get(reference))
    finally:
        if started_here:
            ray.shutdown()

