"""How long a sweep will take, measured before it runs (``archgym sweep SPEC --dry-run``).

The estimate is the sweep's evaluations times the time one evaluation takes,
divided among the workers. The time per evaluation is measured, for each
(problem, backend, workload) the sweep's runs use: the backend is built with
the runs' options, the workload prepared (timed on its own: it is paid once per
worker process, and not at all once a prepared workload is cached), the
problem's default design evaluated once to warm up, then timed a few times,
in batches of the runs' batch size. An external simulator's design is timed
once, without a warm-up, since every run of it costs about the same.

A run spends time besides its cost model's: asking the agent, scoring,
logging each row. For a fast model that is most of it (the bundled DRAM model
takes some 20 µs an evaluation, a logged run well over a millisecond), so a
short logged run of the random agent on the quickest of the workloads
(:data:`OVERHEAD_EVALUATIONS`, into a temporary directory) measures it, and
it is added to every evaluation. A smarter agent's own work (a Bayesian
optimiser's model fits, a policy's training), starting worker processes and
Ray come on top.

Runs that the sweep's dataset already holds count only for the evaluations
they still lack (by their run records, so the rows an interrupted run logged
since its last start count as still to do).
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from archgym import progress
from archgym.cost_model import CostModel, make_backend
from archgym.errors import ConfigurationError, DatasetError
from archgym.external import ExternalSimulator
from archgym.runner import EXECUTION_OPTIONS, RunSpec, execute, read_records

__all__ = [
    "OVERHEAD_EVALUATIONS", "TIMED_EVALUATIONS", "TIMING_LIMIT_S", "SweepEstimate", "WorkloadTiming",
    "estimate_sweep", "format_duration",
]

TIMED_EVALUATIONS = 5
"""Evaluations (or batches) of the default design timed per workload, after the warm-up."""

TIMING_LIMIT_S = 1.0
"""Timing a workload stops after the evaluation that takes it past this many seconds."""

OVERHEAD_EVALUATIONS = 200
"""Evaluations of the short logged run that measures a run's time besides its cost model's."""

OVERHEAD_MODEL_LIMIT_S = 0.01
"""The run's overhead is measured only on a model quicker than this per evaluation (else it hardly counts)."""


@dataclass(frozen=True)
class WorkloadTiming:
    """What one evaluation costs on one workload, and how many of them the sweep asks for.

    Args:
        problem: The design problem.
        backend: The backend's full name, e.g. ``"dram/analytical"``.
        workload: The workload, as the runs name it (the backend's default if they name none).
        batch_size: Designs evaluated at once, as the runs do.
        preparation_s: Seconds preparing the workload took.
        evaluation_s: Median seconds per evaluation (a batch's time divided by its size).
        timed: Evaluations or batches timed (the warm-up not included).
        runs: Runs of the sweep on this workload.
        evaluations: Evaluations those runs still have to do.
    """

    problem: str
    backend: str
    workload: str
    batch_size: int
    preparation_s: float
    evaluation_s: float
    timed: int
    runs: int
    evaluations: int

    @property
    def evaluations_s(self) -> float:
        """Seconds of cost-model time the sweep's runs on this workload still need."""
        return self.evaluations * self.evaluation_s


@dataclass(frozen=True)
class SweepEstimate:
    """An estimate of a sweep's time (see the module docstring for what it counts).

    Args:
        timings: One per (problem, backend, options, workload, batch size) of the runs.
        runs: Runs of the sweep.
        evaluations: Evaluations of all runs (their budgets added up).
        remaining: Evaluations the dataset does not hold yet.
        workers: Worker processes the sweep will use.
        overhead_s: Seconds a run spends per evaluation besides its cost model (0 when not measured).
    """

    timings: tuple[WorkloadTiming, ...]
    runs: int
    evaluations: int
    remaining: int
    workers: int
    overhead_s: float = 0.0

    @property
    def evaluations_s(self) -> float:
        """Seconds of cost-model time of the evaluations still to do, on one worker."""
        return sum(t.evaluations_s for t in self.timings)

    @property
    def runs_s(self) -> float:
        """Seconds the evaluations still to do take in runs (cost model and overhead), on one worker."""
        return self.evaluations_s + self.remaining * self.overhead_s

    @property
    def preparation_s(self) -> float:
        """Seconds preparing every workload once took."""
        return sum(t.preparation_s for t in self.timings)

    @property
    def parallel_workers(self) -> int:
        """Workers that have runs to do: no more than the runs still to do."""
        pending = sum(t.runs for t in self.timings if t.evaluations)
        return max(1, min(self.workers, pending))

    @property
    def wall_s(self) -> float:
        """Estimated seconds the sweep's evaluations take with its workers."""
        return self.runs_s / self.parallel_workers


def estimate_sweep(
    runs: Iterable[RunSpec],
    workers: int,
    out: str | Path | None = None,
    *,
    repeats: int = TIMED_EVALUATIONS,
) -> SweepEstimate:
    """Measure what one evaluation of each of the runs' workloads costs and estimate the sweep's time.

    Reported as an :func:`archgym.progress.task`, one step per workload.

    Args:
        runs: The sweep's runs (:meth:`archgym.sweep.SweepSpec.runs`), read once.
        workers: Worker processes the sweep will use.
        out: The sweep's dataset directory: runs it already holds count for what they lack.
        repeats: Evaluations (or batches) timed per workload after the warm-up, at most.

    Returns:
        The :class:`SweepEstimate`.

    Raises:
        ConfigurationError: ``workers`` or ``repeats`` is not a positive integer.
        UnknownNameError, BackendUnavailableError, WorkloadError: a backend or workload of the runs
            cannot be used (the sweep would fail on it too).
        DatasetError: ``out`` holds an unreadable run record.
    """
    for name, value in (("workers", workers), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    logged = _logged_evaluations(out)
    groups: dict[str, _Group] = {}
    count = evaluations = remaining = 0
    for run in runs:
        left = max(0, run.budget - logged.get(run.run_id, 0))
        group = groups.setdefault(_group_key(run), _Group(run))
        group.runs += 1
        group.evaluations += left
        count += 1
        evaluations += run.budget
        remaining += left
    timings = []
    with progress.task("timing the cost models", total=len(groups), unit="workloads") as report:
        for done, group in enumerate(groups.values(), start=1):
            timings.append(_time_workload(group, repeats))
            report(done)
    quickest = min(zip(timings, groups.values()), key=lambda pair: pair[0].evaluation_s, default=None)
    overhead = 0.0
    if quickest is not None and quickest[0].evaluation_s < OVERHEAD_MODEL_LIMIT_S:
        overhead = _run_overhead(quickest[1].first, quickest[0].evaluation_s)
    return SweepEstimate(tuple(timings), count, evaluations, remaining, workers, overhead)


def _run_overhead(spec: RunSpec, evaluation_s: float) -> float:
    """Seconds per evaluation a logged run of the random agent spends besides ``evaluation_s`` in the model."""
    budget = OVERHEAD_EVALUATIONS
    probe = replace(spec, agent="random", config={}, budget=budget, sweep="", seed=0)
    with tempfile.TemporaryDirectory(prefix="archgym-estimate-") as scratch:
        outcome = execute(probe, scratch)
    return max(0.0, outcome.wall_time_s / max(outcome.evaluations, 1) - evaluation_s)


@dataclass
class _Group:
    """Runs that cost the same per evaluation: the first of them, how many there are, what they lack."""

    first: RunSpec
    runs: int = 0
    evaluations: int = 0


def _group_key(run: RunSpec) -> str:
    """Runs with the same key cost the same per evaluation: same model, options, workload and batch size."""
    options = {k: v for k, v in run.backend_options.items() if k not in EXECUTION_OPTIONS}
    return json.dumps([run.problem, run.backend, options, run.workload, run.batch_size], sort_keys=True, default=str)


def _logged_evaluations(out: str | Path | None) -> dict[str, int]:
    """Evaluations each run of ``out`` holds by its record, by run id; a complete run counts as done."""
    if out is None or not Path(out).is_dir():
        return {}
    try:
        records = read_records(out)
    except DatasetError as error:
        raise DatasetError(f"cannot tell which runs {out} already holds: {error}") from None
    return {r.run_id: (sys.maxsize if r.complete else r.evaluations) for r in records}


def _time_workload(group: _Group, repeats: int) -> WorkloadTiming:
    """Build the runs' backend, prepare their workload and time the default design on it."""
    first = group.first
    model = make_backend(first.backend, first.problem, **dict(first.backend_options))
    try:
        workload = first.workload if first.workload is not None else model.default_workload
        start = time.perf_counter()
        model.prepare(workload)
        preparation = time.perf_counter() - start
        design = _default_design(model)
        external = isinstance(model, ExternalSimulator)
        batch_size = first.batch_size
        if not external:
            _evaluate(model, design, workload, batch_size)  # warm-up: caches, lazy imports, compiled code
        seconds: list[float] = []
        for _ in range(1 if external else repeats):
            start = time.perf_counter()
            _evaluate(model, design, workload, batch_size)
            seconds.append((time.perf_counter() - start) / batch_size)
            if sum(seconds) * batch_size > TIMING_LIMIT_S:
                break
        return WorkloadTiming(
            problem=first.problem, backend=model.name, workload=str(workload), batch_size=batch_size,
            preparation_s=preparation, evaluation_s=statistics.median(seconds), timed=len(seconds),
            runs=group.runs, evaluations=group.evaluations,
        )
    finally:
        model.close()


def _default_design(model: CostModel) -> dict[str, Any]:
    """The problem's default design; a fixed sample for a model that has none."""
    try:
        return model.default_design()
    except ConfigurationError:
        return model.design_space.sample(np.random.default_rng(0))


def _evaluate(model: CostModel, design: Mapping[str, Any], workload: Any, batch_size: int) -> None:
    if batch_size == 1:
        model.evaluate(design, workload)
    else:
        model.evaluate_batch([dict(design)] * batch_size, workload)


def format_duration(seconds: float) -> str:
    """``"0.8 ms"``, ``"12 s"``, ``"3 min 20 s"``, ``"2 h 05 min"``: a duration at a useful precision."""
    if not math.isfinite(seconds):
        return "unknown"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
