"""Runs: one search of a problem by an agent, executed, logged and resumed the same way everywhere.

A :class:`RunSpec` says everything needed to run a search (problem, backend
and its options, workload, objective, agent or trainer and its settings,
seed, budget, batch size). :func:`execute` runs it into a dataset directory:
every evaluation becomes a row, and ``_runs/<run_id>.json`` holds a typed
:class:`RunRecord` (the spec, status, evaluations, wall time). The rows carry
the backend options and the resolved objective as columns, and every part
file carries the record's description of what was run (everything but the
status, evaluations and wall time) as Parquet metadata (see :mod:`archgym.dataset`). ``archgym
run``, sweeps, ``archgym marl train`` and scripts all go through it, so a run
started by one can be resumed by any: an interrupted ask/tell run continues
from its logged rows (the agent is rebuilt from them, from the state it saved
in ``_agent_state/<run_id>.json`` if it keeps one, else by replaying its
trajectory), a trainer that cannot replay starts over, and a complete run is
not run again. The plug-ins a run was started with are part of its record and
are loaded again when it resumes.

Run records written before this module (version 1: two schemas, one from
``archgym run`` and one from sweeps) are read by :meth:`RunRecord.from_json`,
and records in the earlier ``runs/`` folder are found as well as ``_runs/`` ones.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from archgym.agent import check_seed, get_trainer, is_trainer, make_agent
from archgym.cost_model import CostModel, make_backend
from archgym.errors import ConfigurationError, DatasetError, PluginError
from archgym.multifidelity import MultiFidelitySpec
from archgym.objective import check_reported, make_objective
from archgym.problem import get_problem

__all__ = [
    "AGENT_STATE_DIR",
    "EXECUTION_OPTIONS",
    "MAX_BUDGET",
    "RUN_RECORD_VERSION",
    "ObjectiveSpec",
    "RunOutcome",
    "RunRecord",
    "RunSpec",
    "check_budget",
    "execute",
    "latest_record",
    "load_run_plugins",
    "read_records",
    "run_complete",
]

logger = logging.getLogger(__name__)

RUN_RECORD_VERSION = 2
"""Version of the run record :func:`execute` writes; version 1 records are the two earlier schemas."""

AGENT_STATE_DIR = "_agent_state"
"""Folder of a dataset directory holding each run's agent checkpoint (``<run_id>.json``), which Parquet readers skip."""

EXECUTION_OPTIONS = frozenset({"timeout_s", "workers", "keep_dirs"})
"""Backend options that change how a simulator is run but not what it reports: not part of a run's id."""

MAX_BUDGET = 10_000_000
"""The most evaluations a run takes unless the caller allows more (:func:`check_budget`): a search keeps every
trial in memory, so a budget typed with a few digits too many would run until memory runs out."""

STATUS_RUNNING = "running"
STATUS_COMPLETE = "complete"
# Record fields that change as the run goes, so part files (written during the run) do not carry them.
_PROGRESS_FIELDS = ("status", "evaluations", "wall_time_s")


@dataclass(frozen=True)
class ObjectiveSpec:
    """The objective of a run.

    Args:
        name: A preset or spec string (see :func:`archgym.objective.make_objective`).
        targets: The preset's targets, e.g. ``{"target_latency_ns": 60000}``.
        success_reward: A run succeeds once its best reward reaches this (reports use it); None if unset.
    """

    name: str
    targets: Mapping[str, float] = field(default_factory=dict)
    success_reward: float | None = None


@dataclass(frozen=True)
class RunSpec:
    """Everything needed to run (or find again) one search.

    Args:
        problem: The design problem (``"dram"``).
        backend: Backend name, short (``"analytical"``) or full (``"dram/analytical"``).
        workload: Workload name, file or spec string; None for the backend's default.
        objective: The objective.
        agent: An ask/tell agent (:func:`archgym.agent.list_agents`) or a trainer
            (:func:`archgym.agent.list_trainers`).
        budget: Evaluations to spend.
        seed: Random seed; the same spec and seed give the same run.
        config: The agent's (or trainer's) settings.
        backend_options: Keyword arguments of the backend (``{"memspec": "ddr4-2400"}``).
        batch_size: Designs asked for and evaluated at once.
        sweep: Name of the sweep the run belongs to ("" for a run of its own).
        plugins: Plug-ins that register the run's problem, backend or agent (module names, or
            absolute paths of ``.py`` files); :func:`execute` loads them, so a run resumes without
            naming them again. Not part of :attr:`run_id`.
        multifidelity: Screen on a cheap backend and confirm on ``backend`` within a simulator-time
            budget (:class:`archgym.multifidelity.MultiFidelitySpec`, or its mapping); ``budget`` is then
            the most designs screened. None for a run on ``backend`` alone.
    """

    problem: str
    backend: str
    workload: str | None
    objective: ObjectiveSpec
    agent: str
    budget: int
    seed: int = 0
    config: Mapping[str, Any] = field(default_factory=dict)
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int = 1
    sweep: str = ""
    plugins: tuple[str, ...] = ()
    multifidelity: MultiFidelitySpec | None = None

    def __post_init__(self) -> None:
        if isinstance(self.budget, bool) or not isinstance(self.budget, (int, np.integer)) or self.budget < 1:
            raise ConfigurationError(f"a run's budget must be a positive integer, got {self.budget!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, (int, np.integer)) \
                or self.batch_size < 1:
            raise ConfigurationError(f"a run's batch_size must be a positive integer, got {self.batch_size!r}")
        check_seed(self.seed, "a run's seed")
        if isinstance(self.objective, str):
            object.__setattr__(self, "objective", ObjectiveSpec(self.objective))
        if isinstance(self.plugins, str) or not all(isinstance(p, (str, os.PathLike)) for p in self.plugins):
            raise ConfigurationError(f"a run's plugins must be a list of module names or .py files, got "
                                     f"{self.plugins!r}")
        object.__setattr__(self, "plugins", tuple(os.fspath(p) for p in self.plugins))
        if self.multifidelity is not None and not isinstance(self.multifidelity, MultiFidelitySpec):
            object.__setattr__(self, "multifidelity", MultiFidelitySpec.from_dict(self.multifidelity))

    @property
    def env(self) -> str:
        """Deprecated name of :attr:`problem`."""
        return self.problem

    @property
    def setting(self) -> str:
        """Label of the settings, e.g. ``"mutation_prob=0.1,population=16"`` (``"defaults"`` if none)."""
        if not self.config:
            return "defaults"
        return ",".join(f"{key}={_label(value)}" for key, value in sorted(self.config.items()))

    @property
    def run_id(self) -> str:
        """Derived from the run's content, so that running the same spec again finds the run again."""
        digest = hashlib.sha256(json.dumps(self._identity(), sort_keys=True, default=str).encode()).hexdigest()[:12]
        return f"{_safe(self.sweep)}-{_safe(self.agent)}-{digest}" if self.sweep else \
            f"{_safe(self.agent)}-{digest}"

    def _identity(self) -> dict[str, Any]:
        # The keys sweeps hashed before runs had a module of their own, so earlier sweeps resume; options
        # that change how a simulator is run but not its results are left out, so changing them resumes too.
        options = {k: v for k, v in self.backend_options.items() if k not in EXECUTION_OPTIONS}
        identity = {
            "sweep": self.sweep, "env": self.problem, "backend": self.backend,
            "backend_options": options, "workload": self.workload,
            "objective": asdict(self.objective), "agent": self.agent, "config": dict(self.config),
            "seed": self.seed, "budget": self.budget, "batch_size": self.batch_size,
        }
        if self.multifidelity is not None:  # only then, so that every other run keeps its id
            identity["multifidelity"] = self.multifidelity.to_dict()
        return identity

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form; :meth:`from_dict` reads it back."""
        return json.loads(json.dumps({**self._identity(), "backend_options": dict(self.backend_options),
                                      "problem": self.problem, "plugins": list(self.plugins)}, default=str))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """Read :meth:`to_dict`'s form (also as sweeps wrote it before, with ``env`` for the problem).

        Raises:
            DatasetError: a required field is missing or malformed.
        """
        try:
            objective = data["objective"]
            objective = ObjectiveSpec(objective) if isinstance(objective, str) else ObjectiveSpec(
                str(objective["name"]), dict(objective.get("targets") or {}), objective.get("success_reward"))
            return cls(
                problem=str(data.get("problem") or data["env"]), backend=str(data["backend"]),
                workload=data.get("workload"), objective=objective, agent=str(data["agent"]),
                budget=int(data["budget"]), seed=int(data.get("seed") or 0), config=dict(data.get("config") or {}),
                # Never trust from a record: whoever resumes it decides (--trust), see archgym.proxy.
                backend_options={k: v for k, v in dict(data.get("backend_options") or {}).items() if k != "trust"},
                batch_size=int(data.get("batch_size") or 1), sweep=str(data.get("sweep") or ""),
                plugins=tuple(str(plugin) for plugin in data.get("plugins") or ()),
                multifidelity=data.get("multifidelity"),
            )
        except (KeyError, TypeError, ValueError, ConfigurationError) as error:
            raise DatasetError(f"a run spec is malformed ({error!r}): {dict(data)!r}") from None


@dataclass(frozen=True)
class RunRecord:
    """What ``_runs/<run_id>.json`` says of a run.

    Args:
        run_id: The run's id.
        spec: What was run.
        status: ``"running"`` (started, or interrupted) or ``"complete"``; "" if unknown (version 1 records).
        evaluations: Evaluations logged when the record was written.
        wall_time_s: Seconds the run took, once complete.
        written_at: ISO time the record was written.
        version: Record version (1 for records written before typed records).
        extra: Other fields (a trainer's iterations and history, ...).
    """

    run_id: str
    spec: RunSpec
    status: str = ""
    evaluations: int = 0
    wall_time_s: float | None = None
    written_at: str = ""
    version: int = RUN_RECORD_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)
    confirms: str = ""
    """The run whose best designs this run re-evaluated (``archgym run --confirm-top``), else ""."""

    @property
    def complete(self) -> bool:
        """Whether the run finished."""
        return self.status == STATUS_COMPLETE

    def fields(self) -> dict[str, Any]:
        """The record's fields besides the run context (see :func:`archgym.dataset.write_run_metadata`).

        The backend options are a context field (:attr:`archgym.dataset.RunContext.backend_options`).
        """
        spec = self.spec
        return {
            **dict(self.extra),
            "record_version": RUN_RECORD_VERSION,
            "spec": spec.to_dict(),
            "sweep": spec.sweep,
            "setting": spec.setting,
            "budget": spec.budget,
            "batch_size": spec.batch_size,
            "targets": dict(spec.objective.targets),
            "success_reward": spec.objective.success_reward,
            "status": self.status,
            "evaluations": self.evaluations,
            "wall_time_s": self.wall_time_s,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> RunRecord:
        """Read a record as :func:`archgym.dataset.read_run_metadata` returns it, of any version.

        Raises:
            DatasetError: the record lacks what is needed to know what was run.
        """
        version = int(record.get("record_version") or 1)
        extra = {k: v for k, v in record.items() if k in ("iterations", "history")}
        if isinstance(record.get("spec"), Mapping):
            spec = RunSpec.from_dict(record["spec"])
        else:
            spec = _legacy_cli_spec(record)
        wall = record.get("wall_time_s")
        return cls(
            run_id=str(record.get("run_id")), spec=spec, status=str(record.get("status") or ""),
            evaluations=int(record.get("evaluations") or 0),
            wall_time_s=float(wall) if isinstance(wall, (int, float)) and not isinstance(wall, bool) else None,
            written_at=str(record.get("written_at") or ""), version=version, extra=extra,
            confirms=str(record.get("confirms") or ""),
        )


def _legacy_cli_spec(record: Mapping[str, Any]) -> RunSpec:
    """The spec of a version 1 record written by ``archgym run`` (flat fields, memspec and proxy options)."""
    try:
        options = dict(record.get("backend_options") or {})
        if record.get("memspec"):
            options["memspec"] = record["memspec"]
        if record.get("proxy"):
            options["proxy"] = record["proxy"]
        return RunSpec(
            problem=str(record["env"]), backend=str(record["backend"]), workload=record.get("workload"),
            objective=ObjectiveSpec(str(record["objective"]), dict(record.get("targets") or {})),
            agent=str(record["agent"]), budget=int(record.get("budget") or 200), seed=int(record.get("seed") or 0),
            config=dict(record.get("agent_config") or {}), backend_options=options,
            batch_size=int(record.get("batch_size") or 1),
        )
    except (KeyError, TypeError, ValueError, ConfigurationError) as error:
        raise DatasetError(f"run record {record.get('run_id')!r} is malformed ({error!r})") from None


@dataclass(frozen=True)
class RunOutcome:
    """What :func:`execute` did.

    Args:
        run_id: The run's id.
        spec: What was run.
        evaluations: Rows the run has in the dataset.
        best_reward: The best reward among them (NaN if none).
        best: The best trial of an ask/tell run (None for trainers and skipped runs).
        wall_time_s: Seconds this call spent.
        skipped: The run was already complete, so nothing ran.
        resumed_from: Rows already logged when this call started (0 for a fresh run).
        details: The search's or trainer's own result (None if skipped).
    """

    run_id: str
    spec: RunSpec
    evaluations: int
    best_reward: float
    best: Any = None
    wall_time_s: float = 0.0
    skipped: bool = False
    resumed_from: int = 0
    details: Any = None


def check_budget(budget: int, *, allow_large: bool = False, what: str = "budget",
                 override: str = "allow_large_budget=True") -> int:
    """``budget``, if it is at most :data:`MAX_BUDGET` evaluations or ``allow_large`` is given.

    Args:
        budget: Evaluations a run is to spend.
        allow_large: Accept a budget above :data:`MAX_BUDGET`.
        what: How the message names the budget, e.g. ``"--budget"``.
        override: How the message names the override, e.g. ``"--allow-large-budget"``.

    Raises:
        ConfigurationError: ``budget`` is above :data:`MAX_BUDGET` and ``allow_large`` is False.
    """
    if budget > MAX_BUDGET and not allow_large:
        raise ConfigurationError(
            f"{what} {budget} is more than {MAX_BUDGET:,} evaluations, and a run keeps every evaluation in "
            f"memory; give {override} to run it anyway"
        )
    return budget


def read_records(out: str | os.PathLike[str]) -> list[RunRecord]:
    """Every run record of a dataset directory, oldest first (by the time it was written).

    Raises:
        DatasetError: the directory does not exist or a record is unreadable.
    """
    from archgym.dataset import read_run_metadata

    records = [RunRecord.from_json(r) for r in read_run_metadata(out)]
    return sorted(records, key=lambda r: (r.written_at, r.run_id))


def latest_record(out: str | os.PathLike[str], *, unfinished_first: bool = True) -> RunRecord:
    """The run to resume in ``out``: the newest unfinished search, else the newest search.

    Runs that only re-evaluated another run's best designs (``confirms``) are not searches. A
    record that cannot be read (a field out of range, say) is left out with a logged warning, so
    one broken run never keeps the others from resuming.

    Raises:
        DatasetError: ``out`` has no runs (with a readable record).
    """
    from archgym.dataset import read_run_metadata

    readable = []
    for data in read_run_metadata(out):
        try:
            readable.append(RunRecord.from_json(data))
        except DatasetError as error:
            logger.warning("run %s cannot be resumed, so it is left out: %s", data.get("run_id"), error)
    records = [r for r in sorted(readable, key=lambda r: (r.written_at, r.run_id)) if not r.confirms]
    if not records:
        raise DatasetError(f"no run to resume in {out}")
    unfinished = [r for r in records if not r.complete]
    return (unfinished or records)[-1] if unfinished_first else records[-1]


def run_complete(out: str | os.PathLike[str], run_id: str) -> bool:
    """Whether the record of ``run_id`` in ``out`` says the run finished."""
    record = _record(Path(out), run_id)
    return record is not None and record.complete


def execute(
    spec: RunSpec,
    out: str | os.PathLike[str],
    *,
    resume: bool = True,
    run_id: str | None = None,
    callback: Callable[..., None] | None = None,
    model: CostModel | None = None,
    trainer_options: Mapping[str, Any] | None = None,
) -> RunOutcome:
    """Run ``spec`` into the dataset directory ``out``.

    Args:
        spec: The run.
        out: Dataset directory (created if needed).
        resume: Continue the run from its logged rows if it has some, and skip it if it is
            complete; False refuses to touch a run that already has rows.
        run_id: The run's id; :attr:`RunSpec.run_id` (derived from the content) if None.
        callback: Called with the search's progress after every round (ask/tell agents) or with
            ``(iteration, iterations, mean reward)`` after every training iteration (trainers).
        model: The cost model the spec names, already built (the caller keeps and closes it); built
            here from the spec and closed at the end if None. Ask/tell agents only.
        trainer_options: More keyword arguments of the trainer's ``train`` (``checkpoint_dir``). Trainers only.

    Returns:
        A :class:`RunOutcome`.

    Raises:
        ConfigurationError: a bad spec (unknown problem, backend, agent, setting, objective).
        DatasetError: ``resume`` is False and the run already has rows, or the dataset is corrupt.
    """
    from archgym.dataset import load_run_rows

    out = Path(out)
    run_id = run_id or spec.run_id
    load_run_plugins(spec, run_id, load_files=True)  # the caller wrote the spec
    problem = get_problem(spec.problem)
    if not problem.is_design_problem:
        raise ConfigurationError(f"problem {problem.name!r} is not searched with agents; see `archgym {problem.name}`")
    rows = load_run_rows(out, run_id)
    if len(rows) and not resume:
        raise DatasetError(f"run {run_id} already has {len(rows)} rows in {out}; resume it or choose a new run id")
    if spec.multifidelity is not None:
        if run_complete(out, run_id):
            return RunOutcome(run_id, spec, len(rows), _best_reward(rows[rows["fidelity"] == "confirm"]),
                              skipped=True)
        if len(rows):
            raise DatasetError(f"run {run_id} in {out} is a multi-fidelity run interrupted after {len(rows)} rows, "
                               "and multi-fidelity runs cannot be resumed; start it again in a new directory or "
                               "with a new run id")
        if is_trainer(spec.agent) or model is not None:
            raise ConfigurationError(f"a multi-fidelity run needs an ask/tell agent and builds its own backends; "
                                     f"{spec.agent!r} is a trainer" if is_trainer(spec.agent) else
                                     "a multi-fidelity run builds its own backends; do not pass model=")
        return _execute_multifidelity(spec, out, run_id, callback)
    if len(rows) >= spec.budget and run_complete(out, run_id):
        return RunOutcome(run_id, spec, len(rows), _best_reward(rows), skipped=True)
    if is_trainer(spec.agent):
        if model is not None:
            raise ConfigurationError(f"trainer {spec.agent!r} builds its own cost models; do not pass model=")
        return _execute_trainer(spec, out, run_id, rows, callback, trainer_options or {})
    return _execute_search(spec, out, run_id, rows, callback, model)


def load_run_plugins(spec: RunSpec, run_id: str | None = None, load_files: bool = False) -> None:
    """Load the plug-in modules a run was started with, and its plug-in files if ``load_files``.

    A run's record can come from anyone, so a spec read from one never makes
    this process run a file it names: without ``load_files`` (the default)
    plug-in files must have been loaded by the caller (``--plugin FILE``
    again). Modules are imported, since only installed code (or code on the
    user's own ``PYTHONPATH``) can be imported by name. Pass ``load_files``
    for a spec the caller wrote.

    Raises:
        PluginError: a module cannot be imported, or a file is not loaded; the message names the
            run, the plug-in and what to do.
    """
    from archgym.plugins import is_plugin_file, load_plugin, plugin_file_loaded

    for plugin in spec.plugins:
        if is_plugin_file(plugin) and not load_files:
            if not plugin_file_loaded(plugin):
                raise PluginError(
                    f"run {run_id or spec.run_id} was started with plug-in file {plugin}; a run's record does not "
                    f"load code files, so give --plugin {plugin} again (after checking it is the file you mean)"
                )
            continue
        try:
            load_plugin(plugin)
        except PluginError as error:
            raise PluginError(f"run {run_id or spec.run_id} was started with plug-in {plugin}, which it needs: "
                              f"{error}") from None


def _execute_search(spec: RunSpec, out: Path, run_id: str, rows: Any, callback: Callable[..., None] | None,
                    given: CostModel | None) -> RunOutcome:
    from archgym.dataset import EvaluationLogger
    from archgym.search import run_search

    model = given if given is not None else make_backend(spec.backend, spec.problem, **dict(spec.backend_options))
    try:
        workload = spec.workload if spec.workload is not None else model.default_workload
        model.prepare(workload)
        objective = make_objective(spec.objective.name, metrics=model.metrics, presets=model.objective_presets,
                                   problem=spec.problem, **dict(spec.objective.targets))
        check_reported(objective, model)
        agent = make_agent(spec.agent, model.design_space, seed=spec.seed, **dict(spec.config))
        record = RunRecord(run_id, spec, STATUS_RUNNING, len(rows))
        context = _context(run_id, spec, model.name, workload, objective.to_dict())
        start = time.perf_counter()
        with EvaluationLogger(out, context, model.design_space, model.metric_names,
                              run_metadata=_description(record)) as logger:
            # Written once the logger holds the run's journal, so a process refused the run leaves the record alone.
            _write(out, record, context)
            result = run_search(agent, model, objective, spec.budget, workload=workload, batch_size=spec.batch_size,
                                logger=logger, resume_rows=rows if len(rows) else None, callback=callback,
                                agent_state=out / AGENT_STATE_DIR / f"{run_id}.json")
        wall = time.perf_counter() - start
        _write(out, replace(record, status=STATUS_COMPLETE, evaluations=result.evaluations, wall_time_s=wall),
               context)
    finally:
        if given is None:
            model.close()
    best = result.best.reward if result.best is not None else math.nan
    return RunOutcome(run_id, spec, result.evaluations, best, result.best, wall, False, len(rows), result)


def _execute_multifidelity(spec: RunSpec, out: Path, run_id: str,
                           callback: Callable[..., None] | None) -> RunOutcome:
    """Screen on the spec's cheap backend, confirm on its backend (see :mod:`archgym.multifidelity`)."""
    from archgym.dataset import EvaluationLogger
    from archgym.multifidelity import MULTIFIDELITY_COLUMNS, run_multifidelity, screen_options

    fidelity = spec.multifidelity
    assert fidelity is not None  # the caller checked
    confirm = make_backend(spec.backend, spec.problem, **dict(spec.backend_options))
    try:
        screen = make_backend(fidelity.screen, spec.problem,
                              **screen_options(spec.problem, fidelity.screen, spec.backend_options))
    except BaseException:
        confirm.close()
        raise
    try:
        workload = spec.workload if spec.workload is not None else confirm.default_workload
        confirm.prepare(workload)
        screen.prepare(workload)
        objective = make_objective(spec.objective.name, metrics=confirm.metrics, presets=confirm.objective_presets,
                                   problem=spec.problem, **dict(spec.objective.targets))
        agent = make_agent(spec.agent, confirm.design_space, seed=spec.seed, **dict(spec.config))
        record = RunRecord(run_id, spec, STATUS_RUNNING, 0)
        context = _context(run_id, spec, confirm.name, workload, objective.to_dict())
        start = time.perf_counter()
        metrics = tuple(dict.fromkeys((*confirm.metric_names, *screen.metric_names)))
        with EvaluationLogger(out, context, confirm.design_space, metrics, run_metadata=_description(record),
                              extra_columns=MULTIFIDELITY_COLUMNS) as logger:
            _write(out, record, context)
            result = run_multifidelity(agent, screen, confirm, objective, sim_budget_s=fidelity.sim_budget_s,
                                       policy=fidelity.make_policy(), screen_budget=spec.budget, workload=workload,
                                       batch_size=spec.batch_size, screen_per_round=fidelity.screen_per_round,
                                       logger=logger, seed=spec.seed, callback=callback)
        wall = time.perf_counter() - start
        _write(out, replace(record, status=STATUS_COMPLETE, evaluations=result.evaluations, wall_time_s=wall),
               context)
    finally:
        confirm.close()
        screen.close()
    best = result.best.reward if result.best is not None else math.nan
    return RunOutcome(run_id, spec, result.evaluations, best, result.best, wall, False, 0, result)


def _execute_trainer(spec: RunSpec, out: Path, run_id: str, rows: Any, callback: Callable[..., None] | None,
                     options: Mapping[str, Any]) -> RunOutcome:
    from archgym.dataset import discard_run

    trainer = get_trainer(spec.agent)
    trainer.check_settings(spec.config)
    resumed = 0
    if len(rows):
        if trainer.resumable:
            resumed = len(rows)
        else:
            discard_run(out, run_id)
    trainer.prepare_worker()
    backend_name = spec.backend if "/" in spec.backend else f"{spec.problem}/{spec.backend}"
    workload = spec.workload if spec.workload is not None else get_problem(spec.problem).default_workload
    record = RunRecord(run_id, spec, STATUS_RUNNING, resumed)
    objective = make_objective(spec.objective.name, metrics=(), presets=None, problem=spec.problem,
                               **dict(spec.objective.targets))
    context = _context(run_id, spec, backend_name, workload, objective.to_dict())
    _write(out, record, context)
    result = trainer.train(
        spec.problem, backend=spec.backend, backend_options=spec.backend_options, workload=spec.workload,
        objective=spec.objective.name, targets=spec.objective.targets, budget=spec.budget, seed=spec.seed,
        settings=spec.config, out=out, run_id=run_id, **({"progress": callback} if callback else {}), **options,
    )
    extra = {"iterations": result.iterations, "history": result.history}
    _write(out, replace(record, status=STATUS_COMPLETE, evaluations=result.evaluations,
                        wall_time_s=result.wall_time_s, extra=extra), context)
    return RunOutcome(run_id, spec, result.evaluations, result.best_reward, None, result.wall_time_s, False, resumed,
                      result)


def _context(run_id: str, spec: RunSpec, backend_name: str, workload: Any, objective: Mapping[str, Any]) -> Any:
    from archgym.dataset import RunContext

    return RunContext(run_id=run_id, env=spec.problem, backend=backend_name, workload=str(workload),
                      agent=spec.agent, agent_config=dict(spec.config), seed=spec.seed,
                      objective=spec.objective.name, backend_options=dict(spec.backend_options),
                      objective_spec=objective)


def _write(out: Path, record: RunRecord, context: Any) -> None:
    from archgym.dataset import write_run_metadata

    write_run_metadata(out, context, record.fields())


def _description(record: RunRecord) -> dict[str, Any]:
    """What the run's part files say of it: the record without the fields that change as it goes."""
    return {key: value for key, value in record.fields().items() if key not in _PROGRESS_FIELDS}


def _record(out: Path, run_id: str) -> RunRecord | None:
    from archgym.dataset import read_run_record

    try:
        data = read_run_record(out, run_id)
        return RunRecord.from_json(data) if data is not None else None
    except DatasetError:
        return None


def _best_reward(rows: Any) -> float:
    rewards = rows["reward"].to_numpy(dtype=float) if len(rows) else np.array([])
    finite = rewards[~np.isnan(rewards)]
    return float(finite.max()) if finite.size else math.nan


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in text).strip("-.") or "run"
