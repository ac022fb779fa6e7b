"""Multi-fidelity search: screen designs on a cheap model, confirm the promising ones on the simulator.

A simulator such as DRAMSys costs a fraction of a second to seconds per design;
the analytical model of the same problem costs microseconds and gets the
structure right but not every detail. :func:`run_multifidelity` spends the
simulator's time where it pays:

1. **Screen.** Any ask/tell agent searches on the *screened* objective: the
   cheap backend's metrics corrected by a learned residual. Every screened
   design joins a pool of candidates. Screening costs no simulator time, so
   the first round screens a quarter of the screening budget
   (``initial_screen``) and later rounds ``screen_per_round`` designs each.
2. **Confirm.** A :class:`ConfirmPolicy` picks which unconfirmed candidates the
   simulator evaluates, given the predicted reward of each (mean and spread)
   and the best confirmed reward so far (the incumbent).
3. **Learn.** Every confirmed design teaches the :class:`ResidualModel` the
   correction between the two fidelities (per metric, ``log(simulator /
   cheap)``, learned by extra trees on the knobs and the cheap metrics, as the
   residual proxies of :mod:`archgym.proxy` do); the pool is re-ranked.
4. Repeat until the simulator-time budget is spent (or nothing is left to
   screen or worth confirming).

Simulator time is counted from the confirming backend's measured wall time
per evaluation, or from its declared cost (``cost_per_evaluation_s``, which
the ``<problem>/perturbed`` stand-in sets). The answer is the best
*confirmed* design: a screened design never counts as found.

Policies (:data:`POLICIES`, built by :func:`make_policy`):

- ``top-k`` (:class:`TopK`): the ``k`` candidates with the best predicted reward;
- ``ei`` (:class:`ExpectedImprovement`): the ``k`` candidates with the largest
  expected improvement over the incumbent under the residual's uncertainty
  (the spread of the forest's trees, widened by how far the predictions of the
  designs confirmed so far missed: a forest that has seen one design has no
  spread, but it is not certain), none once no candidate is expected to improve.

Every evaluation is a row of the run's dataset with four more columns
(:data:`MULTIFIDELITY_COLUMNS`): ``fidelity`` (``"screen"`` or ``"confirm"``),
``cost_s`` (seconds the evaluation cost: the cheap model's wall time for a
screen, the simulator time charged for a confirmation), ``sim_time_s``
(simulator time spent when the row was logged) and ``predicted_reward`` (the
screened objective's reward for the design when it was logged). Screen rows
hold the cheap model's metrics and reward; confirm rows the simulator's.

**The stand-in simulator.** ``<problem>/perturbed`` (:class:`PerturbedCostModel`)
is a base backend (``analytical`` by default) whose metrics are changed by a
known, smooth, design-dependent factor, with a declared cost per evaluation.
It lets the multi-fidelity logic run, and be measured, where no simulator is
installed. For metric ``m`` and the design's unit-cube encoding ``u`` (each
knob's value index scaled to [0, 1], :meth:`DesignSpace.encode_unit`)::

    m_perturbed = m_base * exp(strength * tanh(2 * w_m . (2u - 1) / sqrt(d)))

with ``d`` knobs and ``w_m`` drawn from a standard normal distribution with
``perturbation_seed`` (one vector per metric, in metric order). With the
default ``strength=0.3`` every metric moves by at most a factor ``e^0.3``
(35 %) either way, enough to reorder designs the base model puts close.

Example:
    >>> from archgym.agent import make_agent
    >>> from archgym.cost_model import make_backend
    >>> from archgym.objective import make_objective
    >>> cheap = make_backend("dram/analytical")
    >>> simulator = make_backend("dram/perturbed", cost_s=2.0)
    >>> goal = make_objective("time", metrics=cheap.metrics, presets=cheap.objective_presets)
    >>> agent = make_agent("random", cheap.design_space, seed=0)
    >>> result = run_multifidelity(agent, cheap, simulator, goal, sim_budget_s=20, screen_budget=200,
    ...                            policy=make_policy("ei"))
    >>> result.sim_time_s >= 20 and len(result.confirmed) >= 10
    True
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from archgym.agent import Agent, Trial
from archgym.cost_model import BatchEvaluation, CostModel, Evaluation, backend_info, backend_options
from archgym.errors import ConfigurationError, UnknownNameError
from archgym.space import Design
from archgym.wrappers import CostModelWrapper

if TYPE_CHECKING:
    from archgym.dataset import EvaluationLogger
    from archgym.objective import Objective

__all__ = [
    "FIDELITY_CONFIRM",
    "FIDELITY_SCREEN",
    "MULTIFIDELITY_COLUMNS",
    "POLICIES",
    "ConfirmPolicy",
    "ExpectedImprovement",
    "MultiFidelityProgress",
    "MultiFidelityResult",
    "MultiFidelitySpec",
    "PerturbedCostModel",
    "ResidualModel",
    "TopK",
    "evaluation_cost",
    "make_policy",
    "parse_duration",
    "run_multifidelity",
    "screen_options",
]

_log = logging.getLogger(__name__)

FIDELITY_SCREEN = "screen"
"""``fidelity`` of a row scored by the cheap (screening) backend."""
FIDELITY_CONFIRM = "confirm"
"""``fidelity`` of a row scored by the simulator (confirming backend)."""
MULTIFIDELITY_COLUMNS: dict[str, str] = {
    "fidelity": "string", "cost_s": "float64", "sim_time_s": "float64", "predicted_reward": "float64",
}
"""Columns a multi-fidelity run adds to its rows (after ``archgym_version``), with their types."""

DEFAULT_SCREEN_PER_ROUND = 32
"""Designs the agent screens between two confirmations, unless the run says otherwise."""
RECENT_MISSES = 16
"""Confirmations whose prediction errors widen the screened rewards' spread (the most recent ones)."""
MAX_SIM_BUDGET_S = 365 * 24 * 3600.0
"""The largest simulator-time budget taken (a year): a larger one is a typo."""
_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z]*)\s*$")


def parse_duration(value: str | float, what: str = "the simulator-time budget") -> float:
    """Seconds in ``"120s"``, ``"2m"``, ``"1.5h"`` or a plain number of seconds.

    Raises:
        ConfigurationError: not a positive duration of at most a year, or an unknown unit.
    """
    if isinstance(value, bool):
        raise ConfigurationError(f"{what} must be a duration such as 120s, 2m or 1h, got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).lower())
        if match is None or match.group("unit") not in _UNITS:
            raise ConfigurationError(f"{what} must be a duration such as 120s, 2m or 1h (units s, m, h), got "
                                     f"{value!r}")
        seconds = float(match.group("value")) * _UNITS[match.group("unit")]
    if not 0 < seconds <= MAX_SIM_BUDGET_S:
        raise ConfigurationError(f"{what} must be more than 0 s and at most a year, got {value!r}")
    return seconds


# -- confirmation policies ------------------------------------------------------------------------


@runtime_checkable
class ConfirmPolicy(Protocol):
    """Decides which screened candidates the simulator confirms next.

    ``select`` gets the predicted reward of every unconfirmed candidate (mean
    over the residual model's trees, and a spread: the trees' spread widened
    by the root-mean-square miss of the predictions of the designs confirmed
    so far; higher is better) and the best
    confirmed reward (``-inf`` before the first confirmation), and returns the
    positions of the candidates to confirm, most promising first. An empty
    answer means none is worth the simulator's time now.
    """

    @property
    def name(self) -> str:
        """The policy's name, as :data:`POLICIES` knows it."""
        ...

    def select(self, mean: np.ndarray, std: np.ndarray, incumbent: float) -> np.ndarray:
        """Positions (into ``mean``) of the candidates to confirm."""
        ...


def _check_k(k: Any, policy: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 1000:
        raise ConfigurationError(f"policy {policy!r}: k (designs confirmed per round) must be an integer from 1 "
                                 f"to 1000, got {k!r}")
    return int(k)


def _best_first(score: np.ndarray, k: int) -> np.ndarray:
    """The positions of the ``k`` highest finite scores, highest first (ties by position)."""
    finite = np.flatnonzero(np.isfinite(score))
    order = finite[np.argsort(-score[finite], kind="stable")]
    return order[:k]


@dataclass(frozen=True)
class TopK:
    """Confirm the ``k`` candidates with the best predicted reward.

    Args:
        k: Candidates confirmed per round.
    """

    k: int = 1
    name: str = field(default="top-k", init=False)

    def __post_init__(self) -> None:
        _check_k(self.k, self.name)

    def select(self, mean: np.ndarray, std: np.ndarray, incumbent: float) -> np.ndarray:
        """The ``k`` best predicted means."""
        return _best_first(np.asarray(mean, dtype=np.float64), self.k)


@dataclass(frozen=True)
class ExpectedImprovement:
    """Confirm the ``k`` candidates with the largest expected improvement over the incumbent.

    With predicted mean ``mu``, spread ``sigma`` and incumbent ``best``,
    ``EI = (mu - best - xi) * Phi(z) + sigma * phi(z)`` with
    ``z = (mu - best - xi) / sigma`` (``max(mu - best - xi, 0)`` where
    ``sigma`` is 0). Before the first confirmation it takes the best means.
    Candidates whose EI is below ``min_improvement`` times the incumbent's
    magnitude are never picked, so a run stops confirming once the model
    expects nothing more.

    Args:
        k: Candidates confirmed per round.
        xi: Improvement demanded beyond the incumbent (exploration), in reward units.
        min_improvement: The smallest EI worth a simulation, relative to ``|incumbent|``.
    """

    k: int = 1
    xi: float = 0.0
    min_improvement: float = 1e-4
    name: str = field(default="ei", init=False)

    def __post_init__(self) -> None:
        _check_k(self.k, self.name)
        for label, value in (("xi", self.xi), ("min_improvement", self.min_improvement)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ConfigurationError(f"policy 'ei': {label} must be a non-negative number, got {value!r}")

    def select(self, mean: np.ndarray, std: np.ndarray, incumbent: float) -> np.ndarray:
        """The ``k`` largest expected improvements that are worth a simulation."""
        mean = np.asarray(mean, dtype=np.float64)
        if not math.isfinite(incumbent):
            return _best_first(mean, self.k)
        ei = expected_improvement(mean, np.asarray(std, dtype=np.float64), incumbent + self.xi)
        floor = self.min_improvement * max(abs(incumbent), 1e-12)
        ei[~(ei > floor)] = np.nan
        return _best_first(ei, self.k)


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """Expected improvement of normal predictions ``(mean, std)`` over ``best`` (maximising)."""
    from scipy.stats import norm

    gain = mean - best
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std > 0, gain / np.where(std > 0, std, 1.0), 0.0)
    ei = gain * norm.cdf(z) + std * norm.pdf(z)
    return np.where(std > 0, ei, np.maximum(gain, 0.0))


POLICIES: dict[str, Callable[..., ConfirmPolicy]] = {"top-k": TopK, "ei": ExpectedImprovement}
"""Confirmation policies by name, with their settings as keyword arguments."""


def make_policy(name: str, **options: Any) -> ConfirmPolicy:
    """The policy called ``name`` with ``options`` (``make_policy("ei", k=2)``).

    Raises:
        UnknownNameError: no such policy.
        ConfigurationError: an option the policy does not take, or a bad value.
    """
    if name not in POLICIES:
        raise UnknownNameError(f"unknown confirmation policy {name!r}; policies are {', '.join(POLICIES)}")
    factory = POLICIES[name]
    allowed = [n for n in getattr(factory, "__dataclass_fields__", {}) if n != "name"]
    unknown = [key for key in options if key not in allowed]
    if unknown:
        raise ConfigurationError(f"policy {name!r} has no setting {', '.join(map(repr, unknown))}; its settings are "
                                 f"{', '.join(allowed)}")
    return factory(**options)


# -- the residual between fidelities --------------------------------------------------------------


class ResidualModel:
    """Learns, online, how a simulator's metrics differ from a cheap model's.

    For each metric, the target is ``log(simulator / cheap)`` when every value
    seen so far is positive, else the difference; the features are those of a
    residual proxy (:class:`archgym.proxy.FeatureEncoding`: the knobs and the
    ``log`` of the cheap metrics). An extra-trees forest fits all metrics at
    once; its trees' spread is the uncertainty.

    Args:
        design_space: The knobs.
        metric_names: The metrics corrected (those the objective reads).
        seed: Seed of the forest.
        trees: Trees in the forest.
    """

    def __init__(self, design_space: Any, metric_names: Sequence[str], seed: int = 0, trees: int = 50) -> None:
        from archgym.proxy.features import FeatureEncoding

        self.metric_names = tuple(metric_names)
        self.seed = seed
        self.trees = trees
        self._encoding = FeatureEncoding(design_space, ("workload",), self.metric_names)
        self._features: list[np.ndarray] = []
        self._cheap: list[np.ndarray] = []
        self._truth: list[np.ndarray] = []
        self._forest: Any = None
        self._ratio = np.ones(len(self.metric_names), dtype=bool)

    def __len__(self) -> int:
        return len(self._features)

    def features(self, knobs: np.ndarray, cheap: np.ndarray) -> np.ndarray:
        """The feature rows of designs (a :func:`~archgym.proxy.knob_matrix`) with their cheap metrics."""
        with np.errstate(divide="ignore", invalid="ignore"):
            matrix = self._encoding.features(knobs, np.zeros(len(knobs), dtype=np.int64), np.abs(cheap))
        return np.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0)

    def add(self, knobs: np.ndarray, cheap: np.ndarray, truth: np.ndarray) -> None:
        """Learn from confirmed designs: their knobs, cheap metrics and simulator metrics (rows with a NaN are
        skipped), then refit."""
        usable = np.isfinite(cheap).all(axis=1) & np.isfinite(truth).all(axis=1)
        if not usable.any():
            return
        self._features.extend(self.features(knobs[usable], cheap[usable]))
        self._cheap.extend(cheap[usable])
        self._truth.extend(truth[usable])
        self._fit()

    def _fit(self) -> None:
        from sklearn.ensemble import ExtraTreesRegressor

        from archgym.proxy.plain import to_plain

        cheap, truth = np.array(self._cheap), np.array(self._truth)
        self._ratio = np.asarray(((cheap > 0) & (truth > 0)).all(axis=0))
        with np.errstate(divide="ignore", invalid="ignore"):
            target = np.where(self._ratio, np.log(truth / cheap), truth - cheap)
        forest = ExtraTreesRegressor(n_estimators=self.trees, bootstrap=len(target) > 2, random_state=self.seed,
                                     n_jobs=1)
        forest.fit(np.array(self._features), target[:, 0] if target.shape[1] == 1 else target)
        # The proxies' plain trees give every tree's prediction for a whole batch in one vectorised walk.
        self._forest = to_plain(forest)

    def predict(self, knobs: np.ndarray, cheap: np.ndarray) -> np.ndarray:
        """Corrected metrics of designs, one estimate per tree: ``(trees, n, metrics)`` (one estimate, the cheap
        metrics themselves, before anything is learned)."""
        if self._forest is None:
            return cheap[None, :, :]
        features = self.features(knobs, cheap)
        per_tree = np.moveaxis(self._forest.value[self._forest.leaves(features)], 1, 0)  # (trees, n, metrics)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.where(self._ratio, cheap[None] * np.exp(per_tree), cheap[None] + per_tree)


# -- the stand-in simulator -----------------------------------------------------------------------


class PerturbedCostModel(CostModelWrapper):
    """A base backend with a known, smooth perturbation and a declared cost: a stand-in simulator.

    Backend ``<problem>/perturbed`` (see the module docstring for the
    perturbation). It reports the same metrics as its base, changed by a
    factor of at most ``exp(strength)`` either way, and declares
    ``cost_s`` seconds per evaluation (:attr:`cost_per_evaluation_s`), which a
    multi-fidelity run charges to its simulator-time budget instead of the
    measured microseconds. Infeasible designs stay infeasible.

    Args:
        problem: The problem (set by the registration).
        base: The backend perturbed, a short name of the problem's (default ``analytical``).
        strength: Largest change of a metric, in log units (0 leaves the base exact).
        cost_s: Seconds of simulator time each evaluation declares.
        perturbation_seed: Seed of the perturbation's directions.
        **base_options: Options of the base backend (``memspec`` ...).

    Raises:
        ConfigurationError: a negative strength or cost.
    """

    def __init__(self, problem: str, base: str = "analytical", strength: float = 0.3, cost_s: float = 1.0,
                 perturbation_seed: int = 0, **base_options: Any) -> None:
        from archgym.cost_model import make_backend

        for label, value in (("strength", strength), ("cost_s", cost_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ConfigurationError(f"backend {problem}/perturbed: {label} must be a non-negative number, got "
                                         f"{value!r}")
        if base == "perturbed" or base.endswith("/perturbed"):
            raise ConfigurationError(f"backend {problem}/perturbed cannot perturb itself; give base=analytical or "
                                     "another backend of the problem")
        super().__init__(make_backend(base, problem, **base_options))
        self.strength = float(strength)
        self.cost_per_evaluation_s = float(cost_s)
        self.perturbation_seed = int(perturbation_seed)
        rng = np.random.default_rng(self.perturbation_seed)
        self._directions = rng.standard_normal((len(self.model.metrics), len(self.model.design_space)))
        self._backend_name = f"{problem}/perturbed"

    @property
    def name(self) -> str:  # type: ignore[override]
        """``<problem>/perturbed``."""
        return self._backend_name

    def describe(self) -> str:
        """One line naming the model, its base and the perturbation."""
        return (f"{self.name}: {self.model.name} x exp({self.strength:g} tanh(...)), declaring "
                f"{self.cost_per_evaluation_s:g} s per evaluation")

    def factors(self, designs: Sequence[Mapping[str, Any]] | np.ndarray) -> np.ndarray:
        """``(n, metrics)`` factors the perturbation multiplies each design's base metrics by."""
        from archgym.proxy.features import knob_matrix

        space = self.model.design_space
        knobs = knob_matrix(space, designs)
        # The unit-cube encoding of DesignSpace.encode_unit (bin centres for discrete knobs), for a whole batch.
        units = np.empty_like(knobs)
        for k, parameter in enumerate(space):
            if parameter.is_discrete:
                units[:, k] = (knobs[:, k] + 0.5) / parameter.cardinality
            else:
                low, high = (float(v) for v in parameter.values)
                units[:, k] = 0.0 if high == low else (knobs[:, k] - low) / (high - low)
        scaled = 2.0 * (2.0 * units - 1.0) @ self._directions.T / math.sqrt(max(len(space), 1))
        return np.exp(self.strength * np.tanh(scaled))

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        """The base's evaluation, perturbed."""
        return self.evaluate_batch([design], workload)[0]

    def evaluate_batch(self, designs: Sequence[Mapping[str, Any]] | np.ndarray,
                       workload: Any = None) -> BatchEvaluation:
        """The base's batch, perturbed."""
        start = time.perf_counter()
        factors = self.factors(designs)  # validates the designs first
        batch = self.model.evaluate_batch(designs, workload)
        metrics = {name: np.asarray(batch.metrics[name], dtype=np.float64) * factors[:, j]
                   if name in batch.metrics else np.full(len(designs), math.nan)
                   for j, name in enumerate(self.model.metric_names)}
        return BatchEvaluation(metrics, np.asarray(batch.feasible, dtype=bool), list(batch.reasons),
                               time.perf_counter() - start)


def perturbed_factory(problem: str) -> Callable[..., CostModel]:
    """The factory of ``<problem>/perturbed``."""

    def build(**options: Any) -> CostModel:
        return PerturbedCostModel(problem, **options)

    return build


def perturbed_unavailable(problem: str) -> Callable[..., str | None]:
    """The availability check of ``<problem>/perturbed``: its base backend must exist."""

    def reason(base: str = "analytical") -> str | None:
        try:
            backend_info(base, problem)
        except UnknownNameError:
            return f"problem {problem!r} has no backend {base!r} to perturb (option base=NAME)"
        return None

    return reason


def evaluation_cost(model: CostModel, evaluation: Evaluation) -> float:
    """Seconds an evaluation counts against a simulator-time budget: the model's declared cost per evaluation
    (``cost_per_evaluation_s``) if it has one, else the evaluation's measured wall time."""
    declared = getattr(model, "cost_per_evaluation_s", None)
    return float(declared) if declared is not None else float(evaluation.wall_time_s)


# -- the run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MultiFidelitySpec:
    """How a run screens and confirms (the ``multifidelity`` part of a :class:`~archgym.runner.RunSpec`).

    The run's own ``backend`` is the simulator that confirms; its ``budget``
    is the number of screened evaluations at most.

    Args:
        screen: The cheap backend (short or full name), e.g. ``"analytical"``.
        sim_budget_s: Simulator time to spend, in seconds (``"120s"``, ``"2m"``, ``"1h"`` are read too).
        policy: A confirmation policy of :data:`POLICIES`.
        policy_options: Its settings, e.g. ``{"k": 2}``.
        screen_per_round: Designs screened between two rounds of confirmations.
    """

    screen: str = "analytical"
    sim_budget_s: float = 120.0
    policy: str = "ei"
    policy_options: Mapping[str, Any] = field(default_factory=dict)
    screen_per_round: int = DEFAULT_SCREEN_PER_ROUND

    def __post_init__(self) -> None:
        if not isinstance(self.screen, str) or not self.screen:
            raise ConfigurationError(f"the screening backend must be a backend name, got {self.screen!r}")
        object.__setattr__(self, "sim_budget_s", parse_duration(self.sim_budget_s))
        if not isinstance(self.policy_options, Mapping):
            raise ConfigurationError(f"the policy options must be a mapping of setting to value, got "
                                     f"{self.policy_options!r}")
        object.__setattr__(self, "policy_options", dict(self.policy_options))
        make_policy(self.policy, **self.policy_options)
        value = self.screen_per_round
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= 100_000:
            raise ConfigurationError(f"screen_per_round must be an integer from 1 to 100000, got {value!r}")

    def make_policy(self) -> ConfirmPolicy:
        """The confirmation policy."""
        return make_policy(self.policy, **self.policy_options)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form; :meth:`from_dict` reads it back."""
        return {"screen": self.screen, "sim_budget_s": self.sim_budget_s, "policy": self.policy,
                "policy_options": dict(self.policy_options), "screen_per_round": self.screen_per_round}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "multifidelity") -> MultiFidelitySpec:
        """Read :meth:`to_dict`'s form, or a sweep spec's (``sim_budget`` may be ``"2m"``).

        Raises:
            ConfigurationError: an unknown key or a bad value, named with ``where``.
        """
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"{where} must be a mapping (screen, sim_budget, policy, policy_options, "
                                     f"screen_per_round), got {data!r}")
        keys = {"screen", "sim_budget", "sim_budget_s", "policy", "policy_options", "screen_per_round"}
        unknown = sorted(str(k) for k in data if k not in keys)
        if unknown:
            raise ConfigurationError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed keys are "
                                     f"{', '.join(sorted(keys))}")
        if "sim_budget" not in data and "sim_budget_s" not in data:
            raise ConfigurationError(f"{where}: 'sim_budget' (simulator time, e.g. 120s) is required")
        try:
            return cls(screen=data.get("screen", "analytical"),
                       sim_budget_s=data.get("sim_budget", data.get("sim_budget_s")),
                       policy=data.get("policy", "ei"), policy_options=data.get("policy_options") or {},
                       screen_per_round=data.get("screen_per_round", DEFAULT_SCREEN_PER_ROUND))
        except (ConfigurationError, UnknownNameError) as error:
            raise type(error)(f"{where}: {error}") from None


def screen_options(problem: str, screen: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The run's backend options that the screening backend also takes (``memspec``, not ``timeout_s``)."""
    accepted = backend_options(backend_info(screen, problem))
    return {k: v for k, v in options.items() if accepted is not None and k in accepted}


@dataclass(frozen=True)
class MultiFidelityProgress:
    """Where a multi-fidelity run stands, passed to the ``callback`` after every round.

    Args:
        sim_time_s: Simulator time spent.
        sim_budget_s: Simulator time to spend.
        screened: Screened evaluations so far.
        confirmed: Confirmed evaluations so far.
        best_reward: Best confirmed reward (NaN before any).
    """

    sim_time_s: float
    sim_budget_s: float
    screened: int
    confirmed: int
    best_reward: float

    @property
    def evaluations(self) -> int:
        """Evaluations of both fidelities."""
        return self.screened + self.confirmed


@dataclass
class MultiFidelityResult:
    """What :func:`run_multifidelity` did.

    Args:
        best: The best confirmed trial (its step is its row's step), None if nothing was confirmed.
        confirmed: Every confirmation, in order.
        screened: Every screening, in order (reward: the screened objective's).
        sim_time_s: Simulator time charged.
        wall_time_s: Seconds the run took.
        history: ``(simulator time, best confirmed reward)`` after each confirmation.
        run_id: The logger's run id, ``""`` without a logger.
    """

    best: Trial | None
    confirmed: list[Trial] = field(default_factory=list)
    screened: list[Trial] = field(default_factory=list)
    sim_time_s: float = 0.0
    wall_time_s: float = 0.0
    history: list[tuple[float, float]] = field(default_factory=list)
    run_id: str = ""

    @property
    def evaluations(self) -> int:
        """Evaluations of both fidelities (the run's rows)."""
        return len(self.confirmed) + len(self.screened)

    @property
    def trials(self) -> list[Trial]:
        """Every trial, screened and confirmed, in row order."""
        return sorted(self.screened + self.confirmed, key=lambda t: t.step)

    def sim_time_to(self, reward: float) -> float:
        """Simulator time spent when a confirmed reward first reached ``reward`` (inf if never)."""
        return next((spent for spent, best in self.history if best >= reward), math.inf)


class _Pool:
    """The distinct screened designs: knobs, cheap metrics, whether confirmed."""

    def __init__(self, n_metrics: int, n_knobs: int) -> None:
        self.index: dict[tuple[Any, ...], int] = {}
        self.designs: list[Design] = []
        self.knobs = np.empty((0, n_knobs))
        self.cheap = np.empty((0, n_metrics))
        self.usable = np.empty(0, dtype=bool)

    def add(self, designs: Sequence[Design], knobs: np.ndarray, cheap: np.ndarray, feasible: np.ndarray) -> None:
        new: list[int] = []
        for i, design in enumerate(designs):
            key = tuple(design.values())
            if key not in self.index:
                self.index[key] = len(self.designs) + len(new)
                new.append(i)
        if not new:
            return
        self.designs.extend(designs[i] for i in new)
        self.knobs = np.concatenate([self.knobs, knobs[new]])
        self.cheap = np.concatenate([self.cheap, cheap[new]])
        # A design the cheap model cannot score, or scores NaN, is not a candidate.
        self.usable = np.concatenate([self.usable, feasible[new] & np.isfinite(cheap[new]).all(axis=1)])


def run_multifidelity(
    agent: Agent,
    screen_model: CostModel,
    confirm_model: CostModel,
    objective: Objective,
    *,
    sim_budget_s: float | str,
    policy: ConfirmPolicy,
    screen_budget: int,
    workload: Any = None,
    batch_size: int = 1,
    screen_per_round: int = DEFAULT_SCREEN_PER_ROUND,
    initial_screen: int | None = None,
    logger: EvaluationLogger | None = None,
    seed: int = 0,
    callback: Callable[[MultiFidelityProgress], None] | None = None,
) -> MultiFidelityResult:
    """Search with ``agent`` on the screened objective and confirm on ``confirm_model`` until the budget is spent.

    Rounds alternate: the agent screens ``screen_per_round`` designs (asked
    ``batch_size`` at a time; each scored by ``screen_model`` and corrected by
    the residual model), then ``policy`` picks candidates among the
    unconfirmed screened designs, ``confirm_model`` evaluates them in one
    batch, and the residual model learns from them. The run stops once the
    simulator time charged reaches ``sim_budget_s`` (the batch in flight
    finishes, so the last one may go over), or when the agent has screened
    ``screen_budget`` designs (or has none left) and the policy picks nothing
    or no candidate is left.

    Args:
        agent: Any ask/tell agent, built on the models' design space.
        screen_model: The cheap backend.
        confirm_model: The simulator.
        objective: Scores both fidelities (higher is better); must read metrics both report.
        sim_budget_s: Simulator time to spend (seconds, or ``"2m"``...).
        policy: Which candidates to confirm (:func:`make_policy`).
        screen_budget: Screened evaluations at most.
        workload: The workload of both models (None: the confirming model's default).
        batch_size: Designs asked of the agent at once.
        screen_per_round: Designs screened between rounds of confirmations.
        initial_screen: Designs screened before the first confirmation (default: a quarter of
            ``screen_budget``, at least ``screen_per_round``). Screening costs no simulator time, so the first
            designs confirmed are the best of a search, not of its first round.
        logger: Receives every evaluation of either fidelity, with :data:`MULTIFIDELITY_COLUMNS`
            (a logger made with ``extra_columns=MULTIFIDELITY_COLUMNS``), for a new run.
        seed: Seed of the residual model.
        callback: Called with a :class:`MultiFidelityProgress` after every round.

    Raises:
        ConfigurationError: different design spaces, an objective reading a metric one model lacks, bad
            budgets, or a logger without the multi-fidelity columns or with rows already.
    """
    from archgym.objective import check_reported
    from archgym.proxy.features import knob_matrix
    from archgym.search import _ask

    start = time.perf_counter()
    budget = parse_duration(sim_budget_s)
    space = confirm_model.design_space
    if screen_model.design_space.fingerprint() != space.fingerprint() or agent.design_space != space:
        raise ConfigurationError(f"screening backend {screen_model.name}, simulator {confirm_model.name} and agent "
                                 f"{agent.name!r} must share one design space")
    for model in (screen_model, confirm_model):
        check_reported(objective, model)
    if initial_screen is None:
        initial_screen = max(screen_per_round, screen_budget // 4)
    for label, value in (("screen_budget", screen_budget), ("batch_size", batch_size),
                         ("screen_per_round", screen_per_round), ("initial_screen", initial_screen)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigurationError(f"{label} must be a positive integer, got {value!r}")
    if logger is not None:
        missing = [c for c in MULTIFIDELITY_COLUMNS if c not in getattr(logger, "extra_columns", {})]
        if missing:
            raise ConfigurationError(f"the logger of a multi-fidelity run needs the columns {', '.join(missing)}: "
                                     "make it with extra_columns=MULTIFIDELITY_COLUMNS")
        if logger.next_step != 0:
            raise ConfigurationError(f"run {logger.context.run_id!r} already has rows; a multi-fidelity run cannot be "
                                     "resumed, so log it to a new run id")
    names = tuple(getattr(objective, "metric_names", None) or screen_model.metric_names)
    residual = ResidualModel(space, names, seed=seed)
    pool = _Pool(len(names), len(space))
    confirmed_flag: list[bool] = []
    misses: list[float] = []
    result = MultiFidelityResult(best=None, run_id=logger.context.run_id if logger is not None else "")
    step = 0
    agent_step = 0
    exhausted = False

    def predicted(knobs: np.ndarray, cheap_batch: BatchEvaluation) -> tuple[np.ndarray, np.ndarray]:
        """Mean and spread over the residual's trees of the screened reward."""
        cheap = np.column_stack([cheap_batch.metrics[m] for m in names]) if len(knobs) else np.empty((0, len(names)))
        samples = residual.predict(knobs, cheap)
        trees = len(samples)
        # Every tree's estimate of every design, scored in one batch.
        metrics = {m: np.tile(np.asarray(v, dtype=np.float64), trees) for m, v in cheap_batch.metrics.items()}
        metrics.update({m: samples[:, :, j].ravel() for j, m in enumerate(names)})
        stacked = BatchEvaluation(metrics, np.tile(np.asarray(cheap_batch.feasible, dtype=bool), trees),
                                  list(cheap_batch.reasons) * trees)
        rewards = np.asarray(objective.batch(stacked), dtype=np.float64).reshape(trees, len(knobs))
        with np.errstate(invalid="ignore"):
            return rewards.mean(axis=0), rewards.std(axis=0)

    def pool_batch(rows: np.ndarray) -> BatchEvaluation:
        metrics = {m: pool.cheap[rows, j] for j, m in enumerate(names)}
        return BatchEvaluation(metrics, np.ones(len(rows), dtype=bool), [""] * len(rows))

    def progress() -> None:
        if callback is not None:
            best = result.best.reward if result.best is not None else math.nan
            callback(MultiFidelityProgress(result.sim_time_s, budget, len(result.screened), len(result.confirmed),
                                           best))

    def screen_round() -> None:
        nonlocal step, agent_step, exhausted
        target = min(screen_budget, len(result.screened) + (screen_per_round if result.screened else initial_screen))
        while len(result.screened) < target:
            designs = _ask(agent, space, min(batch_size, target - len(result.screened)))
            if not designs:
                _log.info("agent %s has no more designs to screen after %d", agent.name, len(result.screened))
                exhausted = True
                return
            batch = screen_model.evaluate_batch(designs, workload)
            knobs = knob_matrix(space, designs)
            mean, _ = predicted(knobs, batch)
            feasible = np.asarray(batch.feasible, dtype=bool)
            cheap_rewards = objective.batch(batch)
            mean = np.where(feasible, mean, cheap_rewards)
            costs = [float(e.wall_time_s) for e in batch]
            if logger is not None:
                logger.log_batch(designs, batch, cheap_rewards, extra={
                    "fidelity": [FIDELITY_SCREEN] * len(designs), "cost_s": costs,
                    "sim_time_s": [result.sim_time_s] * len(designs), "predicted_reward": mean})
            trials = [Trial(d, e, float(r), agent_step + i) for i, (d, e, r) in enumerate(zip(designs, batch, mean))]
            agent.update(trials)
            agent_step += len(trials)
            result.screened.extend(Trial(t.design, t.evaluation, t.reward, step + i) for i, t in enumerate(trials))
            step += len(trials)
            pool.add(designs, knobs, np.column_stack([np.asarray(batch.metrics[m], dtype=np.float64) for m in names]),
                     feasible)
            confirmed_flag.extend([False] * (len(pool.designs) - len(confirmed_flag)))
        if len(result.screened) >= screen_budget:
            exhausted = True

    def confirm(rows: np.ndarray, predictions: np.ndarray) -> None:
        nonlocal step
        designs = [pool.designs[r] for r in rows]
        batch = confirm_model.evaluate_batch(designs, workload)
        rewards = objective.batch(batch)
        evaluations = list(batch)
        costs = [evaluation_cost(confirm_model, e) for e in evaluations]
        spent = result.sim_time_s + np.cumsum(costs)
        if logger is not None:
            logger.log_batch(designs, batch, rewards, extra={
                "fidelity": [FIDELITY_CONFIRM] * len(designs), "cost_s": costs, "sim_time_s": spent,
                "predicted_reward": predictions})
        for i, (row, evaluation) in enumerate(zip(rows, evaluations)):
            if evaluation.feasible and math.isfinite(rewards[i]) and math.isfinite(predictions[i]):
                misses.append(float(rewards[i]) - float(predictions[i]))
            confirmed_flag[row] = True
            trial = Trial(dict(designs[i]), evaluation, float(rewards[i]), step)
            step += 1
            result.confirmed.append(trial)
            if not math.isnan(trial.reward) and (result.best is None or trial.reward > result.best.reward):
                result.best = trial
            result.history.append((float(spent[i]), result.best.reward if result.best is not None else math.nan))
        result.sim_time_s = float(spent[-1])
        truth = np.column_stack([np.asarray(batch.metrics[m], dtype=np.float64) for m in names])
        truth[~np.asarray(batch.feasible, dtype=bool)] = np.nan
        residual.add(pool.knobs[rows], pool.cheap[rows], truth)

    while True:
        if not exhausted:
            screen_round()
        if result.sim_time_s >= budget:
            break
        open_rows = np.flatnonzero(pool.usable & ~np.array(confirmed_flag, dtype=bool))
        if not len(open_rows):
            if exhausted:
                break
            progress()
            continue
        mean, std = predicted(pool.knobs[open_rows], pool_batch(open_rows))
        if misses:
            # The trees agree where they have seen little; how far the screened rewards of the designs confirmed so
            # far missed (each predicted before it was learned) keeps the spread honest.
            std = np.sqrt(std**2 + float(np.mean(np.square(misses[-RECENT_MISSES:]))))
        incumbent = result.best.reward if result.best is not None else -math.inf
        picks = np.asarray(policy.select(mean, std, incumbent), dtype=np.int64)
        if len(picks):
            confirm(open_rows[picks], mean[picks])
        elif exhausted:
            break
        progress()
    progress()
    result.wall_time_s = time.perf_counter() - start
    return result
