"""Conformance checks for plug-in cost models and agents.

The checks ArchGym runs on its own backends and agents, for authors of new
ones. They need no test framework: each raises :class:`ConformanceError` (an
``AssertionError``) whose message names the check that failed, the design it
failed on and what was expected, and returns a :class:`CheckReport` listing
what was checked and what did not apply. Call them from a test::

    from archgym.testing import check_agent, check_cost_model

    def test_my_backend():
        check_cost_model(MyCostModel())

    def test_my_agent():
        check_agent(MyAgent)

:func:`check_cost_model` evaluates a handful of designs (the default design,
the two corners of the space and random ones), so it takes a few evaluations'
time; pass a small workload and ``n_designs=2`` for slow simulators.
:func:`check_agent` drives the agent with a synthetic objective over
:data:`SMALL_DESIGN_SPACE` (or a space you give) for a few dozen suggestions.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archgym.agent import Agent, Trial, best_trial, make_agent
from archgym.cost_model import BatchEvaluation, CostModel, Evaluation, MetricSpec, make_backend
from archgym.errors import ArchGymError, InvalidDesignError
from archgym.search import run_search
from archgym.space import Design, DesignSpace, Parameter, ParameterKind

__all__ = [
    "SMALL_DESIGN_SPACE",
    "CheckReport",
    "ConformanceError",
    "check_agent",
    "check_cost_model",
]

SMALL_DESIGN_SPACE = DesignSpace(
    (
        Parameter("scheduler", ("fifo", "frfcfs", "bliss"), ParameterKind.CATEGORICAL, "an unordered choice"),
        Parameter("buffer_kib", (4, 8, 16, 32), ParameterKind.ORDINAL, "powers of two"),
        Parameter("banks", (1, 8), ParameterKind.INTEGER, "every integer from 1 to 8"),
        Parameter("closed_page", (False, True), ParameterKind.CATEGORICAL, "a flag"),
    ),
    name="toy",
)
"""The space :func:`check_agent` searches when given none: every discrete kind of knob, 192 designs."""

_NOT_A_VALUE = "<not a value of this knob>"


class ConformanceError(AssertionError):
    """A cost model or agent broke one of the rules of :mod:`archgym.testing`.

    Args:
        subject: What was checked (``"cost model 'dram/analytical'"``).
        check: The rule that failed, as listed in :attr:`CheckReport.passed`.
        problem: What happened and what was expected.
        design: The design it happened on, if one.

    Attributes:
        subject: As given.
        check: As given.
        design: As given.
    """

    def __init__(self, subject: str, check: str, problem: str, design: Mapping[str, Any] | None = None) -> None:
        self.subject = subject
        self.check = check
        self.design = dict(design) if design is not None else None
        where = f" on design {self.design!r}" if self.design is not None else ""
        super().__init__(f"{subject} fails check {check!r}{where}: {problem}")


@dataclass
class CheckReport:
    """What a conformance check covered.

    Args:
        subject: What was checked.
        passed: Names of the checks that ran and passed, in order.
        not_applicable: Check name to why it did not apply (for example no
            probe design was infeasible, so the infeasible-design rule was not
            exercised).
    """

    subject: str
    passed: list[str] = field(default_factory=list)
    not_applicable: dict[str, str] = field(default_factory=dict)


class _Checker:
    """Records passed checks and raises :class:`ConformanceError` for failed ones."""

    def __init__(self, subject: str) -> None:
        self.report = CheckReport(subject)

    def fail(self, check: str, problem: str, design: Mapping[str, Any] | None = None) -> None:
        raise ConformanceError(self.report.subject, check, problem, design)

    def passed(self, check: str) -> None:
        self.report.passed.append(check)

    def skip(self, check: str, reason: str) -> None:
        self.report.not_applicable[check] = reason

    @contextmanager
    def calling(self, check: str, call: str, design: Mapping[str, Any] | None = None) -> Iterator[None]:
        """Turn an exception raised by ``call`` into a failure of ``check``."""
        try:
            yield
        except ConformanceError:
            raise
        except Exception as exc:  # noqa: BLE001 - any exception from the checked code is a finding
            self.fail(check, f"{call} raised {type(exc).__name__}: {exc}", design)


# -- cost models ---------------------------------------------------------------------------------


def check_cost_model(
    model: CostModel | str,
    workload: Any = None,
    *,
    n_designs: int = 8,
    seed: int = 0,
    rtol: float = 1e-6,
) -> CheckReport:
    """Check that a cost model keeps the :class:`~archgym.cost_model.CostModel` contract.

    Checks, in order: the metric specs (non-empty unique names, goal ``min`` or
    ``max``, a positive finite scale); ``workloads()`` and ``prepare()``; that
    :meth:`~CostModel.evaluate` returns an :class:`Evaluation` with exactly
    the model's metrics, finite for feasible designs (except the model's
    ``unreported_metrics``) and NaN with a reason for infeasible ones,
    without changing the design it was given; that it is deterministic and that no workload means the default workload; that
    :meth:`~CostModel.evaluate_batch` agrees with it on design dicts and on
    index arrays; that designs outside the space raise
    :class:`~archgym.errors.InvalidDesignError`; and that ``close()`` can be
    called twice. Probe designs are the model's default design, the two
    corners of the space and random designs.

    Args:
        model: The cost model, or the registered name of a backend (it is then
            built with :func:`~archgym.cost_model.make_backend`, checked to
            report that name, and closed).
        workload: Workload to evaluate on; None for the model's default one.
        n_designs: Number of probe designs (at least 1).
        seed: Seed of the random probe designs.
        rtol: Relative tolerance between ``evaluate`` and ``evaluate_batch``.

    Returns:
        The checks that passed and those that did not apply.

    Raises:
        ConformanceError: a check failed; the message says which, on which design, and what was expected.
        UnknownNameError, BackendUnavailableError: ``model`` names no backend, or one that cannot run here.
    """
    if n_designs < 1:
        raise ValueError(f"n_designs must be at least 1, got {n_designs}")
    registered = model if isinstance(model, str) else None
    checked = make_backend(model) if isinstance(model, str) else model
    checker = _Checker(f"cost model {getattr(checked, 'name', '') or type(checked).__name__!r}")
    try:
        if registered is not None:
            if checked.name != registered:
                checker.fail(
                    "registered name", f"it is registered as {registered!r} but its name is {checked.name!r}"
                )
            checker.passed("registered name")
        _check_metric_specs(checker, checked)
        _check_workloads(checker, checked, workload)
        designs = _probe_designs(checker, checked, n_designs, seed)
        evaluations = [_check_evaluate(checker, checked, design, workload) for design in designs]
        checker.passed("evaluate")
        _check_infeasible_seen(checker, designs, evaluations)
        _check_deterministic(checker, checked, designs[:2], evaluations[:2], workload)
        _check_default_workload(checker, checked, designs[0], evaluations[0], workload, rtol)
        _check_batch(checker, checked, designs, evaluations, workload, rtol)
        _check_invalid_designs(checker, checked, designs[0], workload)
        _check_close(checker, checked)
    finally:
        if registered is not None:
            checked.close()
    return checker.report


def _check_metric_specs(checker: _Checker, model: CostModel) -> None:
    check = "metric specs"
    metrics = tuple(model.metrics)
    if not metrics:
        checker.fail(check, "metrics is empty; a cost model reports at least one MetricSpec")
    names: list[str] = []
    for spec in metrics:
        if not isinstance(spec, MetricSpec):
            checker.fail(check, f"{spec!r} is a {type(spec).__name__}; every metric is an archgym MetricSpec")
        if not isinstance(spec.name, str) or not spec.name:
            checker.fail(check, f"metric {spec!r} has no name; names are non-empty strings such as 'energy_pj'")
        if spec.goal not in ("min", "max"):
            checker.fail(check, f"metric {spec.name!r} has goal {spec.goal!r}; expected 'min' or 'max'")
        scale = spec.scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and scale > 0):
            checker.fail(
                check, f"metric {spec.name!r} has scale {scale!r}; expected a positive finite typical magnitude"
            )
        names.append(spec.name)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        checker.fail(check, f"metric name(s) {', '.join(map(repr, duplicates))} appear more than once")
    if tuple(model.metric_names) != tuple(names):
        checker.fail(check, f"metric_names is {model.metric_names!r}; expected the names of metrics, {tuple(names)!r}")
    if not isinstance(model.design_space, DesignSpace):
        checker.fail(check, f"design_space is a {type(model.design_space).__name__}; expected an archgym DesignSpace")
    checker.passed(check)


def _check_workloads(checker: _Checker, model: CostModel, workload: Any) -> None:
    check = "workloads and prepare"
    with checker.calling(check, "workloads()"):
        names = model.workloads()
    if not all(isinstance(name, str) for name in names):
        checker.fail(check, f"workloads() returned {names!r}; expected workload names (strings)")
    with checker.calling(check, "prepare() (the default workload)"):
        model.prepare()
    if model.default_workload is not None:
        with checker.calling(check, f"prepare({model.default_workload!r}) (the default workload)"):
            model.prepare(model.default_workload)
    if workload is not None:
        with checker.calling(check, f"prepare({workload!r})"):
            model.prepare(workload)
    checker.passed(check)


def _default_design(model: CostModel) -> Design | None:
    default = getattr(model, "default_design", None)
    try:
        design = default() if callable(default) else default
    except ArchGymError:
        return None  # the model has no default design
    return dict(design) if isinstance(design, Mapping) and design else None


def _probe_designs(checker: _Checker, model: CostModel, n_designs: int, seed: int) -> list[Design]:
    """The default design, the lowest and highest corners, then random designs; no repeats."""
    space = model.design_space
    candidates: list[Design] = []
    default = _default_design(model)
    if default is not None:
        if not space.contains(default):
            checker.fail("default design", "the model's default design is not a design of its space", default)
        checker.passed("default design")
        candidates.append(space.validate(default))
    candidates += [space.decode_unit(np.zeros(len(space))), space.decode_unit(np.ones(len(space)))]
    rng = np.random.default_rng(seed)
    designs: list[Design] = []
    attempts = 0
    while len(designs) < min(n_designs, space.size) and attempts < 20 * n_designs:
        design = candidates.pop(0) if candidates else space.sample(rng)
        attempts += 1
        if design not in designs:
            designs.append(design)
    return designs


def _same(a: float, b: float, rtol: float = 0.0) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=rtol)


def _check_evaluate(checker: _Checker, model: CostModel, design: Design, workload: Any) -> Evaluation:
    check = "evaluate"
    given = dict(design)
    with checker.calling(check, "evaluate()", design):
        evaluation = model.evaluate(given, workload)
    if given != design:
        checker.fail(check, f"evaluate() changed the design it was given into {given!r}; leave it unchanged", design)
    if not isinstance(evaluation, Evaluation):
        checker.fail(check, f"evaluate() returned a {type(evaluation).__name__}; expected an Evaluation", design)
    _check_result(checker, check, model, evaluation, design)
    return evaluation


def _check_result(checker: _Checker, check: str, model: CostModel, evaluation: Evaluation, design: Design) -> None:
    """The rules every Evaluation obeys: metric keys, feasible/finite, infeasible/NaN with a reason."""
    keys, expected = set(evaluation.metrics), set(model.metric_names)
    if keys != expected:
        missing, extra = sorted(expected - keys), sorted(keys - expected)
        checker.fail(
            check,
            f"metrics have keys {sorted(keys)}; expected exactly the model's metric names {list(model.metric_names)}"
            + (f" (missing {missing})" if missing else "") + (f" (unexpected {extra})" if extra else ""),
            design,
        )
    if not isinstance(evaluation.feasible, (bool, np.bool_)):
        checker.fail(check, f"feasible is {evaluation.feasible!r}; expected True or False", design)
    values = {name: _as_float(value) for name, value in evaluation.metrics.items()}
    if evaluation.feasible:
        unreported = set(model.unreported_metrics)
        bad = {name: value for name, value in values.items() if not math.isfinite(value) and name not in unreported}
        if bad:
            checker.fail(
                check,
                f"the design is feasible but metric(s) {bad} are not finite; expected finite numbers, or "
                "feasible=False with a reason (Evaluation.failure)",
                design,
            )
        if evaluation.reason:
            checker.fail(
                check, f"the design is feasible but has reason {evaluation.reason!r}; expected '' when feasible", design
            )
    else:
        not_nan = {name: value for name, value in values.items() if not math.isnan(value)}
        if not_nan:
            checker.fail(
                check,
                f"the design is infeasible but metric(s) {not_nan} are not NaN; expected NaN for every metric "
                "(Evaluation.failure(reason, model.metric_names))",
                design,
            )
        if not isinstance(evaluation.reason, str) or not evaluation.reason.strip():
            checker.fail(
                check, f"the design is infeasible with reason {evaluation.reason!r}; expected a message saying why",
                design,
            )
    wall = _as_float(evaluation.wall_time_s)
    if not (math.isfinite(wall) and wall >= 0):
        checker.fail(check, f"wall_time_s is {evaluation.wall_time_s!r}; expected seconds >= 0", design)


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _check_infeasible_seen(checker: _Checker, designs: list[Design], evaluations: list[Evaluation]) -> None:
    check = "infeasible designs give NaN metrics and a reason"
    if any(not e.feasible for e in evaluations):
        checker.passed(check)
    else:
        checker.skip(check, f"no probe design was infeasible ({len(designs)} tried)")


def _metric_difference(
    first: Evaluation, second: Evaluation, rtol: float, sources: tuple[str, str] = ("the first time", "the second")
) -> str | None:
    """How two evaluations of one design differ (feasibility or a metric), or None if they agree."""
    if bool(first.feasible) != bool(second.feasible):
        return f"feasible is {first.feasible} {sources[0]} and {second.feasible} {sources[1]}"
    for name, value in first.metrics.items():
        other = second.metrics.get(name, math.nan)
        if not _same(_as_float(value), _as_float(other), rtol):
            return f"metric {name!r} is {value!r} {sources[0]} and {other!r} {sources[1]}"
    return None


def _check_deterministic(
    checker: _Checker, model: CostModel, designs: list[Design], evaluations: list[Evaluation], workload: Any
) -> None:
    check = "deterministic"
    for design, first in zip(designs, evaluations):
        with checker.calling(check, "evaluate() a second time", design):
            second = model.evaluate(dict(design), workload)
        difference = _metric_difference(first, second, rtol=0.0)
        if difference:
            checker.fail(check, f"evaluating it twice gave different results: {difference}; expected the same", design)
    checker.passed(check)


def _check_default_workload(
    checker: _Checker, model: CostModel, design: Design, evaluation: Evaluation, workload: Any, rtol: float
) -> None:
    check = "no workload means the default workload"
    if workload is not None or model.default_workload is None:
        checker.skip(check, "a workload was given" if workload is not None else "the model has no default_workload")
        return
    with checker.calling(check, f"evaluate(design, {model.default_workload!r})", design):
        explicit = model.evaluate(dict(design), model.default_workload)
    difference = _metric_difference(evaluation, explicit, rtol, ("with no workload", "with the default workload"))
    if difference:
        checker.fail(
            check,
            f"evaluate(design) and evaluate(design, default_workload={model.default_workload!r}) differ: "
            f"{difference}; expected the same",
            design,
        )
    checker.passed(check)


def _check_batch(
    checker: _Checker,
    model: CostModel,
    designs: list[Design],
    evaluations: list[Evaluation],
    workload: Any,
    rtol: float,
) -> None:
    inputs: list[tuple[str, Any]] = [("evaluate_batch matches evaluate (design dicts)", [dict(d) for d in designs])]
    if model.design_space.is_discrete:
        indices = np.stack([model.design_space.encode(d) for d in designs])
        inputs.append(("evaluate_batch matches evaluate (index array)", indices))
    else:
        checker.skip("evaluate_batch matches evaluate (index array)", "the space has continuous knobs")
    for check, batch_input in inputs:
        with checker.calling(check, "evaluate_batch()"):
            batch = model.evaluate_batch(batch_input, workload)
        if not isinstance(batch, BatchEvaluation):
            checker.fail(check, f"evaluate_batch() returned a {type(batch).__name__}; expected a BatchEvaluation")
        n = len(designs)
        if len(batch) != n:
            checker.fail(check, f"evaluate_batch() of {n} designs returned {len(batch)} results; expected {n}")
        for name, column in batch.metrics.items():
            if np.shape(column) != (n,):
                checker.fail(check, f"metric {name!r} has shape {np.shape(column)}; expected ({n},), one per design")
        if batch.reasons and len(batch.reasons) != n:
            checker.fail(check, f"reasons has {len(batch.reasons)} entries; expected {n} (or none)")
        for design, single, batched in zip(designs, evaluations, batch):
            _check_result(checker, check, model, batched, design)
            difference = _metric_difference(single, batched, rtol, ("from evaluate()", "from evaluate_batch()"))
            if difference:
                checker.fail(
                    check, f"evaluate() and evaluate_batch() disagree: {difference}; expected equal within rtol={rtol}",
                    design,
                )
        checker.passed(check)


def _invalid_variants(space: DesignSpace, design: Design) -> list[tuple[str, dict[str, Any]]]:
    first = space.parameters[0].name
    missing = {k: v for k, v in design.items() if k != first}
    return [
        ("an unknown knob", {**design, "<unknown knob>": 1}),
        (f"knob {first!r} missing", missing),
        (f"knob {first!r} set to {_NOT_A_VALUE!r}", {**design, first: _NOT_A_VALUE}),
    ]


def _check_invalid_designs(checker: _Checker, model: CostModel, design: Design, workload: Any) -> None:
    check = "designs outside the space raise InvalidDesignError"
    space = model.design_space
    for what, invalid in _invalid_variants(space, design):
        _expect_invalid(checker, check, f"evaluate() of a design with {what}", invalid,
                        functools.partial(model.evaluate, invalid, workload))
        _expect_invalid(checker, check, f"evaluate_batch() of a design with {what}", invalid,
                        functools.partial(model.evaluate_batch, [dict(design), invalid], workload))
    if space.is_discrete:
        indices = np.stack([space.encode(design)] * 2)
        indices[1, 0] = space.cardinalities[0]  # one past the first knob's last value
        _expect_invalid(checker, check, f"evaluate_batch() of the index array {indices.tolist()} (out of range)",
                        None, lambda: model.evaluate_batch(indices, workload))
    checker.passed(check)


def _expect_invalid(
    checker: _Checker, check: str, call: str, design: Mapping[str, Any] | None, run: Callable[[], Any]
) -> None:
    try:
        result = run()
    except InvalidDesignError:
        return
    except Exception as exc:  # noqa: BLE001 - the wrong exception type is a finding
        checker.fail(
            check,
            f"{call} raised {type(exc).__name__}: {exc}; expected archgym.errors.InvalidDesignError "
            "(call self.design_space.validate(design) first)",
            design,
        )
    checker.fail(
        check,
        f"{call} returned {type(result).__name__} instead of raising archgym.errors.InvalidDesignError "
        "(call self.design_space.validate(design) first)",
        design,
    )


def _check_close(checker: _Checker, model: CostModel) -> None:
    check = "close twice"
    with checker.calling(check, "close() twice"):
        model.close()
        model.close()
    checker.passed(check)


# -- agents --------------------------------------------------------------------------------------


class _ToyCostModel(CostModel):
    """A smooth synthetic problem over any discrete space: distance to a target, infeasible far from it."""

    name = "testing/toy"
    metrics = (MetricSpec("cost", "", "min", 1.0, "squared distance to a fixed target design"),)

    def __init__(self, design_space: DesignSpace) -> None:
        self.design_space = design_space
        self._target = np.linspace(0.2, 0.7, len(design_space))

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        unit = self.design_space.encode_unit(design)
        if unit.mean() > 0.75:
            return Evaluation.failure("the synthetic problem makes designs with mean unit coordinate > 0.75 infeasible",
                                      self.metric_names)
        return Evaluation({"cost": float(np.sum((unit - self._target) ** 2))})


def _toy_reward(evaluation: Evaluation) -> float:
    return -evaluation.metrics["cost"] if evaluation.feasible else math.nan


@contextmanager
def _global_random_state(seed: int) -> Iterator[None]:
    """Seed NumPy's and Python's global generators, and restore them afterwards."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    np.random.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def check_agent(
    agent: type[Agent] | str,
    design_space: DesignSpace | None = None,
    *,
    seed: int = 0,
    budget: int = 24,
    batch_sizes: Sequence[int] = (1, 2, 4),
    config: Mapping[str, Any] | None = None,
) -> CheckReport:
    """Check that an agent keeps the ask/tell :class:`~archgym.agents.base.Agent` contract.

    The agent searches a synthetic problem over ``design_space`` (squared
    distance to a fixed design; designs far from it are infeasible, with NaN
    rewards). Checks, in order: ``suggest(n)`` returns a list of exactly ``n``
    valid designs for each ``n`` in ``batch_sizes``; :attr:`Agent.best` is the
    best trial told (subclasses must call ``super().update``); ``update``
    accepts a batch of infeasible trials with NaN rewards and the agent keeps
    suggesting valid designs; a search of ``budget`` evaluations with
    :func:`~archgym.search.run_search` ends with valid designs; and a second
    agent built with the same seed, told the same results, suggests the same
    designs even though the global NumPy and ``random`` generators are seeded
    differently (randomness must come from :attr:`Agent.rng`).

    Args:
        agent: An :class:`Agent` subclass, or a registered agent name.
        design_space: The space to search (discrete); :data:`SMALL_DESIGN_SPACE` if None.
        seed: Seed of both agents.
        budget: Evaluations of the search loop.
        batch_sizes: The ``n`` of the ``suggest(n)`` calls checked first.
        config: Hyperparameters passed to the agent (small ones keep slow agents fast).

    Returns:
        The checks that passed.

    Raises:
        ConformanceError: a check failed; the message says which, on which design, and what was expected.
        ConfigurationError: the agent cannot be built (unknown setting, missing optional dependency).
    """
    space = SMALL_DESIGN_SPACE if design_space is None else design_space
    label = agent if isinstance(agent, str) else (agent.name or agent.__name__)
    checker = _Checker(f"agent {label!r}")
    settings = dict(config or {})

    def build() -> Agent:
        built = (make_agent(agent, space, seed=seed, **settings) if isinstance(agent, str)
                 else agent(space, seed=seed, **settings))
        if not isinstance(built, Agent):
            checker.fail("construct", f"built a {type(built).__name__}; expected an archgym Agent")
        return built

    with _global_random_state(1):
        first = _drive(checker, build(), space, budget, batch_sizes)
    with _global_random_state(2):
        second = _drive(_Checker(checker.report.subject), build(), space, budget, batch_sizes)
    for step, (a, b) in enumerate(zip(first, second)):
        if a != b:
            checker.fail(
                "same seed, same suggestions",
                f"suggestion {step} of a second agent with seed={seed}, told the same results, is {b!r}; expected "
                f"{a!r}. Draw randomness only from self.rng (seeded by the seed argument), not from the global "
                "numpy.random or random generators",
            )
    if len(first) != len(second):
        checker.fail(
            "same seed, same suggestions",
            f"a second agent with seed={seed} made {len(second)} suggestions instead of {len(first)}",
        )
    checker.passed("same seed, same suggestions")
    return checker.report


def _drive(
    checker: _Checker, agent: Agent, space: DesignSpace, budget: int, batch_sizes: Sequence[int]
) -> list[Design]:
    """Run every phase of :func:`check_agent` on one agent; return all its suggestions in order."""
    model = _ToyCostModel(space)
    suggested: list[Design] = []
    told: list[Trial] = []

    def ask(check: str, n: int, exact: bool) -> list[Design]:
        with checker.calling(check, f"suggest({n})"):
            designs = agent.suggest(n)
        if not isinstance(designs, list):
            checker.fail(check, f"suggest({n}) returned a {type(designs).__name__}; expected a list of designs")
        if len(designs) > n or (exact and len(designs) != n):
            checker.fail(
                check,
                f"suggest({n}) returned {len(designs)} designs; expected exactly {n} from an agent that has seen "
                f"{len(told)} of the {space.size} designs" if exact else
                f"suggest({n}) returned {len(designs)} designs; expected at most {n}",
            )
        for design in designs:
            if not isinstance(design, Mapping):
                checker.fail(check, f"suggest({n}) returned {design!r}; designs are dicts of knob name to value")
            try:
                space.validate(design)
            except InvalidDesignError as exc:
                checker.fail(check, f"suggest({n}) returned a design outside the space: {exc}", design)
        suggested.extend(dict(d) for d in designs)
        return designs

    def tell(check: str, trials: list[Trial]) -> None:
        with checker.calling(check, f"update() with {len(trials)} trial(s)", trials[0].design if trials else None):
            agent.update(trials)
        told.extend(trials)

    check = "suggest(n) returns n valid designs"
    for n in batch_sizes:
        designs = ask(check, n, exact=True)
        tell(check, [_trial(model, d, len(told) + i) for i, d in enumerate(designs)])
    checker.passed(check)

    check = "best is the best trial told"
    expected = best_trial(told)
    best = agent.best
    if (best is None) != (expected is None) or (
        best is not None and expected is not None and not _same(best.reward, expected.reward)
    ):
        checker.fail(
            check,
            f"best is {best!r}; expected the trial with reward {expected.reward if expected else None!r} "
            "(an update() override must call super().update(trials))",
        )
    checker.passed(check)

    check = "update accepts infeasible trials with NaN rewards"
    designs = ask(check, max(batch_sizes), exact=False)
    failures = [
        Trial(dict(d), Evaluation.failure("infeasible (conformance check)", model.metric_names), math.nan, len(told) + i)
        for i, d in enumerate(designs)
    ]
    tell(check, failures)
    ask(check, 1, exact=False)
    # The single design just asked for is told too, as a driver would.
    if len(suggested) > len(told):
        tell(check, [_trial(model, suggested[-1], len(told))])
    checker.passed(check)

    check = f"a search of {budget} evaluations ends"
    with checker.calling(check, f"run_search(budget={budget})"):
        result = run_search(agent, model, _toy_reward, budget)
    if result.evaluations > budget:
        checker.fail(check, f"the search made {result.evaluations} evaluations; expected at most {budget}")
    suggested.extend(dict(t.design) for t in result.trials)
    checker.passed(check)
    return suggested


def _trial(model: _ToyCostModel, design: Mapping[str, Any], step: int) -> Trial:
    evaluation = model.evaluate(design)
    return Trial(model.design_space.validate(design), evaluation, _toy_reward(evaluation), step)
