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
    multifidelity:                # optional: screen on a cheap backend, confirm on `backend`
      screen: analytical
      sim_budget: 2m              # simulator time per run (s, m or h); `budget` counts screened designs
      policy: ei                  # or top-k
      policy_options: {k: 1}
      screen_per_round: 32

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

Limits: a spec file is read up to :data:`MAX_SPEC_BYTES`, with a YAML loader
that refuses aliases expanding past :data:`MAX_SPEC_NODES` values; every
field is type-checked, errors naming it as ``agents[1].grid``; and a spec of
more than :data:`MAX_RUNS` runs, counted from the sizes of its lists without
building them, needs ``allow_large=True`` (``archgym sweep --yes``).

Every run writes its rows into the sweep's one dataset directory and records
its spec, seed, hyperparameter setting, status, evaluations and wall time in
``runs/<run_id>.json`` (:func:`archgym.dataset.write_run_metadata`).

:func:`run_sweep` holds ``<out>/_sweep.lock`` locked while it runs, so a
second sweep into the same directory fails at once naming the first one's
process id.

Executors: ``local`` runs the runs in worker processes on this machine;
``ray`` submits each run as a Ray task, to a running cluster
(``address="auto"`` or ``"host:port"``) or to a Ray instance it starts here.
A Ray instance started here is shut down when the sweep ends, on SIGINT and
SIGTERM, and (on Linux) by :mod:`archgym.ray_reaper` when the sweep's
process is killed outright. The spec's plug-ins (its ``plugins`` and those
given to :func:`load_spec`) are loaded before it is validated, and again in
every worker process and Ray task, by absolute path, so the runs find the
same agents, backends and problems.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

try:  # the lock that keeps two sweeps off one directory; POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from archgym.agent import agent_class, check_seed, get_trainer, is_trainer, make_agent
from archgym.errors import ArchGymError, ConfigurationError, PluginError, UnknownNameError
from archgym.multifidelity import MultiFidelitySpec, screen_options
from archgym.ray_logs import quiet_ray
from archgym.ray_reaper import start_reaper, stop_reaper
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
    "batch_size", "out", "plugins", "multifidelity",
)
_AGENT_KEYS = ("name", "settings", "grid", "distributions", "samples")
_OBJECTIVE_KEYS = ("name", "targets", "success_reward")
_DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
EXECUTORS = ("local", "ray")

SWEEP_LOCK = "_sweep.lock"
"""File in a sweep's output directory that the sweep running into it holds locked."""
MAX_SPEC_BYTES = 1_000_000
"""Largest sweep spec file :func:`load_spec` reads."""
MAX_SPEC_NODES = 100_000
"""Most values (mappings, lists and scalars, each alias counted as what it stands for) a spec file may hold."""
MAX_RUNS = 10_000
"""Most runs a spec may expand to unless the caller confirms (``allow_large=True``, ``archgym sweep --yes``)."""
_CHECKED_SETTINGS = 1_000
"""Settings of one agent entry above which validation checks each value once rather than every combination."""


@dataclass(frozen=True)
class AgentSpec:
    """One agent entry of a sweep: fixed settings plus a grid and/or sampled distributions."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    distributions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    samples: int = 0

    @property
    def setting_count(self) -> int:
        """How many settings :meth:`configs` gives, counted without building them."""
        return math.prod(len(values) for values in self.grid.values()) * (self.samples if self.distributions else 1)

    def configs(self, seed: int) -> Iterator[dict[str, Any]]:
        """Every hyperparameter setting of this entry, in a fixed order, one at a time.

        Args:
            seed: Seeds the draws from the distributions; every grid point gets the same draws.
        """
        names = sorted(self.grid)
        for values in itertools.product(*(self.grid[n] for n in names)):
            point = dict(zip(names, values))
            if not self.distributions:
                yield {**self.settings, **point}
                continue
            rng = np.random.default_rng(seed)  # the same draws for each point, without keeping them all
            for _ in range(self.samples):
                yield {**self.settings, **point, **_draw(self.distributions, rng)}


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
    seeds: Sequence[int]
    """The seeds, a ``range`` when the spec gives a count."""
    budget: int
    batch_size: int
    out: Path
    plugins: tuple[str, ...] = ()
    """Modules and ``.py`` files (absolute paths) that every process running the sweep loads first."""
    multifidelity: MultiFidelitySpec | None = None
    """How every run screens and confirms (:mod:`archgym.multifidelity`); None for single-fidelity runs."""

    @property
    def run_count(self) -> int:
        """How many runs :meth:`runs` gives, counted without building them."""
        settings = sum(agent.setting_count for agent in self.agents)
        return len(self.envs) * len(self.workloads) * len(self.objectives) * settings * len(self.seeds)

    def iter_runs(self) -> Iterator[RunSpec]:
        """Every run, in a fixed order (env, workload, objective, agent entry, setting, seed), one at a time."""
        for env, workload, objective in itertools.product(self.envs, self.workloads, self.objectives):
            for index, agent in enumerate(self.agents):
                for config in agent.configs(self.draw_seed(index)):
                    for seed in self.seeds:
                        yield RunSpec(
                            problem=env, backend=self.backend, workload=workload, objective=objective,
                            agent=agent.name, budget=self.budget, seed=seed, config=config,
                            backend_options=dict(self.backend_options), batch_size=self.batch_size,
                            sweep=self.name, plugins=self.plugins, multifidelity=self.multifidelity,
                        )

    def runs(self) -> list[RunSpec]:
        """Every run, in :meth:`iter_runs` order."""
        return list(self.iter_runs())

    def draw_seed(self, index: int) -> int:
        """The seed of agent entry ``index``'s draws from its distributions (fixed by the sweep's name)."""
        return _stable_seed(self.name, self.agents[index].name, index)


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
    allow_large: bool = False,
) -> SweepSpec:
    """Read and validate a YAML sweep spec.

    Args:
        path: The spec file.
        out: Output directory overriding the spec's ``out``.
        plugins: Plug-ins (module names or ``.py`` files) to load besides the spec's own ``plugins``,
            whose files are relative to the spec's folder.
        backend_options: Backend options overriding the spec's (``--sim-timeout`` gives ``timeout_s``).
        allow_large_budget: Accept a ``budget`` above :data:`archgym.runner.MAX_BUDGET` evaluations.
        allow_large: Accept a spec that expands to more than :data:`MAX_RUNS` runs.

    Raises:
        ConfigurationError: the file is missing, larger than :data:`MAX_SPEC_BYTES`, not YAML, or expands
            through aliases past :data:`MAX_SPEC_NODES` values; the spec is invalid (the message names the
            field, as ``agents[1].grid``, and what it takes); or it expands to more than :data:`MAX_RUNS`
            runs without ``allow_large``.
        UnknownNameError: an unknown problem, backend, agent or objective.
        PluginError: a plug-in does not exist or fails to import.
    """
    path = Path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigurationError(f"sweep spec {path} must be a mapping of keys ({', '.join(_TOP_LEVEL_KEYS)})")
    raw.setdefault("name", path.stem)
    if out is not None:
        raw["out"] = str(out)
    if "plugins" in raw:
        raw["plugins"] = [_beside(path.parent, item) for item in _plugin_list(raw["plugins"], str(path))]
    if backend_options:
        given = raw.get("backend_options") or {}
        _mapping(given, "backend_options", "option to value", str(path))
        raw["backend_options"] = {**given, **backend_options}
    return parse_spec(raw, source=str(path), plugins=plugins, allow_large_budget=allow_large_budget,
                      allow_large=allow_large)


def _read_yaml(path: Path) -> Any:
    """Parse a spec file within :data:`MAX_SPEC_BYTES` and :data:`MAX_SPEC_NODES`.

    Raises:
        ConfigurationError: the file is missing, too large, not YAML, or expands (through aliases) to too many
            values.
    """
    import yaml

    if not path.is_file():
        raise ConfigurationError(f"sweep spec {path} does not exist")
    with path.open("rb") as handle:
        data = handle.read(MAX_SPEC_BYTES + 1)  # a file growing while read is still bounded
    if len(data) > MAX_SPEC_BYTES:
        raise ConfigurationError(f"sweep spec {path} is larger than {MAX_SPEC_BYTES:,} bytes; a spec lists "
                                 "values to combine, so it stays small")

    class BoundedLoader(yaml.SafeLoader):
        """A safe loader that refuses documents whose aliases expand to more than MAX_SPEC_NODES values."""

        def compose_document(self) -> Any:
            document = super().compose_document()
            _check_expansion(document, str(path))
            return document

    try:
        return yaml.load(data.decode("utf-8"), Loader=BoundedLoader)  # a SafeLoader: plain values only
    except UnicodeDecodeError as error:
        raise ConfigurationError(f"sweep spec {path} is not UTF-8 text: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigurationError(f"sweep spec {path} is not valid YAML: {error}") from None
    except RecursionError:
        raise ConfigurationError(f"sweep spec {path} nests values too deeply to be a sweep spec") from None


def _check_expansion(document: Any, source: str) -> None:
    """Count the values ``document`` holds with every alias expanded, stopping past :data:`MAX_SPEC_NODES`.

    An alias shares its anchor's node, so a small file can stand for an exponential number of values
    ("billion laughs"), which expanding a sweep would then build.
    """
    from yaml import MappingNode, SequenceNode

    count = 0
    stack = [document]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_SPEC_NODES:
            raise ConfigurationError(f"sweep spec {source} expands to more than {MAX_SPEC_NODES:,} values "
                                     "(through YAML aliases); write the values out or use fewer aliases")
        if isinstance(node, MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)


def parse_spec(
    raw: Mapping[str, Any], source: str = "sweep spec", plugins: Sequence[str | os.PathLike[str]] = (),
    allow_large_budget: bool = False, allow_large: bool = False,
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
    name = _text(raw.get("name") or "sweep", "name", "a sweep name", source)
    if "env" in raw and "envs" in raw:
        raise ConfigurationError(f"{source}: give 'env' or 'envs', not both")
    envs_key = "envs" if "envs" in raw else "env"
    envs = tuple(_text(e, f"{envs_key}[{i}]", "a problem name", source)
                 for i, e in enumerate(_as_list(raw.get(envs_key, "dram"), envs_key, source)))
    backend = _text(raw.get("backend", "analytical"), "backend", "a backend name", source)
    backend_options = _mapping(raw.get("backend_options") or {}, "backend_options", "option to value", source)
    workloads = tuple(_text(w, f"workloads[{i}]", "a workload name", source)
                      for i, w in enumerate(_as_list(raw["workloads"], "workloads", source)))
    objectives = tuple(_objective(item, f"objectives[{i}]", source)
                       for i, item in enumerate(_as_list(raw["objectives"], "objectives", source)))
    agents = tuple(_agent(item, f"agents[{i}]", source)
                   for i, item in enumerate(_as_list(raw["agents"], "agents", source)))
    seeds = _seeds(raw.get("seeds", 1), source)
    budget = check_budget(_positive_int(raw["budget"], "budget", source), allow_large=allow_large_budget,
                          what=f"{source}: 'budget'", override="--allow-large-budget")
    batch_size = _positive_int(raw.get("batch_size", 1), "batch_size", source)
    out = Path(_text(raw.get("out") or str(Path("runs") / name), "out", "a directory path", source))
    fidelity = (MultiFidelitySpec.from_dict(raw["multifidelity"], f"{source}: multifidelity")
                if raw.get("multifidelity") is not None else None)
    spec = SweepSpec(name, envs, backend, backend_options, workloads, objectives, agents, seeds, budget,
                     batch_size, out, tuple(dict.fromkeys(loaded)), fidelity)
    trainers = [agent.name for agent in agents if is_trainer(agent.name)]
    if fidelity is not None and trainers:
        raise ConfigurationError(f"{source}: a multi-fidelity sweep needs ask/tell agents; {', '.join(trainers)} "
                                 "train on an environment instead")
    if spec.run_count > MAX_RUNS and not allow_large:
        raise ConfigurationError(
            f"{source}: the sweep expands to {spec.run_count:,} runs, more than {MAX_RUNS:,}; confirm with --yes "
            "(allow_large=True), or reduce its seeds, grids or samples"
        )

    known_envs = sorted({b.problem for b in list_backends()})
    for env in envs:
        if env not in known_envs:
            raise UnknownNameError(f"{source}: unknown env {env!r}; available envs are {', '.join(known_envs)}")
        _check_backend_options(backend, env, backend_options, source)
        if fidelity is not None:
            try:
                make_backend(fidelity.screen, problem=env,
                             **screen_options(env, fidelity.screen, backend_options)).close()
            except ArchGymError as error:
                raise type(error)(f"{source}: multifidelity.screen: {error}") from None
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
            checked: set[tuple[str, str]] = set()
            for index, agent in enumerate(agents):
                for config in _settings_to_check(agent, spec.draw_seed(index)):
                    key = (agent.name, json.dumps(config, sort_keys=True, default=str))
                    if key not in checked:
                        checked.add(key)
                        _check_agent(agent.name, config, model, f"{source}: agents[{index}]")
        finally:
            model.close()
    return spec


def _settings_to_check(agent: AgentSpec, seed: int) -> Iterator[dict[str, Any]]:
    """Every setting of an entry with at most :data:`_CHECKED_SETTINGS`; else each grid value and draw once.

    An agent checks its settings one by one, so a setting that varies one grid
    value (or one draw) from the first finds every value it would reject
    without building all the combinations of a large grid.
    """
    if agent.setting_count <= _CHECKED_SETTINGS:
        yield from agent.configs(seed)
        return
    first = {key: values[0] for key, values in agent.grid.items()}
    for key, values in agent.grid.items():
        for value in values:
            yield {**agent.settings, **first, key: value}
    if agent.distributions:
        rng = np.random.default_rng(seed)
        for _ in range(min(agent.samples, _CHECKED_SETTINGS)):
            yield {**agent.settings, **first, **_draw(agent.distributions, rng)}


def _check_agent(agent: str, config: Mapping[str, Any], model: Any, where: str) -> None:
    """Build the agent with ``config`` (or check a trainer's settings) so a bad value fails before any run."""
    try:
        if is_trainer(agent):
            get_trainer(agent).check_settings(dict(config), one_process=True)
            return
        make_agent(agent, model.design_space, seed=0, **dict(config))
    except ArchGymError as error:
        setting = ",".join(f"{key}={value}" for key, value in sorted(config.items())) or "defaults"
        raise type(error)(f"{where}: agent {agent!r} with {setting}: {error}") from None


def _check_backend_options(backend: str, env: str, options: Mapping[str, Any], source: str) -> None:
    """Refuse options the backend's factory does not take, naming the ones it does."""
    from archgym.cost_model import backend_info
    from archgym.cost_model import backend_options as accepted_options

    info = backend_info(backend, problem=env)
    accepted = accepted_options(info)
    unknown = sorted(key for key in options if accepted is not None and key not in accepted)
    if unknown:
        raise ConfigurationError(
            f"{source}: backend_options: backend {info.name} has no option{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))}; "
            f"its options are {', '.join(accepted) if accepted else '(none)'}"
        )


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


def _seeds(value: Any, source: str) -> Sequence[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return range(_positive_int(value, "seeds", source))  # a count is never built into a list
    items = _as_list(value, "seeds", source)
    if any(isinstance(s, bool) or not isinstance(s, int) for s in items):
        raise ConfigurationError(f"{source}: 'seeds' must be a count or a list of integers, got {value!r}")
    for seed in items:
        check_seed(seed, f"{source}: each of 'seeds'")
    if len(set(items)) != len(items):
        raise ConfigurationError(f"{source}: 'seeds' lists a seed twice: {value!r}")
    return tuple(items)


def _objective(item: Any, field: str, source: str) -> ObjectiveSpec:
    if isinstance(item, str):
        return ObjectiveSpec(item)
    if not isinstance(item, dict) or "name" not in item:
        raise ConfigurationError(
            f"{source}: {field} must be an objective name or a mapping with 'name' (and 'targets', "
            f"'success_reward'), got {_describe(item)}"
        )
    name = _text(item["name"], f"{field}.name", "an objective name", source)
    _check_keys(item, _OBJECTIVE_KEYS, f"{source}: {field} ({name})")
    targets = _mapping(item.get("targets") or {}, f"{field}.targets", "target name to number", source)
    for key, value in targets.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigurationError(f"{source}: {field}.targets.{key} must be a number, got {_describe(value)}")
    success = item.get("success_reward")
    if success is not None and (isinstance(success, bool) or not isinstance(success, (int, float))):
        raise ConfigurationError(f"{source}: {field}.success_reward must be a number, got {_describe(success)}")
    return ObjectiveSpec(name, targets, None if success is None else float(success))


def _agent(item: Any, field: str, source: str) -> AgentSpec:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict) or "name" not in item:
        raise ConfigurationError(
            f"{source}: {field} must be an agent name or a mapping with 'name', got {_describe(item)}"
        )
    name = _text(item["name"], f"{field}.name", "an agent name", source)
    where = f"{source}: {field} ({name})"
    _check_keys(item, _AGENT_KEYS, where)
    # Unknown names fail here, listing the agents.
    defaults: Mapping[str, Any] = get_trainer(name).defaults if is_trainer(name) else agent_class(name).defaults
    settings = _mapping(item.get("settings") or {}, f"{field}.settings", "setting to value", source)
    grid = _mapping(item.get("grid") or {}, f"{field}.grid", "setting to a list of values", source)
    distributions = _mapping(item.get("distributions") or {}, f"{field}.distributions",
                             "setting to a distribution", source)
    for key, values in grid.items():
        if not isinstance(values, list):
            raise ConfigurationError(f"{source}: {field}.grid.{key} must be a list of values, got {_describe(values)}")
        if not values:
            raise ConfigurationError(f"{where}: the grid for {key!r} is empty; give at least one value")
    for key, spec in distributions.items():
        _check_distribution(spec, f"{source}: {field}.distributions.{key}")
    samples = item.get("samples", 0 if not distributions else None)
    if distributions:
        samples = _positive_int(samples, f"{field}.samples", source) if samples is not None else None
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


def _text(value: Any, field: str, what: str, source: str) -> str:
    """``value`` if it is a non-empty string; else an error naming ``field`` and ``what`` it takes."""
    if isinstance(value, str) and value:
        return value
    raise ConfigurationError(f"{source}: {field} must be {what} (a string), got {_describe(value)}")


def _mapping(value: Any, field: str, what: str, source: str) -> dict[str, Any]:
    """``value`` as a dict if it maps strings to values; else an error naming ``field`` and ``what`` it maps."""
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return dict(value)
    raise ConfigurationError(f"{source}: {field} must be a mapping of {what}, got {_describe(value)}")


_KINDS = {dict: "mapping", list: "list", str: "string", int: "integer", float: "number", bool: "boolean",
          type(None): "null"}


def _describe(value: Any) -> str:
    """A short ``repr`` of a spec value with its kind in YAML terms, e.g. ``[1, 2] (a list)``."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} (a {_KINDS.get(type(value), type(value).__name__)})"


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
    import signal

    from archgym.external import die_with_parent

    # SIGTERM, not SIGKILL: a worker running a simulator then stops it and removes its scratch directory.
    die_with_parent(os.getppid(), signal.SIGTERM)
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
        ConfigurationError: an unknown executor, Ray is not installed, no Ray
            cluster answers at ``address``, or another sweep is writing to ``spec.out``.
    """
    if executor not in EXECUTORS:
        raise ConfigurationError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigurationError(f"workers must be a positive integer, got {workers!r}")
    spec.out.mkdir(parents=True, exist_ok=True)
    with _exclusive(spec.out):
        return _run_sweep(spec, executor, workers, address, on_result)


def _run_sweep(spec: SweepSpec, executor: str, workers: int, address: str | None,
               on_result: Callable[[RunResult], None] | None) -> list[RunResult]:
    runs = spec.runs()
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


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out/_sweep.lock`` for the block, or fail at once naming its holder.

    Two sweeps writing one directory would both resume (and so rewrite) each
    other's unfinished runs. The lock belongs to this process's open file,
    so the operating system releases it when the process ends, however it
    ends; the file stays, holding the last holder's process id.
    """
    path = out / SWEEP_LOCK
    handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+")
    with handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = handle.read().strip() or "unknown"
                raise ConfigurationError(
                    f"another sweep (pid {holder}) is writing to {out}; wait for it or choose another --out"
                ) from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


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
    # A local instance started here is stopped by ray.shutdown() below on a normal exit, SIGINT and SIGTERM
    # (Ray's handler exits through it), and by the reaper when this process is killed outright.
    reaper = start_reaper() if started_here and address is None else None
    if started_here:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                   "runtime_env": {"env_vars": {"OMP_NUM_THREADS": "1"}}}
        if address is None:
            options["num_cpus"] = workers
        with quiet_ray():
            try:
                ray.init(address=address, **options)
            except ConnectionError:
                stop_reaper(reaper)
                raise ConfigurationError(
                    f"no Ray cluster at {address!r}: start one with `ray start --head` (or set RAY_ADDRESS to one), "
                    "or drop --address"
                ) from None
            except BaseException:
                stop_reaper(reaper)
                raise
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
        stop_reaper(reaper)

