"""DesignEnv: design-space exploration as a gymnasium environment.

Each step proposes one design (the action), the cost model evaluates it on the
workload, and the objective turns its metrics into the reward. There is no
state beyond the last design evaluated: an episode is a budget of
``max_steps`` evaluations, never terminated, truncated when the budget is
spent.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

from archgym.agent import check_seed
from archgym.cost_model import CostModel, Evaluation, make_backend
from archgym.errors import ConfigurationError, InvalidDesignError
from archgym.objective import Objective, check_reported, make_objective
from archgym.problem import get_problem, problem_argument
from archgym.space import Design, ParameterKind

__all__ = ["DesignEnv"]

OBSERVATION_HIGH = 1e6
"""Upper bound of every observation entry; normalised metrics are clipped into [0, OBSERVATION_HIGH]."""


class DesignEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """A design problem as a gymnasium environment.

    * Action: one design, as an index vector over the knobs
      (``MultiDiscrete(design_space.cardinalities)``; decoded with
      :meth:`archgym.space.DesignSpace.decode`). Lists and whole-valued float
      arrays are accepted too, and so is a design dict of knob values. Spaces
      with continuous knobs use a ``Dict`` action of knob indices (discrete
      knobs) and values (float knobs).
    * Observation: ``Box(0, 1e6, (n_metrics,), float32)``, the last design's
      metrics divided by their :attr:`~archgym.cost_model.MetricSpec.scale`,
      in the cost model's metric order; zeros after :meth:`reset` and for
      infeasible designs.
    * Reward: ``objective(evaluation)``, higher is better.
    * ``terminated`` is always False (design-space exploration has no terminal
      state); ``truncated`` is True once ``max_steps`` steps have been taken
      since the last reset.
    * ``info``: ``design`` (the canonical design dict), ``metrics`` (raw
      values of the metrics reported; none for an infeasible design), ``feasible``, ``reason``, ``evaluation`` and ``step`` (steps
      since reset). ``info["evaluation"]`` has ``wall_time_s`` set to 0 so
      that the same seed and actions give identical infos; the timed
      evaluation is :attr:`last_evaluation`.

    The environment is deterministic: :meth:`reset` seeds :attr:`np_random`
    (used by nothing in the dynamics) and seeding ``action_space`` makes
    sampled actions reproducible.

    Args:
        problem: The design problem (``"dram"``), used to look up ``backend``.
        backend: A registered backend name (``"analytical"`` or
            ``"dram/analytical"``) or a :class:`~archgym.cost_model.CostModel`;
            the problem's :attr:`~archgym.problem.Problem.default_backend` if None.
        workload: The workload every design is evaluated on; None for the
            backend's default.
        objective: A preset or spec understood by
            :func:`archgym.objective.make_objective`, a mapping, or an
            :class:`~archgym.objective.Objective`; the problem's default objective if None.
        max_steps: Steps per episode before ``truncated`` is set.
        render_mode: None or ``"ansi"``.
        log_dir: If given, every evaluation is appended to a dataset there.
        env: Deprecated name of ``problem``.
        **backend_kwargs: Passed to the backend's factory (``memspec="ddr4-2400"``);
            only valid when ``backend`` is a name.

    Raises:
        ConfigurationError: an invalid option (render mode, max_steps,
            objective, backend keywords with a CostModel instance).
        UnknownNameError: an unknown backend or workload.
        WorkloadError: a malformed workload (a trace file, a generator spec).
    """

    # A class-level constant; gymnasium.Env declares it as an instance attribute.
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}  # type: ignore[misc]

    def __init__(
        self,
        problem: str | None = None,
        backend: str | CostModel | None = None,
        workload: Any = None,
        objective: str | Objective | Mapping[str, Any] | None = None,
        max_steps: int = 100,
        render_mode: str | None = None,
        log_dir: str | None = None,
        env: str | None = None,
        **backend_kwargs: Any,
    ) -> None:
        problem = problem_argument(problem, env, "DesignEnv")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigurationError(
                f"render_mode {render_mode!r} is not supported; choose None or "
                f"{', '.join(map(repr, self.metadata['render_modes']))}"
            )
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ConfigurationError(f"max_steps must be a positive integer, got {max_steps!r}")
        self.render_mode = render_mode
        self.max_steps = int(max_steps)
        self.problem = get_problem(problem)
        if backend is None:
            backend = self.problem.default_backend

        if isinstance(backend, CostModel):
            if backend_kwargs:
                raise ConfigurationError(
                    f"backend options ({', '.join(backend_kwargs)}) only apply when backend is a name; "
                    "configure the CostModel instance before passing it"
                )
            model = backend
            self._owns_model = False
        elif isinstance(backend, str):
            model = make_backend(backend, problem, **backend_kwargs)
            self._owns_model = True
        else:
            raise ConfigurationError(
                f"backend must be a backend name or a CostModel, got {type(backend).__name__}"
            )
        self.cost_model: CostModel = model
        self.design_space = model.design_space
        self.metric_specs = tuple(model.metrics)
        try:
            if objective is None:
                objective = self.problem.objective
            if objective is None:
                raise ConfigurationError(
                    f"problem {self.problem.name!r} has no default objective; name one with objective="
                )
            self.objective: Objective = make_objective(
                objective, metrics=self.metric_specs, presets=model.objective_presets, problem=self.problem)
            check_reported(self.objective, model)
            self.workload = workload if workload is not None else model.default_workload
            model.check_workload(self.workload)
        except Exception:
            if self._owns_model:
                model.close()
            raise

        self._evaluator: CostModel = model
        self._logger: Any = None
        if log_dir is not None:
            # Imported lazily: the dataset module pulls in pyarrow and pandas,
            # which an environment without logging does not need.
            from archgym.dataset import EvaluationLogger, LoggedCostModel, RunContext, new_run_id

            context = RunContext(
                run_id=new_run_id("env"),
                env=problem,
                backend=model.name,
                workload=_workload_name(self.workload),
                agent="",
                objective=self.objective.name,
                backend_options=dict(backend_kwargs),
                objective_spec=self.objective.to_dict(),
            )
            self._logger = EvaluationLogger(log_dir, context, model.design_space, model.metric_names)
            self._evaluator = LoggedCostModel(model, self._logger, reward_fn=self.objective)

        self.action_space = self.design_space.to_gym_space()
        self.observation_space: spaces.Box = spaces.Box(
            low=0.0, high=OBSERVATION_HIGH, shape=(len(self.metric_specs),), dtype=np.float32
        )
        self._scales = np.array([m.scale for m in self.metric_specs], dtype=np.float64)
        self._steps = 0
        self.last_design: Design | None = None
        self.last_evaluation: Evaluation | None = None
        self.last_reward: float | None = None
        self._closed = False

    # -- gymnasium API ------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode: zero the step count and return a zero observation.

        The observation is zeros rather than the metrics of some design, since
        no design has been evaluated in this episode yet.

        Args:
            seed: Seeds :attr:`np_random`: an integer in 0..2**63-1, or None.
            options: Not used; must be None or empty.

        Raises:
            ConfigurationError: a seed out of that range, or non-empty ``options``.
        """
        super().reset(seed=None if seed is None else check_seed(seed, "DesignEnv.reset's seed"))
        if options:
            raise ConfigurationError(f"DesignEnv.reset takes no options, got {', '.join(map(str, options))}")
        self._steps = 0
        self.last_design = None
        self.last_evaluation = None
        self.last_reward = None
        return np.zeros(self.observation_space.shape, dtype=np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Evaluate the design ``action`` and return its observation and reward.

        Raises:
            InvalidDesignError: the action has the wrong length, a NaN,
                fractional or out-of-range index, or is a dict with an unknown,
                missing or disallowed knob value; the message names the knob
                and what is allowed.
        """
        design = self.action_to_design(action)
        evaluation = self._evaluator.evaluate(design, self.workload)
        reward = float(self.objective(evaluation))
        self._steps += 1
        self.last_design = design
        self.last_evaluation = evaluation
        self.last_reward = reward
        info = {
            "design": dict(design),
            # NaN (not reported, or an infeasible design) left out: NaN != NaN would make identical steps differ.
            "metrics": {k: v for k, v in evaluation.metrics.items() if not math.isnan(v)},
            "feasible": bool(evaluation.feasible),
            "reason": evaluation.reason,
            # Wall time differs between identical runs; keep info reproducible.
            "evaluation": dataclasses.replace(evaluation, metrics=dict(evaluation.metrics), wall_time_s=0.0),
            "step": self._steps,
        }
        truncated = self._steps >= self.max_steps
        return self.observe(evaluation), reward, False, truncated, info

    # gymnasium types render() as generic in its frame type, which no concrete return type matches.
    def render(self) -> str | None:  # type: ignore[override]
        """A text summary of the last design, its metrics and reward (``render_mode="ansi"``)."""
        if self.render_mode is None:
            gymnasium.logger.warn(
                "DesignEnv.render() called without a render_mode; create the env with render_mode='ansi'"
            )
            return None
        progress = f"step {self._steps}/{self.max_steps}"
        lines = [f"{self.problem.name} design space, {progress}, objective {self.objective.name}"]
        if self.last_design is None or self.last_evaluation is None:
            lines.append("no design evaluated since reset")
            return "\n".join(lines) + "\n"
        width = max(len(name) for name in (*self.design_space.names, *self.cost_model.metric_names))
        lines.append("design:")
        lines.extend(f"  {name:<{width}}  {value}" for name, value in self.last_design.items())
        evaluation = self.last_evaluation
        status = "feasible" if evaluation.feasible else f"infeasible ({evaluation.reason})"
        lines.append(f"metrics ({status}):")
        for spec in self.metric_specs:
            value = evaluation.metrics.get(spec.name, math.nan)
            lines.append(f"  {spec.name:<{width}}  {value:.6g} {spec.unit}")
        lines.append(f"reward: {self.last_reward:.6g}")
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        """Close the dataset logger (writing its last rows) and the cost model this env built.

        A :class:`~archgym.cost_model.CostModel` passed in as ``backend`` stays
        open: it belongs to the caller.
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self._logger is not None:
                self._logger.close()
        finally:
            if self._owns_model:
                self.cost_model.close()
        super().close()

    # -- helpers ----------------------------------------------------------------
    def action_to_design(self, action: Any) -> Design:
        """Decode and validate an action into a canonical design dict.

        Raises:
            InvalidDesignError: see :meth:`step`.
        """
        space = self.design_space
        if isinstance(action, Mapping):
            if space.is_discrete:
                return space.validate(action)
            return self._dict_action_to_design(action)
        if not space.is_discrete:
            raise InvalidDesignError(
                f"actions of the {space.name or 'this'} design space are dicts with one entry per knob "
                f"({', '.join(space.names)}), got {type(action).__name__}"
            )
        try:
            indices = np.asarray(action)
        except (TypeError, ValueError) as error:
            raise InvalidDesignError(f"cannot read action {action!r} as an index vector: {error}") from None
        if indices.dtype.kind not in "iuf":
            raise InvalidDesignError(
                f"an action is an index vector of {len(space)} integers (one per knob: "
                f"{', '.join(space.names)}), got {action!r}; pass a dict to give knob values"
            )
        return space.decode(indices)

    def _dict_action_to_design(self, action: Mapping[str, Any]) -> Design:
        space = self.design_space
        unknown = [k for k in action if k not in space.names]
        missing = [k for k in space.names if k not in action]
        if unknown or missing:
            raise InvalidDesignError(
                f"action keys must be exactly the knobs {', '.join(space.names)}; "
                f"unknown: {', '.join(map(str, unknown)) or 'none'}, missing: {', '.join(missing) or 'none'}"
            )
        design: Design = {}
        for parameter in space:
            entry = np.asarray(action[parameter.name]).reshape(-1)
            if entry.size != 1 or entry.dtype.kind not in "iuf":
                raise InvalidDesignError(
                    f"knob {parameter.name!r}: expected one number, got {action[parameter.name]!r}"
                )
            value = entry[0].item()
            if parameter.kind is ParameterKind.FLOAT:
                design[parameter.name] = parameter.canonical(value)
            elif isinstance(value, float) and not value.is_integer():  # also NaN and inf
                raise InvalidDesignError(
                    f"knob {parameter.name!r}: index {value!r} is not an integer "
                    f"(expected 0..{parameter.cardinality - 1})"
                )
            else:
                design[parameter.name] = parameter.value_at(int(value))
        return design

    def observe(self, evaluation: Evaluation) -> np.ndarray:
        """Observation of an evaluation: metrics over their scales, clipped into the Box."""
        if not evaluation.feasible:
            return np.zeros(self.observation_space.shape, dtype=np.float32)
        raw = np.array(
            [_to_float(evaluation.metrics.get(spec.name)) for spec in self.metric_specs], dtype=np.float64
        )
        with np.errstate(all="ignore"):
            normalised = raw / self._scales
        normalised = np.where(np.isfinite(normalised), normalised, 0.0)
        return np.clip(normalised, 0.0, OBSERVATION_HIGH).astype(np.float32)

    @property
    def steps(self) -> int:
        """Steps taken since the last reset."""
        return self._steps


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _workload_name(workload: Any) -> str:
    if workload is None:
        return ""
    if isinstance(workload, str):
        return workload
    name = getattr(workload, "name", None)
    return str(name) if name else type(workload).__name__
